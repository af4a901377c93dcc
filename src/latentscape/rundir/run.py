"""A run directory: the resolved config, checkpoints, metrics, TensorBoard events and pictures.

Layout (docs/ARCHITECTURE.md): config.yaml, checkpoints/{init,final,last}.pt, metrics.jsonl, tb/,
images/, eval/, report.html.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from latentscape.config import RunConfig, config_from_dict, dump_config
from latentscape.errors import LatentscapeError
from latentscape.io import atomic_write_text, write_json

CONFIG_FILE = "config.yaml"


class Run:
    """Handle on a run directory. Create with `Run.create` or open with `Run.open`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._tb = None

    # -- creation / opening -------------------------------------------------------------
    @classmethod
    def create(cls, cfg: RunConfig, path: str | Path) -> "Run":
        """Make the directory tree and write config.yaml (atomically)."""
        run = cls(path)
        for sub in ("checkpoints", "images", "eval"):
            (run.path / sub).mkdir(parents=True, exist_ok=True)
        atomic_write_text(run.path / CONFIG_FILE, dump_config(cfg))
        return run

    @classmethod
    def open(cls, path: str | Path) -> "Run":
        """Open an existing run directory (it must hold config.yaml)."""
        path = Path(path)
        if not path.is_dir():
            raise LatentscapeError(f"run directory not found: {path}")
        if not (path / CONFIG_FILE).is_file():
            raise LatentscapeError(f"{path} is not a run directory (no {CONFIG_FILE})")
        return cls(path)

    def config(self) -> RunConfig:
        """The resolved config saved in the run."""
        import yaml

        from latentscape.errors import ConfigError

        try:
            raw = yaml.safe_load((self.path / CONFIG_FILE).read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"{self.path / CONFIG_FILE}: not valid YAML: {exc}") from None
        return config_from_dict(raw)

    # -- paths ----------------------------------------------------------------------------
    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    def image_path(self, name: str) -> Path:
        """Path of a picture under images/ (the folder is created)."""
        p = self.path / "images" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    # -- logging ----------------------------------------------------------------------------
    def log(self, metrics: dict[str, Any], step: int, split: str = "train", epoch: int | None = None) -> None:
        """Append one line to metrics.jsonl and write TensorBoard scalars `split/name`."""
        clean = {k: _to_number(v) for k, v in metrics.items()}
        row = {"step": int(step), "split": split, **({"epoch": epoch} if epoch is not None else {}), **clean}
        line = json.dumps(row, allow_nan=True) + "\n"
        # One write() call per line in append mode: a kill leaves at most a partial last line,
        # which `read_metrics` skips.
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
        tb = self._writer()
        if tb is not None:
            for k, v in clean.items():
                if isinstance(v, (int, float)) and math.isfinite(v):
                    tb.add_scalar(f"{split}/{k}", v, step)

    def read_metrics(self) -> list[dict[str, Any]]:
        """All complete lines of metrics.jsonl."""
        return read_metrics(self.metrics_path)

    def truncate_metrics(self, after_step: int) -> None:
        """Drop metric lines logged after `after_step` (resuming from an earlier checkpoint)."""
        rows = [r for r in self.read_metrics() if r.get("step", 0) <= after_step]
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in rows))

    def write_json(self, relpath: str, obj: Any) -> Path:
        """Atomically write JSON under the run directory."""
        path = self.path / relpath
        return write_json(path, obj)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def _writer(self):
        if self._tb is None and os.environ.get("LATENTSCAPE_NO_TENSORBOARD") != "1":
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # pragma: no cover - tensorboard is a pinned dependency
                return None
            self._tb = SummaryWriter(log_dir=str(self.path / "tb"), flush_secs=10)
        return self._tb


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Parse a metrics.jsonl file, skipping a torn last line."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def default_run_dir(cfg: RunConfig) -> Path:
    """runs/<name or model-dataset>-<timestamp>, unique."""
    base = cfg.name or f"{cfg.model.name}-{cfg.data.name}"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(cfg.output_dir) / f"{base}-{stamp}"
    i = 1
    while path.exists():
        i += 1
        path = Path(cfg.output_dir) / f"{base}-{stamp}-{i}"
    return path


def _to_number(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    return v
