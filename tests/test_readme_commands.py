"""Every command line a user is shown is valid: README.md, each command's `--help`, the comments
of configs/*.yaml. "Valid" is checked without training: the line parses with the real parser, its
config and `key=value` overrides load through the typed config, and metric / dataset / `--opt`
names and weight references exist (tests/doc_commands.py, tests/doc_semantics.py)."""

from __future__ import annotations

import re

import pytest

from doc_commands import (
    CONFIGS,
    README,
    ROOT,
    Shown,
    check,
    config_commands,
    config_comment_keys,
    help_commands,
    key_exists,
    readme_commands,
    subparsers,
)
from latentscape.cli import build_parser
from latentscape.config import load_config

PARSER = build_parser()
README_TEXT = README.read_text(encoding="utf-8")
CONFIG_FILES = sorted(CONFIGS.glob("*.yaml"))
SHOWN = (
    readme_commands(README_TEXT)
    + help_commands(PARSER)
    + [s for path in CONFIG_FILES for s in config_commands(path)]
)
PROSE = re.sub(r"^```.*?^```", "", README_TEXT, flags=re.M | re.S)
SPANS = re.findall(r"`([^`\n]+)`", PROSE)


def test_the_commands_are_found():
    readme = [s.text for s in SHOWN if s.source == "README.md"]
    assert len(readme) > 60
    # the five studies block, both kinds of line continuation and torchrun
    assert any(t.startswith("latentscape connect runs/mlp0 runs/mlp1") for t in readme)
    assert any(t.startswith("latentscape tune") and "--study-dir studies/tpe" in t for t in readme)
    assert any(t.startswith("latentscape train configs/mnist_mlp.yaml --run-dir runs/ddp") for t in readme)
    epilogs = {s.source for s in SHOWN if "epilog" in s.source}
    assert epilogs >= {"`latentscape --help` epilog"} | {f"`latentscape {n} --help` epilog" for n in subparsers(PARSER)}


@pytest.mark.parametrize("shown", SHOWN, ids=[f"{s.source}: {s.text[:70]}" for s in SHOWN])
def test_shown_command_is_valid(shown: Shown):
    assert check(shown, PARSER) == [], f"{shown.source}: {shown.text}"


@pytest.mark.parametrize("name", sorted(subparsers(PARSER)))
def test_every_command_help_has_an_example(name):
    epilog = subparsers(PARSER)[name].epilog or ""
    assert f"latentscape {name}" in epilog, f"`latentscape {name} --help` shows no example"


def test_readme_config_keys_exist():
    """`train.keep_every=N`, `data.verify=false`, `train.schedule.*` in prose name real config keys."""
    keys = {w.split("=")[0] for span in SPANS for w in span.split()}
    keys = {k for k in keys if re.fullmatch(r"(model|data|train)\.[A-Za-z_][\w.*]*", k)}
    assert len(keys) > 15
    assert [k for k in keys if not key_exists(k)] == []


@pytest.mark.parametrize("path", CONFIG_FILES, ids=[p.name for p in CONFIG_FILES])
def test_config_comment_keys_exist(path):
    """`set model.latent_dim=1024` in a config's comments names a key of that config's model."""
    model = load_config(path).model.name
    assert [k for k in config_comment_keys(path) if not key_exists(k, model)] == []


def test_readme_opt_keys_exist():
    from latentscape.metrics.options import METRIC_OPTIONS

    keys = {m for span in SPANS for m in re.findall(r"--opt ([a-z_]+)=", span)}
    assert keys >= {"mig_bins", "dci_regressor", "kid_dtype"}
    assert keys - set(METRIC_OPTIONS) == set()


def test_readme_files_and_make_targets_exist():
    paths = set(re.findall(r"(?<![\w/.])((?:configs|bench|docs|tests)/[\w./-]+\.(?:yaml|py|md|png))", README_TEXT))
    assert any(p.startswith("configs/") for p in paths)
    assert [p for p in paths if not (ROOT / p).is_file()] == []
    for path in (p for p in paths if p.startswith("configs/")):
        load_config(ROOT / path)
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    made = {a or b for a, b in re.findall(r"`make ([\w-]+)`|^make ([\w-]+)", README_TEXT, flags=re.M)}
    assert {"demo", "test", "bench"} <= made <= targets


@pytest.mark.parametrize(
    "text",
    [
        "latentscape train configs/mnist_mlp.yaml --rundir runs/a",  # unknown flag
        "latentscape connect runs/a runs/b --bend 1",  # an abbreviation (argparse takes it; docs spell flags out)
        "latentscape train configs/mnist_mlp.yaml train.optimiser.lr=1e-3",  # unknown key
        "latentscape train configs/mnist_mlp.yaml train.epochs=0",  # out of range
        "latentscape train configs/no_such.yaml",  # missing config
        "latentscape train model=mlp_classifier data=digits",  # overrides without a config
        "latentscape train configs/mnist_mlp.yaml data.name=mnist2",  # unknown dataset
        "latentscape train --resume runs/a model.latent_dim=3",  # not resumable
        "latentscape connect runs/a runs/b train.epoch=3",  # unknown key on the curve's config
        "latentscape eval runs/a --metrics fid,kidd",  # unknown metric
        "latentscape eval runs/a --opt inception_weight=x.pth",  # unknown --opt
        "latentscape path runs/a@start runs/b",  # unknown weight set
        "latentscape path runs/a runs/b --metrics loss,sharpness",  # unknown path metric
        "latentscape surface runs/a --norm filters",  # not a choice
        "latentscape tune configs/mnist_mlp.yaml --grid train.lr=1e-3,1e-2 --study-dir s",  # unknown grid key
        "latentscape probe runs/a --baselines pca,tsne",  # unknown baseline
        "latentscape fid-net mnistt",  # unknown dataset
        "latentscape sweep runs/a",  # unknown command
        "latentscape path A B [--points 21]",  # synopsis: not the default (61)
        "latentscape surface RUN [--norm filter|layer]",  # synopsis: not all the choices
        "latentscape hessian RUN [--top-k N] [--iters N]",  # synopsis: no such flag
    ],
)
def test_broken_lines_are_caught(text):
    assert check(Shown("test", text), PARSER) != []


@pytest.mark.parametrize("name", ["", *sorted(subparsers(PARSER))])
def test_help_text_is_wrapped(name, monkeypatch):
    """Descriptions wrap to the terminal (examples keep their lines): no 400-character lines."""
    monkeypatch.setenv("COLUMNS", "100")
    parser = subparsers(PARSER)[name] if name else PARSER
    assert max(len(line) for line in parser.format_help().splitlines()) <= 120
