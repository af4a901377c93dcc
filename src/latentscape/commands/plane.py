"""`latentscape plane A B C` / `latentscape plane --curve CURVE_RUN`: metric contours on a plane."""

from __future__ import annotations

import argparse
import math

from latentscape.commands._landscape_args import add_eval_options, eval_options
from latentscape.commands._types import count


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plane",
        help="metric grid and contour plots on the plane through three weight sets",
        description=(
            "Build an orthonormal basis (Gram-Schmidt) of the plane through three weight sets A, B, "
            "C (or a curve's start, end and middle bend), evaluate the metrics on a grid covering "
            "the points with margins, and draw contour plots with the points marked and the curve "
            "overlaid. Writes plane.json and images/plane_<metric>_<split>.png."
        ),
        epilog=(
            "examples:\n"
            "  latentscape plane runs/a runs/b runs/c --grid 21\n"
            "  latentscape plane --curve runs/curve-ab --grid 21 --margin 0.2,0.2,0.3,0.3"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("refs", nargs="*", metavar="WEIGHTS", help="three weight references A B C")
    p.add_argument("--curve", metavar="CURVE_RUN", help="a curve run made by `latentscape connect`")
    p.add_argument("--grid", type=count(2, 10_000), default=21, help="grid points per axis (default 21)")
    p.add_argument("--margin", default="0.2", help="margin as a fraction of the span: one value or left,right,bottom,top")
    p.add_argument("--out", help="output folder (default runs/plane-<time>)")
    add_eval_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentscape.errors import LatentscapeError
    from latentscape.landscape.studies.analysis import analyse_plane

    try:
        margin = [float(v) for v in args.margin.split(",")]
    except ValueError:
        raise LatentscapeError(f"--margin {args.margin!r}: expected numbers like 0.2 or 0.2,0.2,0.3,0.3") from None
    if not all(math.isfinite(m) and m >= 0 for m in margin):
        raise LatentscapeError(f"--margin {args.margin!r}: each margin must be a finite number >= 0")
    analyse_plane(args.refs, args.curve, grid=args.grid, margin=margin[0] if len(margin) == 1 else margin, out=args.out, opts=eval_options(args))
    return 0
