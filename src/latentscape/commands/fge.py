"""`latentscape fge RUN`: fast geometric ensembling from a trained classifier run."""

from __future__ import annotations

import argparse

from latentscape.commands._types import SEED, THREADS, count, number


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fge",
        help="fast geometric ensembling: cyclic-LR snapshots, ensemble vs single accuracy",
        description=(
            "Starting from a trained run, run SGD with a triangular cyclic learning rate between "
            "--lr1 and --lr2 (cycle length in epochs), take a snapshot where each cycle reaches "
            "--lr2, and compare the original model, the final snapshot and the ensemble (mean of "
            "softmax outputs) by test accuracy and NLL (Garipov et al. 2018, sec. 4). Writes "
            "fge.json (default RUN/eval/fge.json)."
        ),
        epilog="example:\n  latentscape fge runs/a --cycles 4 --cycle-epochs 2 --lr1 0.05 --lr2 0.0005",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_ref", metavar="RUN", help="weight reference of a trained classifier run")
    p.add_argument("--cycles", type=int, default=4, help="cycles = snapshots (default 4)")
    p.add_argument("--cycle-epochs", type=number(0.0, low_open=True), default=2.0, help="cycle length in epochs (default 2)")
    p.add_argument("--lr1", type=number(0.0, 1e3, low_open=True), default=0.05, help="largest learning rate (default 0.05)")
    p.add_argument("--lr2", type=number(0.0, 1e3, low_open=True), default=0.0005, help="smallest learning rate (default 0.0005)")
    p.add_argument("--momentum", type=number(0.0, 1.0, high_open=True), default=0.9, help="SGD momentum (default 0.9)")
    p.add_argument("--wd", type=number(0.0), default=0.0, help="SGD weight decay (default 0)")
    p.add_argument("--batch-size", type=count(1), default=128, help="batch size (default 128)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the batch order")
    p.add_argument("--max-train", type=count(1), default=None, help="use only the first N training examples")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    p.add_argument("--data-dir", help="dataset root")
    p.add_argument("--threads", type=THREADS, default=0, help="CPU threads (0: PyTorch's default)")
    p.add_argument("--out", help="folder for fge.json (default RUN/eval)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from latentscape.landscape.methods.fge import FGEConfig, format_table, run_fge
    from latentscape.io import write_json
    from latentscape.landscape.studies.inputs import endpoint_data_config, load_eval_data, load_weights_ref

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = FGEConfig(args.cycles, args.cycle_epochs, args.lr1, args.lr2, args.momentum, args.wd, args.batch_size, args.seed)
    loaded = load_weights_ref(args.run_ref)
    data_cfg = endpoint_data_config(loaded, args.data_dir)
    train = load_eval_data(data_cfg, ["train"], args.max_train)["train"]
    test = load_eval_data(data_cfg, ["test"])["test"]
    torch.manual_seed(args.seed)
    from latentscape.train.api import resolve_device

    result = run_fge(loaded.model, train, test, cfg, str(resolve_device(args.device, "--device")))
    result["run"] = str(args.run_ref)
    out = Path(args.out) if args.out else loaded.run.path / "eval"
    out.mkdir(parents=True, exist_ok=True)
    path = write_json(out / "fge.json", result)
    print(format_table(result))
    print(f"fge results: {path}")
    return 0
