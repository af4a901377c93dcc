"""Evaluation numbers (see `latentscape.compute`): FID, KID, and a run's registered eval metrics."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from typing import Any


def fid(features1: Any, features2: Any, device: str | None = None) -> float:
    """FID between two feature sets (N1, D) and (N2, D) (Heusel et al. 2017, eq. 6).

    Statistics and the trace of the matrix square root in float64 (two symmetric
    eigendecompositions), on `device` (default: the GPU when present).
    """
    from latentscape.metrics.fid import feature_statistics, frechet_distance

    return frechet_distance(*feature_statistics(features1, device), *feature_statistics(features2, device), device=device)


def kid(
    features1: Any, features2: Any, subset_size: int = 1000, n_subsets: int = 100, seed: int = 0,
    dtype: str = "float32", device: str | None = None,
) -> tuple[float, float]:
    """KID (mean, std) over `n_subsets` random subsets (Binkowski et al. 2018); float32 kernels
    by default, `dtype="float64"` for float64."""
    import torch

    from latentscape.metrics.kid import kernel_inception_distance, kid_dtype

    dt: torch.dtype = kid_dtype({"kid_dtype": dtype})
    return kernel_inception_distance(features1, features2, subset_size, n_subsets, seed, dt, device)


def evaluate_loaded(
    loaded: Any,
    dataset: Any,
    *,
    metrics: Sequence[str] | None = None,
    train_dataset: Any = None,
    batch_size: int = 500,
    num_samples: int = 10_000,
    seed: int = 0,
    device: Any = "cpu",
    options: dict[str, str] | None = None,
    on_skip: Any = None,
    keep_going: bool = False,
    progress: Any = None,
) -> dict[str, Any]:
    """Registered eval metrics of a loaded run on one dataset split.

    Args:
        loaded: a `LoadedRun` (`rundir.load.load_run`).
        dataset: the split to evaluate.
        metrics: metric names (None: every registered metric that applies, `loss` first; then a
            metric that does not apply or cannot run is skipped, and `on_skip(name, reason)` is
            called). Named metrics that do not apply raise `LatentscapeError`, at once, or with
            `keep_going` after the others have been computed: then the result has
            `"failed": {name: error line}` beside the values that could be computed (and nothing is
            raised unless every named metric failed).
        train_dataset: the training split, needed only by FID/KID with reference_split=train.
        batch_size, num_samples, seed, device, options: as `latentscape eval`.
        progress: `progress(name)` -> a context manager around metric `name` whose value is the
            `progress(done, total)` callback of its batches (e.g. `latentscape.progress.tracked`).
            Without `metrics`, nothing is downloaded: a metric whose pretrained weights are not
            in the cache is skipped (`on_skip`) with the reason.

    Returns:
        {"metrics": name -> value, "protocol": {split, n, seed, weights, metrics[, iwae_k]}}.
    """
    import torch

    from latentscape.errors import LatentscapeError
    from latentscape.metrics.base import EvalContext, MetricNotApplicable
    from latentscape.registry import METRICS

    options = dict(options or {})
    if metrics is None:
        names = METRICS.names()
        names, explicit = (["loss"] if "loss" in names else []) + [n for n in names if n != "loss"], False
    else:
        names, explicit = list(metrics), True
        for name in names:
            METRICS.get(name)  # unknown names fail here, listing the allowed ones
    ctx = EvalContext(
        loaded=loaded, dataset=dataset, train_dataset=train_dataset, split=dataset.split, device=torch.device(device),
        batch_size=batch_size, num_samples=num_samples, seed=seed, options=options, allow_download=explicit,
    )
    values: dict[str, Any] = {}
    used: list[str] = []
    failed: dict[str, str] = {}
    for name in names:
        try:
            with progress(name) if progress is not None else contextlib.nullcontext() as ctx.progress:
                out = METRICS.get(name)(ctx)
        except MetricNotApplicable as exc:
            if explicit and not keep_going:
                raise LatentscapeError(f"metric {name!r} does not apply: {exc}") from None
            if explicit:
                failed[name] = f"metric {name!r} does not apply: {exc}"
            continue
        except LatentscapeError as exc:  # e.g. a feature net that is not installed
            if explicit and not keep_going:
                raise
            if explicit:
                failed[name] = str(exc)
            elif on_skip is not None:
                on_skip(name, str(exc))
            continue
        used.append(name)
        values.update({k: (float(v) if isinstance(v, (int, float)) else v) for k, v in out.items()})
    protocol: dict[str, Any] = {
        "split": dataset.split, "n": len(dataset), "seed": seed, "weights": loaded.weights, "metrics": used,
    }
    if "iwae" in used and "iwae_k" in options:
        protocol["iwae_k"] = int(options["iwae_k"])
    if failed and not used:
        raise LatentscapeError("; ".join(failed.values()))
    return {"metrics": values, "protocol": protocol, **({"failed": failed} if failed else {})}


def evaluate_run(
    spec: str,
    split: str = "test",
    metrics: Sequence[str] | None = None,
    *,
    data_dir: str | None = None,
    device: str = "cpu",
    **kwargs: Any,
) -> dict[str, Any]:
    """`evaluate_loaded` of a run given by reference (RUN, RUN@init, RUN@last) on `split`.

    Only the evaluated split is loaded, plus the training split when
    `options={"reference_split": "train"}` asks for it.
    """
    from latentscape.data.registry import load_split
    from latentscape.rundir.load import load_run
    from latentscape.train.api import resolve_device

    dev = resolve_device(device, "device")
    loaded = load_run(spec, device=dev)
    cfg = loaded.config.data
    if data_dir:
        cfg = dataclasses.replace(cfg, data_dir=data_dir)
    dataset = load_split(cfg, split)
    wants_train = (kwargs.get("options") or {}).get("reference_split") == "train"
    train = dataset if split == "train" else (load_split(cfg, "train") if wants_train else None)
    return evaluate_loaded(loaded, dataset, metrics=metrics, train_dataset=train, device=dev, **kwargs)
