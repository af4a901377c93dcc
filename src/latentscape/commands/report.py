"""`latentscape report`: a run's page, a folder's index, a comparison, or a live index server."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the `report` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="HTML pages: a run's report, an index of a folder of runs, a comparison of runs",
        description=(
            "RUN_DIR (a folder with config.yaml): write RUN_DIR/report.html with the run's finding, "
            "final metrics, eval/ results, training curves (redrawn from metrics.jsonl) and pictures. "
            "DIR (a folder of runs and analyses): write DIR/index.html, a sortable, filterable table of "
            "every run, curve, path, plane, FGE, tune study and probe below it with key metrics and "
            "links, writing missing or stale report pages first. --compare RUN RUN ...: one page with "
            "the runs' loss curves overlaid, metrics and eval results side by side (with their "
            "protocols), and pictures next to each other. --serve: serve DIR's index on "
            "http://127.0.0.1, rebuilt as runs log. Every page is one self-contained file."
        ),
        epilog=(
            "examples:\n"
            "  latentscape report runs/demo              # one run / analysis page\n"
            "  latentscape report runs                   # runs/index.html\n"
            "  latentscape report --compare runs/a runs/b --out compare.html\n"
            "  latentscape report runs --serve --port 0  # prints the URL; Ctrl-C stops"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", metavar="DIR", nargs="?", help="run directory (config.yaml) or a folder of runs")
    parser.add_argument("--compare", nargs="+", metavar="RUN", help="compare these run directories on one page")
    parser.add_argument("--out", help="output file of --compare (default ./compare.html, in the current folder)")
    parser.add_argument("--index", action="store_true", help="write DIR/index.html even when DIR is itself a run")
    parser.add_argument("--serve", action="store_true", help="serve DIR's index on 127.0.0.1 until Ctrl-C")
    parser.add_argument("--port", type=int, default=8000, help="port of --serve (0: any free port; default 8000)")
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
    """Write the page asked for and print where it is."""
    from latentscape.errors import LatentscapeError

    if args.compare:
        from latentscape.viz.compare import write_compare

        dirs = ([args.run_dir] if args.run_dir else []) + list(args.compare)
        path = write_compare(dirs, args.out or "compare.html")
        if not args.out and not args.open_path:  # a file in the current folder: say so, and how to choose
            print(f"{path.resolve()} (the comparison page; --out FILE writes it elsewhere)")
            return 0
    else:
        if not args.run_dir:
            raise LatentscapeError("report needs DIR (a run or a folder of runs), or --compare RUN RUN ...")
        root = Path(args.run_dir)
        if not root.exists():
            raise LatentscapeError(f"run directory not found: {root}")
        if args.serve:
            if not 0 <= args.port <= 65535:
                raise LatentscapeError(f"--port {args.port}: expected 0..65535")
            from latentscape.viz.serve import serve

            return serve(root, args.port, announce=lambda line: print(line, flush=True))
        from latentscape.viz.discover import SUMMARY_NAMES

        is_page = (root / "config.yaml").is_file() or any((root / n).is_file() for n in SUMMARY_NAMES)
        if is_page and not args.index:
            from latentscape.viz.report import write_report  # matplotlib loads only when needed

            path = write_report(root, plot_curves=not args.no_curves)
        elif root.is_dir():
            from latentscape.viz.index import write_index

            path = write_index(root, warn=lambda line: print(f"warning: {line}", file=sys.stderr, flush=True))
        else:
            raise LatentscapeError(f"not a directory: {root}")
    print(path.resolve().as_uri() if args.open_path else path)
    return 0
