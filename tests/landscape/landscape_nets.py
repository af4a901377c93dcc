"""Small plain modules (no registry, no trainer) for weight-space tests."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from latentscape.data.types import Batch, ImageDataset


def images(n: int = 64, seed: int = 0, c: int = 1, side: int = 6, classes: int = 3) -> ImageDataset:
    """Random uint8 images whose label is decided by the mean brightness tercile."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, c, side, side, generator=g) * 255).to(torch.uint8)
    y = torch.bucketize(x.float().mean((1, 2, 3)), torch.tensor([110.0, 145.0])).clamp(max=classes - 1)
    return ImageDataset(images=x, labels=y.long(), name="rand", split="train")


class Classifier(nn.Module):
    """Wraps a net producing logits; evaluate_batch gives per-example loss and accuracy."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, batch: Batch):
        return F.cross_entropy(self.net(batch.x), batch.y)

    def evaluate_batch(self, batch: Batch) -> dict[str, torch.Tensor]:
        logits = self.net(batch.x)  # (B, classes)
        return {
            "loss": F.cross_entropy(logits, batch.y, reduction="none"),
            "accuracy": (logits.argmax(-1) == batch.y).float(),
        }


def mlp(seed: int, side: int = 6, hidden: int = 16, classes: int = 3) -> Classifier:
    torch.manual_seed(seed)
    return Classifier(nn.Sequential(nn.Flatten(), nn.Linear(side * side, hidden), nn.ReLU(), nn.Linear(hidden, classes)))


def bn_convnet(seed: int, classes: int = 3) -> Classifier:
    torch.manual_seed(seed)
    return Classifier(
        nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
            nn.Conv2d(4, 4, 3, stride=2, padding=1), nn.GroupNorm(2, 4), nn.ReLU(),
            nn.ConvTranspose2d(4, 4, 2, stride=2), nn.ReLU(),
            nn.Flatten(), nn.LayerNorm(4 * 36), nn.Linear(4 * 36, 8), nn.BatchNorm1d(8), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(8, classes),
        )
    )


def norm_convnet(seed: int, classes: int = 3) -> Classifier:
    """Conv, ConvTranspose, GroupNorm and LayerNorm but no BatchNorm (vmap-able)."""
    torch.manual_seed(seed)
    return Classifier(
        nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.ReLU(),
            nn.ConvTranspose2d(4, 2, 3, padding=1), nn.ReLU(),
            nn.Flatten(), nn.LayerNorm(2 * 36), nn.Linear(2 * 36, classes),
        )
    )


def perturbed(model: nn.Module, seed: int, scale: float = 0.3) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: v.detach() + scale * torch.randn(v.shape, generator=g) for k, v in model.named_parameters()}


def sharding_setup():
    """A model, five points and a dataset for the two-rank sharding test."""
    from latentscape.landscape.core.evaluate import PointSet
    from latentscape.landscape.core.params import named_params

    a = mlp(0)
    basis = [named_params(a), named_params(mlp(1)), perturbed(a, 2)]
    coeffs = torch.tensor([[1.0, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5], [0, 1.0, 0], [0.1, 0.1, 0.8]], dtype=torch.float64)
    return a, PointSet(basis, coeffs), {"test": images(24, seed=3)}


def sharding_worker(rank: int, port: int, queue) -> None:
    """One gloo rank: evaluate the shared points in chunks of 2; report (rank, the chunks it
    computed, the values it ends with)."""
    import os

    import torch.distributed as dist

    from latentscape.landscape.core import points as P
    from latentscape.landscape.core.metrics import contract_task

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    computed = []
    real = P.evaluate_chunk

    def spy(evaluator, task, points, rows, data):
        computed.append(list(rows))
        return real(evaluator, task, points, rows, data)

    P.evaluate_chunk = spy
    try:
        model, pts, data = sharding_setup()
        task = contract_task(model)
        got = P.evaluate_points(P.evaluator_for(model, task, batch_size=8), task, pts, data, chunk=2)
        queue.put((rank, computed, got.done.tolist(), {m: v.tolist() for m, v in got.values["test"].items()}))
    finally:
        dist.destroy_process_group()


def surface_of(model, w, dirs, xs, ys, data, metrics=("model",), **options):
    """`studies.surface.compute_surface` with the model's own metrics (`metrics`)."""
    from latentscape.landscape.core.metrics import contract_task
    from latentscape.landscape.studies.surface import compute_surface

    return compute_surface(model, contract_task(model, list(metrics)), w, dirs, xs, ys, data, **options)
