import math
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from latentscape.config import ScheduleConfig
from latentscape.errors import TrainingDiverged
from latentscape.rundir.load import load_run
from latentscape.train.api import train_and_evaluate
from latentscape.rundir.checkpoint import load_checkpoint, load_weights
from latentscape.train.optim import lr_factor
from latentscape.rundir.run import read_metrics

from tinydata import CrashAt, PoisonAt, tiny_config, tiny_splits


def _weights(run_dir, which="final"):
    return load_weights(run_dir / "checkpoints" / f"{which}.pt")


def test_training_lowers_loss_and_writes_run_dir(tmp_path, tiny_data):
    run = train_and_evaluate(tiny_config(), tmp_path / "r", data=tiny_data, quiet=True)
    p = run.path
    for rel in ("config.yaml", "checkpoints/init.pt", "checkpoints/final.pt", "checkpoints/last.pt",
                "metrics.jsonl", "eval/final.json", "data_info.json"):
        assert (p / rel).exists(), rel
    assert any((p / "tb").iterdir())
    rows = [r for r in read_metrics(p / "metrics.jsonl") if r["split"] == "train"]
    assert rows[-1]["loss"] < rows[0]["loss"]
    init, final = _weights(p, "init"), _weights(p, "final")
    assert not torch.equal(init["net.head.weight"], final["net.head.weight"])
    # init.pt really is the initialisation: rebuilding with the same seed gives it back
    loaded = load_run(f"{p}@init")
    assert torch.equal(loaded.model.state_dict()["net.head.weight"], init["net.head.weight"])


def test_same_seed_same_weights(tmp_path, tiny_data):
    a = train_and_evaluate(tiny_config(), tmp_path / "a", data=tiny_data, quiet=True)
    b = train_and_evaluate(tiny_config(), tmp_path / "b", data=tiny_data, quiet=True)
    wa, wb = _weights(a.path), _weights(b.path)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_crash_mid_epoch_then_resume_gives_same_weights(tmp_path, tiny_data):
    cfg = tiny_config(checkpoint_every_steps=4, schedule={"name": "cosine"})
    full = train_and_evaluate(cfg, tmp_path / "full", data=tiny_data, quiet=True, callbacks=[])
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_and_evaluate(cfg, tmp_path / "part", data=tiny_data, quiet=True, callbacks=[CrashAt(10)])
    # 6 steps per epoch: checkpoints at steps 4, 6 (epoch end) and 8 (mid-epoch)
    assert load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")["step"] == 8
    train_and_evaluate(cfg, tmp_path / "part", resume=True, data=tiny_data, quiet=True, callbacks=[])
    wf, wr = _weights(full.path), _weights(tmp_path / "part")
    assert all(torch.equal(wf[k], wr[k]) for k in wf)
    # metrics logged after the checkpoint were rolled back, then logged again: no duplicates
    steps = [(r["split"], r["step"]) for r in read_metrics(tmp_path / "part" / "metrics.jsonl")]
    assert len(steps) == len(set(steps))


_KILL_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from tinydata import CrashAt, tiny_config, tiny_dataset
from latentscape.train.api import train_and_evaluate
data = {{"train": tiny_dataset(96, 0), "test": tiny_dataset(32, 1, "test")}}
cfg = tiny_config(checkpoint_every_steps=4)
train_and_evaluate(cfg, sys.argv[1], data=data, quiet=True, callbacks=[CrashAt(10, kill=True)])
"""


def test_sigkill_then_resume_gives_same_weights(tmp_path, tiny_data):
    cfg = tiny_config(checkpoint_every_steps=4)
    full = train_and_evaluate(cfg, tmp_path / "full", data=tiny_data, quiet=True, callbacks=[])
    tests_dir = str(Path(__file__).resolve().parents[1])
    script = _KILL_SCRIPT.format(tests=tests_dir)
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "killed")], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not (tmp_path / "killed" / "checkpoints" / "final.pt").exists()
    assert load_checkpoint(tmp_path / "killed" / "checkpoints" / "last.pt")["step"] == 8
    train_and_evaluate(cfg, tmp_path / "killed", resume=True, data=tiny_data, quiet=True, callbacks=[])
    wf, wr = _weights(full.path), _weights(tmp_path / "killed")
    assert all(torch.equal(wf[k], wr[k]) for k in wf)



def test_nan_guard_stops_with_message_and_keeps_last_good_checkpoint(tmp_path, tiny_data):
    cfg = tiny_config(checkpoint_every_steps=1)
    with pytest.raises(TrainingDiverged, match="last good checkpoint"):
        train_and_evaluate(cfg, tmp_path / "nan", data=tiny_data, quiet=True, callbacks=[PoisonAt(3)])
    ckpt = load_checkpoint(tmp_path / "nan" / "checkpoints" / "last.pt")
    assert ckpt["step"] == 2
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
    assert not (tmp_path / "nan" / "checkpoints" / "final.pt").exists()


def test_nan_loss_is_caught_before_the_optimizer_step(tmp_path, tiny_data):
    cfg = tiny_config(checkpoint_every_steps=0)
    poison = PoisonAt(3)
    with pytest.raises(TrainingDiverged, match="loss became nan at step 3"):
        # weights poisoned after step 3 and no checkpoint then: the next forward pass is NaN
        train_and_evaluate(cfg, tmp_path / "nan2", data=tiny_data, quiet=True, callbacks=[poison])


def test_grad_clip_and_bf16_run(tmp_path, tiny_data):
    run = train_and_evaluate(tiny_config(grad_clip=0.5, precision="bf16"), tmp_path / "c", data=tiny_data, quiet=True)
    assert (run.path / "checkpoints" / "final.pt").exists()


@pytest.mark.parametrize(
    "cfg, step, expected",
    [
        (ScheduleConfig("constant"), 50, 1.0),
        (ScheduleConfig("step", step_epochs=2, gamma=0.1), 19, 1.0),
        (ScheduleConfig("step", step_epochs=2, gamma=0.1), 20, 0.1),
        (ScheduleConfig("cosine"), 50, 0.5),
        (ScheduleConfig("cosine", final_fraction=0.2), 100, 0.2),
        (ScheduleConfig("linear"), 25, 0.75),
        (ScheduleConfig("constant", warmup_steps=10), 4, 0.5),
    ],
)
def test_lr_schedule_values(cfg, step, expected):
    assert math.isclose(lr_factor(cfg, step, total_steps=100, steps_per_epoch=10), expected, abs_tol=1e-9)


@pytest.fixture
def tiny_data():
    return tiny_splits()


def _no_gpu_generators(monkeypatch):
    """A machine that has CUDA, where any use of the GPU generators fails the test."""
    def touched(*args, **kwargs):
        raise AssertionError("a CPU run touched the CUDA generators")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for name in ("get_rng_state", "get_rng_state_all", "set_rng_state", "set_rng_state_all"):
        monkeypatch.setattr(torch.cuda, name, touched)


def test_a_cpu_run_on_a_cuda_machine_leaves_the_gpu_generators_alone(tmp_path, tiny_data, monkeypatch):
    # ... also when resuming a checkpoint that holds them (a run moved from a 2-GPU machine)
    cfg = tiny_config(device="cpu", checkpoint_every_steps=4)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_and_evaluate(cfg, tmp_path / "r", data=tiny_data, quiet=True, callbacks=[CrashAt(6)])
    last = tmp_path / "r" / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(last)
    ckpt["rng_cuda"] = [torch.zeros(16, dtype=torch.uint8)] * 2
    torch.save(ckpt, last)
    _no_gpu_generators(monkeypatch)
    run = train_and_evaluate(cfg, tmp_path / "r", resume=True, data=tiny_data, quiet=True, callbacks=[])
    assert load_checkpoint(run.path / "checkpoints" / "last.pt")["rng_cuda"] == []


def test_only_the_training_gpu_generator_is_saved_and_restored(monkeypatch):
    from latentscape.train.trainer import cuda_rng_states, restore_cuda_rng

    calls = []
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device: torch.full((16,), device.index, dtype=torch.uint8))
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device: calls.append((int(state[0]), device)))
    gpu = torch.device("cuda", 0)
    assert [int(s[0]) for s in cuda_rng_states(gpu)] == [0]
    assert cuda_rng_states(torch.device("cpu")) == []
    # a checkpoint of a 2-GPU machine (one state per GPU) resumes on a 1-GPU machine
    restore_cuda_rng([torch.zeros(16, dtype=torch.uint8), torch.ones(16, dtype=torch.uint8)], gpu)
    restore_cuda_rng([torch.ones(16, dtype=torch.uint8)], torch.device("cpu"))
    assert calls == [(0, gpu)]


def test_a_checkpoint_written_on_a_gpu_resumes_on_a_machine_without_one(tmp_path, tiny_data, monkeypatch):
    """Every tensor of last.pt tagged as saved from cuda:0 (as older GPU runs left the optimizer
    moments), with the generator states of two GPUs: the CPU run resumes to the same weights."""
    import torch.serialization

    cfg = tiny_config(device="cpu", checkpoint_every_steps=4, schedule={"name": "cosine"})
    full = train_and_evaluate(cfg, tmp_path / "full", data=tiny_data, quiet=True, callbacks=[])
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_and_evaluate(cfg, tmp_path / "part", data=tiny_data, quiet=True, callbacks=[CrashAt(6)])
    last = tmp_path / "part" / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(last)
    ckpt["rng_cuda"] = [torch.zeros(16, dtype=torch.uint8)] * 2
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save(ckpt, last)
    train_and_evaluate(cfg, tmp_path / "part", resume=True, data=tiny_data, quiet=True, callbacks=[])
    wf, wr = _weights(full.path), _weights(tmp_path / "part")
    assert all(torch.equal(wf[k], wr[k]) for k in wf)
