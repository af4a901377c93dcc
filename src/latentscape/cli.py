"""The `latentscape` command line: one subcommand per module in `latentscape.commands`."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

from latentscape import __version__
from latentscape.commands import COMMANDS
from latentscape.commands._types import OneLineParser
from latentscape.errors import LatentscapeError
from latentscape.redact import redact
from latentscape.registry import UnknownNameError


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Wraps one-paragraph text (descriptions) to the terminal; keeps text with line breaks (the
    example epilogs) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text.strip():
            return super()._fill_text(text, width, indent)
        return argparse.HelpFormatter._fill_text(self, text, width, indent)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="latentscape",
        description=(
            "Train latent-variable image models (classifiers, AE/VAE/beta-VAE, GANs) and study "
            "their latent spaces and loss landscapes. Every run writes a run directory with its "
            "config, checkpoints, metrics, TensorBoard events, pictures and an HTML report."
        ),
        epilog=(
            "examples:\n"
            "  latentscape demo                                    # the showcase on embedded data, about a minute\n"
            "  latentscape train configs/mnist_mlp.yaml seed=1 --run-dir runs/a\n"
            "  latentscape path runs/a runs/b --range 0,1.5\n"
            "  latentscape report runs                             # runs/index.html\n"
            "\n"
            "Run `latentscape COMMAND --help` for the options and examples of a command."
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"latentscape {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"latentscape.commands.{name}").add_parser(sub)
    for command in sub.choices.values():  # wrapped descriptions, examples as written
        if command.formatter_class is argparse.RawDescriptionHelpFormatter:
            command.formatter_class = HelpFormatter
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


class Terminated(KeyboardInterrupt):
    """SIGTERM (a `kill`, a scheduler's time limit, torchrun stopping its workers), raised where
    the program is, like Ctrl-C: the same unwinding, the same message, what was written is kept."""


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM raises `Terminated` (only the main thread can take signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum: int, frame: object) -> None:
        raise Terminated()

    before = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def how_to_continue(args: argparse.Namespace) -> str:
    """How an interrupted command goes on: resume a run that exists, else run the command again."""
    from pathlib import Path

    command = getattr(args, "command", None)
    run_dir = {"train": getattr(args, "resume", None) or getattr(args, "run_dir", None),
               "connect": getattr(args, "out", None)}.get(command or "")
    if command in ("train", "connect"):
        model = getattr(args, "model", None)  # a curve of your own model resumes with its --model again
        opt_in = f" --model {model}" if model else ""
        if run_dir and (Path(run_dir) / "config.yaml").is_file():
            return f" (continue with `latentscape train --resume {run_dir}{opt_in}`)"
        if not run_dir:
            return f" (continue with `latentscape train --resume RUN_DIR{opt_in}`, RUN_DIR as printed above)"
    if command == "tune":
        return " (run the same command again: finished trials are not redone)"
    if getattr(args, "resume", None) is not None and isinstance(args.resume, bool):  # the landscape analyses
        return " (run the same command with --resume to continue: finished points and stages are kept)"
    return " (run the same command again to redo it)"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from latentscape.rundir.lock import release_command_locks

    try:
        with sigterm_as_interrupt(), plots_mode_from(args):
            return int(args.func(args) or 0)
    except (LatentscapeError, UnknownNameError) as exc:
        # one line even when the message quotes a multi-line error of a library
        text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
        print(f"error: {redact(text)}", file=sys.stderr)  # a URL's credentials never reach the terminal
        return 2
    except OSError as exc:  # the file system refused: permissions, a full disk, a path that vanished
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {redact(where)}{exc.strerror or exc.__class__.__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        how = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        print(f"{how}; what was written so far is kept{how_to_continue(args)}", file=sys.stderr, flush=True)
        return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
    except Exception as exc:
        if os.environ.get("LATENTSCAPE_DEBUG"):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"error: {exc.__class__.__name__}: {redact(first)} (set LATENTSCAPE_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
    finally:
        release_command_locks()  # the run locks an analysis took (the process may go on: tests, notebooks)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
