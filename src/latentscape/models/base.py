"""The model contract, re-exported from its home `latentscape.runs.model` (old import path)."""

from latentscape.runs.model import DataInfo, LatentModel, LossOutput, ModelConfig, ModelEntry

__all__ = ["DataInfo", "LatentModel", "LossOutput", "ModelConfig", "ModelEntry"]
