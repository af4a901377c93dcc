"""A callback that lets a model initialise itself from its training data before the first step.

Models whose initial state depends on the data (the auto-decoder's PCA latent table) define
`initialize_from_data(train_dataset)`. It runs once, at step 0: a resumed run keeps the state
restored from its checkpoint.
"""

from __future__ import annotations

from latentscape.rundir.callbacks import Callback, TrainState


class DataInit(Callback):
    """Calls `model.initialize_from_data(state.data["train"])` when training starts from step 0."""

    def on_train_start(self, state: TrainState) -> None:
        init = getattr(state.model, "initialize_from_data", None)
        if callable(init) and state.step == 0 and "train" in state.data:
            init(state.data["train"])
