"""Every command and model family on CUDA, with the CPU as the reference (`make test-gpu`).

Marked `gpu` and skipped where torch sees no CUDA device. Each test trains tiny models on the
embedded digits dataset, once on the GPU and once on the CPU, and checks that the GPU gives the
same numbers to float tolerance (same seeds, same batches; kernels differ only in rounding).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from latentscape.cli import main

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run `make test-gpu` on a GPU machine)"),
]

COMMON = ["data.name=digits", "data.fraction=0.3", "train.epochs=1", "train.batch_size=32", "train.log_every=5",
          "train.eval_every=0", "train.deterministic=false"]
FAMILIES = {
    "classifier": ["model.name=mlp_classifier", "model.hidden_dims=[16]"],
    "ae": ["model.name=ae", "model.net=fc", "model.hidden_dims=[32]", "model.latent_dim=4"],
    "vae": ["model.name=vae", "model.net=fc", "model.hidden_dims=[32]", "model.latent_dim=4"],
    "conv_vae": ["model.name=vae", "model.net=dcgan", "model.width=8", "model.latent_dim=4"],
    "gan_wgan_gp": ["model.name=gan", "model.loss=wgan_gp", "model.latent_dim=8", "model.width=8", "train.max_steps=12"],
}


def _config_file(tmp_path: Path) -> Path:
    path = tmp_path / "base.yaml"
    path.write_text("model:\n  name: mlp_classifier\n")
    return path


def _train(tmp_path: Path, name: str, overrides: list[str], device: str) -> Path:
    run_dir = tmp_path / f"{name}-{device}"
    code = main(["train", str(_config_file(tmp_path)), *COMMON, *overrides, f"train.device={device}", "--run-dir", str(run_dir)])
    assert code == 0
    return run_dir


def _final(run_dir: Path) -> dict:
    return json.loads((run_dir / "eval" / "final.json").read_text())


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_trains_on_cuda_like_on_cpu(tmp_path, family):
    gpu = _final(_train(tmp_path, family, FAMILIES[family], "cuda"))
    cpu = _final(_train(tmp_path, family, FAMILIES[family], "cpu"))
    for split in ("train", "test"):
        for metric, value in cpu[split].items():
            assert np.isfinite(gpu[split][metric])
            # A few optimizer steps amplify rounding differences only slightly.
            assert gpu[split][metric] == pytest.approx(value, rel=2e-2, abs=2e-3), (split, metric)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpu-runs")
    return [_train(root, f"clf{seed}", [*FAMILIES["classifier"], f"seed={seed}"], "cuda") for seed in (0, 1, 2)]


def test_connect_path_plane_fge_eval_on_cuda_match_the_cpu(two_runs, tmp_path):
    a, b, c = (str(r) for r in two_runs)
    curve = tmp_path / "curve"
    assert main(["connect", a, b, "train.device=cuda", "--bends", "1", "--epochs", "1", "--out", str(curve)]) == 0
    for device in ("cuda", "cpu"):
        assert main(["path", a, b, "--points", "5", "--device", device, "--out", str(tmp_path / f"path-{device}")]) == 0
        assert main(["path", "--curve", str(curve), "--points", "5", "--device", device, "--out", str(tmp_path / f"cpath-{device}")]) == 0
        assert main(["plane", a, b, c, "--grid", "5", "--splits", "test", "--device", device, "--out", str(tmp_path / f"plane-{device}")]) == 0
    for name in ("path", "cpath"):
        gpu = json.loads((tmp_path / f"{name}-cuda" / "path.json").read_text())["metrics"]
        cpu = json.loads((tmp_path / f"{name}-cpu" / "path.json").read_text())["metrics"]
        for split in cpu:
            np.testing.assert_allclose(gpu[split]["loss"], cpu[split]["loss"], rtol=1e-4, atol=1e-6)
    gpu = np.array(json.loads((tmp_path / "plane-cuda" / "plane.json").read_text())["values"]["test"]["loss"])
    cpu = np.array(json.loads((tmp_path / "plane-cpu" / "plane.json").read_text())["values"]["test"]["loss"])
    np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-6)
    assert main(["fge", a, "--cycles", "2", "--cycle-epochs", "2", "--device", "cuda", "--out", str(tmp_path / "fge")]) == 0
    assert main(["eval", a, "--device", "cuda", "--metrics", "loss"]) == 0


def test_vae_eval_metrics_on_cuda(tmp_path):
    run = _train(tmp_path, "vae", FAMILIES["vae"], "cuda")
    assert main(["eval", str(run), "--device", "cuda", "--metrics", "loss,elbo,iwae,ssim,psnr", "--iwae-k", "8"]) == 0
    gpu = json.loads((run / "eval" / "test.json").read_text())
    assert main(["eval", str(run), "--device", "cpu", "--metrics", "loss,elbo,iwae,ssim,psnr", "--iwae-k", "8"]) == 0
    cpu = json.loads((run / "eval" / "test.json").read_text())
    assert gpu.keys() == cpu.keys()


@pytest.mark.parametrize("options", [
    ["train.precision=bf16"],
    ["train.channels_last=true"],
    ["train.compile=reduce-overhead"],
])
def test_speed_options_train_to_the_same_place(tmp_path, options):
    overrides = FAMILIES["conv_vae"]
    plain = _final(_train(tmp_path, "plain", overrides, "cuda"))
    fast = _final(_train(tmp_path, "fast", [*overrides, *options], "cuda"))
    assert fast["test"]["loss"] == pytest.approx(plain["test"]["loss"], rel=5e-2)


_NCCL_SCRIPT = """
import sys
import torch.distributed as dist
from latentscape.cli import main
code = main(sys.argv[1:])
print("BACKEND", dist.get_backend() if dist.is_initialized() else "none")
sys.exit(code)
"""


def test_one_process_nccl_launch(tmp_path):
    """torchrun with one process on the GPU joins an NCCL process group and trains."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = tmp_path / "nccl_train.py"
    script.write_text(_NCCL_SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "1", "--master-addr", "127.0.0.1",
           "--master-port", str(port), str(script), "train", str(_config_file(tmp_path)), *COMMON,
           *FAMILIES["classifier"], "train.device=cuda", "--run-dir", str(tmp_path / "nccl")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "BACKEND nccl" in proc.stdout
    assert (tmp_path / "nccl" / "checkpoints" / "final.pt").is_file()
