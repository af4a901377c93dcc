"""The run directory, re-exported from its home `latentscape.runs.run` (old import path)."""

from latentscape.runs.run import Run, default_run_dir, read_metrics

__all__ = ["Run", "default_run_dir", "read_metrics"]
