"""Weight initialisation schemes for convolutional and linear layers.

The mode-connectivity study (000) trains its 64x64 autoencoders with `--conv_init` set to one of
`normal` (DCGAN's N(0, 0.02), Radford et al. 2016, section 4), `kaiming_normal` or
`kaiming_uniform` (He et al. 2015, eq. 10 / its uniform variant); endpoints trained from
different schemes land in visibly different minima. Biases start at zero and BatchNorm scales at
N(1, 0.02), as in DCGAN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from torch import Tensor, nn

from latentscape.registry import Registry


_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)


def _normal(w: Tensor) -> None:
    nn.init.normal_(w, 0.0, 0.02)


def _kaiming_normal(w: Tensor) -> None:
    # fan_in mode, ReLU gain sqrt(2): std = sqrt(2 / fan_in) (He et al. 2015, eq. 10).
    nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu")


def _kaiming_uniform(w: Tensor) -> None:
    # U(-b, b) with b = sqrt(6 / fan_in): the same variance as kaiming_normal.
    nn.init.kaiming_uniform_(w, mode="fan_in", nonlinearity="relu")


#: scheme name -> in-place weight initialiser ("default" keeps PyTorch's own and is no entry).
SCHEMES: Registry[Callable[[Tensor], None]] = Registry("init")
SCHEMES.register("normal", _normal)
SCHEMES.register("kaiming_normal", _kaiming_normal)
SCHEMES.register("kaiming_uniform", _kaiming_uniform)
InitName = Literal[("default", *SCHEMES.names())]  # type: ignore[valid-type]


def init_weights(module: nn.Module, scheme: str = "default") -> nn.Module:
    """Re-initialise every conv / linear layer of `module` in place with `scheme`.

    Args:
        module: any module; its submodules are visited recursively.
        scheme: "default" keeps PyTorch's own initialisation; otherwise one of `SCHEMES`.

    Returns:
        `module`, for chaining.

    Raises:
        ValueError: for an unknown scheme name (configs validate the name before this).
    """
    if scheme == "default":
        return module
    if scheme not in SCHEMES:
        raise ValueError(f"unknown init {scheme!r}; allowed: default, {', '.join(SCHEMES.names())}")
    fn = SCHEMES.get(scheme)
    for m in module.modules():
        if isinstance(m, _WEIGHTED):
            fn(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, _NORMS) and getattr(m, "weight", None) is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module


def init_conv_bn(module: nn.Module) -> None:
    """He et al. 2015 initialisation (N(0, 2 / fan_out) for convolutions, as the ResNet papers'
    code does), BatchNorm scales 1 and shifts 0, zero convolution biases."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
