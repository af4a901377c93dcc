"""`latentscape path A B` / `latentscape path --curve CURVE_RUN`: metrics along a path."""

from __future__ import annotations

import argparse

from latentscape.commands._landscape_args import add_eval_options, eval_options
from latentscape.commands._types import count


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "path",
        help="metrics along the straight segment between two weight sets, or along a trained curve",
        description=(
            "Evaluate the models' own metrics (loss/accuracy for classifiers; reconstruction loss, "
            "SSIM and LPIPS when available for autoencoders) at evenly spaced points of the segment "
            "(1-t) A + t B, or of a curve trained by `latentscape connect`. BatchNorm statistics are "
            "recomputed at every point. Writes path.json (values and a summary: start, end, min, "
            "max, mean, barrier height, length), images/path_<metric>.png and, for autoencoders, "
            "the image dynamics images/dynamics.png and dynamics.gif."
        ),
        epilog=(
            "weight references: RUN_DIR (final weights), RUN_DIR@init, RUN_DIR@last.\n"
            "the loss-landscape lab's four cases:\n"
            "  latentscape path runs/a runs/b --range 0,1.5        # two minima\n"
            "  latentscape path runs/a runs/a@init                 # a minimum and its initialisation\n"
            "  latentscape path runs/a runs/b@init                 # a minimum and another initialisation\n"
            "  latentscape path runs/a@init runs/b@init            # two initialisations\n"
            "  latentscape path --curve runs/curve-ab              # along a trained curve\n"
            "  torchrun --nproc-per-node 2 -m latentscape.cli path runs/a runs/b   # points sharded"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("refs", nargs="*", metavar="WEIGHTS", help="two weight references A B")
    p.add_argument("--curve", metavar="CURVE_RUN", help="a curve run made by `latentscape connect`")
    p.add_argument("--points", type=count(2, 100_000), default=61, help="evaluation points (default 61)")
    p.add_argument("--range", default="0,1", help="t range of the segment, e.g. 0,1.5 (lines only; default 0,1)")
    p.add_argument("--dynamics-images", type=count(0, 1000), default=4, help="test images in the image-dynamics strip/GIF (autoencoders)")
    p.add_argument("--out", help="output folder (default runs/path-<time>)")
    add_eval_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentscape.errors import LatentscapeError
    from latentscape.landscape.studies.analysis import analyse_path
    from latentscape.commands._landscape_args import parse_range

    t_range = parse_range(args.range)
    if args.curve and args.range != "0,1":
        raise LatentscapeError("--range applies to straight segments only; a curve is evaluated on [0, 1]")
    analyse_path(
        args.refs,
        args.curve,
        points=args.points,
        t_range=t_range,
        out=args.out,
        opts=eval_options(args),
        dynamics_images=args.dynamics_images,
    )
    return 0
