"""The classifier's per-example cross-entropy (the landscape evaluator's hot op)."""

import torch
import torch.nn.functional as F
from torch.func import vmap

from latentscape.data.types import Batch
from latentscape.models.classifier import MLPClassifierConfig, build_mlp, per_example_cross_entropy
from latentscape.rundir.model import DataInfo


def test_per_example_cross_entropy_matches_torch_to_float_rounding():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(500, 10, generator=g) * 6  # confident and unsure rows alike
    y = torch.randint(0, 10, (500,), generator=g)
    ours = per_example_cross_entropy(logits, y)
    ref = F.cross_entropy(logits.double(), y, reduction="none")  # float64 reference
    assert ours.shape == (500,) and ours.dtype == torch.float32
    assert (ours >= 0).all()
    torch.testing.assert_close(ours.double(), ref, rtol=1e-6, atol=1e-6)
    assert abs(float(ours.double().mean()) / float(ref.mean()) - 1) < 1e-6
    torch.testing.assert_close(ours, F.cross_entropy(logits, y, reduction="none"), rtol=1e-5, atol=1e-6)
    assert torch.equal(ours, per_example_cross_entropy(logits, y))  # deterministic
    # under vmap (as the evaluator runs it) each slice equals the plain call
    stacked = torch.stack([logits, logits * 0.5])  # (2, B, K)
    batched = vmap(per_example_cross_entropy, in_dims=(0, None))(stacked, y)
    torch.testing.assert_close(batched[1], per_example_cross_entropy(logits * 0.5, y), rtol=1e-6, atol=0)


def test_evaluate_batch_loss_averages_to_the_training_loss():
    torch.manual_seed(0)
    model = build_mlp(MLPClassifierConfig(hidden_dims=(8,)), DataInfo((1, 4, 4), 3, 10)).eval()
    batch = Batch(torch.rand(12, 1, 4, 4), torch.randint(0, 3, (12,)), torch.arange(12))
    out = model.evaluate_batch(batch)
    assert out["loss"].shape == (12,)
    torch.testing.assert_close(out["loss"].mean(), model(batch).loss.detach(), rtol=1e-6, atol=1e-7)
