"""A run directory: the resolved config, checkpoints, metrics, TensorBoard events and pictures.

Layout (docs/ARCHITECTURE.md): config.yaml, checkpoints/{init,final,last}.pt, metrics.jsonl, tb/,
images/, eval/, report.html.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from latentscape.config import RunConfig, config_from_dict, dump_config
from latentscape.errors import LatentscapeError
from latentscape.faults import fault_point
from latentscape.io import appending, atomic_write_text, process_alive, remove_dead_temporaries, write_json
from latentscape.rundir.lock import RunLock, lock_run

CONFIG_FILE = "config.yaml"
CREATING_PREFIX = ".{name}.creating-"  # + PID: a run directory being created (see Run.create)


class Run:
    """Handle on a run directory. Create with `Run.create` or open with `Run.open`."""

    def __init__(self, path: str | Path, lock: RunLock | None = None) -> None:
        self.path = Path(path)
        self.lock = lock  # held by a writer (Run.create, Run.open_for_writing) until close()
        self._tb = None
        self._rows: int | None = None  # complete metrics rows, counted lazily
        self._keys: set[tuple[int, str]] | None = None  # their (step, split), read lazily

    # -- creation / opening -------------------------------------------------------------
    @classmethod
    def create(cls, cfg: RunConfig, path: str | Path, populate: Callable[["Run"], None] | None = None) -> "Run":
        """Create the run directory complete or not at all, and hold its write lock.

        The tree, config.yaml and whatever `populate(run)` writes (data_info.json, init.pt) are
        made in a hidden sibling `.NAME.creating-PID` that is then renamed into place, so a kill
        during creation leaves no half-made run (only the sibling, removed by the next creation).
        The lock (rundir/lock.py) is taken in the sibling and moves with it, so the run is never
        visible unlocked while it is being written; `close()` releases it.
        """
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise LatentscapeError(f"{path} already exists and is not an empty folder; choose another --run-dir")
        staging = path.parent / f"{CREATING_PREFIX.format(name=path.name)}{os.getpid()}"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_creations(path)
            shutil.rmtree(staging, ignore_errors=True)
            for sub in ("checkpoints", "images", "eval"):
                (staging / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a parent that is a file, a read-only or missing place
            raise LatentscapeError(f"cannot create the run directory {path}: {exc.strerror or exc}") from None
        lock = lock_run(staging)
        try:
            run = cls(staging)
            atomic_write_text(run.path / CONFIG_FILE, dump_config(cfg))
            if populate is not None:
                populate(run)
            fault_point("publish run")  # test hook (latentscape.faults)
            try:
                if path.is_dir():
                    path.rmdir()  # an empty folder the user made; os.rename cannot replace it everywhere
                os.rename(staging, path)
            except OSError as exc:  # another process published a run there meanwhile: keep theirs
                shutil.rmtree(staging, ignore_errors=True)
                why = "another process created it meanwhile" if path.exists() else (exc.strerror or str(exc))
                raise LatentscapeError(f"cannot create the run directory {path}: {why}; choose another --run-dir") from None
        except BaseException:
            lock.release()
            raise
        lock.run_dir = path
        return cls(path, lock)

    @classmethod
    def open(cls, path: str | Path) -> "Run":
        """Open an existing run directory (it must hold config.yaml)."""
        path = Path(path)
        if not path.is_dir():
            if any(_stale_creations(path)):
                raise LatentscapeError(
                    f"{path} was never completely created (killed during creation); start it again "
                    f"with `latentscape train CONFIG --run-dir {path}`"
                )
            if path.exists():
                raise LatentscapeError(f"{path} is a file, not a run directory")
            raise LatentscapeError(f"run directory not found: {path}")
        if not (path / CONFIG_FILE).is_file():
            raise LatentscapeError(f"{path} is not a run directory (no {CONFIG_FILE})")
        layout = (("checkpoints", True), ("images", True), ("eval", True), ("metrics.jsonl", False),
                  ("checkpoints/init.pt", False), ("checkpoints/last.pt", False), ("checkpoints/final.pt", False))
        for name, want_dir in layout:
            part = path / name
            if part.exists() and part.is_dir() != want_dir:  # what writes into the run would fail half-way
                raise LatentscapeError(f"{part}: should be a {'folder' if want_dir else 'file'} (a damaged run directory)")
        return cls(path)

    @classmethod
    def open_for_writing(cls, path: str | Path, command: str | None = None) -> "Run":
        """`Run.open`, holding the run's write lock until `close()` (a second writer is refused
        with one line naming the holder: rundir/lock.py)."""
        run = cls.open(path)
        return cls(run.path, lock_run(run.path, command))

    def config(self) -> RunConfig:
        """The resolved config saved in the run."""
        from latentscape.config import read_yaml
        from latentscape.errors import ConfigError

        raw = read_yaml(self.path / CONFIG_FILE)
        try:
            return config_from_dict(raw)
        except ConfigError as exc:
            raise ConfigError(f"{self.path / CONFIG_FILE}: {exc}") from None

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
        """Append one line to metrics.jsonl and write TensorBoard scalars `split/name`.

        The log holds one row per (step, split): a repeat (a resumed run re-logging what it had
        logged before it was killed) is ignored, so resuming never duplicates rows.
        """
        if (int(step), split) in self._logged_keys():
            return
        clean = {k: _to_number(v) for k, v in metrics.items()}
        row = {"step": int(step), "split": split, **({"epoch": epoch} if epoch is not None else {}), **clean}
        line = json.dumps(row, allow_nan=True) + "\n"
        # Append mode: a kill leaves at most a partial last line, which `read_metrics` skips and
        # `repair_metrics` (on resume) removes.
        with appending(self.metrics_path) as f:  # a full disk: one line naming the file
            half = len(line) // 2
            f.write(line[:half])
            f.flush()
            fault_point("append metrics.jsonl")  # test hook: a kill here tears the line
            f.write(line[half:])
            f.flush()
        self._rows = (self._rows or 0) + 1
        self._keys.add((int(step), split))
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
        self.repair_metrics(after_step=after_step)

    def metrics_rows(self) -> int:
        """Complete rows in metrics.jsonl (stored in checkpoints so a resume can cut back to it)."""
        self._logged_keys()
        return self._rows or 0

    def _logged_keys(self) -> set[tuple[int, str]]:
        if self._keys is None:
            rows = self.read_metrics()
            self._rows = len(rows)
            self._keys = {(r.get("step"), r.get("split")) for r in rows}
        return self._keys

    def repair_metrics(self, rows: int | None = None, after_step: int | None = None) -> None:
        """Make metrics.jsonl what it was when the checkpoint being resumed was saved.

        Keeps the first `rows` complete rows (the count the checkpoint recorded) or, for
        checkpoints without a count, the rows up to `after_step`; drops torn lines and repeated
        (step, split) rows. Rewritten atomically, only when something changes.
        """
        kept, seen = [], set()
        for r in self.read_metrics():
            key = (r.get("step"), r.get("split"))
            if (rows is not None and len(kept) >= rows) or (after_step is not None and r.get("step", 0) > after_step):
                break
            if key not in seen:
                seen.add(key)
                kept.append(r)
        text = "".join(json.dumps(r, allow_nan=True) + "\n" for r in kept)
        current = self.metrics_path.read_text(encoding="utf-8", errors="replace") if self.metrics_path.is_file() else ""
        if text != current:
            atomic_write_text(self.metrics_path, text)
        self._rows, self._keys = len(kept), seen

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete the temporary files and folders that killed writers left in the run (call with
        the write lock held): those of processes that are gone, and `.*.tmp` names without a PID;
        a live `eval` writing into eval/ (readers do not lock) keeps its own."""
        return remove_dead_temporaries(self.path, unattributed=True)

    def write_json(self, relpath: str, obj: Any) -> Path:
        """Atomically write JSON under the run directory."""
        path = self.path / relpath
        return write_json(path, obj)

    def close(self) -> None:
        """Flush TensorBoard and release the write lock (if this handle holds it)."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def _writer(self):
        if self._tb is None and os.environ.get("LATENTSCAPE_NO_TENSORBOARD") != "1":
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # pragma: no cover - tensorboard is a pinned dependency
                return None
            self._tb = SummaryWriter(log_dir=str(self.path / "tb"), flush_secs=10)
        return self._tb


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Parse a metrics.jsonl file, skipping a torn last line and any line that is not a row.

    A row is a JSON object whose "step" (when present) is an integer; anything else (damaged
    bytes, a stray value) is skipped, so the readers (resume, reports, tune) never meet it.
    """
    if not path.is_file():
        return []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise LatentscapeError(f"cannot read {path}: {exc.strerror or exc}") from None
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            continue
        step = row.get("step", 0) if isinstance(row, dict) else None
        if isinstance(step, int) and not isinstance(step, bool) and isinstance(row.get("split", ""), str):
            rows.append(row)
    return rows


def _stale_creations(path: Path):
    """Hidden staging folders `.NAME.creating-PID` of `path` (any process)."""
    prefix = CREATING_PREFIX.format(name=path.name)
    if path.parent.is_dir():
        yield from (p for p in path.parent.iterdir() if p.name.startswith(prefix))


def remove_stale_creations(path: Path) -> None:
    """Remove staging folders of `path` whose creating process is gone (killed mid-creation)."""
    prefix = CREATING_PREFIX.format(name=path.name)
    for p in list(_stale_creations(path)):
        pid = p.name[len(prefix):]
        if pid.isdigit() and int(pid) != os.getpid() and process_alive(int(pid)):
            continue
        shutil.rmtree(p, ignore_errors=True)


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
