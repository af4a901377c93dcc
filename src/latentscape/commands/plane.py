"""`latentscape plane A B C` / `latentscape plane --curve CURVE_RUN`: metric contours on a plane."""

from __future__ import annotations

import argparse
import math

from latentscape.commands._landscape_args import MODEL_EPILOG, add_eval_options, add_source_options, eval_options
from latentscape.commands._types import count


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plane",
        help="metric grid and contour plots on the plane through three weight sets",
        description=(
            "Build an orthonormal basis (Gram-Schmidt) of the plane through three weight sets A, B, "
            "C (or a curve's start, end and middle bend), evaluate the metrics on a grid covering "
            "the points with margins, and draw contour plots with the points marked and the curve "
            "overlaid. The comparison the plane is drawn for is measured exactly: the straight line A -> B "
            "against the broken line A -> C -> B (or a trained curve against the line between its ends). "
            "Writes plane.json, summary.json and images/plane_<metric>_<split>.png; finished grid points "
            "go to grid.npz as they come (--resume continues a killed run)."
        ),
        epilog=(
            "examples:\n"
            "  latentscape plane runs/a runs/b runs/c --grid 21\n"
            "  latentscape plane --curve runs/curve-ab --grid 21 --margin 0.2,0.2,0.3,0.3\n"
            "  latentscape plane runs/a runs/b runs/c --metrics loss,hessian_top --grid 7   # sharpness on the plane\n"
            + MODEL_EPILOG.format(cmd="plane", example="a.pt b.pt c.pt")
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("refs", nargs="*", metavar="WEIGHTS", help="three weight references A B C")
    p.add_argument("--curve", metavar="CURVE_RUN", help="a curve run made by `latentscape connect`")
    p.add_argument("--grid", type=count(2, 10_000), default=21, help="grid points per axis (default 21)")
    p.add_argument("--margin", default="0.2", help="margin as a fraction of the span: one value or left,right,bottom,top")
    p.add_argument("--compare-points", type=count(2, 10_000), default=11, help="points on each of the two compared paths (default 11)")
    p.add_argument("--out", help="output folder (default runs/plane-<time>)")
    add_source_options(p)
    add_eval_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from latentscape.commands._landscape_args import data_text, source_of, tracked_points
    from latentscape.errors import LatentscapeError
    from latentscape.landscape.core.plane import plane_for_curve, plane_through
    from latentscape.landscape.studies.grid_file import is_main
    from latentscape.landscape.studies.inputs import load_data
    from latentscape.landscape.studies.outputs import check_output_dir, open_folder
    from latentscape.landscape.studies.plane import comparison_paths, compute_plane, write_plane
    from latentscape.timing import phase

    try:
        margin = [float(v) for v in args.margin.split(",")]
    except ValueError:
        raise LatentscapeError(f"--margin {args.margin!r}: expected numbers like 0.2 or 0.2,0.2,0.3,0.3") from None
    if not all(math.isfinite(m) and m >= 0 for m in margin):
        raise LatentscapeError(f"--margin {args.margin!r}: each margin must be a finite number >= 0")
    if len(margin) not in (1, 4):
        raise LatentscapeError("--margin: give one value or four (left, right, bottom, top)")
    check_output_dir(args.out)  # before any evaluation: a bad --out costs nothing
    opts = eval_options(args)
    src = source_of(args, args.refs, args.curve, count=None if args.curve else 3)
    short = [r.rstrip("/").rsplit("/", 1)[-1] for r in src.refs]  # the labels on the pictures
    if src.curve is not None:  # refs: the curve's start, its bends, its end
        ends = (short[0], short[-1]) if len({short[0], short[-1], "bend"}) == 3 else ("start", "end")
        plane, _ = plane_for_curve(src.curve, ends)
        a = b = c = None
    else:
        a, b, c = src.weights
        plane = plane_through(a, b, c, names=short if len(set(short)) == 3 else list(src.refs))
    main = is_main()
    folder = open_folder("plane", args.out, src.run_dir, resume=args.resume, create=main)
    full: dict[str, int] = {}
    data, train = load_data(src, opts, full=full)
    protocol = {"source": str(src.run_dir or src.refs[0]), **src.protocol(data, full)}
    compare = comparison_paths(plane, a, b, c, src.curve)
    total = args.grid**2 + len(compare) * args.compare_points
    what = f"plane: {args.grid}x{args.grid} grid and {len(compare)} paths of {args.compare_points} points on {data_text(data, full)}"
    with phase("evaluate"), tracked_points(what, total, folder=folder, resume=args.resume) as progress:
        result = compute_plane(
            src.model, src.task(opts.metrics), plane, data, compare=compare, curve=src.curve,
            grid=args.grid, margin=margin[0] if len(margin) == 1 else margin, compare_points=args.compare_points, bn_data=train,
            buffers=src.buffers, batch_size=opts.batch_size, device=opts.device, bn_batches=opts.bn_batches, use_vmap=opts.use_vmap,
            protocol=protocol, folder=folder, resume=args.resume, progress=progress,
        )
    if not main:
        return 0
    write_plane(folder, result)
    for s, ms in result.values.items():
        for m, g in ms.items():
            print(f"{s} {m}: min {np.nanmin(g):.4g}  max {np.nanmax(g):.4g}")
    for key in ("line", "curve"):
        path = result.paths.get(key)
        if path:
            for s, ms in path["summary"].items():
                if "loss" in ms:
                    print(f"{path['label']}: {s} loss barrier {ms['loss']['barrier']:.4g}, max {ms['loss']['max']:.4g}")
    print(f"plane results: {folder}")
    return 0
