"""Killed landscape analyses resume to the numbers of an uninterrupted run (issue 20).

A surface killed at each of its chunk writes (grid.npz), then rerun with --resume, ends with the
same grid, bit for bit; so do a path and a plane; a Hessian's density keeps its finished SLQ runs;
a grid written by two torchrun processes of two "machines" (a c10d rendezvous, gloo) and killed
is finished by one process. The chunks a resume computes are only the missing ones.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from crashkit import interrupted, write_steps
from latentscape.cli import main
from latentscape.config import config_from_dict
from latentscape.landscape.core import points as P
from tinydata import train_quietly

# 121 points, 4 chunks. One strategy for every run compared: on a grid this size the default
# (auto) times the strategies, and two of them may round the last bit differently; a resume
# always keeps the strategy its grid was started with (grid.npz says which).
SURFACE = ["--grid", "11", "--range", "-0.5:0.5", "--splits", "test", "--plots", "none", "--threads", "1", "--no-vmap"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    def cfg(seed):
        return config_from_dict({
            "model": {"name": "mlp_classifier", "hidden_dims": [8]},
            "data": {"name": "digits", "fraction": 0.2},
            "train": {"epochs": 1, "batch_size": 32, "eval_every": 0, "num_threads": 1, "log_every": 1000},
            "seed": seed,
        })

    return train_quietly(tmp_path_factory.mktemp("runs"), {"a": cfg(0), "b": cfg(1), "c": cfg(2)})


def _grid(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / "grid.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _same_results(a: Path, b: Path, name: str) -> None:
    ga, gb = _grid(a), _grid(b)
    assert ga.keys() == gb.keys() and all(np.array_equal(ga[k], gb[k]) for k in ga if k != "header")
    da, db = (json.loads((f / name).read_text()) for f in (a, b))
    assert da["values" if "values" in da else "metrics"] == db["values" if "values" in db else "metrics"]


def _chunks_computed(monkeypatch) -> list:
    seen = []
    real = P.evaluate_chunk

    def spy(evaluator, task, points, rows, data):
        seen.append(list(rows))
        return real(evaluator, task, points, rows, data)

    monkeypatch.setattr(P, "evaluate_chunk", spy)
    return seen


def test_a_surface_killed_at_each_chunk_write_resumes_to_the_same_grid(run, tmp_path, monkeypatch):
    ref = tmp_path / "ref"
    argv = ["surface", str(run["a"]), *SURFACE]
    steps = write_steps([*argv, "--out", str(ref)], monkeypatch)
    grid_writes = [i + 1 for i, name in enumerate(steps) if name == "write grid.npz"]
    assert len(grid_writes) == 4  # one per chunk of 32 points
    for k, step in enumerate(grid_writes):
        out = tmp_path / f"k{step}"
        interrupted([*argv, "--out", str(out)], step, monkeypatch)
        done = _grid(out)["done"] if (out / "grid.npz").exists() else np.zeros(121, bool)
        assert done.sum() == 32 * k  # what the finished chunks wrote is there, nothing more
        computed = _chunks_computed(monkeypatch)
        assert main([*argv, "--out", str(out), "--resume"]) == 0
        assert len(computed) == 4 - k  # only the missing chunks
        monkeypatch.undo()
        _same_results(ref, out, "surface.json")
        assert json.loads((out / "summary.json").read_text())["kind"] == "surface"


def test_a_real_sigkill_mid_grid_then_resume(run, tmp_path):
    ref, out = tmp_path / "ref", tmp_path / "out"
    base = [sys.executable, "-m", "latentscape.cli", "surface", str(run["a"]), *SURFACE]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LATENTSCAPE_FAULT_AT": "3"}  # config.yaml, then grid writes 1, 2: killed at 2
    proc = subprocess.run([*base, "--out", str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert _grid(out)["done"].sum() == 32 and not (out / "surface.json").exists()
    env.pop("LATENTSCAPE_FAULT_AT")
    assert main(["surface", str(run["a"]), *SURFACE, "--out", str(out), "--resume"]) == 0
    assert main(["surface", str(run["a"]), *SURFACE, "--out", str(ref)]) == 0
    _same_results(ref, out, "surface.json")
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]  # the killed writer's temp file is gone


def test_paths_and_planes_resume_too(run, tmp_path, monkeypatch):
    for kind, args, name in (
        ("path", [str(run["a"]), str(run["b"]), "--points", "70"], "path.json"),
        ("plane", [str(run["a"]), str(run["b"]), str(run["c"]), "--grid", "9", "--compare-points", "3"], "plane.json"),
    ):
        argv = [kind, *args, "--splits", "test", "--plots", "none", "--threads", "1"]
        steps = write_steps([*argv, "--out", str(tmp_path / f"{kind}-ref")], monkeypatch)
        first = steps.index("write grid.npz") + 1
        interrupted([*argv, "--out", str(tmp_path / kind)], first + 1, monkeypatch)  # after the first chunk
        assert main([*argv, "--out", str(tmp_path / kind), "--resume"]) == 0
        _same_results(tmp_path / f"{kind}-ref", tmp_path / kind, name)


def test_resuming_with_other_settings_is_refused_in_one_line(run, tmp_path, monkeypatch, capsys):
    out = tmp_path / "s"
    argv = ["surface", str(run["a"]), *SURFACE, "--out", str(out)]
    interrupted(argv, 3, monkeypatch)
    capsys.readouterr()  # the interrupted run's progress
    assert main([*argv[:-2], "--seed", "1", "--out", str(out), "--resume"]) == 2  # other directions
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--resume" in err and "weights" in err
    assert main(["surface", str(run["a"]), *SURFACE, "--resume", "--out", str(tmp_path / "new")]) == 0  # nothing to keep: computes all


def test_hessian_density_keeps_finished_slq_runs(run, tmp_path, monkeypatch):
    argv = ["hessian", str(run["a"]), "--top-k", "1", "--density", "--slq-runs", "3", "--slq-steps", "6", "--plots", "none"]
    steps = write_steps([*argv, "--out", str(tmp_path / "ref")], monkeypatch)
    writes = [i + 1 for i, n in enumerate(steps) if n == "write hessian.json"]
    interrupted([*argv, "--out", str(tmp_path / "h")], writes[2], monkeypatch)  # top-k and SLQ run 1 written
    partial = json.loads((tmp_path / "h" / "hessian.json").read_text())
    assert partial["complete"] is False and len(partial["density"]["nodes"]) == 1
    assert main([*argv, "--out", str(tmp_path / "h"), "--resume"]) == 0
    a, b = (json.loads((tmp_path / d / "hessian.json").read_text()) for d in ("ref", "h"))
    assert a["top_eigenvalues"] == b["top_eigenvalues"] and a["density"]["nodes"] == b["density"]["nodes"] and b["complete"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(240)
def test_a_grid_of_two_machines_is_finished_by_one_process(run, tmp_path):
    """Two torchrun agents (--nnodes 2, a c10d rendezvous, gloo) share the chunks; rank 0, the
    only writer, is killed at its second grid write; one process finishes the grid."""
    out, ref = tmp_path / "two", tmp_path / "ref"
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LATENTSCAPE_FAULT_AT": "3"}  # config.yaml, grid write 1, grid write 2
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d",
           "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "landscape-test", "--max-restarts", "0",
           "-m", "latentscape.cli", "surface", str(run["a"]), *SURFACE, "--device", "cpu", "--out", str(out)]
    logs = [open(tmp_path / f"agent{i}.log", "w") for i in range(2)]  # files, not pipes: a full pipe would stall an agent
    agents = [subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True) for log in logs]
    try:
        deadline = time.monotonic() + 180
        while all(a.poll() is None for a in agents) and time.monotonic() < deadline:
            time.sleep(0.5)
        # the machine whose rank 0 died reports it; the other one's torchrun may wait on its own
        # timeouts for the dead peer (torch's teardown, not ours): it gets a grace period, then goes
        grace = time.monotonic() + 20
        while any(a.poll() is None for a in agents) and time.monotonic() < grace:
            time.sleep(0.5)
    finally:
        for a, log in zip(agents, logs):
            if a.poll() is None:  # the agent and its worker: the process group this test started
                os.killpg(a.pid, signal.SIGKILL)
                a.wait()
            log.close()
    assert any(a.returncode not in (0, None) for a in agents)
    done = _grid(out)["done"]
    assert done.sum() == 64 and done[:64].all()  # round 1: chunk 0 (rank 0) and chunk 1 (rank 1) written
    assert main(["surface", str(run["a"]), *SURFACE, "--out", str(out), "--resume"]) == 0
    assert main(["surface", str(run["a"]), *SURFACE, "--out", str(ref)]) == 0
    _same_results(ref, out, "surface.json")


def test_a_resume_keeps_the_strategy_its_grid_was_started_with(run, tmp_path, monkeypatch):
    out = tmp_path / "s"
    argv = ["surface", str(run["a"]), *[a for a in SURFACE if a != "--no-vmap"], "--out", str(out)]  # auto: strategies timed
    interrupted(argv, 3, monkeypatch)  # one chunk written
    started = json.loads(str(_grid(out)["header"]))["evaluator"]

    def never(*args, **kwargs):
        raise AssertionError("a resume timed the strategies again")

    import latentscape.landscape.core.grid as grid

    monkeypatch.setattr(grid, "choose_strategy", never)
    assert main([*argv, "--resume"]) == 0
    assert json.loads(str(_grid(out)["header"]))["evaluator"] == started
