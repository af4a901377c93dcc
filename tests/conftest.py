"""Shared pytest fixtures. Keep this file small; add area-specific fixtures in sub-folders.

`shared_data`-marked tests read ../shared/data (or $LATENTSCAPE_DATA) and are skipped when the
folder is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent


def find_shared_data() -> Path | None:
    """$LATENTSCAPE_DATA if set, else <repo>/../shared/data; None when that folder is missing."""
    env = os.environ.get("LATENTSCAPE_DATA")
    path = Path(env) if env else TESTS_DIR.parents[1] / "shared" / "data"
    return path if path.is_dir() else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if find_shared_data() is not None:
        return
    skip = pytest.mark.skip(reason="../shared/data (or $LATENTSCAPE_DATA) is not available")
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """Root of the real datasets (skips the test when it is missing)."""
    path = find_shared_data()
    if path is None:
        pytest.skip("../shared/data (or $LATENTSCAPE_DATA) is not available")
    return path


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tests use tiny tensors: one thread avoids OpenMP oversubscription (several-fold slower
    tiny ops on a busy 2-core machine) and makes timings steadier."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
