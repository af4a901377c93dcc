"""Reference statistics of a dataset split under a feature net, cached on disk, and the glue that
gives the `fid` and `kid` eval metrics their sample and reference features.

Cache file: $LATENTSCAPE_CACHE/fid_stats/<dataset>-<split>-n<N>-<data hash>-<feature net id>.pt
(torch.save of tensors, written atomically, read with weights_only=True). The data hash covers
the images, and the feature-net id a hash of its weights, so a changed split or a retrained net
gets new statistics instead of stale ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from latentscape.data.types import ImageDataset
from latentscape.progress import ProgressFn
from latentscape.errors import LatentscapeError
from latentscape.metrics.base import EvalContext, MetricNotApplicable
from latentscape.metrics.features import FeatureExtractor, build_feature_net, dataset_features, sample_features
from latentscape.metrics.fid import feature_statistics
from latentscape.nets.weights import cache_root

STATS_FORMAT = "latentscape.fid_stats/1"
#: reference features kept for KID (a seeded random subset when the split is larger).
MAX_KID_FEATURES = 10_000


@dataclass(frozen=True)
class ReferenceStats:
    """Statistics of a reference split.

    Attributes:
        mu: feature mean (D,) float64.
        sigma: feature covariance (D, D) float64.
        features: up to MAX_KID_FEATURES feature rows (M, D) float64, for KID.
        num_examples: images the statistics were computed from.
        key: the cache key (dataset, split, size, data hash, feature-net id).
    """

    mu: Tensor
    sigma: Tensor
    features: Tensor
    num_examples: int
    key: str


def dataset_hash(dataset: ImageDataset, length: int = 8) -> str:
    """SHA-256 prefix of a dataset's image bytes."""
    return hashlib.sha256(dataset.images.contiguous().numpy().tobytes()).hexdigest()[:length]


def stats_path(dataset: ImageDataset, extractor: FeatureExtractor, cache_dir: Path | None = None) -> Path:
    key = f"{dataset.name}-{dataset.split}-n{len(dataset)}-{dataset_hash(dataset)}-{extractor.id}"
    return (cache_dir or cache_root() / "fid_stats") / f"{key}.pt"


def reference_stats(
    dataset: ImageDataset,
    extractor: FeatureExtractor,
    batch_size: int = 500,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    progress: ProgressFn | None = None,
) -> ReferenceStats:
    """Statistics of all of `dataset` under `extractor`, from the cache when present;
    `progress(images done, N)` while features are computed."""
    from latentscape.rundir.checkpoint import atomic_save, load_checkpoint

    path = stats_path(dataset, extractor, cache_dir)
    if use_cache and path.is_file():
        cached = _read_cached(path, load_checkpoint)
        if cached is not None:
            return cached
    feats = dataset_features(dataset, extractor, batch_size, progress=progress)  # (N, D) float64
    mu, sigma = feature_statistics(feats, extractor.device)  # where the features were computed
    if feats.shape[0] > MAX_KID_FEATURES:
        keep = torch.randperm(feats.shape[0], generator=torch.Generator().manual_seed(0))[:MAX_KID_FEATURES]
        feats = feats[keep.sort().values]
    stats = ReferenceStats(torch.from_numpy(mu), torch.from_numpy(sigma), feats, len(dataset), path.stem)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_save(
            {
                "format": STATS_FORMAT, "mu": stats.mu, "sigma": stats.sigma,
                "features": stats.features, "num_examples": stats.num_examples,
            },
            path,
        )
    return stats


def _read_cached(path: Path, load_checkpoint) -> ReferenceStats | None:
    """The cached statistics in `path`, or None when the file is damaged or not of this shape
    (a cache: it is rebuilt and replaced rather than trusted or reported)."""
    from latentscape.errors import CheckpointError

    try:
        raw = load_checkpoint(path, STATS_FORMAT)
        mu, sigma, feats, n = raw["mu"], raw["sigma"], raw["features"], raw["num_examples"]
        d = mu.shape[0]
        if not (mu.dim() == 1 and sigma.shape == (d, d) and feats.dim() == 2 and feats.shape[1] == d
                and isinstance(n, int) and n > 0 and all(bool(torch.isfinite(t).all()) for t in (mu, sigma, feats))):
            return None
    except (CheckpointError, KeyError, AttributeError, IndexError, TypeError):
        return None
    return ReferenceStats(mu, sigma, feats, n, path.stem)


@dataclass(frozen=True)
class GatheredFeatures:
    """Sample features, reference statistics and the protocol string values."""

    sample_features: Tensor
    reference: ReferenceStats
    protocol: dict[str, str]


def gather(ctx: EvalContext) -> GatheredFeatures:
    """Features of `ctx.num_samples` model samples and reference statistics of the chosen split.

    Options (`ctx.options`): feature_net (domain | inception), feature_run, inception_weights,
    reference_split (default: the evaluated split; "train" uses the training split). The result
    is memoised on `ctx`, so `--metrics fid,kid` samples once.
    """
    model = ctx.loaded.model
    if not callable(getattr(model, "sample", None)):
        raise MetricNotApplicable(f"model {ctx.loaded.config.model.name!r} cannot sample; FID/KID need samples")
    memo = ctx.__dict__.setdefault("_sample_quality_memo", {})
    key = (tuple(sorted(ctx.options.items())), ctx.num_samples, ctx.seed)
    if key in memo:
        return memo[key]
    ref_split = ctx.options.get("reference_split", ctx.split)
    if ref_split == "train" and ctx.train_dataset is not None:
        reference = ctx.train_dataset
    elif ref_split == ctx.split:
        reference = ctx.dataset
    else:
        raise LatentscapeError(f"reference_split={ref_split!r}: only 'train' or the evaluated split {ctx.split!r}")
    with ctx.weights_needed("fid,kid"):
        extractor = build_feature_net(ctx.options, reference.name, ctx.device, download=ctx.allow_download)
    total = len(reference) + ctx.num_samples  # reference images (unless cached), then samples
    ref = reference_stats(reference, extractor, ctx.batch_size, progress=lambda done, _: ctx.report(done, total))
    feats = sample_features(model.sample, ctx.num_samples, extractor, ctx.batch_size, ctx.seed,
                            progress=lambda done, _: ctx.report(len(reference) + done, total))
    protocol = {
        "num_samples": str(ctx.num_samples),
        "reference": f"{reference.name}/{reference.split} ({ref.num_examples} images)",
        "feature_net": f"{extractor.id} ({extractor.source})",
        "seed": str(ctx.seed),
    }
    memo[key] = GatheredFeatures(feats, ref, protocol)
    return memo[key]
