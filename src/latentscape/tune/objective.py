"""The tuning objective `SPLIT/METRIC`, read from a finished run's metrics.jsonl.

`val/loss` means: the last value of `loss` on the lines of `run_dir/metrics.jsonl` whose `split`
is `val`. Splits written by the trainer: `train` (means of the training logs over each
`train.log_every` window), the periodic evaluation split (`train.eval_split`: `val`, `test` or
`train`, every `train.eval_every` epochs) and the final evaluation (`train.final_eval_splits`;
the training split is logged there as `train_eval`). A model's own callbacks may log more splits.
The last value is the end-of-training value; the whole series is the trial's history curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentscape.errors import ConfigError, LatentscapeError
from latentscape.rundir.run import read_metrics


class ObjectiveMissing(LatentscapeError):
    """The objective was never logged: a mistake in the search, not a failure of one trial."""


@dataclass(frozen=True)
class Objective:
    """A metric of one split, minimised or maximised."""

    split: str
    metric: str
    direction: str = "minimize"

    @classmethod
    def parse(cls, text: str, direction: str = "minimize") -> "Objective":
        """'val/loss' -> Objective('val', 'loss'); the metric may itself contain '/'."""
        split, sep, metric = text.strip().partition("/")
        if not sep or not split or not metric:
            raise ConfigError(f"--objective {text!r}: expected SPLIT/METRIC, e.g. val/loss or val/accuracy")
        if direction not in ("minimize", "maximize"):
            raise ConfigError(f"--direction {direction!r}: allowed: minimize, maximize")
        return cls(split, metric, direction)

    @property
    def name(self) -> str:
        return f"{self.split}/{self.metric}"

    def ensure_final_eval(self, raw: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The raw config with the objective's split added to `train.final_eval_splits`.

        Periodic evaluation skips the last epoch (the final evaluation covers it), so without
        this a `val/*` objective would be read from an earlier epoch than the final weights.
        Returns (config, a note for the user or '').
        """
        split = {"train_eval": "train"}.get(self.split, self.split)
        if self.split not in ("train_eval", "val", "test"):
            return raw, ""  # training windows, or a split some model logs itself
        train = dict(raw.get("train") or {})
        current = list(train.get("final_eval_splits", ("train", "test")))
        if split in current:
            return raw, ""
        train["final_eval_splits"] = [*current, split]
        note = f"note: added {split} to train.final_eval_splits so that {self.name} is measured on the final weights"
        return {**raw, "train": train}, note

    def history(self, run_dir: str | Path) -> list[tuple[int, float]]:
        """(step, value) of every logged value of the objective, in file order."""
        rows = read_metrics(Path(run_dir) / "metrics.jsonl")
        return [
            (int(r.get("step", i)), float(r[self.metric]))
            for i, r in enumerate(rows)
            if r.get("split") == self.split and isinstance(r.get(self.metric), (int, float))
        ]

    def value(self, run_dir: str | Path) -> float:
        """The last logged value; LatentscapeError listing what was logged when it is absent."""
        hist = self.history(run_dir)
        if not hist:
            rows = read_metrics(Path(run_dir) / "metrics.jsonl")
            seen = sorted({f"{r.get('split')}/{k}" for r in rows for k in r if k not in ("step", "epoch", "split")})
            raise ObjectiveMissing(
                f"objective {self.name} was never logged in {run_dir}/metrics.jsonl; logged: "
                f"{', '.join(seen) or 'nothing'} (for val/*, set data.val_fraction>0 and train.eval_split=val)"
            )
        value = hist[-1][1]
        if not math.isfinite(value):
            raise LatentscapeError(f"objective {self.name} is {value} at the end of {run_dir}")
        return value
