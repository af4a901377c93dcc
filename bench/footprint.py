"""The cost of the memory/time estimate that runs before every model is built (rundir/footprint.py).

1. In one process, per config: `check_model_fits` (a meta-device build and one meta forward pass)
   next to the real `build_model` (best of --repeats, after one warm-up call: the first meta
   forward pass imports torch._dynamo, which creating the optimizer imports anyway).
2. End to end, in fresh processes: `latentscape train` of a small run (embedded digits, 30 steps)
   with the check and with LATENTSCAPE_NO_LIMITS=1 (which skips it), alternated --runs times;
   the ratio of the medians says whether starting a run got noticeably slower.
3. The peak RSS growth of building an MLP 4000-4000 and one Adam step, next to its estimate.

    nice -n 10 .venv/bin/python bench/footprint.py --repeats 5 --runs 5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import REPO, write_results

from latentscape.config import load_config
from latentscape.data.memory import gib
from latentscape.rundir.footprint import check_model_fits
from latentscape.rundir.load import build_model
from latentscape.rundir.model import DataInfo

MNIST = DataInfo((1, 28, 28), 10, 60_000)
CIFAR = DataInfo((3, 32, 32), 10, 50_000)
CONFIGS = [
    ("configs/mnist_mlp.yaml", MNIST, []),
    ("configs/mnist_conv_vae.yaml", MNIST, []),
    ("configs/mnist_fc_vae.yaml", MNIST, []),
    ("configs/mnist_gan_wgan_gp.yaml", MNIST, []),
    ("configs/cifar10_vae_l128_beta1.0.yaml", CIFAR, []),
    ("configs/mnist_mlp.yaml", MNIST, ["model.hidden_dims=[4000,4000]"]),
]


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5, help="end-to-end train runs per side")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "footprint.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    check_model_fits(load_config(CONFIGS[0][0]), MNIST)  # first-call imports (flop counter) out of the timings
    rows = []
    print(f"{'config':48s} {'estimate ms':>11s} {'build ms':>9s} {'ratio':>6s} {'estimated':>10s}")
    for path, info, overrides in CONFIGS:
        cfg = load_config(REPO / path, overrides)
        fp = check_model_fits(cfg, info)
        t_est = best_of(lambda: check_model_fits(cfg, info), args.repeats)
        t_build = best_of(lambda: build_model(cfg, info), args.repeats)
        name = Path(path).stem + ("".join(f" {o}" for o in overrides))
        est = gib(fp.total) if fp else "n/a"
        print(f"{name:48s} {1e3 * t_est:11.1f} {1e3 * t_build:9.1f} {t_est / t_build:6.2f} {est:>10s}")
        rows.append({"config": name, "estimate_s": t_est, "build_s": t_build, "ratio": t_est / t_build,
                     "estimated_bytes": fp.total if fp else None, "activations_bytes": fp.activation_bytes if fp else None})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    cfg = load_config(REPO / "configs/mnist_mlp.yaml", ["model.hidden_dims=[4000,4000]"])
    model = build_model(cfg, MNIST)
    opt = torch.optim.Adam(model.parameters())
    from latentscape.data.types import Batch

    batch = Batch(torch.rand(128, 1, 28, 28), torch.randint(0, 10, (128,)), torch.arange(128), 60_000)
    model(batch).loss.backward()
    opt.step()
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    print(f"mlp 4000-4000: peak RSS grew {gib(grown)} for build + one Adam step (the estimate adds checkpoint copies)")
    with_check, without = end_to_end(args.runs)
    ratio = statistics.median(with_check) / statistics.median(without)
    print(f"latentscape train (digits, 30 steps), median of {args.runs}: with the check {statistics.median(with_check):.2f} s, "
          f"without {statistics.median(without):.2f} s, ratio {ratio:.3f}")
    write_results(args.out, {"rows": rows, "mlp4000_peak_rss_growth_bytes": grown, "train_with_check_s": with_check,
                             "train_without_check_s": without, "train_ratio": ratio})


def end_to_end(runs: int) -> tuple[list[float], list[float]]:
    """Wall seconds of `latentscape train` with and without the check, alternated."""
    cfg = ["data.name=digits", "train.epochs=1", "train.max_steps=30", "train.num_threads=1", "train.final_eval_splits=[test]"]
    base = {**os.environ, "LATENTSCAPE_NO_TENSORBOARD": "1", "LATENTSCAPE_PLOTS": "none", "OMP_NUM_THREADS": "1"}
    times: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            for check in (True, False):
                env = {**base} if check else {**base, "LATENTSCAPE_NO_LIMITS": "1"}
                env.pop("LATENTSCAPE_NO_LIMITS", None) if check else None
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "latentscape.cli", "train", str(REPO / "configs/mnist_mlp.yaml"), *cfg,
                                "--run-dir", f"{tmp}/{i}-{check}"], env=env, check=True, capture_output=True)
                times[check].append(time.perf_counter() - t)
    return times[True], times[False]


if __name__ == "__main__":
    main()
