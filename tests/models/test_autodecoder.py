"""Auto-decoder (GLO): joint training of decoder and latent table, frozen-decoder fitting, resume."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from latentscape.config import config_from_dict
from latentscape.data.types import Batch
from latentscape.errors import ConfigError, DataError
from latentscape.models.autodecoder import AutoDecoder
from latentscape.models.autodecoder_config import AutoDecoderConfig
from latentscape.rundir.model import DataInfo
from latentscape.rundir.load import load_run
from latentscape.train.api import train_and_evaluate
from latentscape.rundir.checkpoint import load_checkpoint, load_weights
from latentscape.train.optim import build_optimizer
from latentscape.config import OptimizerConfig
from tinydata import CrashAt, tiny_dataset

INFO = DataInfo(image_shape=(1, 6, 6), num_classes=2, num_train=96)


def _data():
    return {"train": tiny_dataset(96, 0), "test": tiny_dataset(32, 1, "test")}


def _cfg(model=None, **train):
    t = {"epochs": 2, "batch_size": 16, "log_every": 2, "eval_every": 1, "num_threads": 1, "device": "cpu"}
    t.update(train)
    m = {"name": "autodecoder", "arch": "16-16", "val_steps": 10, "latent_lr": 0.05}
    m.update(model or {})
    return config_from_dict({"model": m, "data": {"name": "digits"}, "train": t, "seed": 5})


def _model(**kw) -> AutoDecoder:
    torch.manual_seed(0)
    return AutoDecoder(AutoDecoderConfig(arch="16-16", val_steps=15, **kw), INFO)


def _batch(data, idx):
    idx = torch.as_tensor(idx)
    return Batch(x=data.images[idx].float() / 255, y=data.labels[idx], index=idx)


@pytest.mark.parametrize("sparse", [False, True])
def test_training_step_lowers_loss_and_moves_only_batch_latents(sparse):
    data = tiny_dataset(96, 0)
    model = _model(latent_lr=0.05, sparse=sparse)
    opt = build_optimizer(model.param_groups_for("main"), OptimizerConfig(lr=1e-2))
    # the table is its own param group with its own LR and no weight decay
    assert [g["lr"] for g in opt.param_groups] == [1e-2, 0.05]
    batch = _batch(data, range(16))
    before = model.latents.weight.detach().clone()
    losses = []
    for _ in range(20):
        opt.zero_grad()
        out = model(batch)
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    assert losses[-1] < losses[0]
    after = model.latents.weight.detach()
    assert not torch.equal(after[:16], before[:16])  # latents of the batch moved
    assert torch.equal(after[16:], before[16:])  # zeros init + zero moments: the rest stay put


@pytest.mark.parametrize("sparse", [False, True])
def test_sparse_updates_only_batch_rows_dense_momentum_moves_earlier_rows(sparse):
    data = tiny_dataset(96, 0)
    model = _model(latent_init="normal", sparse=sparse)
    opt = build_optimizer(model.param_groups_for("main"), OptimizerConfig(lr=1e-2))
    rows = []
    for start in (0, 16):
        opt.zero_grad()
        model(_batch(data, range(start, start + 16))).loss.backward()
        opt.step()
        rows.append(model.latents.weight.detach().clone())
    assert not torch.equal(rows[1][16:32], rows[0][16:32])  # the second batch moved
    # the first batch's rows: SparseAdam leaves them; dense Adam's momentum keeps moving them
    assert torch.equal(rows[1][:16], rows[0][:16]) == sparse
    assert torch.equal(rows[1][32:], rows[0][32:])  # never seen: zero moments in both


def test_fitting_freezes_decoder_and_is_batch_size_independent():
    data = tiny_dataset(40, 2, "test")
    model = _model()
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x = data.images.float() / 255
    z_all = model.embed(x)
    assert z_all.shape == (40, 2)
    small = AutoDecoder(AutoDecoderConfig(arch="16-16", val_steps=15, val_batch_size=7), INFO)
    small.load_state_dict(model.state_dict())
    assert torch.allclose(small.embed(x), z_all, atol=1e-5)
    assert torch.allclose(model.embed(x[:5]), z_all[:5], atol=1e-5)
    assert torch.equal(model.embed(x), z_all)  # deterministic
    # decoder weights, BN statistics and the table are bit-identical; no grads; mode restored
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert all(p.grad is None for p in model.parameters())
    assert model.training and model.decoder.training
    # fitting lowers the reconstruction loss from the starting point
    with torch.no_grad():
        model.eval()
        start = model._objective(torch.zeros(40, 2), x)[1].mean()
        fitted = model._objective(z_all, x)[1].mean()
    assert fitted < start


def test_train_validate_resume_exactly_after_kill(tmp_path):
    cfg = _cfg(checkpoint_every_steps=4, epochs=3)
    full = train_and_evaluate(cfg, tmp_path / "full", data=_data(), quiet=True, callbacks=[])
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_and_evaluate(cfg, tmp_path / "part", data=_data(), quiet=True, callbacks=[CrashAt(10)])
    assert load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")["step"] == 8
    train_and_evaluate(cfg, tmp_path / "part", resume=True, data=_data(), quiet=True, callbacks=[])
    wf = load_weights(full.path / "checkpoints" / "final.pt")
    wr = load_weights(tmp_path / "part" / "checkpoints" / "final.pt")
    assert "latents.weight" in wf and wf["latents.weight"].shape == (96, 2)
    assert all(torch.equal(wf[k], wr[k]) for k in wf)
    init = load_weights(full.path / "checkpoints" / "init.pt")["latents.weight"]
    assert torch.count_nonzero(init) == 0 and torch.count_nonzero(wf["latents.weight"]) > 0
    # validation loss by latent fitting is logged every epoch
    import json

    rows = [json.loads(line) for line in (full.path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows if r["split"] == "test"] == [1, 2, 3]
    # load_run rebuilds the model with its table
    loaded = load_run(full.path)
    assert torch.equal(loaded.model.latents.weight, wf["latents.weight"])
    assert loaded.model.embed(_data()["test"].images[:4].float() / 255).shape == (4, 2)


_KILL_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
sys.path.insert(0, {here!r})
from test_autodecoder import _cfg, _data
from tinydata import CrashAt
from latentscape.train.api import train_and_evaluate
train_and_evaluate(_cfg({{"sparse": False}}, checkpoint_every_steps=4, epochs=3), sys.argv[1], data=_data(), quiet=True,
                   callbacks=[CrashAt(10, kill=True)])
"""


@pytest.mark.slow
def test_sigkill_then_resume_restores_weights_and_table(tmp_path):
    cfg = _cfg({"sparse": False}, checkpoint_every_steps=4, epochs=3)  # dense; the fast test is sparse
    full = train_and_evaluate(cfg, tmp_path / "full", data=_data(), quiet=True, callbacks=[])
    here = Path(__file__).resolve().parent
    script = _KILL_SCRIPT.format(tests=str(here.parent), here=str(here))
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "killed")], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    train_and_evaluate(cfg, tmp_path / "killed", resume=True, data=_data(), quiet=True, callbacks=[])
    wf = load_weights(full.path / "checkpoints" / "final.pt")
    wr = load_weights(tmp_path / "killed" / "checkpoints" / "final.pt")
    assert all(torch.equal(wf[k], wr[k]) for k in wf)


def test_pca_init_whitens_and_fitting_starts_from_projection():
    data = tiny_dataset(96, 0)
    model = AutoDecoder(AutoDecoderConfig(arch="8", latent_init="pca", val_steps=0), INFO)
    model.initialize_from_data(data)
    table = model.latents.weight.detach()
    assert torch.allclose(table.mean(0), torch.zeros(2), atol=1e-4)
    assert torch.allclose(table.std(0), torch.ones(2), atol=1e-3)
    # with no fitting steps, a training image's latent is its table row (its PCA coordinates)
    assert torch.allclose(model.embed(data.images[:5].float() / 255), table[:5], atol=1e-4)
    with pytest.raises(DataError, match="rows"):
        AutoDecoder(AutoDecoderConfig(arch="8", latent_init="pca", val_steps=0), INFO).initialize_from_data(tiny_dataset(10, 0))


def test_pca_init_is_in_the_runs_init_checkpoint(tmp_path):
    cfg = _cfg({"latent_init": "pca", "arch": "8", "val_steps": 0}, epochs=1, max_steps=1, eval_every=0)
    run = train_and_evaluate(cfg, tmp_path / "pca", data=_data(), quiet=True, callbacks=[])
    init = load_weights(run.path / "checkpoints" / "init.pt")
    table = init["latents.weight"]
    assert table.std(0).min() > 0.5 and bool(init["pca_ready"])  # whitened PCA coordinates, not zeros


@pytest.mark.slow
def test_pca_init_run_writes_latent_pictures(tmp_path):
    cfg = _cfg({"latent_init": "pca", "arch": "8"}, epochs=1)
    run = train_and_evaluate(cfg, tmp_path / "pca", data=_data(), quiet=True)
    table = load_weights(run.path / "checkpoints" / "final.pt")["latents.weight"]
    assert table.std(0).min() > 0.3  # whitened PCA coordinates, moved a little by training
    for name in ("latents_train.png", "latents_val.png", "reconstructions.png", "samples.png"):
        assert (run.path / "images" / name).is_file(), name
    with pytest.raises(ConfigError, match="latent_init=pca"):
        AutoDecoder(AutoDecoderConfig(arch="8", latent_init="pca"), INFO)(_batch(tiny_dataset(96, 0), [0, 1]))


def test_index_outside_table_is_a_data_error():
    model = _model()
    data = tiny_dataset(200, 0)
    with pytest.raises(DataError, match="latent table"):
        model(_batch(data, [0, 150]))


@pytest.mark.parametrize(
    "override, key",
    [({"arch": "500-x-10"}, "model.arch"), ({"arch": "500--10"}, "model.arch"), ({"activation": "gelu"}, "model.activation"),
     ({"dropout": 1.5}, "model.dropout"), ({"losses": {"nope": 1.0}}, "model.losses"), ({"latent_init": "uniform"}, "model.latent_init")],
)
def test_config_errors_name_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        _cfg(override)


def test_conv_decoder_and_options_build():
    info = DataInfo(image_shape=(1, 28, 28), num_classes=10, num_train=10)
    model = AutoDecoder(AutoDecoderConfig(net="dcgan", width=8, latent_dim=4), info)
    assert model.decode(torch.zeros(3, 4)).shape == (3, 1, 28, 28)
    fc = AutoDecoder(AutoDecoderConfig(arch="12", activation="swish", batchnorm=False, dropout=0.2, bias=False,
                                       project_unit_ball=True, latent_init="normal", latent_init_std=5.0), info)
    assert all(m.bias is None for m in fc.decoder.modules() if isinstance(m, torch.nn.Linear))
    z = fc.embed(torch.rand(3, 1, 28, 28))
    assert (z.norm(dim=1) <= 1 + 1e-6).all()
    assert fc.sample(5, generator=torch.Generator().manual_seed(0)).shape == (5, 1, 28, 28)


def test_sparse_table_with_grad_clip_is_a_config_error(tmp_path):
    cfg = _cfg({"sparse": True}, grad_clip=1.0)
    with pytest.raises(ConfigError, match="model.sparse"):
        train_and_evaluate(cfg, tmp_path / "s", data=_data(), quiet=True, callbacks=[])


def test_eval_pictures_of_an_auto_decoder_draw_its_latent_maps(tmp_path):
    from latentscape.cli import main

    cfg = _cfg({"arch": "8", "val_steps": 2}, epochs=1, max_steps=2, eval_every=0, final_eval_splits=[])
    run = train_and_evaluate(cfg, tmp_path / "ad", quiet=True, callbacks=[])  # no pictures while training
    assert not (run.path / "images" / "latents_val.png").exists()
    assert main(["eval", str(run.path), "--split", "test", "--metrics", "loss", "--pictures"]) == 0
    for name in ("latents_train.png", "latents_val.png", "reconstructions.png"):
        assert (run.path / "images" / name).is_file(), name


def _count_host_reads(monkeypatch) -> list[str]:
    """Records every tensor -> Python conversion (on a GPU, each one waits for the device)."""
    calls: list[str] = []
    for name in ("__bool__", "__int__", "__float__", "__index__", "item", "tolist"):
        real = getattr(torch.Tensor, name)

        def spy(self, *args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, spy)
    return calls


def test_training_forward_reads_nothing_back_from_the_device(monkeypatch):
    from latentscape.data.loader import BatchLoader

    data = tiny_dataset(96, 0)
    model = _model(latent_init="pca", project_unit_ball=True)
    model.initialize_from_data(data)
    batches = list(BatchLoader(data, 16, seed=0))
    model(batches[0])  # the first forward looks at the PCA flag, once
    calls = _count_host_reads(monkeypatch)
    for b in batches[1:]:  # loader batches: their indices are known to fit the table
        model(b).loss.backward()
    assert calls == []


def test_the_checks_still_fire_where_they_are_needed():
    data = tiny_dataset(200, 0)
    model = _model(latent_init="pca")
    model.initialize_from_data(tiny_dataset(96, 0))
    batch = _batch(data, [0, 150])
    with pytest.raises(DataError, match="batch index 150"):  # drawn from a larger split
        model(batch._replace(index_bound=200))
    model(batch._replace(index=torch.tensor([0, 95]), index_bound=96))
    # a loaded state with an uninitialised table is noticed again
    model.load_state_dict(_model(latent_init="pca").state_dict())
    with pytest.raises(ConfigError, match="latent_init=pca"):
        model(_batch(data, [0, 1]))
