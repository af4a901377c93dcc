"""Every YAML under configs/ loads into a validated RunConfig (all engineers' configs)."""

from pathlib import Path

import pytest

from latentscape.config import load_config
from latentscape.registry import DATASETS, MODELS

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_there_are_configs():
    assert CONFIGS


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_loads(path):
    cfg = load_config(path)
    assert cfg.model.name in MODELS
    assert cfg.data.name in DATASETS
    assert cfg.name, "give every config a name (it names the run directory)"
