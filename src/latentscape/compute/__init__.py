"""The compute-only Python API: numbers in memory, nothing written unless you ask.

Landscapes of any PyTorch model, with what a PyTorch user already has: the `nn.Module`, weights
as modules, state dicts or files (.pt read with weights_only, .safetensors), the loss as a
`criterion(outputs, targets)` (the loss-landscapes / PyHessian convention) or a metric
`fn(model, batch) -> {name: per-example tensor}`, and data as tensors `(x, y)`, any torch
`Dataset` or a `DataLoader` (one of them, or a dict split -> data). latentscape's own models need
neither criterion nor metric: their contract supplies them, through the same functions. Each
returns a result dataclass (arrays + protocol) with `to_json()` and `save(folder)` (the folder
the matching command writes: JSON, summary.json, pictures). The caller's model is never modified.

    import torch.nn as nn
    from latentscape import compute
    r = compute.surface(net, "final.pt", (x_test, y_test), criterion=nn.CrossEntropyLoss(),
                        bn_data=(x_train, y_train), grid=21)
    r.values["data"]["loss"]                         # (21, 21) around the weights
    p = compute.path(net, "a.pt", "b.pt", {"test": test_loader}, criterion=nn.CrossEntropyLoss())
    h = compute.hessian(net, "final.pt", train_loader, criterion=nn.CrossEntropyLoss(), top_k=3, trace=True)
    compute.fid(features_a, features_b)              # float (eigh form, float64)
    compute.evaluate_run("runs/mnist_vae", split="test", metrics=["elbo"])["metrics"]["nelbo"]
"""

from latentscape.compute.evaluation import evaluate_loaded, evaluate_run, fid, kid
from latentscape.compute.curvature import hessian, sharpness
from latentscape.compute.landscapes import Criterion, Metric, Weights, curve_path, path, plane, surface, trajectory

__all__ = [
    "path", "curve_path", "plane", "surface", "trajectory", "hessian", "sharpness",
    "fid", "kid", "evaluate_run", "evaluate_loaded", "Weights", "Criterion", "Metric",
]
