"""Training throughput, start-up time, plane time and model FLOP utilisation on the present device.

Runs on whatever device torch finds (CUDA when present, else the CPU) and says which. Each
throughput row trains the same net two ways, side by side in one process, on the same data:

- latentscape: the generic `Trainer` (on-device index batching, no per-step host syncs, and on
  CUDA by default `train.compile=reduce-overhead` (CUDA graphs), bf16 autocast and channels-last
  for conv nets; `--tuning off` uses the plain fp32 eager settings);
- plain: the loop a PyTorch user writes: `DataLoader(TensorDataset(...), shuffle=True)` over
  float images in host memory, `.to(device)` per batch, `loss.item()` each step, fp32 eager.

Rows: the default conv VAE (configs/mnist_conv_vae.yaml) at batch 32 and 256 on MNIST, the
64x64 CelebA conv autoencoder (configs/celeba64_ae_mae.yaml; synthetic 64x64 images, speed
only), the DCGAN with each loss (BCE, LSGAN, WGAN-GP; MNIST, batch 64). Images/s are measured
after `--warmup` steps (compilation, cuDNN autotuning) over `--steps` steps.

MFU = (FLOPs of one training step, counted by torch.utils.flop_counter on the eager model) x
steps/s / the device's peak: the datasheet dense bf16/TF32 peak for known GPUs, else (CPU,
unknown GPU) the measured throughput of a large fp32 matmul ("measured" in peak_source).

Start-up: wall time from launching `latentscape train` (one step, MNIST) to the end of its first
optimizer step, read from its progress line; twice (the first may decode and cache the dataset).
Plane: seconds for the 21x21 MNIST-MLP plane on the full training set (bench/plane.py's models)
with `PointEvaluator` on the device.

    nice -n 10 python bench/gpu.py [--steps 200] [--warmup 30] [--rows vae_b32,vae_b256,...]

JSON keys: device, vae_b32_images_per_s, vae_b32_vs_plain_ratio, ..., mfu_vae_b256, startup_s,
plane_seconds (+ per-row details). Targets on an H100: vae_b32 >= 5x 4,600 images/s, start-up
< 3 s, vae_b32_vs_plain_ratio >= 2, plane >= 10x faster than the 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from _common import REPO, default_data_dir, write_results

from latentscape.config import config_from_dict, load_config
from latentscape.data.registry import load_split
from latentscape.data.types import Batch, ImageDataset
from latentscape.rundir.model import DataInfo
from latentscape.registry import MODELS
from latentscape.rundir.callbacks import Callback
from latentscape.train.trainer import Trainer

# Dense peak FLOP/s from the vendors' datasheets: (bf16 tensor core, tf32 tensor core).
DATASHEET_PEAKS = {
    "H200": (989e12, 494e12),
    "H100 PCIe": (756e12, 378e12),
    "H100": (989e12, 494e12),
    "A100": (312e12, 156e12),
    "L40S": (362e12, 183e12),
    "A10": (125e12, 62.5e12),
}


@dataclass(frozen=True)
class Row:
    name: str
    config: str  # a file under configs/
    overrides: tuple[str, ...]
    batch_size: int
    data: str  # "mnist" or "synthetic64"


ROWS = {
    "vae_b32": Row("vae_b32", "mnist_conv_vae.yaml", (), 32, "mnist"),
    "vae_b256": Row("vae_b256", "mnist_conv_vae.yaml", (), 256, "mnist"),
    "ae64_b128": Row("ae64_b128", "celeba64_ae_mae.yaml", (), 128, "synthetic64"),
    "gan_bce_b64": Row("gan_bce_b64", "mnist_gan_bce.yaml", (), 64, "mnist"),
    "gan_lsgan_b64": Row("gan_lsgan_b64", "mnist_gan_lsgan.yaml", (), 64, "mnist"),
    "gan_wgan_gp_b64": Row("gan_wgan_gp_b64", "mnist_gan_wgan_gp.yaml", (), 64, "mnist"),
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def row_config(row: Row, device: torch.device, tuning: bool, data_dir: str):
    cfg = load_config(REPO / "configs" / row.config)
    gan = cfg.model.name == "gan"
    is_conv = getattr(cfg.model, "net", "dcgan") != "fc"
    on_cuda = device.type == "cuda"
    overrides = [
        f"train.batch_size={row.batch_size}", f"train.device={device}", "train.deterministic=false",
        f"data.data_dir={data_dir}", "train.log_every=1000000", "train.eval_every=0",
        f"train.compile={'reduce-overhead' if tuning and on_cuda else 'none'}",
        f"train.precision={'bf16' if tuning and on_cuda else 'fp32'}",
        f"train.channels_last={'true' if tuning and on_cuda and is_conv else 'false'}",
        *row.overrides,
    ]
    if gan:
        overrides += ["model.pictures.every=0", "model.pictures.fid_every=0"]
    return load_config(REPO / "configs" / row.config, overrides)


def row_data(row: Row, data_dir: str, n: int) -> ImageDataset:
    if row.data == "synthetic64":
        g = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (n, 3, 64, 64), generator=g, dtype=torch.uint8)
        return ImageDataset(images, torch.zeros(n, dtype=torch.long), name="synthetic64", split="train")
    return load_split(config_from_dict({"model": {"name": "mlp_classifier"}, "data": {"name": "mnist", "data_dir": data_dir}}).data, "train")


def build(cfg, data: ImageDataset):
    torch.manual_seed(cfg.seed)
    info = DataInfo(data.image_shape, 10, len(data))
    return MODELS.get(cfg.model.name).build(cfg.model, info)


class _Clock(Callback):
    """Synchronises and starts the clock once `warmup` steps are done."""

    def __init__(self, warmup: int, device: torch.device) -> None:
        self.warmup, self.device, self.start = warmup, device, None

    def on_step_end(self, state, logs) -> None:
        if state.step == self.warmup:
            sync(self.device)
            self.start = time.perf_counter()


def time_latentscape(cfg, data: ImageDataset, device: torch.device, warmup: int, steps: int) -> float:
    """Images/s of `Trainer.fit` between step `warmup` and `warmup + steps`."""
    cfg = replace(cfg, train=replace(cfg.train, epochs=10**6, max_steps=warmup + steps))
    model = build(cfg, data)
    clock = _Clock(warmup, device)
    Trainer(model, cfg, {"train": data}, None, device, [clock]).fit()
    sync(device)
    return steps * cfg.train.batch_size / (time.perf_counter() - clock.start)


def time_plain(cfg, data: ImageDataset, device: torch.device, warmup: int, steps: int) -> float:
    """Images/s of the plain PyTorch loop (same objective, optimizers and batch size)."""
    from torch.utils.data import DataLoader, TensorDataset

    model = build(cfg, data).to(device).train()
    opts = {g: _plain_optimizer(model, g, cfg) for g in model.groups}
    x_all = data.images.float().div(255.0)  # (N, C, H, W) float in host memory, as a Dataset holds it
    loader = DataLoader(TensorDataset(x_all, data.labels, torch.arange(len(data))), batch_size=cfg.train.batch_size,
                        shuffle=True, drop_last=True)
    step, start = 0, None
    while step < warmup + steps:
        for x, y, idx in loader:
            if step == warmup:
                sync(device)
                start = time.perf_counter()
            if step == warmup + steps:
                break
            batch = Batch(x.to(device), y.to(device), idx.to(device))
            group = model.group_for_step(step)
            opts[group].zero_grad()
            loss = model(batch, group).loss
            loss.backward()
            opts[group].step()
            loss.item()  # the usual per-step logging
            step += 1
    sync(device)
    return steps * cfg.train.batch_size / (time.perf_counter() - start)


def _plain_optimizer(model, group: str, cfg) -> torch.optim.Optimizer:
    o = cfg.train.group_optimizers.get(group, cfg.train.optimizer)
    return torch.optim.Adam(model.params_for(group), lr=o.lr, betas=tuple(o.betas))


def flops_per_step(cfg, data: ImageDataset, device: torch.device) -> float:
    """FLOPs of one forward + backward of every group's objective, averaged over the groups
    in the order the trainer steps them (one step = one group)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build(cfg, data).to(device).train()
    idx = torch.arange(cfg.train.batch_size)
    batch = Batch(data.images[idx].float().div(255.0).to(device), data.labels[idx].to(device), idx.to(device))
    counts = []
    cycle = [model.group_for_step(s) for s in range(12)]
    for group in cycle:
        with FlopCounterMode(display=False) as counter:
            model(batch, group).loss.backward()
        counts.append(counter.get_total_flops())
        model.zero_grad(set_to_none=True)
    return sum(counts) / len(counts)


def device_peak(device: torch.device, bf16: bool) -> tuple[float, str]:
    """Peak FLOP/s for MFU and where it comes from."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, (p_bf16, p_tf32) in DATASHEET_PEAKS.items():
            if key in name:
                return (p_bf16 if bf16 else p_tf32), f"datasheet {key} {'bf16' if bf16 else 'tf32'} dense"
    n = 4096 if device.type == "cuda" else 1024
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    sync(device)
    reps, t0 = 10, time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t0), f"measured fp32 {n}x{n} matmul"


def startup_seconds(device: torch.device, data_dir: str) -> dict[str, float]:
    """Launch -> end of the first optimizer step of `latentscape train` (cold, then warm cache)."""
    out: dict[str, float] = {}
    env = {**os.environ, "LATENTSCAPE_DATA": data_dir, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        for label in ("first", "second"):
            cmd = [sys.executable, "-m", "latentscape.cli", "train", str(REPO / "configs" / "mnist_conv_vae.yaml"),
                   "train.max_steps=1", "train.log_every=1", "train.eval_every=0", f"train.device={device}",
                   "train.final_eval_splits=[]", "--run-dir", str(Path(tmp) / label)]
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
            first_step = None
            for line in proc.stdout:
                if first_step is None and line.startswith("step 1/"):
                    first_step = time.perf_counter() - t0
            proc.wait()
            out[f"startup_{label}_s"] = first_step if first_step is not None else float("nan")
            out[f"command_1step_{label}_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        out["import_torch_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "latentscape.cli", "--help"], check=True, stdout=subprocess.DEVNULL)
        out["cli_help_s"] = time.perf_counter() - t0
    out["startup_s"] = out["startup_second_s"]
    return out


def plane_seconds(device: torch.device, data_dir: str, grid: int, chunk: int) -> float:
    sys.path.insert(0, str(Path(__file__).parent))
    from plane import quick_mlp  # noqa: E402  (bench/plane.py: the same three MLPs)

    from latentscape.config import DataConfig
    from latentscape.landscape.core.evaluate import PointEvaluator
    from latentscape.landscape.core.params import named_params
    from latentscape.landscape.core.metrics import combined, resolve_metrics
    from latentscape.landscape.core.plane import grid_axes, plane_through

    train = load_split(DataConfig(name="mnist", data_dir=data_dir), "train")
    models = [quick_mlp(train, s) for s in (0, 1, 2)]
    plane = plane_through(*[named_params(m) for m in models])
    xs, ys = grid_axes(list(plane.points.values()), grid, 0.2)
    ev = PointEvaluator(models[0], combined(resolve_metrics(models[0], ["model"])[0]), batch_size=10_000,
                        device=device, chunk_size=chunk)
    ev.evaluate(plane.grid(xs.tolist()[:2], ys.tolist()[:2]), {"train": train})  # warm-up
    sync(device)
    t0 = time.perf_counter()
    ev.evaluate(plane.grid(xs.tolist(), ys.tolist()), {"train": train})
    sync(device)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="bench/results/gpu.json")
    ap.add_argument("--data-dir", default=default_data_dir())
    ap.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, ...")
    ap.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated rows ({', '.join(ROWS)})")
    ap.add_argument("--steps", type=int, default=None, help="timed steps per row (default 300 on CUDA, 40 on CPU)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 50 on CUDA, 5 on CPU)")
    ap.add_argument("--tuning", choices=("on", "off"), default="on", help="CUDA speed options for latentscape")
    ap.add_argument("--grid", type=int, default=21)
    ap.add_argument("--chunk", type=int, default=None, help="plane points per vmap call (default 441 on CUDA, 32 on CPU)")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: rows, startup, plane")
    args = ap.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    on_cuda = device.type == "cuda"
    steps = args.steps or (300 if on_cuda else 40)
    warmup = args.warmup or (50 if on_cuda else 5)
    skip = set(filter(None, args.skip.split(",")))
    name = torch.cuda.get_device_name(device) if on_cuda else f"cpu ({torch.get_num_threads()} threads)"
    results: dict = {"device": name, "torch": torch.__version__, "steps": steps, "warmup": warmup, "tuning": args.tuning}
    print(f"device: {name}")
    if "rows" not in skip:
        print(f"{'row':<18}{'latentscape img/s':>18}{'plain img/s':>13}{'ratio':>8}{'MFU':>9}  settings")
        for key in filter(None, args.rows.split(",")):
            row = ROWS[key]
            cfg = row_config(row, device, args.tuning == "on", args.data_dir)
            data = row_data(row, args.data_dir, 4096)
            ours = time_latentscape(cfg, data, device, warmup, steps)
            plain = time_plain(cfg, data, device, warmup, steps)
            flops = flops_per_step(cfg, data, device)
            peak, source = device_peak(device, cfg.train.precision == "bf16")
            mfu = flops * ours / cfg.train.batch_size / peak
            settings = f"compile={cfg.train.compile} precision={cfg.train.precision} channels_last={cfg.train.channels_last}"
            results.update({f"{key}_images_per_s": ours, f"{key}_plain_images_per_s": plain,
                            f"{key}_vs_plain_ratio": ours / plain, f"mfu_{key}": mfu,
                            f"{key}_flops_per_step": flops, f"{key}_peak_flops": peak,
                            f"{key}_peak_source": source, f"{key}_settings": settings})
            print(f"{key:<18}{ours:>18,.0f}{plain:>13,.0f}{ours / plain:>7.2f}x{mfu:>9.2%}  {settings}")
        for short, key in (("vae_b32", "vae_b32"), ("vae_b256", "vae_b256")):
            if f"mfu_{key}" in results:
                results[f"mfu_{short}"] = results[f"mfu_{key}"]
    if "startup" not in skip:
        timing = startup_seconds(device, args.data_dir)
        results.update(timing)
        print("start-up: " + "  ".join(f"{k}={v:.2f}s" for k, v in timing.items()))
    if "plane" not in skip:
        chunk = args.chunk or (args.grid**2 if on_cuda else 32)
        results["plane_seconds"] = plane_seconds(device, args.data_dir, args.grid, chunk)
        results["plane_chunk"] = chunk
        print(f"plane {args.grid}x{args.grid} (60k MNIST, chunk {chunk}): {results['plane_seconds']:.2f} s")
    write_results(args.out, results)


if __name__ == "__main__":
    main()
