"""Dataset sources, one module per file format; importing this package registers them all."""

# ruff: noqa: F401
from latentscape.data.sources import (
    cifar,
    cifar_subset,
    embedded,
    folder,
    idx,
    shapes,
)
