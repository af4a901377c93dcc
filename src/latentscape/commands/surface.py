"""`latentscape surface RUN`: loss surfaces along random filter-normalised directions."""

from __future__ import annotations

import argparse
import re

from latentscape.commands._landscape_args import MODEL_EPILOG, add_eval_options, add_source_options, eval_options
from latentscape.commands._types import SEED


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "surface",
        help="1-D/2-D metric surfaces around one model along random filter-normalised directions (Li et al. 2018)",
        description=(
            "Draw Gaussian directions d1 (and d2) around the weights w, normalise them filter by filter "
            "to the norms of w's filters (Li et al. 2018; or per layer, or not at all), and evaluate the "
            "model's metrics at w + a d1 + b d2 on a grid. The same --seed gives the same directions "
            "for any model of the same architecture. BatchNorm statistics are recomputed at every point "
            "(--fixed-bn keeps the model's own, as Li et al.). Writes RUN/analysis/surface-<time>/: "
            "surface.json, surface.npz, surface_<split>.vtk (ParaView), summary.json, images/ (filled "
            "contour, contour lines, 3-D surface; a line plot for --dims 1) and report.html. Finished grid "
            "points are written to grid.npz as they come: --resume continues a killed run, also under "
            "torchrun with another number of processes."
        ),
        epilog=(
            "examples:\n"
            "  latentscape surface runs/mlp --grid 51 --splits test\n"
            "  latentscape surface runs/mlp --dims 1 --range -1:1 --grid 101\n"
            "  latentscape surface runs/cnn --range -0.5:0.5,-0.5:0.5 --grid 41 --ignore none --norm layer\n"
            "  latentscape surface runs/gan --group generator --metrics model\n"
            "  latentscape surface runs/mlp --trajectory --grid 21   # = latentscape trajectory runs/mlp\n"
            "  latentscape surface runs/mlp --grid 51 --out s --resume   # after a kill: only the missing points\n"
            + MODEL_EPILOG.format(cmd="surface", example="final.pt --grid 21")
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # let "--range -1:1" through: argparse only treats plain negative numbers as values
    # (any value starting with "-" and a digit, ".", "inf" or "nan": -1:1, -1e3:1e3, -inf:inf, -1,1;
    # parse_span then says what is wrong with it rather than argparse's "expected one argument")
    p._negative_number_matcher = re.compile(r"^-(\d|\.|inf|nan)", re.IGNORECASE)
    p.add_argument("run", metavar="WEIGHTS", help="a run (RUN_DIR, RUN_DIR@init, RUN_DIR@last), or a weights file with --model")
    p.add_argument("--dims", type=int, choices=(1, 2), default=2, help="1-D line or 2-D surface (default 2)")
    p.add_argument("--range", default="-1:1", help="coordinate span LO:HI, or LO:HI,LO:HI for x and y (default -1:1)")
    p.add_argument("--grid", default="51", help="grid points per axis, or NX,NY (default 51)")
    p.add_argument("--norm", choices=("filter", "layer", "none"), default="filter", help="direction normalisation (default filter)")
    p.add_argument("--ignore", choices=("biasbn", "none"), default="biasbn", help="biasbn: zero the direction on biases and BatchNorm parameters (default)")
    p.add_argument("--seed", type=SEED, default=0, help="direction seed (same seed, same directions for the same architecture)")
    p.add_argument("--group", default=None, help="move only this parameter group (GANs: generator or critic)")
    p.add_argument("--fixed-bn", action="store_true", help="keep the model's BatchNorm statistics instead of recomputing them per point")
    p.add_argument("--trajectory", action="store_true", help="use the PCA plane of the run's kept checkpoints instead (see `trajectory`)")
    p.add_argument("--out", help="output folder (default RUN/analysis/surface-<time>)")
    add_source_options(p)
    add_eval_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentscape.commands._landscape_args import data_text, parse_grid, parse_span, source_of, tracked_points
    from latentscape.commands.trajectory import run_trajectory
    from latentscape.errors import LatentscapeError
    from latentscape.landscape.core.directions import random_directions
    from latentscape.landscape.core.grid import axes
    from latentscape.landscape.studies.grid_file import is_main
    from latentscape.landscape.studies.inputs import load_data
    from latentscape.landscape.studies.outputs import check_output_dir, open_folder
    from latentscape.landscape.studies.surface import compute_surface, group_param_names, restrict, write_surface
    from latentscape.timing import phase

    counts = parse_grid(args.grid)
    spans = parse_span(args.range)
    if args.trajectory:
        return run_trajectory(args, grid=counts[0], margin=0.3, ignore="none")
    if args.dims not in (1, 2):
        raise LatentscapeError(f"--dims {args.dims}: 1 or 2")
    check_output_dir(args.out)  # before any evaluation: a bad --out costs nothing
    opts = eval_options(args)
    src = source_of(args, [args.run], count=1)
    (w,) = src.weights
    task = src.task(opts.metrics, args.group)
    names = group_param_names(src.model, args.group)
    dirs = [restrict(d, names) for d in random_directions(w, args.dims, seed=args.seed, norm=args.norm, ignore=args.ignore)]  # type: ignore[arg-type]
    xs, ys = axes(spans, counts, args.dims)
    main = is_main()
    folder = open_folder("surface", args.out, src.run_dir, resume=args.resume, create=main)
    full: dict[str, int] = {}
    data, train = load_data(src, opts, recompute_bn=not args.fixed_bn, full=full)
    protocol = {"source": str(args.run), "directions": {"kind": "random", "norm": args.norm, "ignore": args.ignore, "seed": args.seed, "group": args.group},
                **src.protocol(data, full)}
    shape = f"{len(xs)}-point line" if ys is None else f"{len(xs)}x{len(ys)} grid"
    total = len(xs) * (1 if ys is None else len(ys))
    with phase("evaluate"), tracked_points(f"surface: {shape} on {data_text(data, full)}", total, folder=folder, resume=args.resume) as progress:
        result = compute_surface(
            src.model, task, w, dirs, xs, ys, data, recompute_bn=not args.fixed_bn, bn_data=train, buffers=src.buffers,
            batch_size=opts.batch_size, device=opts.device, bn_batches=opts.bn_batches, use_vmap=opts.use_vmap,
            protocol=protocol, folder=folder, resume=args.resume, progress=progress,
        )
    if not main:
        return 0
    write_surface(folder, result)
    print_surface(result)
    print(f"surface results: {folder}")
    return 0


def print_surface(result) -> None:
    """One line per split and metric: the value at w (saying when on a subset), min and max."""
    from latentscape.landscape.studies.outputs import fraction_text

    sizes, full = result.protocol.get("examples", {}), result.protocol.get("full_sizes", {})
    for s, ms in result.summary().items():
        subset = fraction_text(int(sizes.get(s, 0)), full.get(s), s)
        for m, v in ms.items():
            at = "n/a" if v["origin"] is None else f"{v['origin']:.4g}"
            print(f"{s} {m}: at w {at}{f' ({subset})' if subset else ''}  min {v['min']:.4g}  max {v['max']:.4g}")
