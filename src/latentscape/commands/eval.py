"""`latentscape eval RUN [--split test] [--metrics a,b] [--iwae-k K] [--pictures]`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from latentscape.commands._types import SEED, count
from latentscape.errors import LatentscapeError
from latentscape.metrics.options import options_help, parse_options
from latentscape.registry import METRICS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate a trained run (losses, ELBO, IWAE, SSIM, PSNR, FID, ...) on a split",
        description=(
            "Evaluate a run's weights on one split with registered metrics, print a table and "
            "merge the numbers into RUN/eval/<split>.json together with the protocol (split, n, "
            "seed, weights, k). Without --metrics every metric that applies to the model is "
            "computed. --pictures also (re)writes the model's pictures into RUN/images/."
        ),
        epilog=(
            "examples:\n"
            "  latentscape eval runs/mnist_vae\n"
            "  latentscape eval runs/mnist_vae --metrics elbo,iwae --iwae-k 1000\n"
            "  latentscape eval runs/mnist_vae@init --split val --pictures\n"
            "  latentscape eval runs/mnist_gan --metrics fid,kid --opt reference_split=train\n"
            "  latentscape eval runs/shapes_vae --metrics mig,factorvae,dci --opt dci_regressor=lasso\n"
            "\n"
            "metric options (--opt KEY=VALUE, repeatable):\n" + options_help()
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", metavar="RUN", help="run directory (RUN@init / RUN@last for other weights)")
    p.add_argument("--split", default="test", choices=("test", "val", "train"), help="split to evaluate (default test)")
    p.add_argument("--metrics", help=f"comma-separated metric names: {','.join(METRICS.names())} "
                   "(default: every registered metric that applies)")
    p.add_argument("--iwae-k", type=int, default=100, help="importance samples of the IWAE bound (default 100)")
    p.add_argument("--batch-size", type=int, default=500, help="evaluation batch size (default 500)")
    p.add_argument("--num-samples", type=count(2), default=10_000, help="samples drawn by sample-based metrics (FID, KID; default 10000)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    p.add_argument("--data-dir", help="dataset root (overrides the run's data.data_dir)")
    p.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE", help="metric option (listed below)")
    p.add_argument("--pictures", action="store_true", help="(re)write the pictures into RUN/images/")
    p.add_argument("--model", metavar="MODULE:FACTORY", help="for a curve run of your own model (`connect --model`): the "
                   "FILE.py:factory it records, given again to allow importing it (that runs its code)")
    p.set_defaults(func=run)


def metric_names(requested: str | None) -> tuple[list[str], bool]:
    """(names in order, explicit). Default: `loss` first, then every other registered metric, so
    that a specific metric (e.g. the seeded `elbo`) refines what the generic `loss` reports."""

    if requested is not None:
        names = [n.strip() for n in requested.split(",") if n.strip()]
        if not names:
            raise LatentscapeError("--metrics: give at least one metric name, or leave it out for all that apply")
        for name in names:
            METRICS.get(name)  # unknown names fail here, listing the allowed ones
        return names, True
    names = METRICS.names()
    return (["loss"] if "loss" in names else []) + [n for n in names if n != "loss"], False


def merge_results(previous: dict[str, Any] | None, protocol: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """New eval JSON: keep earlier metrics only when they were measured under the same protocol."""
    same = previous is not None and all(
        previous.get("protocol", {}).get(k) == protocol.get(k) for k in ("split", "n", "seed", "weights")
    )
    merged_metrics = {**(previous.get("metrics", {}) if same else {}), **metrics}
    merged_protocol = {**(previous.get("protocol", {}) if same else {}), **protocol}
    return {"protocol": merged_protocol, "metrics": merged_metrics}


def format_table(metrics: dict[str, Any]) -> str:
    """Two aligned columns: metric and value."""
    width = max([len("metric"), *(len(k) for k in metrics)])
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 12}"]
    for name, value in metrics.items():
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        lines.append(f"{name:<{width}}  {text}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from latentscape.compute import evaluate_loaded
    from latentscape.data.registry import load_split
    from latentscape.progress import tracked
    from latentscape.timing import phase
    from latentscape.rundir.load import load_run
    from latentscape.train.api import resolve_device

    if args.batch_size < 1 or args.iwae_k < 1:
        raise LatentscapeError("--batch-size and --iwae-k must be >= 1")
    device = resolve_device(args.device, "--device")
    names, explicit = metric_names(args.metrics)
    options = {"iwae_k": str(args.iwae_k), **parse_options(args.opt)}  # a misspelt option fails before any loading
    from latentscape.landscape.studies.user_curve import check_opt_in, opted_in

    check_opt_in(args.run, args.model)  # a curve of your own model: only with --model, its file unchanged
    with phase("load_run"), opted_in(args.model):
        loaded = load_run(args.run, device=device)
    if args.pictures and not _has_latent_space(loaded.model):  # say so before evaluating
        raise LatentscapeError(f"--pictures: {type(loaded.model).__name__} has no latent space to draw")
    data_cfg = loaded.config.data
    if args.data_dir:
        data_cfg = dataclasses.replace(data_cfg, data_dir=args.data_dir)
    with phase("data"):
        dataset = load_split(data_cfg, args.split)
        # the training split only when a metric uses it (FID/KID against reference_split=train):
        # a test-only dataset can be evaluated, and --split test does not read 60k training images
        wants_train = options.get("reference_split") == "train" or _evaluates_with_training_data(loaded.model)
        train = dataset if args.split == "train" else (load_split(data_cfg, "train") if wants_train else None)
    if _evaluates_with_training_data(loaded.model):  # a curve's BatchNorm statistics at theta(t)
        loaded.model.use_training_data(train, args.batch_size)
    with phase("evaluate"):
        result = evaluate_loaded(
            loaded, dataset, metrics=names if explicit else None, train_dataset=train, batch_size=args.batch_size,
            num_samples=args.num_samples, seed=args.seed, device=device, options=options,
            on_skip=lambda name, why: print(f"skipped {name}: {why}", file=sys.stderr), keep_going=True,
            progress=lambda name: tracked(f"eval {args.split}: {_label(name, options)}", unit="image", lazy=True),
        )
    metrics, protocol = result["metrics"], {**result["protocol"], **loaded.model.evaluation_protocol()}
    path = loaded.run.path / "eval" / f"{args.split}.json"
    previous = _read_previous(path)
    loaded.run.write_json(f"eval/{args.split}.json", merge_results(previous, protocol, metrics))
    print(f"{loaded.run.path} ({loaded.weights} weights), {args.split} split, n={len(dataset)}, seed={args.seed}")
    print(format_table(metrics))
    print(f"written: {path}")
    if args.pictures:
        _pictures(loaded, dataset, device, args.seed, train, data_cfg)
    if "failed" in result:  # the others are written above; the run still exits non-zero
        raise LatentscapeError("; ".join(result["failed"].values()))
    return 0


def _evaluates_with_training_data(model: Any) -> bool:
    """Whether the model's evaluation needs the training split (a curve with BatchNorm)."""
    from latentscape.landscape.core.batchnorm import has_batchnorm

    return callable(getattr(model, "use_training_data", None)) and has_batchnorm(model)


def _label(metric: str, options: dict[str, str]) -> str:
    """`iwae (k=100)`: a metric's name with the option that sets its cost."""
    return f"{metric} (k={options['iwae_k']})" if metric == "iwae" else metric


def _read_previous(path: Path) -> dict[str, Any] | None:
    """The earlier results in `path`, or None when there are none or the file is damaged (the
    new results replace it rather than being lost to an error after the evaluation)."""
    try:
        previous = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, ValueError, RecursionError):
        print(f"warning: {path} is damaged; writing the new results over it", file=sys.stderr)
        return None
    if not isinstance(previous, dict) or not isinstance(previous.get("metrics", {}), dict) or not isinstance(
        previous.get("protocol", {}), dict
    ):
        return None
    return previous


def _has_latent_space(model) -> bool:
    return callable(getattr(model, "embed", None)) and callable(getattr(model, "decode", None))


def _pictures(loaded, dataset, device, seed: int, train, data_cfg) -> None:
    """The model's pictures into RUN/images/; for auto-decoders also the latent maps (training
    table by class, `dataset`'s fitted latents over it). `train`: the training split when it was
    loaded already (else read from `data_cfg` if its files are here)."""
    if not _has_latent_space(loaded.model):
        raise LatentscapeError(f"--pictures: {type(loaded.model).__name__} has no latent space to draw")
    from latentscape.models.autoencoder_pictures import write_pictures

    paths = write_pictures(
        loaded.model, dataset, loaded.run.path / "images", run_dir=loaded.run.path, device=device, seed=seed
    )
    if callable(getattr(loaded.model, "training_latents", None)):  # auto-decoder: its latent table
        from latentscape.models.autodecoder_pictures import write_latent_plots

        from latentscape.data.registry import load_split

        if train is None:
            try:
                train = load_split(data_cfg, "train")
            except LatentscapeError:  # no training files here: the fitted latents alone
                train = None
        paths = [*paths, *write_latent_plots(loaded.model, train, dataset, loaded.run.path / "images", device=device)]
    print(f"pictures: {len(paths)} files in {loaded.run.path / 'images'}")
