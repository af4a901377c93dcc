"""Command lines shown to users (README.md, `--help` epilogs, configs/*.yaml comments), and the
checks that each is valid: it parses with the real argparse parser, its config and `key=value`
overrides load through the typed config, and the names it uses (metrics, datasets, `--opt` keys,
weight references) exist. Nothing is trained or loaded from disk beyond the YAML configs.

Placeholders are allowed where a user substitutes something: `<run>` (any `<...>`), upper-case
words (`RUN`, `CONFIG`, `N`), and `...` elisions. A synopsis (`cmd [--flag VALUE] [--a x|y]`) is
checked too: its flags exist, a literal `[--flag value]` is the flag's default, and `x|y` lists
exactly the flag's choices.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fnmatch
import io
import re
import shlex
import types
import typing
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CONFIGS = ROOT / "configs"

_ANGLE = re.compile(r"<[^<>\n]*>")  # runs/<gan run> -> runs/PLACEHOLDER
_PLACEHOLDER = re.compile(r"^(\.\.\.|[A-Z][A-Z0-9_]*|[a-z](,[a-z])*)$")  # RUN, N, a,b


@dataclass(frozen=True)
class Shown:
    """One command line as a user sees it, and where (for the failure message)."""

    source: str
    text: str
    mention: bool = False  # a reference in prose (`latentscape path --curve`): only its flags must exist

    @property
    def synopsis(self) -> bool:
        """`[--flag VALUE]` groups or `x|y` alternatives (not inside quoted arguments)."""
        return bool(re.search(r"\s\[|\s[\w.:-]+\|[\w.:-]+", self.text))


# ----------------------------------------------------------------------------- extraction


def _logical_lines(block: str) -> list[str]:
    """A code block's lines with `\\` continuations joined."""
    return re.sub(r"\\\n\s*", " ", block).splitlines()


def _command_part(line: str, anywhere: bool = True) -> str | None:
    """The `latentscape ...` part of a shell line (torchrun ... -m latentscape.cli X -> latentscape X);
    `anywhere`: also after prose ("or, equivalently, latentscape connect ...")."""
    line = line.strip()
    if "-m latentscape.cli " in line:
        return "latentscape " + line.split("-m latentscape.cli ", 1)[1]
    match = re.search(r"(?:^|[\s:(])(latentscape\s.*)$" if anywhere else r"^(latentscape\s.*)$", line)
    return match.group(1) if match else None


def readme_commands(text: str | None = None) -> list[Shown]:
    """Commands in README shell blocks (comments dropped) and in inline `latentscape ...` spans."""
    text = README.read_text(encoding="utf-8") if text is None else text
    shown = []
    for block in re.findall(r"^```(?:bash|sh|shell|console)\n(.*?)^```", text, flags=re.M | re.S):
        for line in _logical_lines(block):
            cmd = _command_part(line, anywhere=False)
            if cmd:
                shown.append(Shown("README.md", cmd))
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    for span in re.findall(r"`([^`\n]+)`", prose):
        if span.startswith("latentscape "):
            shown.append(Shown("README.md", span.replace("\\|", "|")))
    return shown


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """name -> parser of each subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def help_commands(parser: argparse.ArgumentParser) -> list[Shown]:
    """Commands in the epilogs of `latentscape --help` and of each subcommand, and the
    `latentscape ...` spans of the subcommands' descriptions."""
    shown = [Shown("`latentscape --help` epilog", cmd) for line in _logical_lines(parser.epilog or "") if (cmd := _command_part(line))]
    for name, sub in subparsers(parser).items():
        for line in _logical_lines(sub.epilog or ""):
            cmd = _command_part(line)
            if cmd:
                shown.append(Shown(f"`latentscape {name} --help` epilog", cmd))
        for span in re.findall(r"`(latentscape [^`]+)`", sub.description or ""):
            shown.append(Shown(f"`latentscape {name} --help` description", span, mention=True))
    return shown


def config_comments(path: Path) -> str:
    """The comment text of a YAML config (leading `#` removed)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line.split("#", 1)[1] for line in lines if line.lstrip().startswith("#"))


def config_commands(path: Path) -> list[Shown]:
    """Commands in a config's comments: backticked spans, else the rest of the line."""
    shown = []
    for line in config_comments(path).splitlines():
        spans = [s for s in re.findall(r"`([^`]+)`", line) if s.startswith("latentscape ")]
        if not spans and (cmd := _command_part(line)):
            spans = [cmd.rstrip(".;,")]
        shown.extend(Shown(f"configs/{path.name} comment", s) for s in spans)
    return shown


def config_comment_keys(path: Path) -> list[str]:
    """Dotted config keys named in a config's comments (`model.latent_dim=1024` -> model.latent_dim)."""
    return re.findall(r"\b((?:model|data|train)\.[a-z_][\w.]*[a-z_])", config_comments(path))


# ----------------------------------------------------------------------------- checks


def tokens_of(text: str) -> list[str]:
    """Shell words of a command without its trailing comment; `<...>` placeholders become words."""
    return shlex.split(_ANGLE.sub("PLACEHOLDER", text), comments=True)


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[argparse.Namespace | None, str]:
    """(namespace, "") or (None, argparse's error message)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            return parser.parse_args(argv), ""
        except SystemExit as exc:
            if exc.code == 0 and ("--help" in argv or "--version" in argv):
                return argparse.Namespace(command=None), ""
            return None, err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else f"exit {exc.code}"


def is_placeholder(word: str) -> bool:
    return bool(_PLACEHOLDER.match(word)) or "PLACEHOLDER" in word


def check(shown: Shown, parser: argparse.ArgumentParser) -> list[str]:
    """Problems of one shown command line (empty: valid)."""
    argv = tokens_of(shown.text)[1:]
    if not argv:
        return []
    subs = subparsers(parser)
    if argv[0] not in subs and not argv[0].startswith("-"):
        return [] if is_placeholder(argv[0]) and "--help" in argv else [f"unknown command {argv[0]!r}"]
    if shown.mention or len(argv) == 1 or argv[1] == "...":  # `latentscape tune`, `tune ... --x`
        return _check_flags_exist(argv, subs)
    if shown.synopsis:
        return _check_synopsis(shown.text, parser, subs)
    argv = [a for a in argv if a != "..."]  # `report --compare RUN RUN ...`
    ns, error = parse(parser, argv)
    if ns is None:
        return [f"does not parse: {error}"]
    from doc_semantics import check_namespace

    return _check_flags_exist(argv, subs) + check_namespace(ns)


def _known_flags(parser: argparse.ArgumentParser) -> set[str]:
    """Option strings of a parser and of its own subcommands (`data info --verify`)."""
    return {s for a in parser._actions for s in a.option_strings} | {
        f for sub in subparsers(parser).values() for f in _known_flags(sub)
    }


def _check_flags_exist(argv: list[str], subs: dict[str, argparse.ArgumentParser]) -> list[str]:
    """Each `--flag` is spelt out (argparse would also take `--bend` for `--bends`)."""
    sub = subs.get(argv[0])
    if sub is None:
        return []
    known = _known_flags(sub)
    return [f"{argv[0]} has no option {f}" for f in argv if f.startswith("--") and f.split("=")[0] not in known]


def _check_synopsis(text: str, parser: argparse.ArgumentParser, subs: dict[str, argparse.ArgumentParser]) -> list[str]:
    """`cmd X [--a 1] [--b x|y] [K=V ...]`: the concrete line parses; literals are defaults; x|y are the choices."""
    groups = re.findall(r"\[([^\]]*)\]", text)
    base = re.sub(r"\s*\[[^\]]*\]", "", text)
    base_argv = [w for w in tokens_of(base)[1:] if w != "..."]
    ns0, error = parse(parser, base_argv)
    if ns0 is None:
        return [f"does not parse (without its [options]): {error}"]
    sub = subs[base_argv[0]]
    problems = _check_flags_exist(base_argv + [w for g in groups for w in tokens_of(g)], subs)
    for group in groups:
        words = [w for w in tokens_of(group) if w != "..."]
        if len(words) == 2 and words[0].startswith("--") and is_placeholder(words[1]):  # [--dim D]
            continue
        alternatives = [w.split("|") for w in words]
        argv = base_argv + [alts[0] for alts in alternatives]
        ns, error = parse(parser, argv)
        if ns is None:
            problems.append(f"[{group}] does not parse: {error}")
            continue
        if len(words) == 2 and words[0].startswith("--"):
            action = next((a for a in sub._actions if words[0] in a.option_strings), None)
            if "|" in words[1]:
                listed = set(words[1].split("|"))
                choices = {str(c) for c in (action.choices or ())} if action else set()
                if listed != choices:
                    problems.append(f"[{group}]: --help lists the choices {sorted(choices)}")
            elif not is_placeholder(words[1]) and vars(ns) != vars(ns0):
                problems.append(f"[{group}] reads as the default, but --help's default is {action.default!r}")
    return problems


# ----------------------------------------------------------------------------- config keys


def key_exists(key: str, model_name: str | None = None) -> bool:
    """Does dotted `key` name a config field (model.* of `model_name`, or of any model)?"""
    from latentscape.config import RunConfig, model_config_class
    from latentscape.registry import MODELS

    section, *rest = key.split(".")
    if section == "model":
        names = [model_name] if model_name else MODELS.names()
        return any(_field_path(model_config_class(n), rest) for n in names)
    return _field_path(RunConfig, [section, *rest])


def _field_path(tp: typing.Any, parts: list[str]) -> bool:
    for part in parts:
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):  # X | None
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
            origin = typing.get_origin(tp)
        if origin is dict:  # group_optimizers.<any group>
            tp = typing.get_args(tp)[1]
            continue
        if not dataclasses.is_dataclass(tp):
            return False
        hints = typing.get_type_hints(tp)
        if part == "*":
            return True
        if part not in hints:
            return False
        tp = hints[part]
    return True


def resumable(key: str) -> bool:
    from latentscape.train.resume_overrides import RESUMABLE_KEYS

    return any(fnmatch.fnmatchcase(key, p) for p in RESUMABLE_KEYS)
