"""The trainer's speed paths keep its guarantees: logs stay on the device until a flush, a NaN
found late (the accelerator path) still keeps the last good checkpoint, channels-last and fused
optimizers change nothing but speed, and deterministic kernels start without the compiler."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from latentscape.config import OptimizerConfig, config_from_dict
from latentscape.data.types import Batch
from latentscape.errors import TrainingDiverged
from latentscape.rundir.model import LatentModel, LossOutput
from latentscape.train.api import train_and_evaluate
from latentscape.rundir.checkpoint import load_checkpoint, load_weights
from latentscape.train.optim import build_optimizer
from latentscape.rundir.run import read_metrics
from latentscape.rundir.callbacks import Callback
from latentscape.train.trainer import Trainer
from tinydata import PoisonAt, tiny_config, tiny_splits



class _DeferredCheck(Trainer):
    """The trainer as it runs on an accelerator: NaN checks wait for the next flush."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._guard.at_once = False


def test_logs_reach_callbacks_as_device_tensors_and_metrics_as_floats(tmp_path):
    seen = []

    class Spy(Callback):
        def on_step_end(self, state, logs):
            seen.append(logs)

    run = train_and_evaluate(tiny_config(), tmp_path / "r", data=tiny_splits(), quiet=True, callbacks=[Spy()])
    assert isinstance(seen[0]["loss"], torch.Tensor) and seen[0]["loss"].dim() == 0
    assert isinstance(seen[0]["lr"], float)
    rows = [r for r in read_metrics(run.path / "metrics.jsonl") if r["split"] == "train"]
    assert rows and all(isinstance(r["loss"], float) for r in rows)
    # the logged mean of a window equals the mean of the per-step values it covers
    first = rows[0]
    steps = [float(s["loss"]) for s in seen[: first["step"]]]
    assert first["loss"] == pytest.approx(sum(steps) / len(steps), rel=1e-6)


def test_a_nan_found_at_the_flush_still_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr("latentscape.train.api.Trainer", _DeferredCheck)
    # checkpoint at step 2, weights poisoned after step 3, the NaN loss of step 4 seen at the flush
    cfg = tiny_config(checkpoint_every_steps=2, log_every=4)
    with pytest.raises(TrainingDiverged, match="loss became nan at step 3 "):  # the step the immediate check names
        train_and_evaluate(cfg, tmp_path / "nan", data=tiny_splits(), quiet=True, callbacks=[PoisonAt(3)])
    ckpt = load_checkpoint(tmp_path / "nan" / "checkpoints" / "last.pt")
    assert ckpt["step"] == 2
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
    assert not (tmp_path / "nan" / "checkpoints" / "final.pt").exists()


class _LogsOddTypes(LatentModel):
    """A model whose logs mix a Python float, an int tensor and a float64 CPU scalar."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))

    def forward(self, batch: Batch, group: str = "main") -> LossOutput:
        loss = ((batch.x.mean() - self.w) ** 2).sum()
        return LossOutput(loss, {"t": 0.25, "count": torch.tensor(3), "wide": torch.tensor(0.5, dtype=torch.float64)})


def test_logs_of_any_scalar_type_are_stacked_on_the_loss_device():
    cfg = tiny_config(eval_every=0)
    trainer = Trainer(_LogsOddTypes(), cfg, tiny_splits(), None, torch.device("cpu"))
    trainer.fit()
    assert trainer.state.step > 0


def test_channels_last_trains_to_the_same_weights_up_to_rounding(tmp_path):
    def cfg(channels_last: bool):
        return config_from_dict({
            "model": {"name": "vae", "net": "dcgan", "width": 4, "latent_dim": 3},
            "data": {"name": "digits", "fraction": 0.2},
            "train": {"epochs": 1, "batch_size": 32, "num_threads": 1, "eval_every": 0,
                      "channels_last": channels_last, "final_eval_splits": []},
        })

    plain = train_and_evaluate(cfg(False), tmp_path / "plain", quiet=True, callbacks=[])
    nhwc = train_and_evaluate(cfg(True), tmp_path / "nhwc", quiet=True, callbacks=[])
    a, b = (load_weights(r.path / "checkpoints" / "final.pt") for r in (plain, nhwc))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)


def test_fused_optimizers_for_cpu_parameters_follow_the_unfused_update():
    torch.manual_seed(0)
    w0 = torch.randn(5, 3)
    target = torch.randn(5, 3)
    weights = {}
    for fused in (True, False):
        w = torch.nn.Parameter(w0.clone())
        opt = build_optimizer([w], OptimizerConfig(name="adam", lr=1e-2))
        if not fused:  # the same update through the per-tensor loop
            opt = torch.optim.Adam([w], lr=1e-2)
        assert bool(opt.defaults.get("fused")) is fused
        for _ in range(20):
            opt.zero_grad()
            ((w - target) ** 2).sum().backward()
            opt.step()
        weights[fused] = w.detach()
    torch.testing.assert_close(weights[True], weights[False], rtol=1e-5, atol=1e-6)
    assert ((weights[True] - target) ** 2).sum() < ((w0 - target) ** 2).sum()


def test_fused_only_where_pytorch_has_a_kernel():
    sgd = build_optimizer([torch.nn.Parameter(torch.ones(2))], OptimizerConfig(name="sgd"))
    assert sgd.defaults.get("fused")
    meta = build_optimizer([torch.nn.Parameter(torch.ones(2, device="meta"))], OptimizerConfig(name="adam"))
    assert not meta.defaults.get("fused")


def test_deterministic_kernels_switch_on_without_importing_the_compiler():
    code = (
        "import sys, torch\n"
        "from latentscape.train.determinism import use_deterministic_kernels\n"
        "use_deterministic_kernels()\n"
        "assert torch.are_deterministic_algorithms_enabled()\n"
        "assert torch.is_deterministic_algorithms_warn_only_enabled()\n"
        "print('inductor' if 'torch._inductor' in sys.modules else 'clean')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "clean"


@pytest.mark.parametrize(
    "device, deterministic, autotune",
    [("cuda", False, True), ("cuda:1", False, True), ("cuda", True, False), ("cpu", False, False), ("cpu", True, False)],
)
def test_cudnn_autotuner_only_for_cuda_runs_that_allow_nondeterminism(device, deterministic, autotune, monkeypatch):
    from latentscape.train import api

    monkeypatch.setattr(api, "use_deterministic_kernels", lambda **kwargs: None)  # process-wide switch
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", not autotune)  # restored after the test
    api._apply_torch_settings(tiny_config(deterministic=deterministic), torch.device(device))
    assert torch.backends.cudnn.benchmark is autotune


def test_a_training_run_applies_the_cudnn_setting_of_its_device(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)  # left on by an earlier GPU run
    cfg = tiny_config(deterministic=False, epochs=1, device="cpu")
    train_and_evaluate(cfg, tmp_path / "r", data=tiny_splits(), quiet=True, callbacks=[])
    assert torch.backends.cudnn.benchmark is False


def test_compile_option_is_validated():
    from latentscape.errors import ConfigError

    with pytest.raises(ConfigError, match="train.compile"):
        tiny_config(compile="fastest")


@pytest.mark.slow
def test_compiled_step_trains_like_the_eager_one(tmp_path):
    eager = train_and_evaluate(tiny_config(), tmp_path / "eager", data=tiny_splits(), quiet=True, callbacks=[])
    compiled = train_and_evaluate(tiny_config(compile="default"), tmp_path / "compiled", data=tiny_splits(), quiet=True, callbacks=[])
    a, b = (load_weights(r.path / "checkpoints" / "final.pt") for r in (eager, compiled))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
