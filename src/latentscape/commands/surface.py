"""`latentscape surface RUN`: loss surfaces along random filter-normalised directions."""

from __future__ import annotations

import argparse
import re

from latentscape.commands._landscape_args import add_eval_options, eval_options
from latentscape.commands._types import SEED


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "surface",
        help="1-D/2-D metric surfaces around one model along random filter-normalised directions (Li et al. 2018)",
        description=(
            "Draw Gaussian directions d1 (and d2) around the weights w, normalise them filter by filter "
            "to the norms of w's filters (Li et al. 2018; or per layer, or not at all), and evaluate the "
            "model's metrics at w + a d1 + b d2 on a grid. The same --seed gives the same directions "
            "for any model of the same architecture. BatchNorm statistics are recomputed at every point "
            "(--fixed-bn keeps the model's own, as Li et al.). Writes RUN/analysis/surface-<time>/: "
            "surface.json, surface.npz, surface_<split>.vtk (ParaView), images/ (filled contour, "
            "contour lines, 3-D surface; a line plot for --dims 1) and report.html."
        ),
        epilog=(
            "examples:\n"
            "  latentscape surface runs/mlp --grid 51 --splits test\n"
            "  latentscape surface runs/mlp --dims 1 --range -1:1 --grid 101\n"
            "  latentscape surface runs/cnn --range -0.5:0.5,-0.5:0.5 --grid 41 --ignore none --norm layer\n"
            "  latentscape surface runs/gan --group generator --metrics model\n"
            "  latentscape surface runs/mlp --trajectory --grid 21   # = latentscape trajectory runs/mlp"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # let "--range -1:1" through: argparse only treats plain negative numbers as values
    # (any value starting with "-" and a digit, ".", "inf" or "nan": -1:1, -1e3:1e3, -inf:inf, -1,1;
    # parse_span then says what is wrong with it rather than argparse's "expected one argument")
    p._negative_number_matcher = re.compile(r"^-(\d|\.|inf|nan)", re.IGNORECASE)
    p.add_argument("run", metavar="WEIGHTS", help="a run (RUN_DIR, RUN_DIR@init, RUN_DIR@last)")
    p.add_argument("--dims", type=int, choices=(1, 2), default=2, help="1-D line or 2-D surface (default 2)")
    p.add_argument("--range", default="-1:1", help="coordinate span LO:HI, or LO:HI,LO:HI for x and y (default -1:1)")
    p.add_argument("--grid", default="51", help="grid points per axis, or NX,NY (default 51)")
    p.add_argument("--norm", choices=("filter", "layer", "none"), default="filter", help="direction normalisation (default filter)")
    p.add_argument("--ignore", choices=("biasbn", "none"), default="biasbn", help="biasbn: zero the direction on biases and BatchNorm parameters (default)")
    p.add_argument("--seed", type=SEED, default=0, help="direction seed (same seed, same directions for the same architecture)")
    p.add_argument("--group", default=None, help="move only this parameter group (GANs: generator or critic)")
    p.add_argument("--fixed-bn", action="store_true", help="keep the model's BatchNorm statistics instead of recomputing them per point")
    p.add_argument("--trajectory", action="store_true", help="use the PCA plane of the run's kept checkpoints instead (see `trajectory`)")
    p.add_argument("--out", help="output folder (default RUN/analysis/surface-<time>)")
    add_eval_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentscape.landscape.core.surface import parse_grid, parse_span
    from latentscape.landscape.studies.surface_analysis import analyse_surface, analyse_trajectory

    counts = parse_grid(args.grid)
    opts = eval_options(args)
    if args.trajectory:
        analyse_trajectory(args.run, grid=counts[0], recompute_bn=not args.fixed_bn, out=args.out, opts=opts)
        return 0
    analyse_surface(
        args.run, dims=args.dims, spans=parse_span(args.range), counts=counts, norm=args.norm, ignore=args.ignore,
        seed=args.seed, group=args.group, recompute_bn=not args.fixed_bn, out=args.out, opts=opts,
    )
    return 0
