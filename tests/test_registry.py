"""One registry mechanism: declared names cost no import; every declaration resolves."""

import json
import os
import subprocess
import sys

import pytest

from latentscape import registry
from latentscape.registry import Registry, UnknownNameError

DECLARED = [v for v in vars(registry).values() if isinstance(v, Registry)]


def test_names_and_membership_import_no_latentscape_module():
    code = (
        "import sys, json; import latentscape.registry as r\n"
        "names = {k: v.names() for k, v in vars(r).items() if isinstance(v, r.Registry)}\n"
        "assert 'vae' in r.MODELS and 'digits' in r.DATASETS\n"
        "mods = sorted(m for m in sys.modules if m.startswith('latentscape') or m == 'torch')\n"
        "print(json.dumps({'names': names, 'modules': mods}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=True)
    result = json.loads(out.stdout)
    assert result["modules"] == ["latentscape", "latentscape.registry"]
    assert {"vae", "gan", "curve", "mlp_classifier"} <= set(result["names"]["MODELS"])


@pytest.mark.parametrize("reg", DECLARED, ids=lambda r: r.kind)
def test_every_declared_entry_resolves(reg):
    for name in reg.names():
        assert reg.get(name) is not None
    assert reg.names() == sorted(reg.names())


def test_unknown_name_lists_the_allowed_names():
    with pytest.raises(UnknownNameError, match="unknown model 'nope'; allowed: .*vae"):
        registry.MODELS.get("nope")


def test_local_registry_register_and_declared_lookup():
    reg = Registry("thing", {"json_dumps": "json:dumps"})
    assert reg.names() == ["json_dumps"] and "json_dumps" in reg
    assert reg.get("json_dumps") is json.dumps
    reg.register("one", 1)
    assert reg["one"] == 1 and reg.names() == ["json_dumps", "one"]
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("one", 2)
    with pytest.raises(ValueError, match="module.path:ATTRIBUTE"):
        Registry("bad", {"x": "no_colon"})


def test_config_and_cli_name_lists_come_from_the_registry():
    from typing import get_args

    from latentscape.config import OptimizerConfig, ScheduleConfig
    from latentscape.models.autoencoder_config import VAEConfig

    hints = {f.name: f.type for f in __import__("dataclasses").fields(OptimizerConfig)}
    assert hints["name"] == "OptimizerName"
    from latentscape import config

    assert set(get_args(config.OptimizerName)) == set(registry.OPTIMIZERS.names())
    assert set(get_args(config.LRScheduleName)) == set(registry.LR_SCHEDULES.names())
    from latentscape.models import autoencoder_config

    assert set(get_args(autoencoder_config.BetaScheduleName)) == set(registry.BETA_SCHEDULES.names())
    assert ScheduleConfig and VAEConfig
