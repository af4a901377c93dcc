"""Hostile config files and overrides: YAML that expands to billions of values, nests too deeply
or refers to itself, keys of mixed types, split and group names that do not exist, devices the
machine lacks. One ConfigError / LatentscapeError line (exit 2), quickly, and no run directory."""

from __future__ import annotations

import time

import pytest
import torch

from latentscape.cli import main
from latentscape.config import load_config

TINY = "model: {name: mlp_classifier, hidden_dims: [4]}\ndata: {name: digits, fraction: 0.1}\ntrain: {epochs: 1, batch_size: 32, num_threads: 1}\n"


def _laughs(levels: int = 9) -> str:
    """'Billion laughs': each anchor lists the previous one ten times (10**levels leaves)."""
    lines = ["l0: &l0 [ha, ha, ha, ha, ha, ha, ha, ha, ha, ha]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text, message",
    [
        (_laughs() + TINY, "aliases expand to more than"),
        ("model: " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
        ("a: &x [1, *x]\n" + TINY, "refers to the node that contains it"),
        (TINY + "1: 2\nzz: 3\n", "unknown key '1'"),
        (TINY.replace("num_threads: 1", "num_threads: 1, final_eval_splits: [train, bogus]"),
         "train.final_eval_splits[1]: 'bogus' is not allowed; allowed: train, val, test"),
        (TINY.replace("num_threads: 1", "num_threads: 1, group_optimizers: {critic: {lr: 0.1}}"),
         "train.group_optimizers.critic: model 'mlp_classifier' has no optimizer group 'critic'; its groups: main"),
    ],
    ids=["billion-laughs", "deep-nesting", "self-reference", "mixed-key-types", "unknown-final-split", "unknown-group"],
)
def test_hostile_config_is_one_line_and_creates_nothing(tmp_path, capsys, monkeypatch, text, message):
    monkeypatch.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    start = time.monotonic()
    assert main(["train", str(cfg), "--run-dir", str(tmp_path / "run")]) == 2
    assert time.monotonic() - start < 60
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and message in err, err
    assert not (tmp_path / "run").exists() and not [p for p in tmp_path.iterdir() if ".creating-" in p.name]


def test_an_override_cannot_smuggle_a_yaml_bomb(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(TINY)
    levels = ["&a [1,1,1,1,1,1,1,1,1,1]"] + [f"&{c} [{','.join(['*' + p] * 10)}]" for p, c in zip("abcdefgh", "bcdefghi")]
    with pytest.raises(Exception, match="aliases expand to more than"):
        load_config(cfg, [f"name=[{', '.join(levels)}]"])


def test_a_config_path_that_is_not_readable_text_is_named(tmp_path, capsys):
    folder = tmp_path / "c.yaml"
    folder.mkdir()
    (folder / "x").write_text("")
    from latentscape.config import read_yaml

    with pytest.raises(Exception, match=f"cannot read {folder}"):
        read_yaml(folder)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:3"])
def test_a_device_the_machine_lacks_is_refused_before_the_run_exists(tmp_path, capsys, monkeypatch, device):
    monkeypatch.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(TINY)
    assert main(["train", str(cfg), f"train.device={device}", "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and f"train.device={device}: no CUDA device is available" in err, err
    assert not (tmp_path / "run").exists()
    assert main(["eval", str(tmp_path / "nothing"), "--device", "meta"]) == 2
    assert "--device: unsupported device 'meta'" in capsys.readouterr().err
