"""What a parsed documented command means, checked without training or loading runs: configs and
`key=value` overrides load through the typed config, and named things (metrics, datasets, weight
references, `--opt` keys, tune dimensions) exist. Used by tests/doc_commands.py."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from doc_commands import ROOT, is_placeholder, resumable

#: Base config for checking override values where the documented command has no config file.
BASE_CONFIG = ROOT / "configs" / "mnist_mlp.yaml"


def check_namespace(ns: argparse.Namespace) -> list[str]:
    """Problems of a parsed command's arguments (empty: fine)."""
    from latentscape.errors import LatentscapeError
    from latentscape.registry import UnknownNameError

    check = _CHECKS.get(ns.command)
    if check is None:
        return []
    try:
        return check(ns)
    except (LatentscapeError, UnknownNameError, ValueError) as exc:
        return [f"{type(exc).__name__}: {exc}"]


def _config(ns: argparse.Namespace) -> tuple[Path | None, list[str]]:
    """(config file or None for a placeholder, problems)."""
    if ns.config is None:
        return None, ["no CONFIG file given"]
    if is_placeholder(ns.config):
        return None, []
    path = ROOT / ns.config
    return (path, []) if path.is_file() else (None, [f"config file {ns.config} does not exist"])


def _train(ns: argparse.Namespace) -> list[str]:
    from latentscape.config import load_config
    from latentscape.registry import DATASETS

    if ns.resume:
        overrides = ([ns.config] if ns.config else []) + list(ns.overrides)
        bad = [o for o in overrides if "=" not in o or not resumable(o.split("=", 1)[0])]
        if bad:
            return [f"--resume cannot change {bad[0]!r}"]
        load_config(BASE_CONFIG, overrides)
        return []
    path, problems = _config(ns)
    if path is not None:
        cfg = load_config(path, ns.overrides)
        if cfg.data.name not in DATASETS:
            problems.append(f"unknown dataset {cfg.data.name!r}")
    return problems


def _tune(ns: argparse.Namespace) -> list[str]:
    import yaml

    from latentscape.config import apply_overrides, load_config
    from latentscape.tune.objective import Objective
    from latentscape.tune.space import parse_grid, parse_space, validate

    Objective.parse(ns.objective, ns.direction)
    path, problems = _config(ns)
    dims = [parse_grid(g) for g in ns.grid] + [parse_space(s) for s in ns.space]
    if path is not None:
        load_config(path, ns.overrides)
        validate(apply_overrides(yaml.safe_load(path.read_text()) or {}, ns.overrides), dims)
    return problems


def _weights(*refs: str | None) -> None:
    from latentscape.rundir.load import parse_weight_spec

    for ref in refs:
        if ref:
            parse_weight_spec(ref)  # RUN@init / RUN@last / RUN@final


def _connect(ns: argparse.Namespace) -> list[str]:
    from latentscape.config import apply_overrides, config_from_dict

    _weights(ns.start, ns.end)
    config_from_dict(apply_overrides({"model": {"name": "curve", "start": ns.start, "end": ns.end}}, ns.overrides))
    return []


def _eval(ns: argparse.Namespace) -> list[str]:
    from latentscape.commands.eval import metric_names
    from latentscape.metrics.options import parse_options

    _weights(ns.run)
    metric_names(ns.metrics)  # unknown names raise, listing the allowed ones
    parse_options(ns.opt)  # unknown --opt keys too
    return []


def _landscape(ns: argparse.Namespace) -> list[str]:
    from latentscape.commands._landscape_args import parse_grid, parse_range, parse_span
    from latentscape.landscape.core.metrics import PATH_METRICS
    from latentscape.landscape.studies.user_model import LOSSES

    run = getattr(ns, "run", None)
    refs = [*getattr(ns, "refs", []), *(run if isinstance(run, list) else [run]), getattr(ns, "curve", None)]
    if not getattr(ns, "model", None):  # with --model the weights are files
        _weights(*refs)
    allowed = set(PATH_METRICS.names()) | ({"loss", "accuracy"} if getattr(ns, "model", None) else set())
    names = [m for m in (getattr(ns, "metrics", None) or "").split(",") if m]
    problems = [f"unknown metric {m!r} (allowed: {', '.join(sorted(allowed))})" for m in names if m not in allowed]
    loss = getattr(ns, "loss", "cross_entropy")
    if loss not in LOSSES and ":" not in loss:
        problems.append(f"unknown --loss {loss!r}")
    if ns.command == "path":
        parse_range(ns.range)
    if ns.command == "surface":
        parse_grid(ns.grid)
        parse_span(ns.range)
    return problems


def _probe(ns: argparse.Namespace) -> list[str]:
    from latentscape.probe.classifiers import CLASSIFIERS
    from latentscape.probe.embeddings import BASELINES

    _weights(*ns.runs)
    problems = []
    for flag, text, allowed in (("--baselines", ns.baselines, BASELINES), ("--classifiers", ns.classifiers, CLASSIFIERS)):
        if text != "none":
            problems += [f"{flag}: unknown {n!r}" for n in text.split(",") if n not in allowed]
    return problems


def _dataset(name: str | None) -> list[str]:
    from latentscape.registry import DATASETS

    return [] if name is None or is_placeholder(name) or name in DATASETS else [f"unknown dataset {name!r}"]


_CHECKS: dict[str, Callable[[argparse.Namespace], list[str]]] = {
    "train": _train,
    "tune": _tune,
    "connect": _connect,
    "eval": _eval,
    "path": _landscape,
    "plane": _landscape,
    "surface": _landscape,
    "trajectory": _landscape,
    "hessian": _landscape,
    "probe": _probe,
    "fge": lambda ns: _weights(ns.run_ref) or [],
    "fid-net": lambda ns: _dataset(ns.dataset),
    "data": lambda ns: _dataset(getattr(ns, "name", None)),
}
