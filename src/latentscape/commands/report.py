"""`latentscape report RUN_DIR`: write RUN_DIR/report.html and print its path."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the `report` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report of a run",
        description=(
            "Write RUN_DIR/report.html: config, final metrics, eval/ results, training curves "
            "(redrawn from metrics.jsonl into images/curves_*.png) and every picture under "
            "images/, all embedded in one file with no external links. Works on unfinished runs."
        ),
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory (holds config.yaml)")
    parser.add_argument(
        "--open-path",
        action="store_true",
        help="print a file:// URI (clickable in most terminals, pastable into a browser) instead of the path",
    )
    parser.add_argument(
        "--no-curves", action="store_true", help="do not redraw images/curves_*.png from metrics.jsonl"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Write the report and print where it is."""
    from latentscape.viz.report import write_report  # matplotlib loads only when needed

    path = write_report(args.run_dir, plot_curves=not args.no_curves)
    print(path.resolve().as_uri() if args.open_path else path)
    return 0
