"""Search spaces of `latentscape tune`: `--grid KEY=v1,v2,...` and `--space "KEY=dist(args)"`.

A dimension is one dotted config key (any key of the typed config, e.g. `train.optimizer.lr`,
`model.latent_dim`) with either a finite list of values (a grid axis or a `choice`) or a
sampled range (`uniform`, `loguniform`, `int`, `logint`). Values are written as YAML scalars or
flow lists (`[8, 16]`); commas inside brackets do not split values. Every candidate value (every
grid point, both ends of a range, every choice) is validated through the typed config before a
trial starts, so a bad key or value is one `ConfigError` naming it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from latentscape.config import config_from_dict
from latentscape.errors import ConfigError, did_you_mean

SAMPLED_KINDS = ("uniform", "loguniform", "int", "logint", "choice")
# Keys users write from habit or from the issue text; the typed config names them differently.
KEY_HINTS = {"train.lr": "train.optimizer.lr", "lr": "train.optimizer.lr", "train.seed": "seed"}
_SPACE_RE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*=\s*([a-z]+)\((.*)\)\s*$")


@dataclass(frozen=True)
class Dimension:
    """One searched config key.

    Attributes:
        key: dotted config key.
        kind: "grid", "choice", "uniform", "loguniform", "int" or "logint".
        values: candidate values for grid/choice (Optuna-storable scalars; non-scalar YAML
            values are kept as their text and parsed back by `config_value`).
        low, high: range ends of sampled kinds.
        texts: the values as the user wrote them (grid/choice).
    """

    key: str
    kind: str
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    texts: tuple[str, ...] = ()

    @property
    def log_scale(self) -> bool:
        """Whether plots should use a logarithmic axis for this key."""
        if self.kind in ("loguniform", "logint"):
            return True
        nums = [v for v in self.values if _is_number(v)]
        return len(nums) == len(self.values) >= 2 and min(nums) > 0 and max(nums) / min(nums) >= 100

    def config_value(self, value: Any) -> Any:
        """The config value of a stored Optuna value (YAML text of lists/mappings parsed back)."""
        if isinstance(value, str) and value in self.texts:
            parsed = yaml.safe_load(value)
            if isinstance(parsed, (list, dict)):
                return parsed
        return value

    def describe(self) -> str:
        if self.kind in ("grid", "choice"):
            return f"{self.key}={self.kind}({', '.join(map(str, self.texts))})"
        return f"{self.key}={self.kind}({self.low:g}, {self.high:g})"

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "values": list(self.values), "low": self.low, "high": self.high}


def split_values(text: str) -> list[str]:
    """Split on commas outside brackets/quotes: "a,[1,2],b" -> ["a", "[1,2]", "b"]."""
    out, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur).strip())
    return out


def _scalar(text: str, where: str) -> tuple[Any, str]:
    """(Optuna-storable value, text) of one written value."""
    if text == "":
        raise ConfigError(f"{where}: empty value")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(f"{where}: {text!r} is not a YAML value") from None
    if isinstance(value, (list, dict)):
        return text, text
    if isinstance(value, str):  # YAML 1.1 reads "1e-4" as a string; numbers must stay numbers
        try:
            value = float(value)
        except ValueError:
            pass
    return value, text


def parse_grid(item: str) -> Dimension:
    """`KEY=v1,v2,...` -> a grid Dimension."""
    where = f"--grid {item!r}"
    if "=" not in item:
        raise ConfigError(f"{where}: expected KEY=v1,v2,... (e.g. train.optimizer.lr=1e-4,1e-3,1e-2)")
    key, text = (s.strip() for s in item.split("=", 1))
    _check_key(key, where)
    pairs = [_scalar(t, where) for t in split_values(text)]
    values = tuple(v for v, _ in pairs)
    if len(set(map(repr, values))) != len(values):
        raise ConfigError(f"{where}: repeated values")
    return Dimension(key=key, kind="grid", values=values, texts=tuple(t for _, t in pairs))


def parse_space(item: str) -> Dimension:
    """`KEY=loguniform(a,b)` / `uniform(a,b)` / `int(a,b)` / `logint(a,b)` / `choice(x,y,...)`."""
    where = f"--space {item!r}"
    m = _SPACE_RE.match(item)
    if not m:
        raise ConfigError(f"{where}: expected KEY=KIND(ARGS), KIND one of {', '.join(SAMPLED_KINDS)}")
    key, kind, args_text = m.groups()
    _check_key(key, where)
    if kind not in SAMPLED_KINDS:
        raise ConfigError(f"{where}: unknown distribution {kind!r}{did_you_mean(kind, SAMPLED_KINDS)}; allowed: {', '.join(SAMPLED_KINDS)}")
    args = split_values(args_text)
    if kind == "choice":
        pairs = [_scalar(t, where) for t in args]
        return Dimension(key=key, kind=kind, values=tuple(v for v, _ in pairs), texts=tuple(t for _, t in pairs))
    if len(args) != 2:
        raise ConfigError(f"{where}: {kind} takes two numbers (low, high)")
    try:
        low, high = (float(a) for a in args)
    except ValueError:
        raise ConfigError(f"{where}: {kind} bounds must be numbers, got {args_text!r}") from None
    if kind in ("int", "logint") and not (low.is_integer() and high.is_integer()):
        raise ConfigError(f"{where}: {kind} bounds must be integers")
    if not low < high:
        raise ConfigError(f"{where}: low must be below high")
    if kind.startswith("log") and low <= 0:
        raise ConfigError(f"{where}: {kind} needs positive bounds")
    return Dimension(key=key, kind=kind, low=low, high=high)


def _check_key(key: str, where: str) -> None:
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", key):
        raise ConfigError(f"{where}: {key!r} is not a dotted config key")
    if key in ("seed",):
        raise ConfigError(f"{where}: 'seed' is set per repeat by --repeats (seed, seed+1, ...); search another key")


def set_key(raw: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """Set dotted `key` in a nested mapping (copied along the path), creating sections."""
    parts = key.split(".")
    out = dict(raw)
    node = out
    for part in parts[:-1]:
        child = node.get(part)
        child = dict(child) if isinstance(child, dict) else ({} if child is None else child)
        if not isinstance(child, dict):
            raise ConfigError(f"{key}: {part!r} is not a section")
        node[part] = child
        node = child
    node[parts[-1]] = value
    return out


def apply_params(raw: dict[str, Any], dims: Sequence[Dimension], params: dict[str, Any]) -> dict[str, Any]:
    """The raw config with every searched key set to its (config) value."""
    by_key = {d.key: d for d in dims}
    for key, value in params.items():
        raw = set_key(raw, key, by_key[key].config_value(value) if key in by_key else value)
    return raw


def candidate_points(dims: Sequence[Dimension]) -> list[dict[str, Any]]:
    """Assignments to validate: the full grid, or each range end / choice one key at a time."""
    if dims and all(d.kind == "grid" for d in dims):
        return [dict(zip([d.key for d in dims], combo)) for combo in itertools.product(*(d.values for d in dims))]
    points = []
    for d in dims:
        ends = d.values if d.kind == "choice" else (_end(d, d.low), _end(d, d.high))
        points.extend({d.key: v} for v in ends)
    return points


def _end(d: Dimension, x: float | None) -> Any:
    return int(x) if d.kind in ("int", "logint") else x


def validate(raw: dict[str, Any], dims: Sequence[Dimension]) -> None:
    """Build the typed config at every candidate point; raise ConfigError naming the bad key/value."""
    keys = [d.key for d in dims]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"a key is searched twice: {', '.join(k for k in keys if keys.count(k) > 1)}")
    for point in candidate_points(dims):
        try:
            config_from_dict(apply_params(raw, dims, point))
        except ConfigError as exc:
            shown = ", ".join(f"{k}={v}" for k, v in point.items())
            hint = "".join(
                f"; the key is spelled {KEY_HINTS[k]}" for k in point if k in KEY_HINTS and f"'{k}'" in str(exc)
            )
            raise ConfigError(f"searched value {shown} is invalid: {exc}{hint}") from None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
