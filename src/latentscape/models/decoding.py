"""Decoding shared by the autoencoder family and the auto-decoder: codes -> Bernoulli logits ->
images in [0, 1], and reconstruction as decode(embed(x))."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class SigmoidDecoding:
    """`decode_logits`, `decode` and `reconstruct` for a model with `self.decoder` (codes ->
    logits) and `embed(x)` (images -> codes)."""

    decoder: nn.Module

    def embed(self, x: Tensor) -> Tensor:  # pragma: no cover - provided by the model
        raise NotImplementedError

    def decode_logits(self, z: Tensor) -> Tensor:
        """Codes (B, latent_dim) -> decoder logits (B, C, H, W) in float32."""
        return self.decoder(z).float()

    def decode(self, z: Tensor) -> Tensor:
        """Codes (B, latent_dim) -> images (B, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z))

    def reconstruct(self, x: Tensor) -> Tensor:
        """Images (B, C, H, W) in [0, 1] -> decode(embed(x)) (decoded code, posterior mean or
        fitted latent)."""
        return self.decode(self.embed(x))
