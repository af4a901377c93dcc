"""argparse value types with declared ranges, and a parser whose errors are one line.

A command declares `--points` as `type=count(2, 100_000)` instead of `type=int`, so a zero, a
negative, a NaN or an absurd value is refused while the arguments are parsed, with the option,
the value and the allowed range named, before any run is loaded or any file written (the numeric
counterpart of the config's declared field ranges, latentscape.ranges).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from latentscape.errors import did_you_mean
from latentscape.ranges import BATCH_SIZE_MAX, EPOCH_LIMIT, EXAMPLES_MAX, INF, Range

#: a dotted config override on the command line: `train.epochs=1`, `seed=3`
OVERRIDE = re.compile(r"^[A-Za-z_][\w.*-]*=")
_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<word>[^']*)' \(choose from (?P<choices>.*)\)$")


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (exit 2), like every other error of
    the command line; the usage is one `--help` away. Subparsers inherit the class.

    `KEY=VALUE` overrides are taken anywhere after the command (`tune CONFIG --trials 3
    train.epochs=1`), not only right after the config; a misspelt command, choice or option gets
    a "did you mean" from the names that exist.
    """

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        ns, extras = self.parse_known_args(args, namespace)
        if extras and isinstance(getattr(ns, "overrides", None), list):
            ns.overrides = ns.overrides + [e for e in extras if OVERRIDE.match(e)]
            extras = [e for e in extras if not OVERRIDE.match(e)]
        if extras:
            parser = self._command_parser(ns)
            if extras[0].startswith("-"):
                hint = did_you_mean(extras[0].split("=")[0], self._option_strings(parser))
            else:
                hint = " (this command takes no KEY=VALUE overrides)" if OVERRIDE.match(extras[0]) else ""
            parser.error(f"unrecognized arguments: {' '.join(extras)}{hint}")
        return ns

    def error(self, message: str) -> NoReturn:
        choice = _INVALID_CHOICE.search(message)
        if choice:
            hint = did_you_mean(choice["word"], re.findall(r"'([^']*)'", choice["choices"]))
            message = message[: choice.start()] + f"invalid choice: {choice['word']!r}{hint}; choose from {choice['choices']}"
        self.exit(2, f"error: {self.prog}: {message} (see `{self.prog} --help`)\n")

    def _command_parser(self, ns: argparse.Namespace) -> argparse.ArgumentParser:
        """The subcommand's parser when one was chosen (its options are the ones meant), else self."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = getattr(ns, action.dest or "", None)
                if chosen in action.choices:
                    return action.choices[chosen]
        return self

    @staticmethod
    def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
        return [s for a in parser._actions for s in a.option_strings]

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message if status == 0 else " ".join(message.split()) + "\n")
        sys.exit(status)


def count(low: int = 1, high: float = INF, limit: float = INF) -> Callable[[str], int]:
    """An integer option in [low, high], and at most `limit` unless LATENTSCAPE_NO_LIMITS=1
    (a declared bound of practice: more repeats than any study could finish)."""
    allowed = Range(low, high, limit=limit)

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer (allowed: {allowed})") from None
        if value not in allowed:
            raise argparse.ArgumentTypeError(f"{value} is out of range {allowed}")
        refusal = allowed.beyond_limit(value)
        if refusal:
            raise argparse.ArgumentTypeError(f"{value} {refusal}")
        return value

    parse.__name__ = "integer"  # argparse names the type in some messages
    return parse


def number(low: float = -INF, high: float = INF, *, low_open: bool = False, high_open: bool = False) -> Callable[[str], float]:
    """A finite float option in the interval (bounds open if asked)."""
    allowed = Range(low, high, low_open, high_open)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number (allowed: {allowed})") from None
        if not math.isfinite(value) or value not in allowed:
            raise argparse.ArgumentTypeError(f"{text} is out of range {allowed}")
        return value

    parse.__name__ = "number"
    return parse


#: Worker threads: 0 is PyTorch's default.
THREADS = count(0, 4096)
#: Seeds of torch / numpy generators.
SEED = count(0, 2**63 - 1)
#: Training epochs of a command's own runs (connect, demo, fid-net): as train.epochs.
EPOCHS = count(1, limit=EPOCH_LIMIT)
#: Examples per batch (evaluation or training).
BATCH_SIZE = count(1, BATCH_SIZE_MAX)
#: A number of examples or batches to use ("the first N").
EXAMPLES = count(1, EXAMPLES_MAX)
