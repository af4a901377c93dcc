"""`latentscape hessian RUN`: curvature of the model's objective (PyHessian)."""

from __future__ import annotations

import argparse

from latentscape.commands._landscape_args import add_eval_options, eval_options
from latentscape.commands._types import SEED, number


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "hessian",
        help="top Hessian eigenvalues, trace and eigenvalue density of a run's objective (PyHessian)",
        description=(
            "Hessian-vector products of the model's own objective (any family; GANs per --group) through "
            "torch.func on --batches batches of --batch-size examples of --split, in eval mode (BatchNorm "
            "uses the model's statistics; a VAE's sampling noise is frozen by --seed). Top-k eigenvalues "
            "by power iteration with deflation (or Lanczos), the trace by Hutchinson's estimator, and the "
            "eigenvalue density by stochastic Lanczos quadrature (Yao et al. 2020). Writes "
            "RUN/analysis/hessian-<time>/hessian.json and images/hessian_density.png."
        ),
        epilog=(
            "examples:\n"
            "  latentscape hessian runs/mlp --top-k 5 --trace --density --batches 2 --batch-size 500\n"
            "  latentscape hessian runs/gan --group critic --top-k 1\n"
            "sharpness along a path: latentscape path runs/a runs/b --metrics loss,hessian_top"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", metavar="WEIGHTS", help="a run (RUN_DIR, RUN_DIR@init, RUN_DIR@last)")
    p.add_argument("--top-k", type=int, default=5, help="top eigenvalues to compute (default 5; 0: none)")
    p.add_argument("--method", choices=("power", "lanczos"), default="power", help="top-k method (default power iteration with deflation)")
    p.add_argument("--trace", action="store_true", help="estimate the trace (Hutchinson, Rademacher vectors)")
    p.add_argument("--density", action="store_true", help="eigenvalue density by stochastic Lanczos quadrature")
    p.add_argument("--batches", type=int, default=1, help="batches of --batch-size examples the objective averages over (default 1)")
    p.add_argument("--split", default="train", help="data split (default train)")
    p.add_argument("--group", default=None, help="optimizer group whose loss and parameters to use (GANs: critic, generator)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the random vectors and of any noise in the objective")
    p.add_argument("--max-iter", type=int, default=100, help="power-iteration steps per eigenvalue (default 100)")
    p.add_argument("--tol", type=number(0.0, low_open=True), default=1e-3, help="relative tolerance of power iteration / Hutchinson (default 1e-3)")
    p.add_argument("--trace-samples", type=int, default=100, help="Hutchinson samples at most (default 100)")
    p.add_argument("--slq-runs", type=int, default=1, help="SLQ random starts (default 1)")
    p.add_argument("--slq-steps", type=int, default=90, help="Lanczos steps per SLQ run (default 90)")
    p.add_argument("--out", help="output folder (default RUN/analysis/hessian-<time>)")
    add_eval_options(p, per_point=False, batch_size=256)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentscape.landscape.studies.hessian_analysis import analyse_hessian

    analyse_hessian(
        args.run, top_k=args.top_k, method=args.method, trace=args.trace, density=args.density, batches=args.batches,
        split=args.split, group=args.group, seed=args.seed, max_iter=args.max_iter, tol=args.tol,
        trace_samples=args.trace_samples, slq_runs=args.slq_runs, slq_steps=args.slq_steps, out=args.out, opts=eval_options(args),
    )
    return 0
