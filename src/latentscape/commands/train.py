"""`latentscape train CONFIG [key=value ...]` and `latentscape train --resume RUN_DIR`."""

from __future__ import annotations

import argparse
import os

from latentscape.errors import LatentscapeError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from a YAML config (or resume a run)",
        description=(
            "Train a model from a YAML config with optional dotted overrides, writing a run "
            "directory (config.yaml, checkpoints/init.pt, final.pt, last.pt, metrics.jsonl, tb/, "
            "images/, report.html). Under torchrun, processes split each global batch "
            "(gloo on CPU, NCCL on GPU)."
        ),
        epilog=(
            "examples:\n"
            "  latentscape train configs/mnist_mlp.yaml\n"
            "  latentscape train configs/mnist_mlp.yaml train.optimizer.lr=3e-4 seed=1 --run-dir runs/a\n"
            "  latentscape train --resume runs/a\n"
            "  latentscape train --resume runs/a train.optimizer.lr=1e-4 train.grad_clip=1.0\n"
            "  latentscape train --resume runs/a train.epochs=40      # a finished run: train on to epoch 40\n"

            "  torchrun --nproc-per-node 2 -m latentscape.cli train configs/mnist_mlp.yaml --run-dir runs/ddp\n"
            "  latentscape train configs/mnist_mlp.yaml data.name=folder data.path=~/pets data.image_size=32\n"
            "\n"
            "--resume may change only the learning rates, schedule, clipping and run length\n"
            "(train.optimizer.lr, train.group_optimizers.*.lr, train.schedule.*, train.grad_clip,\n"
            "train.epochs, train.max_steps); each change is recorded in config_history.jsonl.\n"
            "A killed run resumes to the same files and weights as an uninterrupted one; a finished\n"
            "run resumes only to train longer (a larger train.epochs or train.max_steps)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", nargs="?", help="YAML config file (see configs/)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. train.epochs=5")
    p.add_argument("--run-dir", help="where to write the run (default OUTPUT_DIR/<name>-<time>; config output_dir, default runs)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint (KEY=VALUE may change the LR, "
                   "schedule, clipping or length; see below)")
    p.add_argument("--data-dir", help="dataset root (overrides data.data_dir and $LATENTSCAPE_DATA)")
    p.add_argument("--model", metavar="MODULE:FACTORY", help="with --resume of a curve run of your own model (`connect "
                   "--model`): the FILE.py:factory it records, given again to allow importing it (that runs its code)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentscape.config import load_config
    from latentscape.rundir.run import default_run_dir
    from latentscape.train.api import resume, train_and_evaluate

    if args.resume:
        # argparse puts the first KEY=VALUE into `config`: with --resume every word is an override
        overrides = ([args.config] if args.config else []) + list(args.overrides)
        if any("=" not in o for o in overrides):
            raise LatentscapeError(
                "--resume takes the run's saved config: give no CONFIG, only KEY=VALUE overrides "
                "of the resumable keys (e.g. train.optimizer.lr=1e-4)"
            )
        if args.data_dir:
            raise LatentscapeError("--data-dir cannot change on --resume (the run records its data)")
        from latentscape.landscape.studies.user_curve import check_opt_in, opted_in

        check_opt_in(args.resume, args.model)  # a curve of your own model: only with --model, its file unchanged
        with opted_in(args.model):
            resume(args.resume, overrides)
        return 0
    if args.model:
        raise LatentscapeError("--model applies with --resume of a curve run of your own model (made by `connect --model`)")
    if not args.config:
        raise LatentscapeError("give a CONFIG file (see configs/) or --resume RUN_DIR")
    overrides = list(args.overrides)
    if args.data_dir:
        overrides.append(f"data.data_dir={args.data_dir}")
    cfg = load_config(args.config, overrides)
    if args.run_dir is None and "WORLD_SIZE" not in os.environ:  # under torchrun rank 0 chooses
        args.run_dir = str(default_run_dir(cfg))  # named now, so an interruption can name it too
    train_and_evaluate(cfg, args.run_dir)
    return 0
