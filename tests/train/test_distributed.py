"""Two torchrun processes (gloo, CPU) give the same weights as one process with the same global batch.

The runs are pinned to the CPU (train.device=cpu), so the backend is gloo on every machine: two
ranks sharing one GPU under NCCL is invalid usage. NCCL itself is tested in tests/gpu/."""

import socket
import subprocess
import sys
from pathlib import Path

import torch

from latentscape.train.api import train_and_evaluate
from latentscape.train.checkpoint import load_weights
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
