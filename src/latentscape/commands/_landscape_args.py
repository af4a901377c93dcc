"""Options shared by the weight-space commands (path, plane, surface, trajectory, hessian, fge):
where the weights come from (runs, or your own model and weights files), data, metrics,
evaluation, resuming; and the one place they become a `Source` and `EvalOptions`."""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from latentscape.commands._types import BATCH_SIZE, EXAMPLES, THREADS
from latentscape.errors import LatentscapeError

if TYPE_CHECKING:  # the analysis stack imports torch and matplotlib: not needed for --help
    from latentscape.landscape.studies.inputs import EvalOptions, Source, UserModel
    from latentscape.progress import ProgressFn

MODEL_EPILOG = (
    "your own model (any torch.nn.Module; WEIGHTS are .pt state dicts, read with weights_only,\n"
    "or .safetensors files):\n"
    "  latentscape {cmd} --model my_nets.py:build --model-args '{{\"width\": 16}}' \\\n"
    "      --data cifar10-subset --loss cross_entropy {example}"
)


def add_source_options(p: argparse.ArgumentParser, resume: bool = True) -> None:
    """--model, --model-args, --data, --data-opt, --loss (and --resume)."""
    g = p.add_argument_group("your own model (instead of latentscape runs)")
    g.add_argument("--model", metavar="MODULE:FACTORY", help="a factory returning your torch.nn.Module: my_nets.py:build or "
                   "package.module:build (importing it runs its code); the WEIGHTS are then weights files")
    g.add_argument("--model-args", metavar="JSON", help="keyword arguments of the factory, a JSON object")
    g.add_argument("--data", metavar="NAME", default=None, help="dataset of --model: a registered name (mnist, cifar10-subset, "
                   "digits, ...) or folder (with --data-opt path=DIR); default digits")
    g.add_argument("--data-opt", metavar="KEY=VALUE", action="append", default=[], help="a data setting of --model, e.g. "
                   "path=~/pets, image_size=32, channels=3, fraction=0.1 (repeatable)")
    g.add_argument("--loss", default="cross_entropy", help="loss of --model on (outputs, labels): cross_entropy (default), mse, "
                   "bce (one-hot labels for class scores), or MODULE:FUNCTION, a metric fn(model, batch) -> {name: "
                   "per-example tensor} with batch.x images in [0, 1] and batch.y labels")
    if resume:
        p.add_argument("--resume", action="store_true", help="continue the analysis in --out (default: the newest folder of "
                       "this kind): finished points are kept, only the missing ones are computed")


def add_eval_options(p: argparse.ArgumentParser, per_point: bool = True, batch_size: int = 1000) -> None:
    """The evaluation options; `per_point=False` (hessian: one objective, one split) leaves out
    --splits, --metrics, --bn-batches and --no-vmap, which only steer per-point metric evaluation."""
    g = p.add_argument_group("evaluation")
    if per_point:
        g.add_argument("--splits", default="train,test", help="comma-separated splits to evaluate (default train,test)")
        g.add_argument("--metrics", default=None, help="comma-separated metrics: model, loss, ssim, lpips (latentscape runs), "
                       "loss, accuracy (--model), and hessian_top (the top Hessian eigenvalue at every point); default: all "
                       "per-example metrics that apply")
    g.add_argument("--batch-size", type=BATCH_SIZE, default=batch_size, help=f"evaluation batch size (default {batch_size})")
    g.add_argument("--max-examples", type=EXAMPLES, default=None, help="use only the first N examples of each split (quick looks)")
    if per_point:
        g.add_argument("--bn-batches", type=EXAMPLES, default=None, help="training batches for BatchNorm statistics per point (default: all)")
    g.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    g.add_argument("--data-dir", help="dataset root (default: the run's data.data_dir or $LATENTSCAPE_DATA)")
    if per_point:
        g.add_argument("--no-vmap", action="store_true", help="evaluate points one by one (slower; for debugging)")
    g.add_argument("--threads", type=THREADS, default=0, help="CPU threads (0: PyTorch's default)")
    g.add_argument(
        "--plots", choices=("sync", "background", "none"), default=None,
        help="pictures and report.html: drawn before the command returns (sync, the default), by a "
        "background process after the numbers are written (background: the command returns at once), "
        "or not at all (none); default $LATENTSCAPE_PLOTS or sync",
    )


def eval_options(args: argparse.Namespace) -> EvalOptions:
    import torch

    from latentscape.landscape.studies.inputs import EvalOptions

    if args.threads:
        torch.set_num_threads(args.threads)
    from latentscape.train.api import init_distributed, resolve_device

    device = resolve_device(args.device, "--device")
    init_distributed(device)  # shard points across ranks under torchrun
    metrics = getattr(args, "metrics", None)
    return EvalOptions(
        splits=[s for s in getattr(args, "splits", "train,test").split(",") if s],
        metrics=[m for m in metrics.split(",") if m] if metrics else None,
        batch_size=args.batch_size,
        max_examples=args.max_examples,
        bn_batches=getattr(args, "bn_batches", None),
        device=str(device),
        data_dir=args.data_dir,
        use_vmap=not getattr(args, "no_vmap", False),
    )


def user_model_of(args: argparse.Namespace) -> UserModel | None:
    """The `--model` options as a `UserModel` (None without --model; the options that go with
    it alone are refused)."""
    from latentscape.landscape.studies.inputs import UserModel

    user_opts = [o for o, v in (("--model-args", args.model_args), ("--data", args.data), ("--data-opt", args.data_opt)) if v]
    if args.model is None:
        if user_opts or args.loss != "cross_entropy":
            raise LatentscapeError(f"{(user_opts or ['--loss'])[0]} applies with --model (your own model) only")
        return None
    opts = [o if o.startswith("data.") else f"data.{o}" for o in args.data_opt]
    return UserModel(args.model, args.model_args, args.data or "digits", opts, args.loss)


def source_of(args: argparse.Namespace, refs: Sequence[str], curve: str | None = None, count: int | None = None) -> Source:
    """The weights of the command: runs (RUN, RUN@init, ...), a curve run (of runs, or of your
    own model: then --model is the opt-in to import its recorded file), or `--model` with
    weights files. `count`: how many weight references the command needs (None: any, >= 1)."""
    from latentscape.landscape.studies.inputs import from_curve, from_refs, from_user_model

    user = user_model_of(args)
    if curve:
        if user is not None and (args.model_args or args.data or args.data_opt or args.loss != "cross_entropy"):
            raise LatentscapeError("--curve: the curve run records its model's --model-args, --data and --loss; give only --model")
        if refs:
            raise LatentscapeError("give either weight references or --curve, not both")
        return from_curve(curve, args.data_dir, args.model)
    if count is not None and len(refs) != count:
        what = "weights files" if user else "weight references"
        raise LatentscapeError(f"{args.command} needs {count} {what}" + ("" if user or count == 1 else " (or --curve CURVE_RUN)"))
    if not refs:
        raise LatentscapeError(f"{args.command}: give the weights to analyse")
    if user is not None:
        return from_user_model(user, list(refs), args.data_dir)
    return from_refs(list(refs), args.data_dir)


def data_text(data: dict[str, Any], full: dict[str, int] | None = None) -> str:
    """What the points are evaluated on (split -> data or its size), for a progress line: "test, 2,000 examples", "train and
    test, 60,000 + 10,000 examples", "test, 2,000 of 10,000 examples" (a cut split)."""
    full = full or {}
    names = list(data)
    splits = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    counts = {s: d if isinstance(d, int) else len(d) for s, d in data.items()}  # a dataset, or its size
    sizes = [f"{n:,}" + (f" of {full[s]:,}" if full.get(s, 0) > n else "") for s, n in counts.items()]
    return f"{splits}, {' + '.join(sizes)} examples"


@contextmanager
def tracked_points(what: str, total: int, *, unit: str = "point", folder: Path | None = None,
                   resume: bool = False) -> Iterator[ProgressFn]:
    """The `progress(done, total)` callback of a landscape command's long stage (`what` says
    what runs): a bar on a terminal, a plain line per ~10 % on stderr otherwise, nothing under
    LATENTSCAPE_PROGRESS=none or on the other ranks of torchrun. With `resume`, the points already
    in `folder`'s grid file count as done before this process (the time left comes from the
    rate of the points computed here). The start line waits for the compute function's first
    call, so that a refusal of its inputs (a grid file of other settings) is the only line."""
    from latentscape.landscape.studies.grid_file import is_main, points_done
    from latentscape.progress import tracked

    initial = points_done(folder) if resume and folder is not None else 0
    with tracked(what, total, unit=unit, initial=min(initial, total), quiet=not is_main(), deferred=True) as progress:
        yield progress


def parse_range(text: str) -> tuple[float, float]:
    """'0,1.5' -> (0.0, 1.5)."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise LatentscapeError(f"--range {text!r}: expected two numbers like 0,1.5") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise LatentscapeError(f"--range {text!r}: the start and end must be finite numbers")
    if not hi > lo:
        raise LatentscapeError(f"--range {text!r}: the end must be larger than the start")
    return lo, hi


def parse_span(text: str, what: str = "--range") -> list[tuple[float, float]]:
    """'-1:1' -> [(-1, 1)]; '-1:1,-0.5:0.5' -> one span per axis."""
    spans = []
    for part in text.split(","):
        try:
            lo, hi = (float(v) for v in part.split(":"))
        except ValueError:
            raise LatentscapeError(f"{what} {text!r}: expected LO:HI (e.g. -1:1) or LO:HI,LO:HI per axis") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise LatentscapeError(f"{what} {text!r}: each span needs finite LO < HI")
        spans.append((lo, hi))
    if len(spans) > 2:
        raise LatentscapeError(f"{what} {text!r}: at most two spans (x and y)")
    return spans


def parse_grid(text: str | int) -> list[int]:
    """'51' -> [51]; '51,31' -> one count per axis (each >= 2)."""
    try:
        counts = [int(v) for v in str(text).split(",")]
    except ValueError:
        raise LatentscapeError(f"--grid {text!r}: expected a count like 51 or 51,31") from None
    if not 1 <= len(counts) <= 2 or min(counts) < 2 or max(counts) > 10_000:
        raise LatentscapeError(f"--grid {text!r}: one or two counts in [2, 10000]")
    return counts
