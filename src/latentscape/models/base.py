"""The model contract, re-exported from its home `latentscape.rundir.model` (old import path)."""

from latentscape.rundir.model import DataInfo, LatentModel, LossOutput, ModelConfig, ModelEntry

__all__ = ["DataInfo", "LatentModel", "LossOutput", "ModelConfig", "ModelEntry"]
