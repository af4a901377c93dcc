"""`latentscape trajectory RUN`: the training trajectory on its top-2 PCA plane over the surface."""

from __future__ import annotations

import argparse

from latentscape.commands._landscape_args import MODEL_EPILOG, add_eval_options, add_source_options, eval_options
from latentscape.commands._types import count, number


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "trajectory",
        help="training trajectory projected on its top-2 PCA directions, drawn over the metric surface",
        description=(
            "Collect the run's weights along training (checkpoints/init.pt, checkpoints/keep/step_*.pt "
            "written with train.keep_every=N, checkpoints/final.pt), take the PCA of w_i - w_final "
            "(Li et al. 2018, sec. 7), print and save the explained variance ratio of the top two "
            "directions, evaluate the metrics on the plane they span around w_final and draw the path "
            "over it. Writes RUN/analysis/trajectory-<time>/ like `surface`."
        ),
        epilog=(
            "example (checkpoints kept every 20 steps, then the trajectory):\n"
            "  latentscape train configs/mnist_mlp.yaml data.name=digits train.epochs=10 train.keep_every=20 --run-dir runs/mlp\n"
            "  latentscape trajectory runs/mlp --grid 31 --splits test\n"
            + MODEL_EPILOG.format(cmd="trajectory", example="epoch1.pt epoch2.pt epoch3.pt final.pt   # in training order")
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", nargs="+", metavar="RUN_DIR", help="a finished run trained with train.keep_every=N, or with --model "
                   "four or more weights files in training order (the last is the final weights)")
    p.add_argument("--grid", type=count(2, 10_000), default=21, help="grid points per axis (default 21)")
    p.add_argument("--margin", type=number(0.0), default=0.3, help="margin around the path as a fraction of its span (default 0.3)")
    p.add_argument("--ignore", choices=("biasbn", "none"), default="none", help="biasbn: leave biases/BatchNorm parameters out of the PCA")
    p.add_argument("--fixed-bn", action="store_true", help="keep the final model's BatchNorm statistics instead of recomputing them")
    p.add_argument("--out", help="output folder (default RUN/analysis/trajectory-<time>)")
    add_source_options(p)
    add_eval_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentscape.errors import LatentscapeError

    if args.grid < 2 or args.margin < 0:
        raise LatentscapeError("--grid must be at least 2 and --margin non-negative")
    return run_trajectory(args, grid=args.grid, margin=args.margin, ignore=args.ignore)


def run_trajectory(args: argparse.Namespace, *, grid: int, margin: float, ignore: str) -> int:
    """`trajectory` (and `surface --trajectory`): the weights along training on their PCA plane."""
    from latentscape.commands._landscape_args import data_text, source_of, tracked_points
    from latentscape.commands.surface import print_surface
    from latentscape.errors import LatentscapeError
    from latentscape.landscape.studies.grid_file import is_main
    from latentscape.landscape.studies.inputs import load_data
    from latentscape.landscape.studies.outputs import check_output_dir, open_folder
    from latentscape.landscape.studies.surface import write_surface
    from latentscape.landscape.studies.trajectory import compute_trajectory, trajectory_weights
    from latentscape.timing import phase

    check_output_dir(args.out)  # before any evaluation: a bad --out costs nothing
    refs = args.run if isinstance(args.run, list) else [args.run]
    opts = eval_options(args)
    if args.model:
        if len(refs) < 4:
            raise LatentscapeError("trajectory --model needs at least 4 weights files, in training order (the last is the final weights)")
        src = source_of(args, refs)
        steps, weights = list(range(len(refs))), src.weights
    else:
        if len(refs) != 1:
            raise LatentscapeError("trajectory takes one run directory (its kept checkpoints are the trajectory)")
        src = source_of(args, refs, count=1)
        steps, weights = trajectory_weights(src.run_dir, src.weights[0])
    main = is_main()
    folder = open_folder("trajectory", args.out, src.run_dir, resume=args.resume, create=main)
    full: dict[str, int] = {}
    data, train = load_data(src, opts, recompute_bn=not args.fixed_bn, full=full)
    protocol = {"source": str(refs[0] if len(refs) == 1 else refs[-1]), **src.protocol(data, full)}
    what = f"trajectory: {grid}x{grid} grid of the PCA plane of {len(weights)} weight sets on {data_text(data, full)}"
    with phase("evaluate"), tracked_points(what, grid * grid, folder=folder, resume=args.resume) as progress:
        result = compute_trajectory(
            src.model, src.task(opts.metrics), weights, data, steps=steps, grid=grid, margin=margin, ignore=ignore, protocol=protocol,
            recompute_bn=not args.fixed_bn, bn_data=train, buffers=src.buffers, batch_size=opts.batch_size, device=opts.device,
            bn_batches=opts.bn_batches, use_vmap=opts.use_vmap, folder=folder, resume=args.resume, progress=progress,
        )
    if not main:
        return 0
    write_surface(folder, result)
    evr = result.trajectory["explained_variance_ratio"]
    print(f"{len(steps)} weight sets (steps {steps[0]}..{steps[-1]}); explained variance ratio: "
          f"PC1 {evr[0]:.4f}, PC2 {evr[1]:.4f} (sum {sum(evr):.4f})")
    print_surface(result)
    print(f"trajectory results: {folder}")
    return 0
