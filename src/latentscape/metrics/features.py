"""Feature extractors for FID / KID, registered in `registry.FEATURE_NETS`, and feature passes.

A `FeatureExtractor` maps images (B, C, H, W) in [0, 1] to features (B, D). Two are built in:

- `domain`: the penultimate layer (`embed`) of a classifier that latentscape trained on the
  dataset's training split, stored as an ordinary run (works offline; the usual choice on
  MNIST-like data, where Inception features are a poor fit). Train one with
  `latentscape fid-net DATASET` (cached under $LATENTSCAPE_CACHE/fid_nets/DATASET) or pass
  `feature_run=RUN_DIR`.
- `inception`: the pool3 features (2048) of the FID Inception-v3 (pytorch-fid weights).

Each extractor has an `id` (name + hash of its weights) that keys cached reference statistics,
so statistics of a retrained net are never mixed up with those of another.

Generated samples are drawn in fixed chunks of `SAMPLE_CHUNK` from one seeded generator, and
nets run in eval mode, so features do not depend on the evaluation batch size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from latentscape.data.loader import iterate_in_order
from latentscape.data.types import ImageDataset
from latentscape.errors import LatentscapeError
from latentscape.nets.weights import cache_root
from latentscape.progress import ProgressFn
from latentscape.registry import FEATURE_NETS
from latentscape.rundir.load import load_run

SAMPLE_CHUNK = 250


@dataclass(frozen=True)
class FeatureExtractor:
    """A feature net ready to use.

    Attributes:
        name: registry name ("domain", "inception").
        id: name plus a hash of the weights, e.g. "domain-1a2b3c4d5e6f".
        dim: feature size D.
        fn: images (B, C, H, W) in [0, 1] on `device` -> features (B, D).
        device: where `fn` runs.
        source: where the weights came from (a run dir or weights file), for the protocol.
    """

    name: str
    id: str
    dim: int
    fn: Callable[[Tensor], Tensor]
    device: torch.device
    source: str = ""

    @torch.no_grad()
    def __call__(self, x: Tensor) -> Tensor:
        return self.fn(x.to(self.device)).float()


def weights_hash(module: nn.Module, length: int = 12) -> str:
    """SHA-256 prefix of a module's state dict (names, shapes and values, in key order)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:length]


def default_feature_run(dataset: str) -> Path:
    """Where `latentscape fid-net DATASET` stores the dataset's default domain classifier."""
    return cache_root() / "fid_nets" / dataset


def domain_feature_net(run_dir: str | Path, device: torch.device | str = "cpu") -> FeatureExtractor:
    """The `embed` features of a latentscape classifier run.

    Raises:
        LatentscapeError: the run is missing or its model has no `embed`.
    """
    loaded = load_run(str(run_dir), device=device)
    model = loaded.model.eval()
    if not hasattr(model, "embed"):
        raise LatentscapeError(f"{run_dir}: model {loaded.config.model.name!r} has no embed(); use a classifier run")
    shape = tuple(loaded.info.image_shape)

    def fn(x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != shape:
            raise LatentscapeError(f"feature net {run_dir} expects images {shape}, got {tuple(x.shape[1:])}")
        return model.embed(x)  # (B, D)

    with torch.no_grad():
        dim = int(model.embed(torch.zeros(1, *shape, device=device)).shape[1])
    return FeatureExtractor("domain", f"domain-{weights_hash(model)}", dim, fn, torch.device(device), str(run_dir))


def build_domain(options: dict[str, str], dataset: str, device: torch.device, download: bool = True) -> FeatureExtractor:
    """The domain classifier trained by `latentscape fid-net` (a local run; never downloaded)."""
    run_dir = options.get("feature_run") or default_feature_run(dataset)
    if not (Path(run_dir) / "config.yaml").is_file():
        raise LatentscapeError(
            f"no domain feature net for {dataset!r} at {run_dir}: train one with "
            f"`latentscape fid-net {dataset}`, or pass --opt feature_run=RUN_DIR (or feature_net=inception)"
        )
    return domain_feature_net(run_dir, device)


def build_inception(options: dict[str, str], dataset: str, device: torch.device, download: bool = True) -> FeatureExtractor:
    from latentscape.nets.inception import FID_WEIGHTS, FIDInceptionV3
    from latentscape.nets.weights import load_state_dict, resolve_weights

    path = resolve_weights(FID_WEIGHTS, options.get("inception_weights"), download=download)
    net = FIDInceptionV3()
    net.load_fid_state_dict(load_state_dict(path, "FID Inception weights"), str(path))
    net.to(device).eval()
    return FeatureExtractor("inception", f"inception-{FID_WEIGHTS.sha256_prefix}", 2048, net, torch.device(device), str(path))


def build_feature_net(options: dict[str, str], dataset: str, device: torch.device | str = "cpu",
                      download: bool = True) -> FeatureExtractor:
    """The extractor named by options["feature_net"] (default "domain"); `download`: pretrained
    weights missing from the cache may be fetched."""
    from latentscape.registry import UnknownNameError

    name = options.get("feature_net", "domain")
    try:
        builder = FEATURE_NETS.get(name)
    except UnknownNameError as exc:
        raise LatentscapeError(str(exc)) from None
    return builder(options, dataset, torch.device(device), download=download)


@torch.no_grad()
def dataset_features(
    dataset: ImageDataset, extractor: FeatureExtractor, batch_size: int = 500, limit: int | None = None,
    progress: ProgressFn | None = None,
) -> Tensor:
    """Features (N, D) float64 of the first `limit` images of a dataset (all when None), on CPU;
    `progress(images done, N)` after each batch."""
    if limit is not None:
        dataset = dataset.subset(torch.arange(min(limit, len(dataset))))
    out, done = [], 0
    for b in iterate_in_order(dataset, batch_size, extractor.device):
        out.append(extractor(b.x).double().cpu())  # (B, D)
        done += len(out[-1])
        if progress is not None:
            progress(done, len(dataset))
    return torch.cat(out) if out else torch.zeros(0, extractor.dim, dtype=torch.float64)


@torch.no_grad()
def sample_features(
    sample: Callable[[int, torch.Generator], Tensor],
    n: int,
    extractor: FeatureExtractor,
    batch_size: int = 500,
    seed: int = 0,
    progress: ProgressFn | None = None,
) -> Tensor:
    """Features (n, D) float64 of `n` generated images; `progress(images done, n)` per batch.

    Args:
        sample: `model.sample(k, generator) -> (k, C, H, W)` in [0, 1].
        n: number of samples.
        extractor: the feature net.
        batch_size: images per feature-net pass (does not change the result).
        seed: seed of the CPU generator used for all draws.
    """
    gen = torch.Generator().manual_seed(seed)
    feats: list[Tensor] = []
    pending: list[Tensor] = []
    pending_n, drawn = 0, 0
    while drawn < n:
        k = min(SAMPLE_CHUNK, n - drawn)
        pending.append(sample(k, gen))  # (k, C, H, W)
        pending_n, drawn = pending_n + k, drawn + k
        while pending_n >= batch_size or (drawn == n and pending_n):
            images = torch.cat(pending)
            take = images[:batch_size]
            feats.append(extractor(take).double().cpu())
            if progress is not None:
                progress(drawn - len(images) + len(take), n)
            rest = images[batch_size:]
            pending, pending_n = ([rest] if len(rest) else []), len(rest)
    return torch.cat(feats) if feats else torch.zeros(0, extractor.dim, dtype=torch.float64)


def domain_net_config(
    dataset: str,
    data_dir: str | None = None,
    epochs: int = 1,
    widths: tuple[int, ...] = (32, 64),
    hidden: int = 128,
    batch_size: int = 128,
    device: str = "auto",
    seed: int = 0,
):
    """Run config of a small domain CNN (`cnn_classifier`, one conv per block) for FID/KID."""
    from latentscape.config import config_from_dict

    return config_from_dict({
        "model": {
            "name": "cnn_classifier", "widths": list(widths), "convs_per_block": 1, "hidden": hidden, "dropout": 0.1,
        },
        "data": {"name": dataset, "data_dir": data_dir},
        "train": {"epochs": epochs, "batch_size": batch_size, "device": device, "eval_every": 0,
                  "optimizer": {"name": "adam", "lr": 1e-3}},
        "seed": seed,
        "name": f"fid_net_{dataset}",
    })
