"""Training-time augmentation on the batch's device: random crops of a zero-padded image and
horizontal flips, one gather per batch (no torchvision, no per-image Python).

The standard CIFAR augmentation (He et al. 2016, sec. 4.2: "4 pixels are padded on each side, and
a 32x32 crop is randomly sampled from the padded image or its horizontal flip"), used by Li et al.
2018 and Garipov et al. 2018. Its randomness comes from a generator seeded by (run seed, epoch,
batch, rank) alone (`batch_seed`), so a resumed run draws exactly the crops and flips of an
uninterrupted one. Only training augments (the trainer's loader, and fge's SGD, which continues
a run's training): evaluation, BatchNorm recomputation and every landscape analysis see the
images as they are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from latentscape.config import DataConfig


@dataclass(frozen=True)
class CropFlip:
    """Random crop (after `padding` zero pixels on each side) and, if `flip`, a horizontal flip
    with probability 1/2, independently per image."""

    padding: int = 4
    flip: bool = True

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        """(B, C, H, W) of any dtype -> (B, C, H, W), same dtype and device.

        `generator` lives on the images' device; draws: offsets (B,) twice, then flips (B,).
        """
        b, c, h, w = images.shape
        p, device = self.padding, images.device
        padded = F.pad(images, (p, p, p, p)) if p else images  # (B, C, H + 2p, W + 2p), zeros around
        dy = torch.randint(0, 2 * p + 1, (b,), generator=generator, device=device)
        dx = torch.randint(0, 2 * p + 1, (b,), generator=generator, device=device)
        rows = dy[:, None] + torch.arange(h, device=device)  # (B, H)
        cols = torch.arange(w, device=device).expand(b, w)  # (B, W)
        if self.flip:
            mirrored = torch.rand(b, generator=generator, device=device) < 0.5  # (B,)
            cols = torch.where(mirrored[:, None], w - 1 - cols, cols)
        cols = dx[:, None] + cols  # (B, W)
        return padded[
            torch.arange(b, device=device)[:, None, None, None],
            torch.arange(c, device=device)[None, :, None, None],
            rows[:, None, :, None],
            cols[:, None, None, :],
        ]  # (B, C, H, W)


def augmentation(cfg: DataConfig) -> CropFlip | None:
    """The training augmentation that `data.augment` asks for (None: off)."""
    return CropFlip(cfg.augment_padding, cfg.augment_flip) if cfg.augment else None


def batch_seed(seed: int, epoch: int, batch: int, rank: int = 0) -> int:
    """A 63-bit seed that depends only on (run seed, epoch, batch index, rank)."""
    digest = hashlib.blake2b(f"augment:{seed}:{epoch}:{batch}:{rank}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1
