"""`latentscape train` end to end on the embedded digits dataset, and its error lines."""

import json
import subprocess
import sys

import pytest
import torch

from latentscape.cli import main
from latentscape.rundir.load import load_run


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "latentscape.cli", *args], capture_output=True, text=True, timeout=300)


def test_train_writes_a_loadable_run(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "model: {name: mlp_classifier, hidden_dims: [32]}\n"
        "data: {name: digits}\n"
        "train: {epochs: 3, batch_size: 64, optimizer: {lr: 0.01}, num_threads: 1}\n"
    )
    assert main(["train", str(cfg), "seed=1", "--run-dir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "run dir:" in out and "final test" in out
    loaded = load_run(tmp_path / "run")
    assert loaded.config.seed == 1 and loaded.info.image_shape == (1, 8, 8)
    final = json.loads((tmp_path / "run" / "eval" / "final.json").read_text())
    assert final["test"]["accuracy"] > 0.8  # 8x8 digits are easy; 3 epochs suffice
    assert (tmp_path / "run" / "report.html").exists()
    # resuming a finished run is refused with one line, unless it is asked to train longer
    assert main(["train", "--resume", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "already finished" in err and "train.epochs" in err and len(err.strip().splitlines()) == 1
    assert main(["train", "--resume", str(tmp_path / "run"), "train.epochs=2"]) == 2  # fewer epochs: nothing to do
    before = load_run(tmp_path / "run").model.state_dict()
    assert main(["train", "--resume", str(tmp_path / "run"), "train.epochs=4"]) == 0
    longer = load_run(tmp_path / "run")
    assert longer.config.train.epochs == 4
    assert any(not torch.equal(a, b) for a, b in zip(before.values(), longer.model.state_dict().values()))
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert max(r["epoch"] for r in rows if "epoch" in r) == 4
    assert json.loads((tmp_path / "run" / "eval" / "final.json").read_text())["test"]["accuracy"] > 0.8


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "nope.yaml"], "error: config file not found: nope.yaml"),
        (["train", "--resume", "/nonexistent/run"], "error: run directory not found"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(args, message):
    proc = _cli(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), proc.stderr


def test_unknown_override_key_is_one_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: {name: mlp_classifier}\n")
    proc = _cli("train", str(cfg), "train.epoch=3")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: unknown key 'train.epoch' (did you mean 'train.epochs'?); allowed keys here: batch_size, channels_last, checkpoint_every_steps, compile, "
        "deterministic, device, epochs, eval_batch_size, eval_every, eval_split, final_eval_splits, "
        "grad_clip, group_optimizers, keep_every, log_every, max_steps, num_threads, optimizer, precision, schedule"
    )


def test_loading_a_truncated_checkpoint_is_one_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: {name: mlp_classifier, hidden_dims: [8]}\ndata: {name: digits}\ntrain: {epochs: 1}\n")
    assert main(["train", str(cfg), "--run-dir", str(tmp_path / "run")]) == 0
    final = tmp_path / "run" / "checkpoints" / "final.pt"
    final.write_bytes(final.read_bytes()[:100])
    from latentscape.errors import CheckpointError

    with pytest.raises(CheckpointError, match="is truncated"):
        load_run(tmp_path / "run")


def test_every_command_has_help(capsys):
    from latentscape.cli import build_parser
    from latentscape.commands import COMMANDS

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert len(sub.choices) == len(COMMANDS)
    for name in sub.choices:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([name, "--help"])
        assert exit_info.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith("usage: latentscape " + name) and len(out.splitlines()) > 4, name
