"""Metrics along a straight segment or a trained curve between weight sets of runs.

The lab's four cases are all `path A B` with different references: two minima (RUN1 RUN2), a
minimum and its own initialisation (RUN RUN@init), a minimum and another run's initialisation
(RUN1 RUN2@init), two initialisations (RUN1@init RUN2@init).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from latentscape.landscape.core.curves import Curve, line
from latentscape.landscape.core.evaluate import PointSet, Results
from latentscape.landscape.core.params import Params, check_compatible
from latentscape.landscape.core.summaries import summarize


@dataclass
class PathResult:
    """Metrics at positions `ts` along a path (a segment or a curve)."""

    ts: list[float]
    values: Results  # split -> metric -> (P,)
    length: float
    kind: str
    strategy: str

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        # the ends are the weight sets at t = 0 and t = 1 when evaluated (e.g. --range 0,1.5)
        i0 = self.ts.index(0.0) if 0.0 in self.ts else 0
        i1 = self.ts.index(1.0) if 1.0 in self.ts else len(self.ts) - 1
        return {s: {m: summarize(v, m, (i0, i1)) for m, v in ms.items()} for s, ms in self.values.items()}

    def to_json(self, **extra: Any) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ts": self.ts,
            "metrics": {s: {m: v.tolist() for m, v in ms.items()} for s, ms in self.values.items()},
            "summary": self.summary(),
            "length": self.length,
            "strategy": self.strategy,
            **extra,
        }


def curve_points(curve: Curve, ts: Sequence[float]) -> PointSet:
    return PointSet(curve.points, curve.coefficients(list(ts)))


def segment(a: Params, b: Params) -> Curve:
    """The straight segment a -> b (names and shapes must match)."""
    check_compatible(a, b, what="the two weight sets")
    return line(a, b)
