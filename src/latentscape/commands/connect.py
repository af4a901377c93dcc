"""`latentscape connect A B`: train a low-loss curve between two runs (Garipov et al. 2018)."""

from __future__ import annotations

import argparse

from latentscape.commands._types import EPOCHS, SEED, count, number
from latentscape.registry import CURVE_KINDS, LR_SCHEDULES


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "connect",
        help="train a Bezier or PolyChain curve between two trained runs",
        description=(
            "Train the bends of a curve theta(t) between the weights of two runs of the same "
            "architecture, minimising E_t L(theta(t)) with one t ~ U(0, 1) per batch (Garipov et al. "
            "2018), optionally plus 0.5 * wd * |theta(t)|^2. The curve is saved as a normal run "
            "(model.name=curve) that `latentscape path --curve` and `plane --curve` read. Training "
            "options default to those of the start run; KEY=VALUE overrides apply last."
        ),
        epilog=(
            "examples:\n"
            "  latentscape connect runs/a runs/b --curve bezier --bends 1 --epochs 20\n"
            "  latentscape connect runs/a runs/b train.schedule.name=cosine --curve polychain --bends 3 --no-fix-end\n"
            "  (KEY=VALUE overrides go right after A B, before the options)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("start", metavar="A", help="weight reference of the start (RUN_DIR, RUN_DIR@init, ...)")
    p.add_argument("end", metavar="B", help="weight reference of the end")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides, e.g. train.schedule.name=cosine")
    p.add_argument("--curve", dest="kind", choices=CURVE_KINDS.names(), default="bezier", help="curve family (default bezier)")
    p.add_argument("--bends", type=count(0, 64), default=1, help="free control points between the ends (default 1)")
    p.add_argument("--epochs", type=EPOCHS, help="training epochs (default: the start run's)")
    p.add_argument("--lr", type=number(0.0, 1e3, low_open=True), help="learning rate (default: the start run's)")
    p.add_argument("--wd", type=number(0.0), default=0.0, help="curve regulariser 0.5*wd*|theta(t)|^2 (default 0)")
    p.add_argument("--schedule", choices=LR_SCHEDULES.names(), help="LR schedule (default: the start run's)")
    p.add_argument("--batch-size", type=count(1), help="batch size (default: the start run's)")
    p.add_argument("--fix-start", action=argparse.BooleanOptionalAction, default=True, help="keep the start fixed (default yes)")
    p.add_argument("--fix-end", action=argparse.BooleanOptionalAction, default=True, help="keep the end fixed (default yes)")
    p.add_argument("--seed", type=SEED, help="seed of t sampling and batch order (default: the start run's)")
    p.add_argument("--data-dir", help="dataset root (overrides data.data_dir)")
    p.add_argument("--out", help="run directory of the curve (default runs/curve-<time>)")
    p.set_defaults(func=run)


def curve_config(args: argparse.Namespace):
    """The curve's RunConfig: the start run's data/train settings with the curve as model."""
    from latentscape.config import apply_overrides, config_from_dict, config_to_dict
    from latentscape.errors import LatentscapeError
    from latentscape.landscape.studies.inputs import load_weights_ref
    from latentscape.landscape.methods.curve_model import absolute_spec

    if args.bends < 0:
        raise LatentscapeError("--bends must be >= 0")
    start = load_weights_ref(args.start)
    load_weights_ref(args.end)
    raw = config_to_dict(start.config)
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


def run(args: argparse.Namespace) -> int:
    from latentscape.train.api import train_and_evaluate

    cfg = curve_config(args)
    run = train_and_evaluate(cfg, args.out)
    print(f"curve run: {run.path}")
    return 0
