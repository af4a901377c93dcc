"""Image classifiers: the landscape lab's MLP and a small VGG-style CNN.

They are also the domain feature nets of FID/KID (`embed` gives penultimate features).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latentscape.data.types import Batch, ImageDataset
from latentscape.errors import DataError
from latentscape.rundir.model import DataInfo, LatentModel, LossOutput, ModelConfig, ModelEntry
from latentscape.nets.mlp import ACTIVATIONS, MLP
from latentscape.nets.vgg import SmallVGG
from latentscape.ranges import ranged


@dataclass(frozen=True)
class MLPClassifierConfig(ModelConfig):
    """MLP classifier: `hidden_dims` (64,) with relu is the lab's 784-64-10 network."""

    name: str = "mlp_classifier"
    hidden_dims: tuple[int, ...] = ranged((64,), 1, 10**6)
    activation: str = "relu"

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation {self.activation!r}; allowed: {', '.join(ACTIVATIONS)}")
        if not self.hidden_dims or min(self.hidden_dims) < 1:
            raise ValueError("hidden_dims must list at least one positive width")


@dataclass(frozen=True)
class CNNClassifierConfig(ModelConfig):
    """Small VGG-style CNN with BatchNorm and dropout."""

    name: str = "cnn_classifier"
    widths: tuple[int, ...] = ranged((32, 64, 128), 1, 10**5)
    convs_per_block: int = ranged(2, 1, 64)
    dropout: float = ranged(0.3, 0.0, 1.0, high_open=True)
    hidden: int = ranged(128, 1, 10**6)
    batch_norm: bool = True


class Classifier(LatentModel):
    """Cross-entropy training of any logits network; `embed` exposes penultimate features.

    Args:
        net: images (B, C, H, W) -> logits (B, K); with `embed(x)` unless an `MLP`.
        mean, std: per-channel input normalisation (x - mean) / std applied before `net`
            (empty: none). Inside the model, so training, evaluation, landscapes and FGE all see
            the same inputs; constants, not buffers, so they are no weights of the model.
    """

    def __init__(self, net: nn.Module, mean: Sequence[float] = (), std: Sequence[float] = ()) -> None:
        super().__init__()
        self.net = net
        self.mean, self.std = tuple(mean), tuple(std)
        self._statistics: dict[tuple[torch.device, torch.dtype], tuple[Tensor, Tensor]] = {}

    def normalize(self, x: Tensor) -> Tensor:
        """(B, C, H, W) in [0, 1] -> (x - mean) / std per channel (x itself without statistics)."""
        if not self.mean:
            return x
        key = (x.device, x.dtype)
        if key not in self._statistics:  # made once per device: no host-to-device copy per batch
            self._statistics[key] = (
                torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(-1, 1, 1),  # (C, 1, 1)
                torch.tensor(self.std, dtype=x.dtype, device=x.device).view(-1, 1, 1),
            )
        mean, std = self._statistics[key]
        return (x - mean) / std

    def initialize_from_data(self, train: ImageDataset) -> None:
        """Refuse unlabelled training images (label -1, e.g. CelebA) before the first step:
        cross-entropy would fail on them deep inside the first batch."""
        unlabelled = int((train.labels < 0).sum())
        if unlabelled:
            raise DataError(f"{train.name}: a classifier needs a class for every training image; "
                            f"{unlabelled} of {len(train)} have none (label -1)")

    def logits(self, x: Tensor) -> Tensor:
        """(B, C, H, W) in [0, 1] -> (B, K)."""
        return self.net(self.normalize(x))

    def forward(self, batch: Batch, group: str = "main") -> LossOutput:
        logits = self.logits(batch.x)  # (B, K)
        loss = F.cross_entropy(logits, batch.y)
        acc = (logits.detach().argmax(dim=1) == batch.y).float().mean()
        return LossOutput(loss, {"accuracy": acc})

    @torch.no_grad()
    def evaluate_batch(self, batch: Batch) -> dict[str, Tensor]:
        logits = self.logits(batch.x).float()  # (B, K)
        return {
            "loss": per_example_cross_entropy(logits, batch.y),
            "accuracy": (logits.argmax(dim=1) == batch.y).float(),
        }

    def embed(self, x: Tensor) -> Tensor:
        """Penultimate features (B, D)."""
        if isinstance(self.net, MLP):
            return self.net.features(self.normalize(x))
        return self.net.embed(self.normalize(x))


def per_example_cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """-log softmax(logits)[y] per example: (B, K), (B,) -> (B,).

    Written as log sum_j exp(z_j - z_y) (one gather, one subtraction, one logsumexp) rather than
    `F.cross_entropy(..., reduction="none")`: the same value to float rounding (about 1e-7
    relative), deterministic, and about 3x faster under `torch.func.vmap`, where the landscape
    evaluator spends much of its time in this op. Subtracting z_y first keeps the accuracy of
    log-softmax for tiny losses (the true class's term is exactly exp(0) = 1).
    """
    shifted = logits - logits.gather(1, y[:, None])  # (B, K): z_j - z_y
    return shifted.logsumexp(1)


def num_classes_of(info: DataInfo) -> int:
    """The label count of a classifier's data; DataError for unlabelled data."""
    if info.num_classes < 1:  # an unlabelled dataset (every label -1): nothing to classify
        raise DataError("a classifier needs labelled data, and this dataset has no classes; train an "
                        "autoencoder, VAE or GAN on it instead")
    return info.num_classes


def build_mlp(cfg: MLPClassifierConfig, info: DataInfo) -> Classifier:
    c, h, w = info.image_shape
    return Classifier(MLP(c * h * w, cfg.hidden_dims, num_classes_of(info), cfg.activation))


def build_cnn(cfg: CNNClassifierConfig, info: DataInfo) -> Classifier:
    net = SmallVGG(
        info.image_shape[0],
        num_classes_of(info),
        widths=cfg.widths,
        convs_per_block=cfg.convs_per_block,
        dropout=cfg.dropout,
        hidden=cfg.hidden,
        batch_norm=cfg.batch_norm,
    )
    return Classifier(net)


# Declared in latentscape.registry.MODELS as "mlp_classifier" and "cnn_classifier".
MLP_CLASSIFIER_ENTRY = ModelEntry(MLPClassifierConfig, build_mlp, description="MLP classifier (lab: 784-64-10)")
CNN_CLASSIFIER_ENTRY = ModelEntry(CNNClassifierConfig, build_cnn, description="small VGG-style CNN, BatchNorm+dropout")
