"""Your own model on the command line: `--model FILE.py:factory`, weights files and `--loss`.

Importing the module named by `--model` runs its code: that is the explicit opt-in it looks like
(the same as `python -c "import module"`). A weights file never runs code: `.pt` files are read
with `torch.load(weights_only=True)` (plain tensors and containers only) and `.safetensors`
files with safetensors. Every problem is one line naming the file, the factory or the tensor.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from latentscape.errors import CheckpointError, LatentscapeError
from latentscape.rundir.checkpoint import check_state_fits

#: --loss names -> what they compute on (outputs, targets); see `criterion_for`.
LOSSES = ("cross_entropy", "mse", "bce")
WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")


def _is_file(module_spec: str) -> bool:
    """Whether the module part of a factory spec names a file ('path/to/file.py'), not a module."""
    return module_spec.endswith(".py") or "/" in module_spec or "\\" in module_spec


def _import(spec: str) -> Any:
    """The module of 'pkg.module' or 'path/to/file.py'."""
    if _is_file(spec):
        path = Path(spec)
        if not path.is_file():
            raise LatentscapeError(f"--model {spec}: no such file")
        name = "latentscape_user_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise LatentscapeError(f"--model {spec}: cannot import this file")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module  # dataclasses and pickling look modules up here
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001  (the user's code: one line, whatever it raised)
            sys.modules.pop(name, None)
            raise LatentscapeError(f"--model {spec}: importing it failed: {type(exc).__name__}: {exc}") from None
        return module
    try:
        return importlib.import_module(spec)
    except ImportError as exc:
        raise LatentscapeError(f"--model {spec}: cannot import module {spec!r} ({exc})") from None


def load_callable(spec: str, option: str = "--model") -> Callable[..., Any]:
    """The callable of 'module:name' or 'file.py:name'."""
    module_spec, sep, attr = spec.rpartition(":")
    if not sep or not module_spec or not attr:
        raise LatentscapeError(f"{option} {spec!r}: expected MODULE:FUNCTION or FILE.py:FUNCTION")
    module = _import(module_spec)
    fn = getattr(module, attr, None)
    if fn is None:
        raise LatentscapeError(f"{option} {spec}: {module_spec} has no {attr!r}")
    if not callable(fn):
        raise LatentscapeError(f"{option} {spec}: {attr!r} is a {type(fn).__name__}, not a function")
    return fn


def factory_source(spec: str) -> tuple[str, Path | None]:
    """(the spec with its file made absolute, the factory's source file) of 'FILE.py:name' or
    'package.module:name', without running the file (a module's parent packages are imported to
    find it). The file is None when it cannot be found (a module without one)."""
    module_spec, sep, attr = spec.rpartition(":")
    if not sep or not module_spec or not attr:
        raise LatentscapeError(f"--model {spec!r}: expected MODULE:FUNCTION or FILE.py:FUNCTION")
    if _is_file(module_spec):
        path = Path(module_spec).resolve()
        return f"{path}:{attr}", path if path.is_file() else None
    try:
        found = importlib.util.find_spec(module_spec)
    except (ImportError, ValueError):
        found = None
    origin = found.origin if found is not None else None
    return spec, Path(origin) if origin and Path(origin).is_file() else None


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_user_model(spec: str, args_json: str | None = None) -> nn.Module:
    """Call the factory `spec` with the keyword arguments of `args_json` (a JSON object)."""
    kwargs: dict[str, Any] = {}
    if args_json:
        try:
            kwargs = json.loads(args_json)
        except ValueError as exc:
            raise LatentscapeError(f"--model-args: not JSON ({exc})") from None
        if not isinstance(kwargs, dict):
            raise LatentscapeError("--model-args: give a JSON object of keyword arguments, e.g. '{\"width\": 16}'")
    factory = load_callable(spec)
    try:
        model = factory(**kwargs)
    except Exception as exc:  # noqa: BLE001  (the user's code)
        raise LatentscapeError(f"--model {spec}: calling it failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(model, nn.Module):
        raise LatentscapeError(f"--model {spec}: returned a {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def _state_dict_in(obj: Any, path: str) -> dict[str, Tensor]:
    """The state dict in a loaded .pt object: the object itself, or under a usual key."""
    if isinstance(obj, dict):
        if obj and all(isinstance(v, Tensor) for v in obj.values()):
            return obj
        for key in ("state_dict", "model_state_dict", "model", "weights"):
            inner = obj.get(key)
            if isinstance(inner, dict) and inner and all(isinstance(v, Tensor) for v in inner.values()):
                return inner
    raise CheckpointError(f"{path}: no state dict in this file (a dict of tensors, or one under 'state_dict' / 'model')")


def read_weights_file(path: str | Path) -> dict[str, Tensor]:
    """A state dict from a .pt/.pth/.bin (weights_only) or .safetensors file, never running code."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: no such weights file")
    if p.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state = load_file(str(p))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{p}: not a readable safetensors file ({exc})") from None
    else:
        import pickle

        from latentscape.io import load_tensors

        try:
            obj = load_tensors(p)
        except pickle.UnpicklingError as exc:
            raise CheckpointError(f"{p}: refused: it holds more than tensors ({str(exc).splitlines()[0]})") from None
        except (RuntimeError, EOFError, OSError, ValueError) as exc:
            raise CheckpointError(f"{p}: not a readable PyTorch file ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
        state = _state_dict_in(obj, str(p))
    if state and all(k.startswith("module.") for k in state):  # saved from DataParallel / DDP
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def fit_weights(model: nn.Module, state: dict[str, Tensor], source: str) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """(parameters, buffers) of `state` for `model`, checked against it.

    Every parameter of the model must be in the file with its shape and a floating dtype, and
    finite; buffers (BatchNorm statistics) are taken from the file when present. A tensor the
    model does not have is refused too.

    Raises:
        CheckpointError: naming the file and the first tensor that does not fit.
    """
    params = {n: p.detach() for n, p in model.named_parameters()}
    buffers = {n: b.detach() for n, b in model.named_buffers()}
    extra = [k for k in state if k not in params and k not in buffers]
    if extra:
        raise CheckpointError(f"{source}: weights do not fit the model (unexpected {extra[0]!r}; the model has no such tensor)")
    check_state_fits(params, state, source, exact=False)
    given = {k: v for k, v in state.items() if k in buffers}
    check_state_fits({k: buffers[k] for k in given}, given, source, exact=False)
    out_params = {n: state[n].to(params[n].dtype) for n in params}
    out_buffers = {n: (given[n].to(b.dtype) if n in given else b.clone()) for n, b in buffers.items()}
    return out_params, out_buffers


class LabelLoss(nn.Module):
    """MSE or BCE-with-logits of the outputs against the labels: one-hot when the model gives one
    score per class ((B, K) outputs, integer labels), else the labels as floats of the outputs'
    shape. `reduction` as in torch ("mean" or "none")."""

    def __init__(self, kind: str, reduction: str = "mean") -> None:
        super().__init__()
        self.kind, self.reduction = kind, reduction

    def forward(self, out: Tensor, y: Tensor) -> Tensor:
        import torch.nn.functional as F

        if out.dim() == 2 and not y.is_floating_point() and y.dim() == 1:
            target = F.one_hot(y, out.shape[1]).to(out.dtype)
        else:
            target = y.to(out.dtype).reshape(out.shape)
        if self.kind == "mse":
            return F.mse_loss(out, target, reduction=self.reduction)
        return F.binary_cross_entropy_with_logits(out, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return self.kind


def criterion_for(name: str) -> tuple[str, Any]:
    """What `--loss` names: cross_entropy, mse, bce (`LabelLoss`), or MODULE:FUNCTION (a metric
    `fn(model, batch) -> {name: per-example tensor}`, batch a `Batch(x, y, index)`).

    Returns:
        ("criterion", fn(outputs, targets)) or ("metric", fn(model, batch)).
    """
    if name == "cross_entropy":
        return "criterion", nn.CrossEntropyLoss()
    if name in ("mse", "bce"):
        return "criterion", LabelLoss(name)
    if ":" in name:
        return "metric", load_callable(name, "--loss")
    raise LatentscapeError(f"--loss {name!r}: allowed {', '.join(LOSSES)}, or MODULE:FUNCTION (a metric fn(model, batch))")
