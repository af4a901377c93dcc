"""`probe_runs`: score trained runs' codes against PCA, UMAP and pixels with simple classifiers.

The CLI (`latentscape probe`) and bench/probe.py call this. Output folder (written whole, into a
temporary sibling that replaces the folder at the end, so a killed probe leaves the previous
results intact): `probe.json` (rows + protocol), `summary.json` (the index contract, with the
rows), `probe.md`, `maps.png`.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentscape.data.types import ImageDataset
from latentscape.errors import LatentscapeError, did_you_mean
from latentscape.io import atomic_write_text, remove_orphans, temp_folder, write_json
from latentscape.probe import costs
from latentscape.probe.classifiers import ProbeProtocol, check_classifiers, score
from latentscape.probe.diagnostics import per_class_indices
from latentscape.probe.embeddings import BASELINES, Embedding, baseline_embedding, has_embed, model_embedding
from latentscape.probe.table import markdown_table, probe_summary, terminal_table
from latentscape.progress import Progress, StageFn, format_duration, silent, stage
from latentscape.rundir.lock import lock_enclosing_run


@dataclass(frozen=True)
class ProbeOptions:
    """What to compare and how.

    Attributes:
        baselines: subset of ("pca", "umap", "pixels").
        dim: components of the PCA and UMAP baselines (None: the first run's code dimension, so
            that the baselines are compared at the same dimension).
        classifiers: subset of ("logreg", "knn").
        max_train: score on a seeded subsample of this many training images (None: all).
        per_class: score on this many seeded training images of every class instead (study
            001's kNN protocol: 500); not with max_train.
        max_test: likewise for the test split.
        map_points: test points drawn in maps.png (0: no maps).
        batch_size: embedding batch size.
        device: where runs embed.
        data_dir: dataset root overriding the runs' data.data_dir.
        protocol: classifier settings and seed.
    """

    baselines: tuple[str, ...] = BASELINES
    dim: int | None = None
    classifiers: tuple[str, ...] = ("logreg", "knn")
    max_train: int | None = None
    max_test: int | None = None
    per_class: int | None = None
    map_points: int = 3000
    batch_size: int = 500
    device: str = "cpu"
    data_dir: str | None = None
    protocol: ProbeProtocol = field(default_factory=ProbeProtocol)

    def __post_init__(self) -> None:
        for b in self.baselines:
            if b not in BASELINES:
                raise LatentscapeError(f"unknown baseline {b!r}{did_you_mean(b, BASELINES)} (allowed: {', '.join(BASELINES)})")
        check_classifiers(list(self.classifiers))
        for key in ("max_train", "max_test"):
            value = getattr(self, key)
            if value is not None and value < 2:
                raise LatentscapeError(f"--{key.replace('_', '-')} must be at least 2, got {value}")
        if self.per_class is not None and (self.per_class < 1 or self.max_train is not None):
            raise LatentscapeError("--per-class must be at least 1, and is not combined with --max-train")
        if (self.dim is not None and self.dim < 1) or self.map_points < 0 or self.batch_size < 1:
            raise LatentscapeError("--dim and --batch-size must be >= 1, --map-points >= 0")


def subsample(dataset: ImageDataset, limit: int | None, seed: int) -> ImageDataset:
    """A seeded subset of `limit` rows in their original order (the dataset itself if smaller)."""
    if limit is None or limit >= len(dataset):
        return dataset
    picked = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:limit]
    return dataset.subset(picked.sort().values)


def _data_key(cfg) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("data_dir", "download")}


def load_probe_runs(specs: list[str], device: torch.device):
    """Load every run; fail before any work if one lacks `embed` or the datasets differ."""
    from latentscape.rundir.load import load_run

    if not specs:
        raise LatentscapeError("name at least one run to probe")
    loaded = [load_run(s, device=device) for s in specs]
    for spec, lr in zip(specs, loaded):
        if not has_embed(lr.model):
            raise LatentscapeError(
                f"{spec}: model {lr.config.model.name!r} ({type(lr.model).__name__}) has no `embed` "
                "capability, so it has no codes to probe"
            )
    first = _data_key(loaded[0].config.data)
    for spec, lr in zip(specs[1:], loaded[1:]):
        if _data_key(lr.config.data) != first:
            raise LatentscapeError(f"{spec}: trained on other data ({_data_key(lr.config.data)}) than "
                                   f"{specs[0]} ({first}); probe runs of one dataset together")
    return loaded


def _run_names(specs: list[str]) -> list[str]:
    names: list[str] = []
    for spec in specs:
        base = Path(str(spec).split("@")[0].rstrip("/")).name or str(spec)
        name, i = base, 2
        while name in names:
            name, i = f"{base}#{i}", i + 1
        names.append(name)
    return names


def probe_embeddings(
    embeddings: list[Embedding], train: ImageDataset, test: ImageDataset, options: ProbeOptions,
    stage: StageFn = silent,
) -> list[dict[str, Any]]:
    """One table row per embedding: dim, accuracies, fit and embed times; `stage(what,
    estimate=seconds)` wraps each classifier (what starts with the embedding's name)."""
    y_train, y_test = train.labels.numpy(), test.labels.numpy()
    rows = []
    for emb in embeddings:
        named = (lambda what, estimate=None, _e=emb.name: stage(f"{_e}: {what}", estimate=estimate))
        scores = score(emb.train, y_train, emb.test, y_test, list(options.classifiers), options.protocol, named)
        rows.append({"embedding": emb.name, "dim": emb.dim, **{k: v for k, v in scores.items() if k.endswith("_acc")},
                     "fit_s": emb.fit_seconds, "embed_s": emb.embed_seconds,
                     **{k: v for k, v in scores.items() if k.endswith("_fit_s")}})
    return rows


def training_subsample(dataset: ImageDataset, options: ProbeOptions) -> ImageDataset:
    """The training rows a probe uses: `per_class` seeded images of every class, else
    `max_train` seeded images, else all."""
    if options.per_class is not None:
        picked = per_class_indices(dataset.labels.numpy(), options.per_class, options.protocol.seed)
        return dataset.subset(torch.from_numpy(picked)) if len(picked) < len(dataset) else dataset
    return subsample(dataset, options.max_train, options.protocol.seed)


def estimated_seconds(options: ProbeOptions, train: ImageDataset, test: ImageDataset,
                      code_dims: list[int], dim: int) -> float:
    """The probe's expected CPU time on one core (probe/costs.py; measured on the 2-core machine)."""
    return costs.probe_seconds(
        len(train), len(test), int(np.prod(train.images.shape[1:])), code_dims, dim, options.baselines,
        options.classifiers, options.protocol.logreg_max_iter, options.map_points)


def map_points_2d(emb: Embedding, indices: np.ndarray, seed: int) -> np.ndarray:
    """(M, 2) points of the test codes at `indices`: the codes when 2-D, else their 2-D UMAP."""
    points = emb.test[indices]
    if emb.dim == 2:
        return points
    if emb.dim == 1:
        return np.concatenate([points, np.zeros_like(points)], axis=1)
    import umap

    return umap.UMAP(n_components=2, random_state=seed, n_jobs=1).fit_transform(points)


def _replace_folder(tmp: Path, out: Path) -> None:
    """Move a finished temporary folder onto `out`, keeping the old one until the move is done;
    then remove what killed earlier probes of `out` left (their temp and old folders)."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.stem}.{os.getpid()}-old{out.suffix}.tmp")  # swept if we are killed
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    remove_orphans(out)


def check_out_dir(out: Path) -> None:
    """Refuse a destination that is a file or a non-empty folder of something else: the probe
    replaces its folder as a whole, and must never wipe a run directory by mistake."""
    if out.exists() and not out.is_dir():
        raise LatentscapeError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / "probe.json").is_file():
        raise LatentscapeError(f"--out {out}: a non-empty folder without probe.json; choose a new folder")


def default_out_dir(specs: list[str]) -> Path:
    """RUN/analysis/probe for one run; ./analysis/probe for several."""
    if len(specs) == 1:
        return Path(str(specs[0]).split("@")[0]) / "analysis" / "probe"
    return Path("analysis") / "probe"


def probe_runs(specs: list[str], options: ProbeOptions, out_dir: str | Path | None = None,
               log=print) -> dict[str, Any]:
    """Embed, fit baselines, score, draw, and write the analysis folder.

    Args:
        specs: run directories (RUN, RUN@init, RUN@last).
        options: what to compare and how.
        out_dir: analysis folder (default: `default_out_dir(specs)`).
        log: progress printer (None: silent).

    Returns:
        {"rows": [...], "protocol": {...}, "out_dir": str}.
    """
    from latentscape.data.registry import load_split
    from latentscape.train.api import resolve_device

    say = log or (lambda *_: None)
    quiet = log is None

    def staged(what: str, estimate: float | None = None):
        return stage(f"probe: {what}", estimate=estimate, quiet=quiet)

    out = Path(out_dir) if out_dir is not None else default_out_dir(list(specs))
    check_out_dir(out)
    lock_enclosing_run(out)  # RUN/analysis/probe: one writer per run (rundir/lock.py), before any work
    device = resolve_device(options.device, "--device")
    loaded = load_probe_runs(list(specs), device)
    data_cfg = loaded[0].config.data
    if options.data_dir:
        data_cfg = dataclasses.replace(data_cfg, data_dir=options.data_dir)
    seed = options.protocol.seed
    train = training_subsample(load_split(data_cfg, "train"), options)
    test = subsample(load_split(data_cfg, "test"), options.max_test, seed + 1)
    if bool((train.labels < 0).any()) or bool((test.labels < 0).any()):
        raise LatentscapeError(f"dataset {data_cfg.name!r} has no class labels: a probe needs them")
    embeddings = []
    for name, lr in zip(_run_names(list(specs)), loaded):
        with Progress(f"probe: embedding {name} ({type(lr.model).__name__})", len(train) + len(test),
                      unit="image", quiet=quiet, lazy=True) as bar:
            embeddings.append(model_embedding(name, lr.model, train, test, options.batch_size, device, bar.callback()))
        if len(embeddings) == 1:  # the whole probe's cost, once the code dimension is known
            dim = options.dim if options.dim is not None else embeddings[0].dim  # the first run's code dimension
            total = estimated_seconds(options, train, test, [embeddings[0].dim] * len(loaded), dim)
            quick = "" if len(train) <= 10_000 else "; --per-class 500 (study 001's kNN protocol) is far quicker"
            say(f"probe: {len(train)} training and {len(test)} test images, estimate {format_duration(total)} "
                f"of one CPU core{quick}")
    for kind in options.baselines:
        embeddings.append(baseline_embedding(kind, train, test, dim, seed, staged))
    rows = probe_embeddings(embeddings, train, test, options, staged)
    protocol = {
        "runs": [f"{s} ({lr.weights} weights)" for s, lr in zip(specs, loaded)],
        "dataset": data_cfg.name, "train_size": len(train), "test_size": len(test),
        "max_train": options.max_train, "per_class": options.per_class, "max_test": options.max_test,
        "baseline_dim": dim,
        "baselines_fitted_on": "training split only", "classifiers": list(options.classifiers),
        **options.protocol.as_dict(), "umap": "umap-learn, n_neighbors=15, min_dist=0.1, random_state=seed",
    }
    check_out_dir(out)
    tmp = temp_folder(out)  # named after this process: a rerun removes it if we are killed
    try:
        result = {"rows": rows, "protocol": protocol}
        write_json(tmp / "probe.json", result)
        write_json(tmp / "summary.json", probe_summary(rows, protocol, list(specs)))
        atomic_write_text(tmp / "probe.md", markdown_table(rows, protocol))
        if options.map_points:
            from latentscape.viz.embedding_maps import draw_embedding_maps

            idx = np.arange(len(test))
            if options.map_points < len(test):  # the same seeded points in every panel
                idx = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed + 2))
                idx = idx[: options.map_points].sort().values.numpy()
            maps = []
            with Progress("probe: 2-D maps (UMAP 2-D of codes with more dimensions)", len(embeddings),
                          unit="map", quiet=quiet) as bar:
                for i, e in enumerate(embeddings):
                    maps.append((f"{e.name} ({e.dim}-d{', UMAP 2-D' if e.dim > 2 else ''})", map_points_2d(e, idx, seed)))
                    bar.update(i + 1)
            draw_embedding_maps(maps, test.labels.numpy()[idx], tmp / "maps.png", test.classes,
                                title=f"{len(idx):,} test images of {protocol.get('dataset', '?')}, coloured by class")
        _replace_folder(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    say(terminal_table(rows))
    say(f"written: {out}")
    return {**result, "out_dir": str(out)}
