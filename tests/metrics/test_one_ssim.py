"""One SSIM: the loss, `eval`'s metric and `path`'s metric agree with each other and torchmetrics."""

import pytest
import torch
from sklearn.datasets import load_digits
from torchmetrics.functional.image import structural_similarity_index_measure

from latentscape.data.types import Batch
from latentscape.landscape.core.metrics import PATH_METRICS, ssim_per_example
from latentscape.losses.image import ssim
from latentscape.registry import METRICS
from types import SimpleNamespace

from latentscape.data.types import ImageDataset
from latentscape.metrics.base import EvalContext
from latentscape.rundir.model import LatentModel


class Halver(LatentModel):
    """reconstruct(x) = x / 2."""

    def reconstruct(self, x):
        return x / 2


def dataset(n=20):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 1, 16, 16), generator=g, dtype=torch.uint8)
    return ImageDataset(images, torch.arange(n) % 3, name="t", split="test")


def ctx(model, batch_size=7):
    return EvalContext(
        loaded=SimpleNamespace(model=model), dataset=dataset(), train_dataset=None, split="test",
        device=torch.device("cpu"), batch_size=batch_size, seed=0, options={},
    )


def _digits(n=6, size=32):
    """Real handwritten digits (8x8, upsampled to size x size), in [0, 1]: (n, 1, size, size)."""
    x = torch.tensor(load_digits().images[:n], dtype=torch.float32).unsqueeze(1) / 16.0
    return torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False).clamp(0, 1)


@pytest.mark.parametrize("kind", ["random", "digits", "smooth_rgb"])
def test_ssim_equals_torchmetrics_default(kind):
    g = torch.Generator().manual_seed(0)
    if kind == "random":
        x = torch.rand(4, 3, 16, 20, generator=g)
    elif kind == "digits":
        x = _digits()
    else:  # smooth colour gradients with texture
        yy, xx = torch.meshgrid(torch.linspace(0, 1, 24), torch.linspace(0, 1, 24), indexing="ij")
        x = torch.stack([xx, yy, xx * yy]).expand(4, 3, 24, 24) * torch.rand(4, 3, 1, 1, generator=g)
    x_hat = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    ref = structural_similarity_index_measure(x_hat, x, data_range=1.0, reduction="none")
    torch.testing.assert_close(ssim(x_hat, x), ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(ssim_per_example(x_hat, x), ref, atol=1e-5, rtol=0)


def test_eval_and_path_give_the_same_ssim_for_the_same_weights():
    model = Halver()
    eval_value = METRICS.get("ssim")(ctx(model, batch_size=7))["ssim"]
    images = dataset().images.float() / 255.0  # (N, 1, 16, 16)
    fn = PATH_METRICS.get("ssim")(model)
    per_example = fn(model, Batch(images, torch.zeros(len(images), dtype=torch.long), torch.arange(len(images))))
    assert float(per_example["ssim"].mean()) == pytest.approx(eval_value, abs=1e-6)
