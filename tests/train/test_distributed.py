"""Two torchrun processes (gloo, CPU) give the same weights as one process with the same global batch.

The runs are pinned to the CPU (train.device=cpu), so the backend is gloo on every machine: two
ranks sharing one GPU under NCCL is invalid usage. NCCL itself is tested in tests/gpu/; here, with
CUDA faked, that each process takes the GPU of its local rank."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from latentscape.errors import LatentscapeError
from latentscape.train import api
from latentscape.train.api import train_and_evaluate
from latentscape.rundir.checkpoint import load_weights
from tinydata import tiny_config, tiny_splits

_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from tinydata import tiny_config, tiny_splits
from latentscape.train.api import train_and_evaluate
train_and_evaluate(tiny_config(device="cpu"), sys.argv[1], data=tiny_splits(), quiet=True, callbacks=[])
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_gloo_run_matches_single_process(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(_SCRIPT.format(tests=str(Path(__file__).resolve().parents[1])))
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
        str(script), str(tmp_path / "ddp"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    single = train_and_evaluate(tiny_config(device="cpu"), tmp_path / "single", data=tiny_splits(), quiet=True, callbacks=[])
    wd = load_weights(tmp_path / "ddp" / "checkpoints" / "final.pt")
    ws = load_weights(single.path / "checkpoints" / "final.pt")
    assert wd.keys() == ws.keys()
    for k in ws:
        torch.testing.assert_close(wd[k], ws[k], rtol=1e-5, atol=1e-6)
    # and training really moved the weights (the comparison is not vacuous)
    init = load_weights(single.path / "checkpoints" / "init.pt")
    assert not torch.allclose(init["net.head.weight"], ws["net.head.weight"])


def test_each_torchrun_process_gets_the_gpu_of_its_local_rank(monkeypatch):
    """NCCL needs one GPU per process: 'cuda' and 'auto' mean cuda:LOCAL_RANK under torchrun, and
    the process group starts with that GPU current (barrier and object broadcasts run there)."""
    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: calls.append(("set_device", d)))
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda backend: calls.append(("init", backend)))
    monkeypatch.delenv("LATENTSCAPE_DIST_BACKEND", raising=False)
    for key, value in {"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "LOCAL_RANK": "1"}.items():
        monkeypatch.setenv(key, value)
    assert api.resolve_device("cuda") == api.resolve_device("auto") == torch.device("cuda", 1)
    assert api.resolve_device("cuda:0") == torch.device("cuda", 0)
    assert api.init_distributed(api.resolve_device("cuda"))
    assert calls == [("set_device", 1), ("init", "nccl")]


def test_a_cuda_device_that_is_not_there_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(LatentscapeError, match="no CUDA device"):
        api.resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(LatentscapeError, match="1 CUDA device"):
        api.resolve_device("cuda:1")
