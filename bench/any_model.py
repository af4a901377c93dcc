"""Your own model through `latentscape.compute`, against the tools people use on their own models.

The model is a user's small ResNet with BatchNorm (tests/user_models/resnet.py, no latentscape
imports), trained inline for one pass over the CIFAR-10 subset in ../shared/data, scored with
`nn.CrossEntropyLoss()` on the first --examples test images given as tensors (x, y):

1. a --grid x --grid filter-normalised random plane: `loss_landscapes.random_plane(...,
   normalization='filter')` (loss-landscapes 3.0.6: one forward pass per point, the model's own
   BatchNorm statistics) against `compute.surface(net, weights, (x, y), criterion=...,
   recompute_bn=False, directions=[d1, d2])` on the *same* directions (loss-landscapes' draws and
   scaling replayed) and a regular grid that contains every point it visits (it walks the
   columns up and down, so its b offsets alternate by one: our grid has one row more). Seconds of
   each side, their ratio (loss-landscapes / latentscape), and the largest relative difference
   over the points both evaluate.
2. the top Hessian eigenvalue of the mean cross-entropy on --hessian-examples test images: a
   PyHessian-style loop (`torch.autograd.grad(..., create_graph=True)` once, then power
   iteration on double-backward products) against `compute.hessian(..., top_k=1)`, same start
   vector and tolerance.

    nice -n 10 python bench/any_model.py [--grid 21] [--examples 500] [--threads 1]

JSON keys: surface_vs_loss_landscapes_ratio, hessian_top_vs_pyhessian_ratio, max_rel_diff (and the
seconds and values of each side).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from _common import REPO, default_data_dir, write_results
from landscape_tools import pyhessian_top, their_plane
from torch import nn

from latentscape import compute
from latentscape.config import DataConfig
from latentscape.data.registry import load_split

sys.path.insert(0, str(REPO / "tests" / "user_models"))
from resnet import build  # noqa: E402  (the user's module)


def trained(train_x: torch.Tensor, train_y: torch.Tensor, width: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    net = build(channels=3, width=width, classes=10, blocks=2)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    perm = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))
    net.train()
    for i in range(0, len(perm), 128):
        idx = perm[i : i + 128]
        opt.zero_grad()
        F.cross_entropy(net(train_x[idx]), train_y[idx]).backward()
        opt.step()
    return net.eval()


def bench_surface(net: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, seed: int, batch_size: int) -> dict:
    from loss_landscapes.metrics import Loss

    theirs, t_theirs, (start, d1, d2) = their_plane(net, Loss(nn.CrossEntropyLoss(), x, y), steps, seed)
    names = [n for n, _ in net.named_parameters()]  # loss-landscapes' order = parameters()
    assert all(torch.equal(dict(net.named_parameters())[n].detach(), s) for n, s in zip(names, start))
    u, v = dict(zip(names, d1)), dict(zip(names, d2))
    # their data_matrix[i][j] is at (a, b) = (i - steps/2, (j + 1 if i even else j) - steps/2)
    xs = np.arange(steps) - steps / 2
    ys = np.arange(steps + 1) - steps / 2  # both b sets
    spans = [(float(xs[0]), float(xs[-1])), (float(ys[0]), float(ys[-1]))]
    t0 = time.perf_counter()
    ours = compute.surface(build(channels=3, width=net.head.in_features, classes=10, blocks=len(net.blocks)), net, (x, y),
                           criterion=nn.CrossEntropyLoss(), recompute_bn=False, directions=[u, v], span=spans,
                           grid=[steps, steps + 1], batch_size=batch_size)
    t_ours = time.perf_counter() - t0
    grid = ours.values["data"]["loss"]  # (steps + 1, steps): row = b, column = a
    assert np.allclose(ours.xs, xs) and np.allclose(ours.ys, ys)
    mine = np.array([[grid[(j + 1 if i % 2 == 0 else j), i] for j in range(steps)] for i in range(steps)])
    diff = np.abs(mine - theirs)
    return {
        "grid": f"{steps}x{steps}", "examples": len(x), "loss_landscapes_s": t_theirs, "latentscape_s": t_ours,
        "latentscape_points": int(grid.size), "loss_landscapes_points": steps * steps, "ratio": t_theirs / t_ours,
        "strategy": ours.strategy, "max_abs_diff": float(diff.max()), "max_rel_diff": float((diff / np.abs(theirs)).max()),
        "loss_min": float(theirs.min()), "loss_max": float(theirs.max()),
    }


def bench_hessian(net: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int, max_iter: int, tol: float) -> dict:
    n = sum(p.numel() for p in net.parameters())
    v0 = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).float()  # compute.hessian's start
    ref = copy.deepcopy(net).eval()
    t0 = time.perf_counter()
    theirs, iters = pyhessian_top(ref, x, y, v0, max_iter, tol)
    t_theirs = time.perf_counter() - t0
    t0 = time.perf_counter()
    h = compute.hessian(copy.deepcopy(net), net, (x, y), criterion=nn.CrossEntropyLoss(), top_k=1, batch_size=len(x),
                        seed=seed, max_iter=max_iter, tol=tol)
    t_ours = time.perf_counter() - t0
    ours = h.top_eigenvalues["values"][0]
    return {
        "pyhessian_loop_s": t_theirs, "latentscape_s": t_ours, "ratio": t_theirs / t_ours, "iterations": iters,
        "pyhessian_top": theirs, "latentscape_top": ours, "rel_diff": abs(ours - theirs) / abs(theirs),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grid", type=int, default=21)
    ap.add_argument("--examples", type=int, default=500, help="test images of the surface")
    ap.add_argument("--hessian-examples", type=int, default=256)
    ap.add_argument("--width", type=int, default=8, help="channels of the ResNet")
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--max-iter", type=int, default=100)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir", default=default_data_dir())
    ap.add_argument("--out", default="bench/results/any_model.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = DataConfig(name="cifar10-subset", data_dir=args.data_dir)
    train, test = load_split(cfg, "train"), load_split(cfg, "test")
    net = trained(train.images.float() / 255, train.labels, args.width, args.seed)
    x, y = test.images[: args.examples].float() / 255, test.labels[: args.examples]  # (N, 3, 32, 32) in [0, 1]
    s = bench_surface(net, x, y, args.grid, args.seed, args.batch_size)
    h = bench_hessian(net, x[: args.hessian_examples], y[: args.hessian_examples], args.seed, args.max_iter, args.tol)
    results = {
        "args": vars(args), "parameters": sum(p.numel() for p in net.parameters()), "surface": s, "hessian_top": h,
        "surface_vs_loss_landscapes_ratio": s["ratio"], "hessian_top_vs_pyhessian_ratio": h["ratio"],
        "max_rel_diff": max(s["max_rel_diff"], h["rel_diff"]),
    }
    print(f"{'task':<40}{'reference s':>12}{'latentscape s':>14}{'ratio':>8}{'max rel diff':>14}")
    print(f"{'surface ' + s['grid'] + ' vs loss-landscapes (' + s['strategy'] + ')':<40}{s['loss_landscapes_s']:>12.2f}{s['latentscape_s']:>14.2f}{s['ratio']:>7.2f}x{s['max_rel_diff']:>14.2e}")
    print(f"{'top eigenvalue vs PyHessian loop':<40}{h['pyhessian_loop_s']:>12.2f}{h['latentscape_s']:>14.2f}{h['ratio']:>7.2f}x{h['rel_diff']:>14.2e}")
    write_results(args.out, results)


if __name__ == "__main__":
    main()
