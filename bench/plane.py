"""Speed of a 21x21 loss plane for the lab's MNIST MLP (784-64-10) on the full training set.

latentscape (`PointEvaluator`: vmap over chunks of grid points, input-layer factorisation of
the affine plane) against the lab's method (for every grid point, build a state_dict
w_a + x u + y v, `load_state_dict`, loop over the data), side by side in one process, on the
same three weight sets (MLPs trained for one epoch from seeds 0, 1, 2) and the same batches.

    nice -n 10 python bench/plane.py [--grid 21] [--threads 1] [--data-dir ../shared/data]

Writes JSON with keys latentscape_s, baseline_s, ratio (+ details).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import default_data_dir, write_results

from latentscape.config import DataConfig
from latentscape.data.loader import BatchLoader, iterate_in_order
from latentscape.data.registry import load_split
from latentscape.landscape.core.evaluate import PointEvaluator
from latentscape.landscape.core.params import named_params
from latentscape.landscape.core.metrics import combined, resolve_metrics
from latentscape.landscape.core.plane import grid_axes, plane_through
from latentscape.rundir.model import DataInfo
from latentscape.models.classifier import MLPClassifierConfig, build_mlp


def quick_mlp(train, seed: int):
    torch.manual_seed(seed)
    model = build_mlp(MLPClassifierConfig(hidden_dims=(64,)), DataInfo((1, 28, 28), 10, len(train)))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for batch in BatchLoader(train, 128, seed=seed):
        opt.zero_grad()
        model(batch).loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def baseline_plane(model, plane, xs, ys, data, batch_size):
    """The lab's loop: a state_dict per grid point, then a pass over the data."""
    origin, u, v = plane.origin, plane.u, plane.v
    batches = list(iterate_in_order(data, batch_size))
    loss = np.zeros((len(ys), len(xs)))
    acc = np.zeros_like(loss)
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            sd = {k: origin[k] + x * u[k] + y * v[k] for k in origin}
            model.load_state_dict(sd)
            tot_l = tot_a = 0.0
            for b in batches:
                m = model.evaluate_batch(b)
                tot_l += float(m["loss"].double().sum())
                tot_a += float(m["accuracy"].double().sum())
            loss[i, j], acc[i, j] = tot_l / len(data), tot_a / len(data)
    return loss, acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="bench/results/plane.json")
    ap.add_argument("--data-dir", default=default_data_dir())
    ap.add_argument("--grid", type=int, default=21)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--max-examples", type=int, default=None, help="use only the first N training images")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    train = load_split(DataConfig(name="mnist", data_dir=args.data_dir), "train")
    if args.max_examples:
        train = train.subset(torch.arange(args.max_examples))
    models = [quick_mlp(train, s) for s in (0, 1, 2)]
    plane = plane_through(*[named_params(m) for m in models])
    xs, ys = grid_axes(list(plane.points.values()), args.grid, 0.2)
    model = models[0]

    t0 = time.perf_counter()
    ev = PointEvaluator(model, combined(resolve_metrics(model, ["model"])[0]), batch_size=args.batch_size)
    res = ev.evaluate(plane.grid(xs.tolist(), ys.tolist()), {"train": train})["train"]
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    base_loss, base_acc = baseline_plane(build_mlp(MLPClassifierConfig(hidden_dims=(64,)), DataInfo((1, 28, 28), 10, 1)).eval(), plane, xs, ys, train, args.batch_size)
    base_s = time.perf_counter() - t0
    ours_loss = res["loss"].reshape(len(ys), len(xs))
    ours_acc = res["accuracy"].reshape(len(ys), len(xs))
    rel = float(np.max(np.abs(ours_loss - base_loss) / np.maximum(np.abs(base_loss), 1e-12)))
    acc_diff = float(np.max(np.abs(ours_acc - base_acc)))
    out = {
        "latentscape_s": ours_s,
        "baseline_s": base_s,
        "ratio": base_s / ours_s,
        "grid": args.grid,
        "points": args.grid**2,
        "examples": len(train),
        "threads": args.threads,
        "strategy": ev.last_strategy,
        "max_rel_loss_diff": rel,
        "max_abs_acc_diff": acc_diff,
    }
    print(f"{'method':<34}{'seconds':>10}")
    print(f"{'latentscape (' + ev.last_strategy + ')':<34}{ours_s:>10.2f}")
    print(f"{'baseline (load_state_dict loop)':<34}{base_s:>10.2f}")
    print(f"ratio baseline/latentscape: {out['ratio']:.1f}x   (target 5x)")
    print(f"max relative loss difference {rel:.2e}, max accuracy difference {acc_diff:.2e}")
    write_results(args.out, out)


if __name__ == "__main__":
    main()
