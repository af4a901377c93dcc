"""`latentscape trajectory RUN`: the training trajectory on its top-2 PCA plane over the surface."""

from __future__ import annotations

import argparse

from latentscape.commands._landscape_args import add_eval_options, eval_options
from latentscape.commands._types import count, number


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "trajectory",
        help="training trajectory projected on its top-2 PCA directions, drawn over the metric surface",
        description=(
            "Collect the run's weights along training (checkpoints/init.pt, checkpoints/keep/step_*.pt "
            "written with train.keep_every=N, checkpoints/final.pt), take the PCA of w_i - w_final "
            "(Li et al. 2018, sec. 7), print and save the explained variance ratio of the top two "
            "directions, evaluate the metrics on the plane they span around w_final and draw the path "
            "over it. Writes RUN/analysis/trajectory-<time>/ like `surface`."
        ),
        epilog=(
            "example (checkpoints kept every 20 steps, then the trajectory):\n"
            "  latentscape train configs/mnist_mlp.yaml data.name=digits train.epochs=10 train.keep_every=20 --run-dir runs/mlp\n"
            "  latentscape trajectory runs/mlp --grid 31 --splits test"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", metavar="RUN_DIR", help="a finished run trained with train.keep_every=N")
    p.add_argument("--grid", type=count(2, 10_000), default=21, help="grid points per axis (default 21)")
    p.add_argument("--margin", type=number(0.0), default=0.3, help="margin around the path as a fraction of its span (default 0.3)")
    p.add_argument("--ignore", choices=("biasbn", "none"), default="none", help="biasbn: leave biases/BatchNorm parameters out of the PCA")
    p.add_argument("--fixed-bn", action="store_true", help="keep the final model's BatchNorm statistics instead of recomputing them")
    p.add_argument("--out", help="output folder (default RUN/analysis/trajectory-<time>)")
    add_eval_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentscape.errors import LatentscapeError
    from latentscape.landscape.studies.surface_analysis import analyse_trajectory

    if args.grid < 2 or args.margin < 0:
        raise LatentscapeError("--grid must be at least 2 and --margin non-negative")
    analyse_trajectory(args.run, grid=args.grid, margin=args.margin, ignore=args.ignore, recompute_bn=not args.fixed_bn, out=args.out, opts=eval_options(args))
    return 0
