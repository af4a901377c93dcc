"""Benchmark: VAE quality and training speed on MNIST (reads ../shared/data).

Measures, in one process:
- fc_test_nelbo: test negative ELBO (nats per image, one posterior sample, Bernoulli likelihood on
  [0, 1] grey levels) of the FC VAE 784-400-20 after --fc-epochs (10) epochs with Adam 1e-3 and
  batch 128, as the PyTorch examples VAE (which reports about 105 nats). Target: <= 106.
- conv_test_nelbo: the same for the default conv VAE (configs/mnist_conv_vae.yaml: DCGAN-style
  28 px, width 32, a dense 512 layer each side of a 32-d code, Adam 1e-3 with cosine decay,
  batch 32) after --conv-epochs (20) epochs. Target: <= 95.
- fc_images_per_s: training throughput of the FC VAE in latentscape's trainer (the 10-epoch run).
- dataloader_ratio: latentscape's throughput over that of a plain per-item
  torch.utils.data.Dataset + DataLoader loop training the same FC VAE (same threads, batch, model),
  from one-epoch runs of each side alternated --repeats (2) times, best of each, in this process. The baseline's items are made as torchvision's MNIST + ToTensor make
  them (uint8 array -> PIL image -> float tensor). Target: >= 2. On a CPU the FC VAE's own compute
  is most of an epoch, so the ratio is bounded by (compute + per-item loading) / compute; the
  data pipelines alone are also timed (loader_only_ratio).

Run with one thread per process on a shared machine: oversubscribed OpenMP threads make every
step many times slower.

Usage:
    nice -n 10 python bench/vae_mnist.py [--data-dir ../shared/data] [--out bench/results/vae_mnist.json]
        [--fc-epochs 10] [--conv-epochs 20] [--baseline-epochs 1] [--repeats 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import StepClock, default_data_dir, write_results
from PIL import Image


REPO = Path(__file__).resolve().parents[1]


def run_config(cfg_path: Path, data_dir: Path, epochs: int, threads: int, workdir: Path, name: str):
    """Train a config with the real trainer; return (test nelbo, train seconds, steps, epochs)."""
    from latentscape.config import load_config
    from latentscape.train.api import train_and_evaluate

    overrides = [
        f"data.data_dir={data_dir}",
        f"train.epochs={epochs}",
        "train.eval_every=0",
        "train.final_eval_splits=[test]",
        f"train.num_threads={threads}",
        "train.device=cpu",
        "train.log_every=100",
    ]
    cfg = load_config(cfg_path, overrides)
    clock = StepClock()
    run = train_and_evaluate(cfg, workdir / name, callbacks=[clock], quiet=True)
    final = json.loads((run.path / "eval" / "final.json").read_text())
    seconds = clock.end - clock.start
    return float(final["test"]["nelbo"]), seconds, int(final["epochs"]), cfg


class PerItemMNIST:
    """A plain map-style dataset as torchvision's MNIST + ToTensor serve it: each item is made
    from a uint8 array through a PIL image, then converted to a float (1, 28, 28) tensor in [0, 1]
    (torchvision itself cannot be imported here, so its per-item work is reproduced)."""

    def __init__(self, images, labels) -> None:
        self.images = images[:, 0].numpy()  # (N, 28, 28) uint8
        self.labels = labels.tolist()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        img = Image.fromarray(self.images[i], mode="L")  # what torchvision's MNIST returns
        x = torch.from_numpy(np.array(img, copy=True)).view(28, 28, 1).permute(2, 0, 1)
        return x.contiguous().float().div(255.0), int(self.labels[i])  # ToTensor


def dataloader_baseline(cfg, epochs: int, threads: int, train_model: bool = True) -> tuple[float, int]:
    """Train the same model from a per-item Dataset + DataLoader (batch size, shuffling and Adam as
    the config says); with `train_model=False` only iterate the batches. Returns (seconds, images)."""
    from torch.utils.data import DataLoader

    from latentscape.data.registry import load_split
    from latentscape.data.types import Batch
    from latentscape.rundir.model import DataInfo
    from latentscape.registry import MODELS

    torch.set_num_threads(threads)
    train = load_split(cfg.data, "train")
    torch.manual_seed(cfg.seed)
    model = MODELS.get(cfg.model.name).build(cfg.model, DataInfo(train.image_shape, 10, len(train)))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.optimizer.lr)
    loader = DataLoader(PerItemMNIST(train.images, train.labels), batch_size=cfg.train.batch_size,
                        shuffle=True, num_workers=0)
    model.train()
    images = 0
    start = time.perf_counter()
    for _ in range(epochs):
        for x, y in loader:
            if train_model:
                opt.zero_grad(set_to_none=True)
                loss = model(Batch(x, y, torch.arange(len(y)))).loss
                loss.backward()
                opt.step()
            images += len(y)
    return time.perf_counter() - start, images


def batchloader_only(cfg, epochs: int) -> tuple[float, int]:
    """Iterate latentscape's BatchLoader for `epochs` epochs without a model."""
    from latentscape.data.loader import BatchLoader
    from latentscape.data.registry import load_split

    loader = BatchLoader(load_split(cfg.data, "train"), cfg.train.batch_size, shuffle=True, seed=cfg.seed)
    images = 0
    start = time.perf_counter()
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        for batch in loader:
            images += batch.x.shape[0]
    return time.perf_counter() - start, images


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "vae_mnist.json"))
    p.add_argument("--data-dir", default=default_data_dir())
    p.add_argument("--fc-epochs", type=int, default=10)
    p.add_argument("--conv-epochs", type=int, default=20)
    p.add_argument("--baseline-epochs", type=int, default=1)
    p.add_argument("--repeats", type=int, default=2, help="alternating one-epoch speed runs of each side")
    p.add_argument("--threads", type=int, default=1, help="torch threads of both sides")
    p.add_argument("--skip-conv", action="store_true", help="only the FC model and the speed ratio")
    args = p.parse_args(argv)
    data_dir = Path(args.data_dir)
    if not (data_dir / "mnist").is_dir():
        print(f"error: no MNIST under {data_dir} (use --data-dir)", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    results: dict[str, object] = {"threads": args.threads, "device": "cpu", "torch": torch.__version__}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        nelbo, secs, epochs, cfg = run_config(
            REPO / "configs" / "mnist_fc_vae.yaml", data_dir, args.fc_epochs, args.threads, work, "fc"
        )
        n_train = 60_000
        fc_ips = epochs * n_train / secs
        # The speed ratio: one-epoch runs of both sides, alternated `--repeats` times, best of each,
        # so that load from other processes on a shared machine hits both sides alike.
        ours_best = base_best = 0.0
        for r in range(args.repeats):
            _, one_secs, one_epochs, _ = run_config(
                REPO / "configs" / "mnist_fc_vae.yaml", data_dir, 1, args.threads, work, f"fc_speed{r}"
            )
            ours_best = max(ours_best, one_epochs * n_train / one_secs)
            base_secs, base_images = dataloader_baseline(cfg, args.baseline_epochs, args.threads)
            base_best = max(base_best, base_images / base_secs)
        base_ips = base_best
        # Data pipelines alone (no model): where the difference comes from.
        dl_secs, dl_images = dataloader_baseline(cfg, 1, args.threads, train_model=False)
        bl_secs, bl_images = batchloader_only(cfg, 1)
        results.update(loader_only_images_per_s=bl_images / bl_secs,
                       dataloader_only_images_per_s=dl_images / dl_secs,
                       loader_only_ratio=(bl_images / bl_secs) / (dl_images / dl_secs))
        results.update(
            fc_test_nelbo=nelbo, fc_epochs=epochs, fc_train_seconds=secs, fc_images_per_s=fc_ips,
            fc_images_per_s_best_epoch=ours_best,
            dataloader_images_per_s=base_ips, dataloader_epochs=args.baseline_epochs,
            dataloader_ratio=ours_best / base_ips, speed_repeats=args.repeats,
        )
        if not args.skip_conv:
            nelbo, secs, epochs, _ = run_config(
                REPO / "configs" / "mnist_conv_vae.yaml", data_dir, args.conv_epochs, args.threads, work, "conv"
            )
            results.update(conv_test_nelbo=nelbo, conv_epochs=epochs, conv_train_seconds=secs,
                           conv_images_per_s=epochs * n_train / secs)
    results["targets"] = {"fc_test_nelbo": "<= 106", "conv_test_nelbo": "<= 95", "dataloader_ratio": ">= 2"}
    rows = [
        ("FC VAE 784-400-20 test -ELBO (nats)", results["fc_test_nelbo"], f"{results['fc_epochs']} epochs, target <= 106"),
        ("conv VAE test -ELBO (nats)", results.get("conv_test_nelbo", float("nan")),
         f"{results.get('conv_epochs', 0)} epochs, target <= 95"),
        ("FC VAE training images/s (latentscape)", results["fc_images_per_s"], f"{args.threads} thread(s)"),
        ("FC VAE training images/s (per-item DataLoader)", results["dataloader_images_per_s"], "same model"),
        ("speed ratio latentscape / DataLoader (training)", results["dataloader_ratio"], "target >= 2"),
        ("speed ratio, data pipelines only", results["loader_only_ratio"], "no model"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10.2f}  {note}")
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
