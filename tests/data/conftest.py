"""Data tests write decoded-image caches under a temporary folder, never to ~/.cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_processed_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_CACHE", str(tmp_path_factory.mktemp("processed")))
