"""Makes the helpers next to these tests (`tunehelp`, `pgserver`) importable in any import mode."""

import sys
from pathlib import Path

_here = str(Path(__file__).resolve().parent)
if _here not in sys.path:
    sys.path.insert(0, _here)


import pytest


@pytest.fixture(autouse=True)
def _fast_runs(monkeypatch):
    """Each trial repeat is an ordinary run whose HTML report draws ~3 s of matplotlib on this
    machine against ~0.2 s of training; the report is tested elsewhere, so in-process studies
    here skip it (and TensorBoard events)."""
    monkeypatch.setattr("latentscape.train.api._write_report", lambda run: None)
    monkeypatch.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
