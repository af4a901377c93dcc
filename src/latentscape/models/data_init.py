"""A callback that lets a model initialise itself from its training data before the first step.

Models whose initial state depends on the data (the auto-decoder's PCA latent table) define
`initialize_from_data(train_dataset)`. It runs once, at step 0: a resumed run keeps the state
restored from its checkpoint.
"""

from __future__ import annotations

from latentscape.rundir.callbacks import Callback, TrainState


def initialize_from_data(model: object, data: dict) -> None:
    """`model.initialize_from_data(data["train"])` where the model has it and a training split
    is given. `train_and_evaluate` calls this before init.pt is written."""
    init = getattr(model, "initialize_from_data", None)
    if callable(init) and "train" in data:
        init(data["train"])


class DataInit(Callback):
    """Calls `initialize_from_data` when training starts from step 0 (trainers driven by hand)."""

    def on_train_start(self, state: TrainState) -> None:
        if state.step == 0:
            initialize_from_data(state.model, state.data)
