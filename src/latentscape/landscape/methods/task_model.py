"""Any `nn.Module` in latentscape's model contract, scored by a `core.task.Task`.

A curve of your own model (`connect --model FILE.py:factory`) is trained by the generic trainer,
which calls `forward(batch)` for the objective and `evaluate_batch(batch)` for per-example
metrics. `TaskModel` gives a plain module both from a task (a criterion such as
`nn.CrossEntropyLoss()`, or a metric function): the objective is the task's batch-mean loss, the
metrics are the task's per-example values, exactly what `path --model` measures.

Its parameters and buffers are the module's, named with the prefix "net." (`PREFIX`);
`wrap` / `unwrap` convert weight sets between the two namings.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from latentscape.landscape.core.params import Params
from latentscape.landscape.core.task import Task
from latentscape.rundir.model import LatentModel, LossOutput

PREFIX = "net."


class TaskModel(LatentModel):
    """`net` with `task`'s objective as `forward` and its metrics as `evaluate_batch`.

    Args:
        net: any module taking the batch's inputs (the module itself is kept, not copied).
        task: how it is scored (`core.metrics.task_for(net, criterion=...)`).
    """

    def __init__(self, net: nn.Module, task: Task) -> None:
        super().__init__()
        self.net = net
        self.task = task

    def forward(self, batch: Any, group: str = "main") -> LossOutput:
        return LossOutput(self.task.objective(self.net, batch), {})

    def evaluate_batch(self, batch: Any) -> dict[str, Tensor]:
        """The task's per-example metrics (B,) (only the loss when it has no metric function)."""
        if self.task.metric is None:
            loss = self.task.objective(self.net, batch).detach()
            return {"loss": loss.expand(batch.x.shape[0])}
        return {k: v.float() for k, v in self.task.metric(self.net, batch).items()}


def wrap(weights: Params) -> Params:
    """A weight set of the module, named as the `TaskModel`'s."""
    return {PREFIX + name: value for name, value in weights.items()}


def unwrap(weights: Params) -> Params:
    """A weight set of the `TaskModel`, named as its module's."""
    return {name[len(PREFIX):]: value for name, value in weights.items() if name.startswith(PREFIX)}
