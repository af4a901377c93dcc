"""`latentscape hessian RUN`: curvature of the model's objective (PyHessian)."""

from __future__ import annotations

import argparse

from latentscape.commands._landscape_args import MODEL_EPILOG, add_eval_options, add_source_options, eval_options
from latentscape.commands._types import SEED, count, number
from latentscape.ranges import HESSIAN_BATCH_LIMIT, HESSIAN_ESTIMATE_LIMIT, HESSIAN_PRODUCT_LIMIT


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "hessian",
        help="top Hessian eigenvalues, trace and eigenvalue density of a run's objective (PyHessian)",
        description=(
            "Hessian-vector products of the model's own objective (any family; GANs per --group) through "
            "torch.func on --batches batches of --batch-size examples of --split, in eval mode (BatchNorm "
            "uses the model's statistics; a VAE's sampling noise is frozen by --seed). Top-k eigenvalues "
            "(the k largest in magnitude, largest first, as PyHessian) by power iteration with deflation (or Lanczos), the trace by Hutchinson's estimator, and the "
            "eigenvalue density by stochastic Lanczos quadrature (Yao et al. 2020). Writes "
            "RUN/analysis/hessian-<time>/hessian.json (after every stage and SLQ run; --resume keeps "
            "the finished ones), summary.json and images/hessian_density.png."
        ),
        epilog=(
            "examples:\n"
            "  latentscape hessian runs/mlp --top-k 5 --trace --density --batches 2 --batch-size 500\n"
            "  latentscape hessian runs/gan --group critic --top-k 1\n"
            "sharpness along a path: latentscape path runs/a runs/b --metrics loss,hessian_top\n"
            f"declared limits: --max-iter, --trace-samples, --slq-steps at most {HESSIAN_PRODUCT_LIMIT:,}; --top-k, --slq-runs "
            f"at most {HESSIAN_ESTIMATE_LIMIT:,};\n--batches at most {HESSIAN_BATCH_LIMIT:,} (LATENTSCAPE_NO_LIMITS=1 goes beyond them)\n"
            + MODEL_EPILOG.format(cmd="hessian", example="final.pt --top-k 3 --trace")
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", metavar="WEIGHTS", help="a run (RUN_DIR, RUN_DIR@init, RUN_DIR@last), or a weights file with --model")
    p.add_argument("--top-k", type=count(0, limit=HESSIAN_ESTIMATE_LIMIT), default=5, help="top eigenvalues to compute, largest magnitude first (default 5; 0: none)")
    p.add_argument("--method", choices=("power", "lanczos"), default="power", help="top-k method (default power iteration with deflation)")
    p.add_argument("--trace", action="store_true", help="estimate the trace (Hutchinson, Rademacher vectors)")
    p.add_argument("--density", action="store_true", help="eigenvalue density by stochastic Lanczos quadrature")
    p.add_argument("--batches", type=count(1, limit=HESSIAN_BATCH_LIMIT), default=1, help="batches of --batch-size examples the objective averages over (default 1)")
    p.add_argument("--split", default="train", help="data split (default train)")
    p.add_argument("--group", default=None, help="optimizer group whose loss and parameters to use (GANs: critic, generator)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the random vectors and of any noise in the objective")
    p.add_argument("--max-iter", type=count(1, limit=HESSIAN_PRODUCT_LIMIT), default=100, help="power-iteration steps per eigenvalue (default 100)")
    p.add_argument("--tol", type=number(0.0, low_open=True), default=1e-3, help="relative tolerance of power iteration / Hutchinson (default 1e-3)")
    p.add_argument("--trace-samples", type=count(2, limit=HESSIAN_PRODUCT_LIMIT), default=100, help="Hutchinson samples at most (default 100)")
    p.add_argument("--slq-runs", type=count(1, limit=HESSIAN_ESTIMATE_LIMIT), default=1, help="SLQ random starts (default 1)")
    p.add_argument("--slq-steps", type=count(2, limit=HESSIAN_PRODUCT_LIMIT), default=90, help="Lanczos steps per SLQ run (default 90)")
    p.add_argument("--out", help="output folder (default RUN/analysis/hessian-<time>)")
    add_source_options(p)
    add_eval_options(p, per_point=False, batch_size=256)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from latentscape.commands._landscape_args import data_text, source_of
    from latentscape.errors import LatentscapeError
    from latentscape.landscape.studies.grid_file import is_main
    from latentscape.landscape.studies.hessian import ORDER, HessianResult, compute_hessian, write_hessian
    from latentscape.landscape.studies.inputs import load_eval_data
    from latentscape.landscape.studies.outputs import check_output_dir, open_folder
    from latentscape.landscape.studies.surface import group_param_names
    from latentscape.progress import Progress
    from latentscape.timing import phase

    check_output_dir(args.out)  # before any evaluation: a bad --out costs nothing
    opts = eval_options(args)
    src = source_of(args, [args.run], count=1)
    task = src.task(None if src.user is not None else [], args.group)
    names = group_param_names(src.model, args.group)
    full: dict[str, int] = {}
    with phase("data"):
        data = load_eval_data(src.data_cfg, [args.split], opts.max_examples, full)[args.split]
    dim = sum(v.numel() for k, v in src.weights[0].items() if names is None or k in names)
    if args.top_k > dim:  # before the folder is made
        raise LatentscapeError(f"--top-k {args.top_k}: the Hessian has only {dim} eigenvalues (one per parameter)")
    main = is_main()
    folder = open_folder("hessian", args.out, src.run_dir, resume=args.resume, create=main)
    known = None
    if args.resume and main and (folder / "hessian.json").is_file():
        try:
            known = HessianResult.from_json(json.loads((folder / "hessian.json").read_text()))
        except (ValueError, OSError) as exc:
            raise LatentscapeError(f"--resume: {folder / 'hessian.json'} is not readable ({type(exc).__name__}); rerun without --resume") from None
    objective = "model(batch" + (f", group={args.group!r}" if args.group else "") + ").loss" if src.user is None else task.description
    protocol = {"source": str(args.run), "split": args.split, "group": args.group, "objective_of": objective,
                **src.protocol({args.split: data}, full)}
    started: dict[str, float] = {}

    def on_stage(stage: str, result: HessianResult) -> None:
        import time

        if stage.startswith("start "):
            what = stage[6:]
            started[what] = time.perf_counter()
            if what == "top_eigenvalues":
                how = f"power iteration (at most {args.max_iter} products each)" if args.method == "power" else f"Lanczos ({max(3 * args.top_k, args.slq_steps)} steps)"
                say(f"top {args.top_k} eigenvalue(s) by magnitude, by {how}...")
            elif what == "trace":
                say(f"trace by Hutchinson's estimator (at most {args.trace_samples} samples)...")
            else:
                say(f"eigenvalue density by stochastic Lanczos quadrature ({args.slq_runs} run(s) of {args.slq_steps} steps)...")
            return
        if main:
            write_hessian(folder, result, pictures=False)  # a kill loses at most the running stage
        products = f"{result.hessian_vector_products} Hessian-vector products so far"
        if stage == "top_eigenvalues":
            say(f"top eigenvalues ({ORDER}): " + ", ".join(f"{v:.5g}" for v in result.top_eigenvalues["values"]) + f"  ({result.seconds[stage]:.1f} s, {products})")
        elif stage == "trace":
            tr = result.trace
            say(f"trace: {tr['estimate']:.5g} +- {tr['std_error']:.2g} ({tr['samples']} samples)  ({result.seconds[stage]:.1f} s, {products})")
        else:
            d = result.density
            say(f"density: {len(d['nodes'])} of {args.slq_runs} SLQ run(s) of {args.slq_steps} steps; trace from SLQ "
                f"{d['trace_estimate']:.5g}  ({result.seconds['density']:.1f} s, {products})")

    used = {args.split: min(len(data), args.batches * args.batch_size)}
    if main:
        print(f"Hessian of {dim:,} parameters on {used[args.split]} {args.split} examples", flush=True)
    bar = Progress(f"hessian: {_stages_text(args)} on {data_text(used, {args.split: full.get(args.split, len(data))})}",
                   unit="Hessian-vector product", quiet=not main, deferred=True)
    say = bar.write if main else (lambda line: None)  # results on stdout, around a bar on a terminal
    with phase("evaluate"), bar:
        result = compute_hessian(
            src.model, task, src.weights[0], data, top_k=args.top_k, method=args.method, trace=args.trace, density=args.density,
            batches=args.batches, batch_size=args.batch_size, names=names, buffers=src.buffers, seed=args.seed, max_iter=args.max_iter,
            tol=args.tol, trace_samples=args.trace_samples, slq_runs=args.slq_runs, slq_steps=args.slq_steps, device=opts.device,
            protocol=protocol, known=known, on_stage=on_stage, progress=bar.callback(),
        )
    if not main:
        return 0
    write_hessian(folder, result)
    say(f"hessian results: {folder}")
    return 0


def _stages_text(args: argparse.Namespace) -> str:
    """"top 5 eigenvalues, trace and density": the stages asked for."""
    stages = ([f"top {args.top_k} eigenvalue{'s' if args.top_k != 1 else ''}"] if args.top_k else []) + \
        (["trace"] if args.trace else []) + ([f"density ({args.slq_runs} SLQ run{'s' if args.slq_runs != 1 else ''})"] if args.density else [])
    return ", ".join(stages[:-1]) + " and " + stages[-1] if len(stages) > 1 else (stages[0] if stages else "nothing")
