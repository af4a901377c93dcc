"""The run directory, re-exported from its home `latentscape.rundir.run` (old import path)."""

from latentscape.rundir.run import Run, default_run_dir, read_metrics

__all__ = ["Run", "default_run_dir", "read_metrics"]
