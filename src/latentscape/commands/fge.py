"""`latentscape fge RUN`: fast geometric ensembling from a trained classifier run."""

from __future__ import annotations

import argparse

from latentscape.commands._landscape_args import MODEL_EPILOG, add_source_options
from latentscape.commands._types import BATCH_SIZE, EXAMPLES, SEED, THREADS, count, number
from latentscape.ranges import EPOCH_LIMIT


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fge",
        help="fast geometric ensembling: cyclic-LR snapshots, ensemble vs single accuracy",
        description=(
            "Starting from a trained run, run SGD with a triangular cyclic learning rate between "
            "--lr1 and --lr2 (cycle length in epochs), take a snapshot where each cycle reaches "
            "--lr2, and compare the original model, the final snapshot and the ensemble (mean of "
            "softmax outputs) by test accuracy (a fraction) and NLL (Garipov et al. 2018, sec. 4). The SGD "
            "batches are augmented as the run's training was (data.augment; --data-opt augment=true with --model). Writes "
            "fge.json, summary.json and report.html into RUN/analysis/fge-<time>/ (or --out)."
        ),
        epilog="example:\n  latentscape fge runs/a --cycles 4 --cycle-epochs 2 --lr1 0.05 --lr2 0.0005\n"
        + MODEL_EPILOG.format(cmd="fge", example="final.pt   # a classifier: its outputs are the class scores"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_ref", metavar="RUN", help="weight reference of a trained classifier run, or a weights file with --model")
    p.add_argument("--cycles", type=count(1, limit=EPOCH_LIMIT), default=4, help="cycles = snapshots (default 4)")
    p.add_argument("--cycle-epochs", type=number(0.0, EPOCH_LIMIT, low_open=True), default=2.0, help="cycle length in epochs "
                   f"(default 2; cycles x cycle length at most {EPOCH_LIMIT:,} epochs, as train.epochs)")
    p.add_argument("--lr1", type=number(0.0, 1e3, low_open=True), default=0.05, help="largest learning rate (default 0.05)")
    p.add_argument("--lr2", type=number(0.0, 1e3, low_open=True), default=0.0005, help="smallest learning rate (default 0.0005)")
    p.add_argument("--momentum", type=number(0.0, 1.0, high_open=True), default=0.9, help="SGD momentum (default 0.9)")
    p.add_argument("--wd", type=number(0.0), default=0.0, help="SGD weight decay (default 0)")
    p.add_argument("--batch-size", type=BATCH_SIZE, default=128, help="batch size (default 128)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the batch order")
    p.add_argument("--max-train", type=EXAMPLES, default=None, help="use only the first N training examples")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    p.add_argument("--data-dir", help="dataset root")
    p.add_argument("--threads", type=THREADS, default=0, help="CPU threads (0: PyTorch's default)")
    p.add_argument("--out", help="output folder (default RUN/analysis/fge-<time>)")
    add_source_options(p, resume=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from latentscape.commands._landscape_args import data_text, source_of
    from latentscape.data.augment import augmentation
    from latentscape.errors import LatentscapeError
    from latentscape.io import write_json
    from latentscape.ranges import INF, Range
    from latentscape.landscape.methods.fge import FGEConfig, run_fge
    from latentscape.landscape.studies.inputs import load_eval_data
    from latentscape.landscape.studies.outputs import Summary, check_output_dir, draw_and_report, open_folder, write_summary
    from latentscape.progress import Progress, stage
    from latentscape.train.api import resolve_device
    from latentscape.viz.findings import fge_finding

    if args.threads:
        torch.set_num_threads(args.threads)
    check_output_dir(args.out)
    refusal = Range(0, INF, limit=EPOCH_LIMIT).beyond_limit(args.cycles * args.cycle_epochs)
    if refusal:
        raise LatentscapeError(f"--cycles {args.cycles} x --cycle-epochs {args.cycle_epochs:g} = "
                               f"{args.cycles * args.cycle_epochs:g} epochs {refusal}")
    cfg = FGEConfig(args.cycles, args.cycle_epochs, args.lr1, args.lr2, args.momentum, args.wd, args.batch_size, args.seed)
    src = source_of(args, [args.run_ref], count=1)
    model = src.model
    if src.user is not None:  # your own classifier: the task's objective, its outputs as logits
        if args.loss != "cross_entropy":
            raise LatentscapeError("fge --model ensembles class scores: use --loss cross_entropy")
        model = _with_weights(src.model, src.weights[0], src.buffers)
        task = src.task()
        extra = {"objective": task.objective, "logits": lambda m, x: m(x), "bn_forward": task.forward}
    else:
        extra = {}
    full: dict[str, int] = {}
    train = load_eval_data(src.data_cfg, ["train"], args.max_train, full)["train"]
    test = load_eval_data(src.data_cfg, ["test"])["test"]
    torch.manual_seed(args.seed)
    epochs = f"{args.cycle_epochs:g} epoch{'s' if args.cycle_epochs != 1 else ''}"
    augment = augmentation(src.data_cfg)
    augmented = ", augmented as in training" if augment is not None else ""
    training = Progress(f"fge: {args.cycles} cycle{'s' if args.cycles != 1 else ''} of {epochs} of SGD on {data_text({'train': train}, full)}"
                        f"{augmented}", unit="step", deferred=True)

    def evaluation(what: str, estimate: float | None = None):
        training.close()  # its end line before the evaluation's
        return stage(what, estimate=estimate)

    with training:
        result = run_fge(model, train, test, cfg, str(resolve_device(args.device, "--device")), progress=training.callback(),
                         stage=evaluation, augment=augment, **extra)
    result["run"] = str(args.run_ref)
    folder = open_folder("fge", args.out, src.run_dir)
    write_json(folder / "fge.json", result)
    metrics = {f"{k} accuracy": result[k]["accuracy"] for k in ("original", "final_snapshot", "ensemble")}
    metrics.update({f"{k} nll": result[k]["nll"] for k in ("original", "ensemble")})
    write_summary(folder, Summary("fge", f"Fast geometric ensembling from {args.run_ref}", fge_finding(result), src.model_name,
                                  src.dataset_name, metrics))
    draw_and_report(folder, lambda: None)
    print(format_table(result))
    print(f"fge results: {folder}")
    return 0


def _with_weights(model, params, buffers):
    """A copy of `model` holding `params` and `buffers`."""
    import copy

    import torch

    work = copy.deepcopy(model)
    with torch.no_grad():
        for name, t in {**params, **buffers}.items():
            target = work.get_parameter(name) if name in dict(work.named_parameters()) else work.get_buffer(name)
            target.copy_(t)
    return work


def format_table(result: dict) -> str:
    """Original model, final snapshot and ensemble: test accuracy (a fraction) and NLL."""
    rows = [("original", result["original"]), ("final snapshot", result["final_snapshot"]), (f"FGE ensemble ({len(result['snapshots'])})", result["ensemble"])]
    lines = [f"{'model':<22}{'test accuracy':>14}{'test NLL':>12}"]
    lines += [f"{name:<22}{r['accuracy']:>14.4f}{r['nll']:>12.4f}" for name, r in rows]
    return "\n".join(lines)
