"""The `latentscape` command line: one subcommand per module in `latentscape.commands`."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Iterator

from latentscape import __version__
from latentscape.commands import COMMANDS
from latentscape.commands._types import OneLineParser
from latentscape.errors import LatentscapeError
from latentscape.registry import UnknownNameError


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="latentscape",
        description=(
            "Train latent-variable image models (classifiers, AE/VAE/beta-VAE, GANs) and study "
            "their latent spaces and loss landscapes. Every run writes a run directory with its "
            "config, checkpoints, metrics, TensorBoard events, pictures and an HTML report."
        ),
        epilog="Run `latentscape COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"latentscape {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"latentscape.commands.{name}").add_parser(sub)
    return parser


@contextlib.contextmanager
def plots_mode_from(args: argparse.Namespace) -> Iterator[None]:
    """A command's `--plots MODE` as LATENTSCAPE_PLOTS (read by viz.deferred.draw) while it runs."""
    mode = getattr(args, "plots", None)
    if not mode:
        yield
        return
    before = os.environ.get("LATENTSCAPE_PLOTS")
    os.environ["LATENTSCAPE_PLOTS"] = mode
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("LATENTSCAPE_PLOTS", None)
        else:
            os.environ["LATENTSCAPE_PLOTS"] = before


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with plots_mode_from(args):
            return int(args.func(args) or 0)
    except (LatentscapeError, UnknownNameError) as exc:
        # one line even when the message quotes a multi-line error of a library
        print(f"error: {' '.join(part.strip() for part in str(exc).splitlines() if part.strip())}", file=sys.stderr)
        return 2
    except OSError as exc:  # the file system refused: permissions, a full disk, a path that vanished
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc.__class__.__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; what was written so far is kept (resume with --resume)", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("LATENTSCAPE_DEBUG"):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"error: {exc.__class__.__name__}: {first} (set LATENTSCAPE_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
