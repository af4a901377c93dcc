"""latentscape's surface and Hessian tools against the field's reference tools, side by side.

For the lab's MNIST MLP (784-64-10) and a small BatchNorm CNN (each trained inline for one pass
over --train-examples MNIST images), on the same evaluation set (the first --examples test images):

1. a --grid x --grid filter-normalised random plane: `loss_landscapes.random_plane(...,
   normalization='filter')` (loss-landscapes 3.0.6: one forward pass per grid point, moving a
   model copy in place) against `latentscape.landscape.studies.surface.compute_surface` (the shared
   `PointEvaluator`: vmap over chunks of points, input-layer factorisation). Both use the *same*
   directions: we replay loss-landscapes' own RNG draws and scaling to recover its two directions
   and the exact grid coefficients it visits, and feed those to ours. BatchNorm keeps the model's
   statistics on both sides (loss-landscapes cannot recompute them).
2. the top Hessian eigenvalue of the mean cross-entropy on the same set: a hand-written
   PyHessian-style loop (`torch.autograd.grad(..., create_graph=True)` once, then power iteration
   on double-backward products with the graph retained) against
   `latentscape.landscape.core.hessian.power_iteration` (torch.func functional_call objective), from
   the same start vector and with the same tolerance.

    nice -n 10 python bench/landscape_tools.py [--grid 51] [--examples 1000] [--threads 1]

Prints a table and writes JSON (seconds, speed ratios, max abs/rel differences).
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
import torch.nn.functional as F
from _common import default_data_dir, write_results

from latentscape.config import DataConfig
from latentscape.data.loader import BatchLoader, iterate_in_order
from latentscape.data.registry import load_split
from latentscape.landscape.core.evaluate import PointEvaluator, PointSet
from latentscape.landscape.core.hessian import HessianOperator, model_objective, power_iteration
from latentscape.landscape.core.params import named_params
from latentscape.landscape.core.metrics import combined, resolve_metrics
from latentscape.landscape.core.grid import choose_strategy
from latentscape.rundir.model import DataInfo
from latentscape.models.classifier import CNNClassifierConfig, MLPClassifierConfig, build_cnn, build_mlp


def train_quick(model, train, seed: int):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for batch in BatchLoader(train, 128, seed=seed):
        opt.zero_grad()
        model(batch).loss.backward()
        opt.step()
    return model.eval()


def their_directions(net: torch.nn.Module, steps: int, distance: float, seed: int):
    """Replay loss_landscapes.random_plane's draws and scaling: (start, dir_one, dir_two) as lists."""
    from loss_landscapes.model_interface.model_parameters import orthogonal_to, rand_u_like
    from loss_landscapes.model_interface.model_wrapper import wrap_model

    torch.manual_seed(seed)
    start = wrap_model(copy.deepcopy(net)).get_module_parameters()
    d1 = rand_u_like(start)
    d2 = orthogonal_to(d1)
    d1.filter_normalize_(start)
    d2.filter_normalize_(start)
    d1.mul_(((start.model_norm() / distance) / steps) / d1.model_norm())
    d2.mul_(((start.model_norm() / distance) / steps) / d2.model_norm())
    return [p.clone() for p in start], [p.clone() for p in d1], [p.clone() for p in d2]


def their_plane(net: torch.nn.Module, metric, steps: int, seed: int):
    """`loss_landscapes.random_plane(..., normalization='filter')` (timed), and its directions
    replayed: (values (steps, steps), seconds, (start, d1, d2))."""
    import loss_landscapes

    t0 = time.perf_counter()
    torch.manual_seed(seed)
    with torch.no_grad():
        theirs = loss_landscapes.random_plane(net, metric, distance=1, steps=steps, normalization="filter", deepcopy_model=True)
    return theirs, time.perf_counter() - t0, their_directions(net, steps, 1, seed)


def their_coefficients(steps: int) -> np.ndarray:
    """(steps, steps, 2) coefficients (a, b) of w + a d1 + b d2 that random_plane evaluates at
    data_matrix[i][j]: it starts at w - steps/2 (d1 + d2), adds d1 per column i, and walks d2 up
    (evaluating after each add: b = j + 1) on even columns and down (b = j) on odd ones."""
    c = np.zeros((steps, steps, 2))
    for i in range(steps):
        for j in range(steps):
            c[i, j] = (i - steps / 2, (j + 1 if i % 2 == 0 else j) - steps / 2)
    return c


def bench_surface(model, ds, steps: int, seed: int, batch_size: int) -> dict:
    from loss_landscapes.metrics import Loss

    net = model.net
    x = ds.images.float() / 255  # (N, C, H, W) in [0, 1], as latentscape's batches
    y = ds.labels
    theirs, t_theirs, (start, d1, d2) = their_plane(net, Loss(F.cross_entropy, x, y), steps, seed)
    names = ["net." + n for n, _ in net.named_parameters()]  # loss-landscapes' order = parameters()
    w = named_params(model)
    assert all(torch.equal(w[n], s) for n, s in zip(names, start))
    u = {n: t for n, t in zip(names, d1)}
    v = {n: t for n, t in zip(names, d2)}
    coeffs = their_coefficients(steps).reshape(-1, 2)  # (P, 2), row-major like their matrix
    ev = PointEvaluator(model, combined(resolve_metrics(model, ["loss"])[0]), batch_size=batch_size, recompute_bn=False)
    t0 = time.perf_counter()
    points = PointSet([w, u, v], torch.cat([torch.ones(len(coeffs), 1, dtype=torch.float64), torch.from_numpy(coeffs)], 1))  # (P, 3)
    chosen = choose_strategy(ev, points, {"test": ds})  # what evaluate_surface does (timed with it)
    ours = ev.evaluate(points, {"test": ds})["test"]["loss"].reshape(steps, steps)
    t_ours = time.perf_counter() - t0
    diff = np.abs(ours - theirs)
    return {
        "grid": f"{steps}x{steps}", "examples": len(ds), "loss_landscapes_s": t_theirs, "latentscape_s": t_ours,
        "speedup": t_theirs / t_ours, "strategy": chosen, "max_abs_diff": float(diff.max()),
        "max_rel_diff": float((diff / np.abs(theirs)).max()), "loss_min": float(theirs.min()), "loss_max": float(theirs.max()),
    }


def pyhessian_top(net, x, y, v0: torch.Tensor, max_iter: int, tol: float) -> tuple[float, int]:
    """PyHessian's `eigenvalues(top_n=1)` in full-batch mode, written out."""
    params = [p for p in net.parameters() if p.requires_grad]
    loss = F.cross_entropy(net(x), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    sizes = [p.numel() for p in params]
    v = v0 / v0.norm()
    eig, it = None, 0
    for it in range(1, max_iter + 1):
        vs = list(torch.split(v, sizes))
        hv = torch.autograd.grad(grads, params, grad_outputs=[t.view_as(p) for t, p in zip(vs, params)], retain_graph=True)
        hv = torch.cat([h.reshape(-1) for h in hv])
        new = float(hv @ v)
        v = hv / hv.norm()
        if eig is not None and abs(new - eig) <= tol * (abs(eig) + 1e-12):
            return new, it
        eig = new
    return float(eig), it


def bench_hessian(model, ds, seed: int, max_iter: int, tol: float) -> dict:
    batch = next(iterate_in_order(ds, len(ds)))
    w = named_params(model)
    op = HessianOperator(model_objective(model), w, [batch])
    gen = torch.Generator().manual_seed(seed)
    v0 = op.random(gen)
    t0 = time.perf_counter()
    theirs, iters = pyhessian_top(model.net, batch.x, batch.y, v0.clone(), max_iter, tol)
    t_theirs = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours, _ = power_iteration(op, 1, max_iter=max_iter, tol=tol, seed=seed)
    t_ours = time.perf_counter() - t0
    return {
        "pyhessian_loop_s": t_theirs, "latentscape_s": t_ours, "speedup": t_theirs / t_ours, "iterations": iters,
        "pyhessian_top": theirs, "latentscape_top": ours[0], "rel_diff": abs(ours[0] - theirs) / abs(theirs),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grid", type=int, default=51)
    ap.add_argument("--examples", type=int, default=1000, help="evaluation set: the first N MNIST test images (MLP)")
    ap.add_argument("--cnn-examples", type=int, default=100, help="evaluation set of the BatchNorm CNN")
    ap.add_argument("--train-examples", type=int, default=10000)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--max-iter", type=int, default=100)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir", default=default_data_dir())
    ap.add_argument("--out", default="bench/results/landscape_tools.json")
    ap.add_argument("--models", default="mlp,bn-cnn", help="comma-separated rows to run: mlp, bn-cnn")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = DataConfig(name="mnist", data_dir=args.data_dir)
    train = load_split(cfg, "train")
    train = train.subset(torch.arange(min(args.train_examples, len(train))))
    test = load_split(cfg, "test")
    info = DataInfo((1, 28, 28), 10, len(train))
    models = {
        "mlp 784-64-10": (build_mlp(MLPClassifierConfig(hidden_dims=(64,)), info), args.examples),
        "bn-cnn 8-16": (build_cnn(CNNClassifierConfig(widths=(8, 16), convs_per_block=1, hidden=32, dropout=0.0), info), args.cnn_examples),
    }
    results: dict = {"args": vars(args), "models": {}}
    print(f"{'model':<15}{'task':<26}{'reference s':>12}{'latentscape s':>14}{'speedup':>9}{'max rel diff':>14}")
    wanted = set(filter(None, args.models.split(",")))
    for name, (model, n) in models.items():
        if name.split()[0] not in wanted:
            continue
        torch.manual_seed(args.seed)
        model = train_quick(model, train, args.seed)
        ds = test.subset(torch.arange(n))
        s = bench_surface(model, ds, args.grid, args.seed, args.batch_size)
        h = bench_hessian(model, ds, args.seed, args.max_iter, args.tol)
        results["models"][name] = {"surface": s, "hessian_top": h}
        print(f"{name:<15}{'surface ' + s['grid'] + ' (' + s['strategy'] + ')':<26}{s['loss_landscapes_s']:>12.2f}{s['latentscape_s']:>14.2f}{s['speedup']:>8.1f}x{s['max_rel_diff']:>14.2e}")
        print(f"{'':<15}{'top eigenvalue (PyHessian loop)':<26}{h['pyhessian_loop_s']:>12.2f}{h['latentscape_s']:>14.2f}{h['speedup']:>8.1f}x{h['rel_diff']:>14.2e}")
    write_results(args.out, results)


if __name__ == "__main__":
    main()
