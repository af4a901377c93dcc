"""`latentscape tune CONFIG [key=value ...] --grid KEY=v1,v2 | --space KEY=DIST(...) ...`."""

from __future__ import annotations

import argparse

from latentscape.commands._types import SEED, count
from latentscape.ranges import REPEAT_LIMIT, TRIAL_LIMIT

EPILOG = """\
examples:
  # the decoder-only study's search: LR grid 1e-4..1e-1, 3 executions per point
  latentscape tune configs/mnist_autodecoder.yaml train.epochs=5 data.val_fraction=0.1 train.eval_split=val \\
      --grid train.optimizer.lr=1e-4,1e-3,1e-2,1e-1 --repeats 3 --objective val/loss --study-dir studies/lr
  # TPE over two keys, 20 trials, seeded, selected on validation data (never on test)
  latentscape tune configs/mnist_mlp.yaml data.val_fraction=0.1 train.eval_split=val \\
      --space "train.optimizer.lr=loguniform(1e-5,1e-1)" --space "model.hidden_dims=choice([32],[64],[64,64])" \\
      --trials 20 --objective val/accuracy --direction maximize --study-dir studies/tpe
  # a quick look first: 3 trials of one epoch (overrides may follow the options)
  latentscape tune configs/mnist_mlp.yaml --space "train.optimizer.lr=loguniform(1e-4,1e-2)" --trials 3 \\
      --study-dir studies/quick data.val_fraction=0.1 train.epochs=1
  # several machines on one study (run the same command on each)
  latentscape tune ... --storage postgresql+psycopg://USER:PASSWORD@HOST:5432/DB --study-name lr

The objective SPLIT/METRIC is the last value of METRIC on the lines of split SPLIT in each run's
metrics.jsonl (train: training-window means; val/test: periodic and final evaluations; train_eval:
the final evaluation of the training split). Repeat r uses seed = config seed + r; the trial value
is the mean over repeats. Rerunning the command resumes the study without redoing finished trials.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune",
        help="hyperparameter search (grid or TPE) over any config key, on Optuna",
        description=(
            "Search config keys with Optuna: every trial trains its repeats as ordinary run "
            "directories (STUDY_DIR/trials/<trial>-<repeat>/) and is scored by the mean of the "
            "objective. Writes summary.md/.json, objective_vs_params.png, history.png and "
            "best_config.yaml into the study folder."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", help="YAML config file (see configs/)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="fixed dotted overrides, e.g. train.epochs=5")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="grid axis (repeatable: the product is searched); values are YAML, e.g. [8,16]")
    p.add_argument("--space", action="append", default=[], metavar="KEY=DIST(...)",
                   help="sampled key: uniform(a,b), loguniform(a,b), int(a,b), logint(a,b), choice(x,y,...)")
    p.add_argument("--trials", type=count(1, limit=TRIAL_LIMIT),
                   help=f"number of trials of a --space search (all workers together; at most {TRIAL_LIMIT:,} unless LATENTSCAPE_NO_LIMITS=1)")
    p.add_argument("--repeats", type=count(1, limit=REPEAT_LIMIT), default=1,
                   help=f"runs per trial, seeds seed..seed+N-1 (default 1; at most {REPEAT_LIMIT} unless LATENTSCAPE_NO_LIMITS=1)")
    p.add_argument("--objective", default="val/loss", help="SPLIT/METRIC to optimise (default val/loss)")
    p.add_argument("--direction", default="minimize", choices=("minimize", "maximize"))
    p.add_argument("--study-dir", required=True, help="folder of the study: trials/, summary, plots, study.db")
    p.add_argument("--storage", help="Optuna storage URL (default sqlite:///STUDY_DIR/study.db; postgresql+psycopg://... for many machines)")
    p.add_argument("--study-name", default="latentscape", help="study name inside the storage (default latentscape)")
    p.add_argument("--seed", type=SEED, default=0, help="sampler seed (TPE draws; grid order) (default 0)")
    p.add_argument("--heartbeat", type=count(1), default=10,
                   help="seconds between trial heartbeats; a trial silent for twice this is retried (default 10)")
    p.add_argument("--data-dir", help="dataset root (overrides data.data_dir and $LATENTSCAPE_DATA)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from latentscape.config import apply_overrides, load_config, read_yaml
    from latentscape.progress import Progress
    from latentscape.tune.objective import Objective
    from latentscape.redact import redact
    from latentscape.tune.summary import write_outputs
    from latentscape.tune.space import parse_grid, parse_space
    from latentscape.tune.study import TuneSpec, open_study, run_study, settled_runs

    overrides = list(args.overrides) + ([f"data.data_dir={args.data_dir}"] if args.data_dir else [])
    load_config(args.config, overrides)  # the base config itself must be valid
    raw = apply_overrides(read_yaml(Path(args.config)) or {}, overrides)
    objective = Objective.parse(args.objective, args.direction)
    raw, note = objective.ensure_final_eval(raw)
    if note:
        print(note, flush=True)
    dims = tuple([parse_grid(g) for g in args.grid] + [parse_space(s) for s in args.space])
    spec = TuneSpec(
        base=raw, dims=dims, objective=objective,
        study_dir=Path(args.study_dir), repeats=args.repeats, trials=args.trials, storage=args.storage,
        study_name=args.study_name, seed=args.seed, heartbeat=args.heartbeat,
    )
    spec.check()  # a bad search, folder or storage fails before the progress line
    done = settled_runs(open_study(spec), spec)
    with Progress(f"tune {spec.study_dir}", spec.size * spec.repeats, unit="run", initial=done) as bar:
        study = run_study(spec, log=bar.write, progress=bar.callback())
    print(write_outputs(study, spec, redact(spec.url)), flush=True)
    return 0
