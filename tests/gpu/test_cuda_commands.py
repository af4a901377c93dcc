"""Every command and model family on CUDA, with the CPU as the reference (`make test-gpu`).

Marked `gpu` and skipped where torch sees no CUDA device. Each test trains tiny models on the
embedded digits dataset, once on the GPU and once on the CPU, and checks that the GPU gives the
same numbers to float tolerance (same seeds, same batches; kernels differ only in rounding).
Families whose objective samples noise are the exception: see `STOCHASTIC`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import latentscape
from latentscape.cli import main
from latentscape.config import load_config
from latentscape.rundir.load import build_model, data_info_of
from latentscape.train.api import load_data, train_and_evaluate
from latentscape.rundir.checkpoint import load_weights
from latentscape.train.trainer import Trainer
from tinydata import CrashAt

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


#: Families whose objective draws noise on the training device (VAE posterior samples, GAN
#: latents): CUDA's generator (Philox) starts elsewhere than the CPU's (Mersenne Twister) for the
#: same seed, so such runs agree in distribution, not number for number. On the CPU, other noise
#: streams alone move the KL of these one-epoch VAEs by up to 13% (0.015 nats) and the scores of
#: the 12-step GAN by up to 22% (1.3e-3), the negative ELBO (a sum over pixels) by 0.4%.
STOCHASTIC = {"vae", "conv_vae", "gan_wgan_gp"}


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
    # A few optimizer steps amplify rounding differences only slightly; noise streams more.
    rel, abs_ = (0.3, 5e-3) if family in STOCHASTIC else (2e-2, 2e-3)
    for split in ("train", "test"):
        for metric, value in cpu[split].items():
            assert np.isfinite(gpu[split][metric])
            assert gpu[split][metric] == pytest.approx(value, rel=rel, abs=abs_), (split, metric)
        if "nelbo" in cpu[split]:
            assert gpu[split]["nelbo"] == pytest.approx(cpu[split]["nelbo"], rel=2e-2), split


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


def _tensors(obj) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    return [t for v in obj for t in _tensors(v)] if isinstance(obj, (list, tuple)) else []


def test_a_cuda_runs_checkpoint_loads_without_a_gpu_and_resumes_exactly(tmp_path):
    """last.pt holds CPU tensors only (weights, optimizer moments, the training GPU's generator
    state), and a crashed run resumes to the uninterrupted run's weights: the VAE's noise comes
    from the restored CUDA generator."""
    cfg = load_config(_config_file(tmp_path), [*COMMON, *FAMILIES["vae"], "train.device=cuda", "train.checkpoint_every_steps=4"])
    full = train_and_evaluate(cfg, tmp_path / "full", quiet=True, callbacks=[])
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_and_evaluate(cfg, tmp_path / "part", quiet=True, callbacks=[CrashAt(6)])
    last = tmp_path / "part" / "checkpoints" / "last.pt"
    raw = torch.load(last, weights_only=True)  # no map_location: each tensor where it was saved from
    assert raw["step"] == 4 and raw["optimizers"]["main"]["state"]
    assert {t.device.type for t in _tensors(raw)} == {"cpu"}
    assert len(raw["rng_cuda"]) == 1
    train_and_evaluate(cfg, tmp_path / "part", resume=True, quiet=True, callbacks=[])
    a, b = (load_weights(r / "checkpoints" / "final.pt") for r in (full.path, tmp_path / "part"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_a_checkpoint_resumes_on_the_other_device(tmp_path):
    """A trainer state written on the GPU loads into a CPU trainer and vice versa (weights,
    optimizer moments on the new device; a CUDA generator state is ignored on the CPU)."""
    for src, dst in (("cuda", "cpu"), ("cpu", "cuda")):
        cfg = load_config(_config_file(tmp_path), [*COMMON, *FAMILIES["conv_vae"], f"train.device={src}", "train.max_steps=3"])
        run = train_and_evaluate(cfg, tmp_path / f"{src}-run", quiet=True, callbacks=[])
        data = load_data(cfg)
        longer = replace(cfg, train=replace(cfg.train, max_steps=6))
        trainer = Trainer(build_model(cfg, data_info_of(data)), longer, data, None, torch.device(dst))
        trainer.load_state(run.path / "checkpoints" / "last.pt")
        assert trainer.state.step == 3
        moments = [t for o in trainer.optimizers.values() for st in o.state.values() for t in st.values()]
        assert moments and all(t.device.type == dst for t in moments if t.dim() > 0)
        assert trainer.fit().step == 6  # three more steps on the new device
        assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


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
    src = str(Path(latentscape.__file__).resolve().parents[1])  # this tree, not an installed copy
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "BACKEND nccl" in proc.stdout
    assert (tmp_path / "nccl" / "checkpoints" / "final.pt").is_file()
