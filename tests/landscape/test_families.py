"""The Hessian and surface tools work on every model family through its objective."""

import numpy as np
import pytest
import torch
from landscape_nets import images, surface_of

from latentscape.data.types import Batch
from latentscape.landscape.core.directions import random_directions
from latentscape.landscape.core.hessian import HessianOperator, model_objective
from latentscape.landscape.core.params import named_params
from latentscape.landscape.studies.surface import group_param_names, restrict
from latentscape.rundir.model import DataInfo
from latentscape.registry import MODELS


CASES = [
    ("vae", {"net": "fc", "hidden_dims": [16], "latent_dim": 3}, None),
    ("ae", {"net": "fc", "hidden_dims": [16], "latent_dim": 3}, None),
    ("gan", {"width": 4, "latent_dim": 4}, "critic"),
    ("gan", {"width": 4, "latent_dim": 4}, "generator"),
]


def _build(name, overrides):
    entry = MODELS.get(name)
    fields = set(entry.config.__dataclass_fields__)
    cfg = entry.config(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in overrides.items() if k in fields})
    torch.manual_seed(0)
    return entry.build(cfg, DataInfo((1, 28, 28), 3, 16)).eval()


@pytest.mark.parametrize("name,overrides,group", CASES)
def test_hessian_vector_products_are_symmetric_and_deterministic(name, overrides, group):
    model = _build(name, overrides)
    names = group_param_names(model, group)
    w = {k: v for k, v in named_params(model).items() if names is None or k in names}
    fixed = {**dict(model.named_buffers()), **{k: v for k, v in named_params(model).items() if k not in w}}
    ds = images(8, side=28)
    batch = Batch(ds.images.float() / 255, ds.labels, torch.arange(8))
    op = HessianOperator(model_objective(model, fixed, group=group, seed=3), w, [batch], cache_graph=False)
    g = torch.Generator().manual_seed(0)
    u, v = op.random(g), op.random(g)
    hu, hv = op.matvec(u), op.matvec(v)
    assert torch.isfinite(hv).all() and float(hv.norm()) > 0
    assert float(u @ hv) == pytest.approx(float(v @ hu), rel=1e-3, abs=1e-6)  # H is symmetric
    torch.testing.assert_close(op.matvec(v), hv)  # sampling noise frozen: a function of theta


@pytest.mark.parametrize("name,overrides,group", CASES[:3:2])
def test_surface_runs_for_autoencoders_and_gan_groups(name, overrides, group):
    model = _build(name, overrides)
    w = named_params(model)
    dirs = [restrict(d, group_param_names(model, group)) for d in random_directions(w, 2, seed=0)]
    xs = np.array([-0.5, 0.0, 0.5])
    surf = surface_of(model, w, dirs, xs, xs, {"test": images(8, side=28)}, batch_size=8, bn_data=images(8, side=28))
    for m, v in surf.values["test"].items():
        assert v.shape == (3, 3) and np.isfinite(v).all(), m
