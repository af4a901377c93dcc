"""`latentscape connect A B`: train a low-loss curve between two runs (Garipov et al. 2018)."""

from __future__ import annotations

import argparse

from latentscape.commands._landscape_args import add_source_options, user_model_of
from latentscape.commands._types import EPOCHS, SEED, count, number
from latentscape.registry import CURVE_KINDS, LR_SCHEDULES


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "connect",
        help="train a Bezier or PolyChain curve between two trained runs",
        description=(
            "Train the bends of a curve theta(t) between the weights of two runs of the same "
            "architecture, minimising E_t L(theta(t)) with one t ~ U(0, 1) per batch (Garipov et al. "
            "2018), optionally plus 0.5 * wd * ||theta(t)||^2 (Garipov et al.'s curve weight decay: the "
            "squared norm of the point on the curve, the optimizer's own weight decay at 0). The curve is saved as a normal run "
            "(model.name=curve) that `latentscape path --curve` and `plane --curve` read. Training "
            "options default to those of the start run (with --model: the trainer's defaults); "
            "KEY=VALUE overrides apply last."
        ),
        epilog=(
            "examples:\n"
            "  latentscape connect runs/a runs/b --curve bezier --bends 1 --epochs 20\n"
            "  latentscape connect runs/a runs/b train.schedule.name=cosine --curve polychain --bends 3 --no-fix-end\n"
            "  (KEY=VALUE overrides go right after A B, before the options)\n"
            "\n"
            "your own model (A and B are .pt state dicts, read with weights_only, or .safetensors files):\n"
            "  latentscape connect a.pt b.pt --model my_nets.py:build --model-args '{\"width\": 16}' \\\n"
            "      --data cifar10-subset --loss cross_entropy --epochs 20 --lr 0.015\n"
            "The curve run records the factory, its arguments, the loss, the data and the file's sha256.\n"
            "Reading it later imports that file, so `path --curve`, `plane --curve`, `eval` and\n"
            "`train --resume` need --model FILE.py:factory again (a changed file is refused)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("start", metavar="A", help="weight reference of the start (RUN_DIR, RUN_DIR@init, ...), or a weights file with --model")
    p.add_argument("end", metavar="B", help="weight reference of the end (a weights file with --model)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides, e.g. train.schedule.name=cosine")
    p.add_argument("--curve", dest="kind", choices=CURVE_KINDS.names(), default="bezier", help="curve family (default bezier)")
    p.add_argument("--bends", type=count(0, 64), default=1, help="free control points between the ends (default 1)")
    p.add_argument("--epochs", type=EPOCHS, help="training epochs (default: the start run's)")
    p.add_argument("--lr", type=number(0.0, 1e3, low_open=True), help="learning rate (default: the start run's)")
    p.add_argument("--wd", type=number(0.0), default=0.0, help="curve weight decay 0.5*wd*||theta(t)||^2 on the point at this batch's t, as Garipov et al.'s "
                   "curves.l2_regularizer (default 0; their VGG16/WRN curves: 5e-4, PreResNet: 3e-4)")
    p.add_argument("--schedule", choices=LR_SCHEDULES.names(), help="LR schedule (default: the start run's)")
    p.add_argument("--batch-size", type=count(1), help="batch size (default: the start run's)")
    p.add_argument("--fix-start", action=argparse.BooleanOptionalAction, default=True, help="keep the start fixed (default yes)")
    p.add_argument("--fix-end", action=argparse.BooleanOptionalAction, default=True, help="keep the end fixed (default yes)")
    p.add_argument("--seed", type=SEED, help="seed of t sampling and batch order (default: the start run's)")
    p.add_argument("--data-dir", help="dataset root (overrides data.data_dir)")
    p.add_argument("--out", help="run directory of the curve (default runs/curve-<time>, named before training starts)")
    add_source_options(p, resume=False)
    p.set_defaults(func=run)


def curve_config(args: argparse.Namespace):
    """The curve's RunConfig: the start run's data/train settings (with --model: the data of
    --data and the trainer's defaults) with the curve as model."""
    from latentscape.config import apply_overrides, config_from_dict, config_to_dict
    from latentscape.errors import LatentscapeError
    from latentscape.landscape.methods.curve_model import absolute_spec

    if args.bends < 0:
        raise LatentscapeError("--bends must be >= 0")
    user = user_model_of(args)
    raw = _user_base_config(args, user) if user is not None else _run_base_config(args)
    raw["model"] = {
        "name": "curve",
        "start": absolute_spec(args.start),
        "end": absolute_spec(args.end),
        "kind": args.kind,
        "bends": args.bends,
        "fix_start": args.fix_start,
        "fix_end": args.fix_end,
        "l2": args.wd,
    }
    if user is not None:
        from latentscape.landscape.studies.user_curve import record_of

        raw["model"]["user"] = config_to_dict(record_of(user))
    raw["name"] = "curve"
    train = raw["train"]
    if args.epochs is not None:
        train["epochs"] = args.epochs
    if args.lr is not None:
        train["optimizer"]["lr"] = args.lr
    train["optimizer"]["weight_decay"] = 0.0  # the curve's regulariser is model.l2 (on theta(t))
    if args.schedule:
        train["schedule"]["name"] = args.schedule
    if args.batch_size:
        train["batch_size"] = args.batch_size
    train["max_steps"] = None
    if args.seed is not None:
        raw["seed"] = args.seed
    if args.data_dir:
        raw["data"]["data_dir"] = args.data_dir
    return config_from_dict(apply_overrides(raw, args.overrides))


def _run_base_config(args: argparse.Namespace) -> dict:
    """The start run's config as plain data (both ends checked to be ordinary runs)."""
    from latentscape.config import config_to_dict
    from latentscape.landscape.studies.inputs import load_weights_ref

    start = load_weights_ref(args.start)
    load_weights_ref(args.end)
    return config_to_dict(start.config)


def _user_base_config(args: argparse.Namespace, user) -> dict:
    """Your own model: both weights files checked against the factory's module (the one loader
    of `--model`), the data of --data, the trainer's default training settings."""
    from latentscape.config import TrainConfig, config_to_dict
    from latentscape.landscape.studies.inputs import from_user_model

    src = from_user_model(user, [args.start, args.end], args.data_dir)
    return {"data": config_to_dict(src.data_cfg), "train": config_to_dict(TrainConfig())}


def run(args: argparse.Namespace) -> int:
    import os

    from latentscape.landscape.studies.user_curve import opted_in
    from latentscape.rundir.run import default_run_dir
    from latentscape.train.api import train_and_evaluate

    cfg = curve_config(args)
    if args.out is None and "WORLD_SIZE" not in os.environ:  # under torchrun rank 0 chooses
        args.out = str(default_run_dir(cfg))  # named now, so an interruption can name it too
    with opted_in(args.model):  # your own model: --model allows importing its file
        run = train_and_evaluate(cfg, args.out)
    print(f"curve run: {run.path}")
    return 0
