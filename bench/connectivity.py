"""Mode connectivity results: straight segments vs trained 1-bend curves (Garipov et al. 2018).

1. MNIST MLP 784-64-10 (configs/mnist_mlp.yaml), two seeds trained to (near) 100% train
   accuracy; the straight segment and a 1-bend Bezier curve, 61 points each, full train and
   test sets. Targets: the segment's midpoint loses >= 5 points of test accuracy; along the curve
   train accuracy stays >= 99.5% and test accuracy within 0.5 points of the endpoints' mean.
2. Fashion-MNIST conv autoencoder with BatchNorm and MAE loss (configs/fmnist_conv_ae_mae.yaml),
   two seeds, segment vs 1-bend Bezier curve, 61 points, BatchNorm statistics recomputed at
   every point. Targets: the segment's worst test loss >= 1.5x the endpoints' mean, the curve's
   <= 1.10x.

The MLPs use configs/mnist_mlp.yaml unchanged (60 epochs, 100% train accuracy); the curve uses
configs/mnist_mlp_curve.yaml with 40 epochs instead of 20. To finish on a
shared 2-core CPU the autoencoder part uses 20% of the training set
(--ae-fraction), 12 epochs per autoencoder and 15 for the curve (--ae-epochs, --ae-curve-epochs), 2,000 test images for the path
metrics and 10 training batches of 500 for each point's BatchNorm statistics. Runs are kept in
--work-dir and reused when finished (delete it to start over). Plots and GIFs are in the path
folders there.

    nice -n 10 python bench/connectivity.py [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from _common import default_data_dir, write_results

from latentscape.config import load_config
from latentscape.landscape.studies.inputs import EvalOptions, from_curve, from_refs
from latentscape.landscape.studies.path import path_study, write_path
from latentscape.train.api import train_and_evaluate

ROOT = Path(__file__).resolve().parents[1]


def train_once(config: Path, overrides: list[str], run_dir: Path) -> Path:
    """Train unless `run_dir` already holds finished weights."""
    if (run_dir / "checkpoints" / "final.pt").exists():
        print(f"reusing {run_dir}")
        return run_dir
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    t0 = time.time()
    train_and_evaluate(load_config(config, overrides), run_dir, quiet=True)
    print(f"trained {run_dir} in {time.time() - t0:.0f} s")
    return run_dir


def analyse_path(refs=(), curve_ref=None, *, points: int, out: str, opts: EvalOptions) -> dict:
    """`latentscape path` (refs A B, or --curve) into `out`: path.json's document."""
    src = from_curve(curve_ref, opts.data_dir) if curve_ref else from_refs(list(refs), opts.data_dir)
    result = path_study(src, opts, points=points, dynamics_images=0)
    write_path(Path(out), result)
    return result.to_json()


def curve_once(start: Path, end: Path, base_config: Path, overrides: list[str], run_dir: Path) -> Path:
    over = [f"model.start={start.resolve()}", f"model.end={end.resolve()}", *overrides]
    return train_once(base_config, over, run_dir)


def mlp_part(args, work: Path) -> dict:
    data = [f"data.data_dir={args.data_dir}", f"train.num_threads={args.threads}"]
    cfg = ROOT / "configs" / "mnist_mlp.yaml"
    epochs = [f"train.epochs={args.mlp_epochs}"] if args.mlp_epochs else []
    curve_epochs = [f"train.epochs={args.mlp_curve_epochs}"]
    runs = [train_once(cfg, [*data, *epochs, f"seed={s}", "train.eval_every=0"], work / f"mlp_seed{s}") for s in (0, 1)]
    curve = curve_once(runs[0], runs[1], ROOT / "configs" / "mnist_mlp_curve.yaml", [*data, *curve_epochs, "train.eval_every=0"], work / f"mlp_curve_e{args.mlp_curve_epochs}")
    opts = EvalOptions(splits=("train", "test"), batch_size=1000, data_dir=args.data_dir)
    line = analyse_path([str(r) for r in runs], points=args.points, out=str(work / "mlp_line_path"), opts=opts)
    cur = analyse_path(curve_ref=str(curve), points=args.points, out=str(work / "mlp_curve_path"), opts=opts)
    acc_l = np.array(line["metrics"]["test"]["accuracy"]) * 100
    ends_test = (acc_l[0] + acc_l[-1]) / 2
    mid = int(np.argmin(np.abs(np.array(line["ts"]) - 0.5)))
    acc_c_train = np.array(cur["metrics"]["train"]["accuracy"]) * 100
    acc_c_test = np.array(cur["metrics"]["test"]["accuracy"]) * 100
    return {
        "mlp_end_train_acc": [float(line["metrics"]["train"]["accuracy"][i]) * 100 for i in (0, -1)],
        "mlp_end_test_acc": [float(acc_l[0]), float(acc_l[-1])],
        "mlp_line_mid_test_acc_drop": float(ends_test - acc_l[mid]),
        "mlp_curve_min_train_acc": float(acc_c_train.min()),
        "mlp_curve_max_test_acc_gap": float(np.abs(acc_c_test - ends_test).max()),
    }


def ae_part(args, work: Path) -> dict:
    common = [f"data.data_dir={args.data_dir}", f"train.num_threads={args.threads}", f"data.fraction={args.ae_fraction}", "train.eval_every=0"]
    cfg = ROOT / "configs" / "fmnist_conv_ae_mae.yaml"
    runs = [train_once(cfg, [*common, f"seed={s}", f"train.epochs={args.ae_epochs}"], work / f"ae_seed{s}_e{args.ae_epochs}") for s in (0, 1)]
    curve = curve_once(runs[0], runs[1], ROOT / "configs" / "fmnist_conv_ae_mae_curve.yaml", [*common, f"train.epochs={args.ae_curve_epochs}"], work / f"ae_curve_e{args.ae_curve_epochs}")
    opts = EvalOptions(splits=("test",), metrics=["model"], batch_size=500, max_examples=args.ae_test_examples, bn_batches=args.ae_bn_batches, data_dir=args.data_dir)
    line = analyse_path([str(r) for r in runs], points=args.points, out=str(work / "ae_line_path"), opts=opts)
    cur = analyse_path(curve_ref=str(curve), points=args.points, out=str(work / "ae_curve_path"), opts=opts)
    ll, lc = np.array(line["metrics"]["test"]["loss"]), np.array(cur["metrics"]["test"]["loss"])
    ends = (ll[0] + ll[-1]) / 2
    return {
        "ae_end_test_loss": [float(ll[0]), float(ll[-1])],
        "ae_line_max_over_ends": float(ll.max() / ends),
        "ae_curve_max_over_ends": float(lc.max() / ((lc[0] + lc[-1]) / 2)),
        # diagnostics: the worse endpoint alone bounds the ratio above from below
        "ae_worse_end_over_ends": float(max(ll[0], ll[-1]) / ends),
        "ae_curve_max_over_worse_end": float(lc.max() / max(lc[0], lc[-1])),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "connectivity.json"))
    ap.add_argument("--data-dir", default=default_data_dir())
    ap.add_argument("--work-dir", default=str(ROOT / "bench" / "results" / "connectivity_runs"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--points", type=int, default=61)
    ap.add_argument("--mlp-epochs", type=int, default=None, help="epochs of each MLP (default: configs/mnist_mlp.yaml's 60)")
    ap.add_argument("--mlp-curve-epochs", type=int, default=40, help="epochs of the curve (configs/mnist_mlp_curve.yaml says 20; 20 left train accuracy at 99.40%% mid-curve)")
    ap.add_argument("--ae-epochs", type=int, default=12)
    ap.add_argument("--ae-curve-epochs", type=int, default=15)
    ap.add_argument("--ae-fraction", type=float, default=0.2)
    ap.add_argument("--ae-test-examples", type=int, default=2000)
    ap.add_argument("--ae-bn-batches", type=int, default=10)
    ap.add_argument("--skip", choices=["mlp", "ae"], action="append", default=[], help="leave a part out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    res: dict = {}
    if "mlp" not in args.skip:
        res.update(mlp_part(args, work))
    if "ae" not in args.skip:
        res.update(ae_part(args, work))
    res["seconds"] = time.time() - t0
    targets = {
        "mlp_line_mid_test_acc_drop": (">=", 5.0),
        "mlp_curve_min_train_acc": (">=", 99.5),
        "mlp_curve_max_test_acc_gap": ("<=", 0.5),
        "ae_line_max_over_ends": (">=", 1.5),
        "ae_curve_max_over_ends": ("<=", 1.10),
    }
    print(f"{'result':<30}{'value':>10}  target")
    for k, (op, v) in targets.items():
        if k in res:
            ok = res[k] >= v if op == ">=" else res[k] <= v
            print(f"{k:<30}{res[k]:>10.3f}  {op} {v}  {'met' if ok else 'MISSED'}")
    for k in ("ae_worse_end_over_ends", "ae_curve_max_over_worse_end"):
        if k in res:
            print(f"{k:<30}{res[k]:>10.3f}  (diagnostic)")
    for k in ("mlp_end_train_acc", "mlp_end_test_acc", "ae_end_test_loss"):
        if k in res:
            print(f"{k:<30}{', '.join(f'{v:.4g}' for v in res[k]):>20}")
    write_results(args.out, res)
    print(f"runs and plots in {work}")


if __name__ == "__main__":
    main()
