"""`latentscape data list` and `latentscape data info NAME`: what datasets exist and what is in them."""

from __future__ import annotations

import argparse

from latentscape.commands._types import count, number
from latentscape.errors import DataError, LatentscapeError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data",
        help="list datasets, show sizes, shapes, classes and file checksums",
        description=(
            "Datasets are read from a local folder laid out like ../shared/data (root from "
            "--data-dir, else $LATENTSCAPE_DATA, else ~/.cache/latentscape/data), or downloaded "
            "from the canonical source with --download (checksums verified). `digits` and "
            "`shapes` are embedded and need no files."
        ),
        epilog=(
            "examples:\n"
            "  latentscape data list --data-dir ../shared/data\n"
            "  latentscape data info mnist --data-dir ../shared/data --verify\n"
            "  latentscape data info shapes --image-size 32 --num-examples 5000"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="data_command", metavar="ACTION")

    lp = actions.add_parser("list", help="registered datasets and whether they are available locally",
                            description="List registered datasets, their local availability and a description.")
    _add_common(lp)
    lp.set_defaults(func=run)

    ip = actions.add_parser(
        "info", help="splits, sizes, shapes, classes, value range and file checksums of a dataset",
        description="Load a dataset's splits and print sizes, image shape, dtype, classes, value "
        "range, and each file's size and MD5 (--verify compares with the official checksums).",
    )
    ip.add_argument("name", help="dataset name (see `latentscape data list`)")
    _add_common(ip)
    ip.add_argument("--verify", action="store_true",
                    help="compare file MD5s with the expected ones; exit non-zero on a mismatch or missing file")
    ip.add_argument("--download", action="store_true", help="download missing files first")
    ip.add_argument("--val-fraction", type=number(0.0, 0.9), default=0.0, help="also show a seeded validation split")
    ip.add_argument("--image-size", type=count(1, 4096), help="side length (shapes, celeba, cub; resizes others)")
    ip.add_argument("--num-examples", type=count(1), help="generated training examples (shapes)")
    ip.set_defaults(func=run)
    p.set_defaults(func=run, data_command=None)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="dataset root (default: $LATENTSCAPE_DATA or ~/.cache/latentscape/data)")


def run(args: argparse.Namespace) -> int:
    if args.data_command == "list":
        return run_list(args)
    if args.data_command == "info":
        return run_info(args)
    raise LatentscapeError("give an action: `latentscape data list` or `latentscape data info NAME`")


def run_list(args: argparse.Namespace) -> int:
    from latentscape.config import DataConfig
    from latentscape.data.registry import get_entry, resolve_data_dir
    from latentscape.registry import DATASETS

    root = resolve_data_dir(DataConfig(data_dir=args.data_dir))
    print(f"data root: {root}")
    rows, seen = [], set()
    for name in DATASETS.names():
        entry = get_entry(name)
        if id(entry) in seen:
            continue
        seen.add(id(entry))
        label = ", ".join((entry.name, *entry.aliases))
        rows.append((label, entry.availability(root), entry.description))
    _table(("name", "local", "description"), rows)
    return 0


def run_info(args: argparse.Namespace) -> int:
    from latentscape.config import DataConfig
    from latentscape.data.registry import get_entry, load_splits, resolve_data_dir

    cfg = DataConfig(name=args.name, data_dir=args.data_dir, download=args.download,
                     val_fraction=args.val_fraction, image_size=args.image_size,
                     num_examples=args.num_examples)
    entry = get_entry(args.name)
    root = resolve_data_dir(cfg)
    print(f"dataset:  {entry.name}" + (f" (aliases: {', '.join(entry.aliases)})" if entry.aliases else ""))
    print(f"about:    {entry.description}")
    where = "embedded (no files)" if entry.embedded else "your data.path" if entry.user_supplied else entry.folder_path(root)
    print(f"folder:   {where}")
    splits, problem = {}, None
    try:
        splits = load_splits(cfg)
    except DataError as exc:
        problem = str(exc)
        splits = _load_available(cfg)
    first = next(iter(splits.values()), None)
    if first is not None:
        classes = first.classes
        shown = ", ".join(classes[:12]) + (" ..." if len(classes) > 12 else "")
        print(f"classes:  {len(classes)}" + (f" ({shown})" if classes else " (unlabelled)"))
        if first.factor_names:
            sizes = first.metadata.get("factor_sizes", ())
            print("factors:  " + ", ".join(f"{n} ({s})" for n, s in zip(first.factor_names, sizes)))
    rows = []
    for split, data in splits.items():
        x = data.images
        rows.append((split, str(len(data)), "x".join(map(str, x.shape[1:])), str(x.dtype).replace("torch.", ""),
                     f"{int(x.min())}..{int(x.max())}", f"{x.float().mean().item() / 255:.4f}"))
    if rows:
        print()
        _table(("split", "examples", "shape (CxHxW)", "dtype", "range", "mean/255"), rows)
    if problem and splits:
        print(f"\nunavailable: {problem}")
    bad = _print_files(entry, root, args.verify) if entry.has_files else 0
    if not splits:
        raise DataError(problem or f"no split of {entry.name} could be loaded")
    if args.verify and bad:
        raise DataError(f"{bad} file(s) of {entry.name} are missing or fail their checksum (see above)")
    return 0


def _load_available(cfg) -> dict:
    """The splits that load, when some do not (e.g. KMNIST without training images)."""
    from latentscape.data.registry import load_split

    out = {}
    for split in ("train", "test"):
        try:
            out[split] = load_split(cfg, split)
        except DataError:
            pass
    return out


def _print_files(entry, root, verify: bool) -> int:
    from latentscape.data.files import human_size, md5_file

    folder = entry.folder_path(root)
    rows, bad = [], 0
    for spec in entry.files:
        path = folder / spec.name
        if spec.name.endswith("/"):
            n = sum(1 for _ in path.iterdir()) if path.is_dir() else 0
            status = "ok" if path.is_dir() else "MISSING"
            rows.append((spec.name, f"{n} files" if path.is_dir() else "-", "-", status))
            bad += status != "ok"
            continue
        if not path.is_file():
            rows.append((spec.name, "-", f"(expected {spec.md5 or 'unknown'})", "MISSING"))
            bad += 1
            continue
        md5 = md5_file(path)
        if spec.md5 is None:
            status = "no official md5"
        else:
            status = "ok" if md5 == spec.md5 else f"MISMATCH (expected {spec.md5})"
        bad += status.startswith("MISMATCH")
        rows.append((spec.name, human_size(path.stat().st_size), md5, status))
    print()
    headers = ("file", "size", "md5", "check")
    _table(headers if verify else headers[:3], [r if verify else r[:3] for r in rows])
    return bad


def _table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())

