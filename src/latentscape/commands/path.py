"""`latentscape path A B` / `latentscape path --curve CURVE_RUN`: metrics along a path."""

from __future__ import annotations

import argparse

from latentscape.commands._landscape_args import MODEL_EPILOG, add_eval_options, add_source_options, eval_options
from latentscape.commands._types import count


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "path",
        help="metrics along the straight segment between two weight sets, or along a trained curve",
        description=(
            "Evaluate the models' own metrics (loss/accuracy for classifiers; reconstruction loss, "
            "SSIM and LPIPS when available for autoencoders) at evenly spaced points of the segment "
            "(1-t) A + t B, or of a curve trained by `latentscape connect`. BatchNorm statistics are "
            "recomputed at every point. Writes path.json (values and a summary: start, end, min, "
            "max, mean, barrier height, length), summary.json, images/path_<metric>.png and, for "
            "autoencoders, the image dynamics images/dynamics.png and dynamics.gif. Finished points "
            "are written to grid.npz as they come; --resume continues a killed run."
        ),
        epilog=(
            "weight references: RUN_DIR (final weights), RUN_DIR@init, RUN_DIR@last.\n"
            "the loss-landscape lab's four cases:\n"
            "  latentscape path runs/a runs/b --range 0,1.5        # two minima\n"
            "  latentscape path runs/a runs/a@init                 # a minimum and its initialisation\n"
            "  latentscape path runs/a runs/b@init                 # a minimum and another initialisation\n"
            "  latentscape path runs/a@init runs/b@init            # two initialisations\n"
            "  latentscape path --curve runs/curve-ab              # along a trained curve\n"
            "  latentscape path runs/a runs/b --metrics loss,hessian_top --points 11   # sharpness along the line\n"
            "  torchrun --nproc-per-node 2 -m latentscape.cli path runs/a runs/b   # points sharded\n"
            + MODEL_EPILOG.format(cmd="path", example="a.pt b.safetensors")
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("refs", nargs="*", metavar="WEIGHTS", help="two weight references A B (runs, or weights files with --model)")
    p.add_argument("--curve", metavar="CURVE_RUN", help="a curve run made by `latentscape connect`")
    p.add_argument("--points", type=count(2, 100_000), default=61, help="evaluation points (default 61)")
    p.add_argument("--range", default="0,1", help="t range of the segment, e.g. 0,1.5 (lines only; default 0,1)")
    p.add_argument("--dynamics-images", type=count(0, 1000), default=4, help="test images in the image-dynamics strip/GIF (autoencoders)")
    p.add_argument("--out", help="output folder (default runs/path-<time>)")
    add_source_options(p)
    add_eval_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentscape.commands._landscape_args import data_text, parse_range, source_of, tracked_points
    from latentscape.errors import LatentscapeError
    from latentscape.landscape.studies.grid_file import is_main
    from latentscape.landscape.studies.inputs import load_data
    from latentscape.landscape.studies.outputs import check_output_dir, open_folder
    from latentscape.landscape.studies.path import path_study, write_path
    from latentscape.viz.deferred import plots_mode

    t_range = parse_range(args.range)
    if args.curve and args.range != "0,1":
        raise LatentscapeError("--range applies to straight segments only; a curve is evaluated on [0, 1]")
    check_output_dir(args.out)  # before any evaluation: a bad --out costs nothing
    opts = eval_options(args)
    src = source_of(args, args.refs, args.curve, count=None if args.curve else 2)
    main = is_main()
    folder = open_folder("path", args.out, src.run_dir, resume=args.resume, create=main)
    full: dict[str, int] = {}
    data, train = load_data(src, opts, full=full)
    along = f"the {src.curve.kind} curve" if src.curve is not None else "the line"
    with tracked_points(f"path: {args.points} points along {along} on {data_text(data, full)}", args.points, folder=folder,
                        resume=args.resume) as progress:
        result = path_study(src, opts, points=args.points, t_range=t_range, folder=folder, resume=args.resume,
                            dynamics_images=args.dynamics_images if plots_mode() != "none" else 0, progress=progress,
                            loaded=(data, train, full))
    if not main:
        return 0
    write_path(folder, result)
    print(format_path(result))
    print(f"path results: {folder}")
    return 0


def format_path(result) -> str:
    """A readable table of the path's summary."""
    doc = result.to_json()
    lines = [f"{doc.get('description', doc['kind'])}: {len(doc['ts'])} points, length {doc['length']:.4g}"]
    lines.append(f"{'split':<7}{'metric':<16}{'start':>10}{'end':>10}{'min':>10}{'max':>10}{'mean':>10}{'barrier':>10}")
    for split, ms in doc["summary"].items():
        for m, s in ms.items():
            lines.append(f"{split:<7}{m:<16}" + "".join(f"{s[k]:>10.4g}" for k in ("start", "end", "min", "max", "mean", "barrier")))
    return "\n".join(lines)
