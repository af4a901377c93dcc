"""Options shared by the weight-space commands (path, plane): data, metrics and evaluation."""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING

from latentscape.commands._types import THREADS
from latentscape.errors import LatentscapeError

if TYPE_CHECKING:  # the analysis stack imports torch and matplotlib: not needed for --help
    from latentscape.landscape.studies.analysis import EvalOptions


def add_eval_options(p: argparse.ArgumentParser, per_point: bool = True, batch_size: int = 1000) -> None:
    """The evaluation options; `per_point=False` (hessian: one objective, one split) leaves out
    --splits, --metrics, --bn-batches and --no-vmap, which only steer per-point metric evaluation."""
    g = p.add_argument_group("evaluation")
    if per_point:
        g.add_argument("--splits", default="train,test", help="comma-separated splits to evaluate (default train,test)")
        g.add_argument("--metrics", default=None, help="comma-separated path metrics (model, loss, ssim, lpips; path also hessian_top: top Hessian eigenvalue per point); default: all that apply")
    g.add_argument("--batch-size", type=int, default=batch_size, help=f"evaluation batch size (default {batch_size})")
    g.add_argument("--max-examples", type=int, default=None, help="use only the first N examples of each split (quick looks)")
    if per_point:
        g.add_argument("--bn-batches", type=int, default=None, help="training batches for BatchNorm statistics per point (default: all)")
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

    from latentscape.landscape.studies.analysis import EvalOptions

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
