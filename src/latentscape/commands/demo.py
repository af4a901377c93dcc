"""`latentscape demo`: two autoencoders, the straight line vs a trained curve, in about a minute."""

from __future__ import annotations

import argparse

from latentscape.commands._types import EPOCHS, THREADS, count


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="mode connectivity of two small autoencoders on the embedded digits (about a minute)",
        description=(
            "On the embedded 8x8 `digits` dataset (no download): train two small autoencoders from "
            "different seeds (MAE loss), evaluate the straight segment between them, train a 1-bend "
            "Bezier curve, and write the loss along both paths on one plot, the image dynamics "
            "(fixed test digits reconstructed along the curve) as a GIF, and an HTML report."
        ),
        epilog="example:\n  latentscape demo --out runs/demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", help="output folder (default runs/demo-<time>)")
    p.add_argument("--epochs", type=EPOCHS, default=None, help="epochs of each autoencoder")
    p.add_argument("--curve-epochs", type=EPOCHS, default=None, help="epochs of the curve")
    p.add_argument("--points", type=count(2, 100_000), default=None, help="points along each path")
    p.add_argument("--threads", type=THREADS, default=2, help="CPU threads (default 2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from latentscape.demo import DemoSettings, run_demo
    from latentscape.landscape.studies.outputs import new_output_dir

    changes = {k: v for k, v in (("epochs", args.epochs), ("curve_epochs", args.curve_epochs), ("points", args.points)) if v is not None}
    settings = dataclasses.replace(DemoSettings(threads=args.threads), **changes)
    run_demo(new_output_dir("demo", args.out), settings)
    return 0
