"""LPIPS perceptual distance (Zhang et al. 2018, "The Unreasonable Effectiveness of Deep Features
as a Perceptual Metric", eq. 1), version 0.1:

    d(x, x0) = sum_l 1/(H_l W_l) sum_{h,w} || w_l * (y^l_hw - y0^l_hw) ||_2^2,

where y^l are backbone activations unit-normalised over channels and w_l are the learned
non-negative per-channel weights (the "linear heads", 1x1 convs). Inputs go through the LPIPS
scaling layer (ImageNet-like shift and scale of [-1, 1] images) first.

The `lpips` eval metric averages LPIPS between images and their reconstructions.

Weights: the v0.1 heads from a folder (default: $LATENTSCAPE_DATA/weights/lpips-v0.1, the
official files with their MD5s, or a hashed download into the cache); the backbone from a local
torchvision file or its hashed download. `pretrained_backbone=False` keeps a random backbone,
which is only good for testing the mechanics.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

from latentscape.data.loader import iterate_in_order
from latentscape.data.types import ImageDataset
from latentscape.metrics.base import EvalContext, MetricNotApplicable
from latentscape.nets.weights import (
    WeightsError,
    WeightsSpec,
    load_matching_state,
    load_state_dict,
    resolve_weights,
)
from latentscape.nets.lpips_backbones import BACKBONES, LPIPSBackbone
from latentscape.progress import ProgressFn

_HEADS_URL = "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/{}.pth"
_HEAD_MD5 = {  # ../shared/data/weights/lpips-v0.1/README.md (files of the lpips 0.1.4 wheel)
    "alex": "9642209e2b57a85d20f86d812320f9e6",
    "squeeze": "6361044f0470b81956528320db0ba955",
    "vgg": "d507d7349b931f0638a25a48a722f98a",
}
HEAD_WEIGHTS = {
    net: WeightsSpec(f"LPIPS v0.1 {net} heads", _HEADS_URL.format(net), md5=md5, cache_name=f"lpips-v0.1-{net}.pth")
    for net, md5 in _HEAD_MD5.items()
}


class ScalingLayer(nn.Module):
    """(x - shift) / scale per RGB channel, for images in [-1, 1] (the LPIPS repository's constants)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.shift) / self.scale


class LinearHead(nn.Module):
    """A 1x1 conv to one channel, no bias; `model` = (Dropout, Conv) as in the weights files."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(0.0), nn.Conv2d(channels, 1, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


def unit_normalize(x: Tensor, eps: float = 1e-10) -> Tensor:
    """Divide each spatial feature vector by its L2 norm over channels: (B, C, H, W)."""
    return x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


def default_heads_path(net: str) -> Path | None:
    """The shared offline copy of the heads, when $LATENTSCAPE_DATA (or ../shared/data) has it."""
    roots = [os.environ.get("LATENTSCAPE_DATA"), Path(__file__).resolve().parents[4] / "shared" / "data"]
    for root in roots:
        if root and (Path(root) / "weights" / "lpips-v0.1" / f"{net}.pth").is_file():
            return Path(root) / "weights" / "lpips-v0.1" / f"{net}.pth"
    return None


class LPIPS(nn.Module):
    """LPIPS distance between image batches in [0, 1].

    Args:
        net: backbone, "alex" (the LPIPS default), "vgg" or "squeeze".
        heads_path: the v0.1 linear heads file (None: `default_heads_path`, else cache/download).
        backbone_weights: local torchvision weights file of the backbone (None: cache/download).
        pretrained_backbone: False keeps a randomly initialised backbone (tests only).
        download: fetch weights missing from the cache (False: a WeightsError instead).

    Raises:
        WeightsError: missing or mismatching weights files (offline without a local copy).
    """

    def __init__(
        self,
        net: str = "alex",
        heads_path: str | Path | None = None,
        backbone_weights: str | Path | None = None,
        pretrained_backbone: bool = True,
        download: bool = True,
    ) -> None:
        super().__init__()
        if net not in BACKBONES:
            raise WeightsError(f"unknown LPIPS backbone {net!r}; allowed: {', '.join(BACKBONES)}")
        self.scaling = ScalingLayer()
        self.backbone = LPIPSBackbone(net)
        self.heads = nn.ModuleDict({f"lin{i}": LinearHead(c) for i, c in enumerate(self.backbone.channels)})
        if pretrained_backbone:
            path = resolve_weights(BACKBONES[net].weights, backbone_weights, download=download)
            self.backbone.load_torchvision_state_dict(load_state_dict(path, "LPIPS backbone weights"), str(path))
        # A local heads file must be the official one (MD5-checked), like a downloaded copy.
        self.load_heads(resolve_weights(HEAD_WEIGHTS[net], heads_path or default_heads_path(net), download=download))
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def load_heads(self, path: str | Path) -> None:
        """Load v0.1 heads (`lin<k>.model.1.weight`, (1, C_k, 1, 1)), checking names and shapes."""
        state = load_state_dict(path, "LPIPS heads")
        load_matching_state(self.heads, state, path, f"LPIPS heads for {self.backbone.net!r}")

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Distances (B,) between images x and y (B, C, H, W) in [0, 1], C in {1, 3}."""
        if x.shape != y.shape:
            raise ValueError(f"LPIPS needs images of equal shape, got {tuple(x.shape)} and {tuple(y.shape)}")
        if x.shape[1] == 1:
            x, y = x.expand(-1, 3, -1, -1), y.expand(-1, 3, -1, -1)  # (B, 3, H, W)
        fx = self.backbone(self.scaling(2 * x - 1))
        fy = self.backbone(self.scaling(2 * y - 1))
        total = x.new_zeros(x.shape[0])
        for head, a, b in zip(self.heads.values(), fx, fy):
            diff = (unit_normalize(a) - unit_normalize(b)).pow(2)  # (B, C_l, H_l, W_l)
            total = total + head(diff).mean(dim=(1, 2, 3))  # spatial average of (B, 1, H_l, W_l)
        return total


@torch.no_grad()
def mean_lpips_of_reconstructions(
    model: nn.Module, dataset: ImageDataset, lpips: LPIPS, batch_size: int, device: torch.device,
    progress: ProgressFn | None = None,
) -> float:
    """Mean LPIPS between every image of `dataset` and `model.reconstruct` of it;
    `progress(images done, N)` after each batch."""
    lpips = lpips.to(device)
    total, count = 0.0, 0
    for batch in iterate_in_order(dataset, batch_size, device):
        total += float(lpips(batch.x, model.reconstruct(batch.x).clamp(0, 1)).double().sum())
        count += batch.x.shape[0]
        if progress is not None:
            progress(count, len(dataset))
    return total / max(count, 1)


def lpips_metric(ctx: EvalContext) -> dict[str, float | str]:
    """Mean LPIPS of reconstructions (models with `reconstruct`).

    Options: lpips_net (alex | vgg | squeeze), lpips_backbone_weights (torchvision file),
    lpips_heads (v0.1 heads file).
    """
    model = ctx.loaded.model
    if not callable(getattr(model, "reconstruct", None)):
        name = ctx.loaded.config.model.name
        raise MetricNotApplicable(f"model {name!r} cannot reconstruct; LPIPS compares reconstructions")
    net = ctx.options.get("lpips_net", "alex")
    with ctx.weights_needed("lpips"):
        lp = LPIPS(net, ctx.options.get("lpips_heads"), ctx.options.get("lpips_backbone_weights"),
                   download=ctx.allow_download)
    value = mean_lpips_of_reconstructions(model, ctx.dataset, lp, ctx.batch_size, ctx.device, ctx.progress)
    return {"lpips": value, "lpips_net": f"{net} (LPIPS v0.1)"}
