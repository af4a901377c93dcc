"""GAN losses compared on MNIST and Fashion-MNIST (28 px): domain FID after K iterations.

The source study (CUB 32x32, 30k iterations) reports FID 146 for the original BCE loss, 52.6 for
LSGAN and 38.6 for WGAN-GP. Here the three losses train the same DCGAN-style nets (the WGAN-GP
critic uses layer norm instead of batch norm, as Gulrajani et al. require) with the same seed,
batch size and number of generator iterations K, each with its paper's Adam settings:
DCGAN lr 2e-4, betas (0.5, 0.999) for BCE and LSGAN; lr 1e-4, betas (0, 0.9), 5 critic steps per
generator step and lambda 10 for WGAN-GP. So WGAN-GP does about 3x the work per iteration.

FID uses a small domain CNN (one epoch on the training split, cached as a run under
bench/results/) and the test split as reference (all 10k images); `--fid-samples` generated images.
images/s counts real images drawn by all trainer steps per second of training wall time; on a
shared machine the CPU time of the process (cpu_s, images_per_cpu_s) is the steadier measure.

Keys in the JSON: <dataset>_<loss>_fid, <dataset>_<loss>_images_per_s, <dataset>_<loss>_wall_s,
<dataset>_<loss>_cpu_s, <dataset>_<loss>_images_per_cpu_s, <dataset>_ordering_holds
(WGAN-GP <= LSGAN <= BCE) and `protocol`.

    nice -n 10 python bench/gan.py            # K=400: about 16 minutes on 2 busy CPU cores
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from _common import default_data_dir, write_results

from latentscape.config import DataConfig, config_from_dict
from latentscape.data.registry import load_splits
from latentscape.metrics.features import domain_feature_net, domain_net_config, sample_features
from latentscape.metrics.fid import fid_from_stats
from latentscape.metrics.reference_stats import reference_stats
from latentscape.rundir.load import build_model, data_info_of
from latentscape.train.feature_net import train_domain_feature_net
from latentscape.train.trainer import Trainer, seed_everything

ROOT = Path(__file__).resolve().parents[1]
DCGAN_ADAM = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}
WGAN_GP_ADAM = {"name": "adam", "lr": 1e-4, "betas": [0.0, 0.9]}
OPTIMIZERS = {"bce": DCGAN_ADAM, "bce_nonsaturating": DCGAN_ADAM, "lsgan": DCGAN_ADAM, "wgan_gp": WGAN_GP_ADAM}
KEY_NAMES = {"fashion-mnist": "fashion_mnist"}


def gan_config(dataset: str, data_dir: str, loss: str, args) -> object:
    opt = OPTIMIZERS[loss]
    n_critic = 5 if loss == "wgan_gp" else 1
    return config_from_dict({
        "model": {"name": "gan", "loss": loss, "latent_dim": args.latent_dim, "width": args.width},
        "data": {"name": dataset, "data_dir": data_dir},
        "train": {
            "epochs": 10_000,
            "max_steps": args.iterations * (n_critic + 1),
            "batch_size": args.batch_size,
            "group_optimizers": {"critic": opt, "generator": opt},
            "device": args.device,
            "eval_every": 0,
            "log_every": 10**9,
            "deterministic": False,
        },
        "seed": args.seed,
    })


def run_one(dataset: str, loss: str, data, extractor, ref, args) -> dict[str, float]:
    cfg = gan_config(dataset, args.data_dir, loss, args)
    seed_everything(cfg.seed)
    model = build_model(cfg, data_info_of(data))
    trainer = Trainer(model, cfg, {"train": data["train"]}, None, torch.device(args.device), callbacks=[])
    start, cpu_start = time.perf_counter(), time.process_time()
    state = trainer.fit()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    model.eval()
    feats = sample_features(model.sample, args.fid_samples, extractor, 500, seed=args.seed)
    fid = fid_from_stats(ref.mu.numpy(), ref.sigma.numpy(), feats)
    return {
        "fid": fid,
        "images_per_s": state.step * cfg.train.batch_size / wall,
        "wall_s": wall,
        "cpu_s": cpu,
        "images_per_cpu_s": state.step * cfg.train.batch_size / cpu,
        "iterations": model.iteration_at(state.step),
        "trainer_steps": state.step,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "gan.json"))
    p.add_argument("--data-dir", default=default_data_dir())
    p.add_argument("--datasets", default="mnist,fashion-mnist")
    p.add_argument("--losses", default="bce,lsgan,wgan_gp", help="any of bce, bce_nonsaturating, lsgan, wgan_gp")
    p.add_argument("--iterations", type=int, default=400, help="K generator iterations per loss (small: 2 shared CPU cores)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--fid-samples", type=int, default=2000)
    p.add_argument("--fid-net-epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu, cuda, ... (timings are only comparable on one device)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("LATENTSCAPE_NO_TENSORBOARD", "1")
    results: dict[str, object] = {}
    losses = args.losses.split(",")
    table = []
    for dataset in args.datasets.split(","):
        key = KEY_NAMES.get(dataset, dataset)
        data = load_splits(DataConfig(name=dataset, data_dir=args.data_dir))
        net_dir = ROOT / "bench" / "results" / f"fid_net_{key}"
        t0 = time.perf_counter()
        train_domain_feature_net(
            domain_net_config(dataset, args.data_dir, epochs=args.fid_net_epochs, device=args.device), net_dir
        )
        extractor = domain_feature_net(net_dir, args.device)
        ref = reference_stats(data["test"], extractor, 500)
        print(f"[{dataset}] domain feature net {extractor.id} ready ({time.perf_counter() - t0:.0f} s)", flush=True)
        for loss in losses:
            r = run_one(dataset, loss, data, extractor, ref, args)
            for k in ("fid", "images_per_s", "wall_s", "cpu_s", "images_per_cpu_s"):
                results[f"{key}_{loss}_{k}"] = r[k]
            table.append((key, loss, r))
            print(f"[{dataset}] {loss:18s} FID {r['fid']:8.2f}  {r['images_per_s']:7.0f} img/s  "
                  f"{r['wall_s']:6.0f} s wall  {r['cpu_s']:6.0f} s CPU  "
                  f"({r['iterations']} iterations, {r['trainer_steps']} steps)", flush=True)
        if {"bce", "lsgan", "wgan_gp"} <= set(losses):
            f = {loss: results[f"{key}_{loss}_fid"] for loss in ("bce", "lsgan", "wgan_gp")}
            results[f"{key}_ordering_holds"] = bool(f["wgan_gp"] <= f["lsgan"] <= f["bce"])
    results["protocol"] = (
        f"K={args.iterations} generator iterations, batch {args.batch_size}, latent {args.latent_dim}, "
        f"width {args.width}, seed {args.seed}; FID: {args.fid_samples} samples vs the full test split, "
        f"domain CNN trained {args.fid_net_epochs} epoch(s) on train; device {args.device}, {args.threads} CPU threads"
    )
    print()
    print(f"{'dataset':15s} {'loss':18s} {'FID':>8s} {'img/s':>8s} {'wall s':>8s} {'img/CPU-s':>10s} {'CPU s':>8s}")
    for key, loss, r in table:
        print(f"{key:15s} {loss:18s} {r['fid']:8.2f} {r['images_per_s']:8.0f} {r['wall_s']:8.0f} "
              f"{r['images_per_cpu_s']:10.0f} {r['cpu_s']:8.0f}")
    for k, v in results.items():
        if k.endswith("ordering_holds"):
            print(f"{k}: WGAN-GP <= LSGAN <= BCE {'holds' if v else 'does NOT hold'}")
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
