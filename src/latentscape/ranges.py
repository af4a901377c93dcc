"""Declared value ranges of numeric config fields (dataclass field metadata).

Every int/float config field is declared with `ranged(default, low, high)`, so a value such as
`train.max_steps=-1` is refused with an error naming the key, the value and the range instead of
silently training zero steps. `check_ranges` is called by the config loader on every section it
builds; a range on a tuple or dict field applies to each element / value.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any

from latentscape.errors import ConfigError

INF = math.inf
#: Set to 1 to go beyond the declared limits (and the memory estimates) on purpose.
NO_LIMITS_ENV = "LATENTSCAPE_NO_LIMITS"
#: Declared limits of the counts that multiply a run's time: values no study could finish.
EPOCH_LIMIT = 100_000  # train.epochs, connect/demo/fid-net --epochs (the GAN configs say 100000: max_steps decides)
STEP_LIMIT = 100_000_000  # train.max_steps
REPEAT_LIMIT = 100  # tune --repeats
TRIAL_LIMIT = 10_000  # tune --trials
#: hessian --max-iter, --trace-samples, --slq-steps: Hessian-vector products of one estimate (each
#: a forward and two backward passes over every batch)
HESSIAN_PRODUCT_LIMIT = 100_000
HESSIAN_ESTIMATE_LIMIT = 10_000  # hessian --top-k, --slq-runs: estimates of up to HESSIAN_PRODUCT_LIMIT products each
HESSIAN_BATCH_LIMIT = 100_000  # hessian --batches: every product goes over all of them
#: Sizes with a hard bound (no dataset here comes near them): batch sizes and example counts.
BATCH_SIZE_MAX = 1_000_000
EXAMPLES_MAX = 1_000_000_000


def limits_lifted() -> bool:
    """Whether LATENTSCAPE_NO_LIMITS=1 asks to go beyond the declared limits."""
    return os.environ.get(NO_LIMITS_ENV, "").strip() == "1"


@dataclass(frozen=True)
class Range:
    """An interval of allowed values; `low_open` / `high_open` exclude the bound."""

    low: float = -INF
    high: float = INF
    low_open: bool = False
    high_open: bool = False
    limit: float = INF  # a declared practical bound below `high`: beyond it only with LATENTSCAPE_NO_LIMITS=1

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        lo = "(" if self.low_open or self.low == -INF else "["
        hi = ")" if self.high_open or self.high == INF else "]"
        return f"{lo}{_fmt(self.low)}, {_fmt(self.high)}{hi}"

    def beyond_limit(self, value: float) -> str | None:
        """The refusal of a value above the declared limit (None when it is within it, or
        LATENTSCAPE_NO_LIMITS=1): says what the limit guards against and how to go beyond it."""
        if value <= self.limit or limits_lifted():
            return None
        return (f"is above the declared limit {_fmt(self.limit)} (a run that long would not finish); "
                f"set {NO_LIMITS_ENV}=1 to go beyond it on purpose")


def ranged(
    default: Any = dataclasses.MISSING,
    low: float = -INF,
    high: float = INF,
    *,
    low_open: bool = False,
    high_open: bool = False,
    limit: float = INF,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field whose numeric value(s) must lie in [low, high] (bounds open if asked),
    and at most `limit` unless LATENTSCAPE_NO_LIMITS=1 (a bound of practice, not of sense)."""
    meta = {"range": Range(low, high, low_open, high_open, limit)}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def range_of(f: dataclasses.Field) -> Range | None:
    """The declared range of a field, or None."""
    return f.metadata.get("range")


def check_ranges(obj: Any, prefix: str = "") -> None:
    """Raise ConfigError `key=value is out of range [low, high]` for the first bad field of `obj`."""
    check_values(type(obj), {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}, prefix)


def check_values(cls: type, values: dict[str, Any], prefix: str = "") -> None:
    """Like `check_ranges`, for the field values about to build dataclass `cls` (checked first so
    the range error, naming key, value and range, wins over a class's own validation)."""
    for f in dataclasses.fields(cls):
        r = range_of(f)
        if r is None or f.name not in values:
            continue
        value = values[f.name]
        for key, v in _numbers(f"{prefix}{f.name}", value):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v) or v not in r:
                raise ConfigError(f"{key}={v!r} is out of range {r}")
            refusal = r.beyond_limit(v)
            if refusal:
                raise ConfigError(f"{key}={v!r} {refusal}")


def _numbers(key: str, value: Any):
    if value is None:
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _numbers(f"{key}[{i}]", v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _numbers(f"{key}.{k}", v)
    else:
        yield key, value


def _fmt(x: float) -> str:
    if x in (INF, -INF):
        return "inf" if x > 0 else "-inf"
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"
