"""`latentscape probe RUN [RUN ...] [--baselines pca,umap,pixels] [--dim D] [--classifiers ...]`."""

from __future__ import annotations

import argparse

from latentscape.commands._types import SEED, number
from latentscape.errors import LatentscapeError


def _names(text: str, flag: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if text.strip().lower() == "none":
        return ()
    if not names and flag != "--baselines":
        raise LatentscapeError(f"{flag}: give comma-separated names")
    return names


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "probe",
        help="score runs' codes with logistic regression / kNN against PCA, UMAP and pixels",
        description=(
            "Embed the train and test splits with each run's `embed` (VAE posterior means, AE "
            "codes, ...), fit PCA and UMAP of --dim components (default: as many as the first "
            "run's code dimensions) on the training split only, and "
            "score every embedding and the raw pixels with a standard scaler plus logistic "
            "regression and k-nearest neighbours fitted on train, evaluated on test. Prints a "
            "table (accuracy as a fraction, fit and embedding times in seconds) and writes "
            "probe.json (rows + protocol), probe.md and maps.png (every embedding in 2-D, "
            "coloured by class; 2-D UMAP of codes with more than two dimensions) into --out. "
            "All runs must have been trained on the same data."
        ),
        epilog=(
            "examples:\n"
            "  latentscape probe runs/fmnist_fcconv_vae\n"
            "  latentscape probe runs/vae runs/ae --baselines pca,pixels --max-train 10000\n"
            "  latentscape probe runs/vae --baselines none --classifiers knn --knn-k 10\n"
            "  latentscape probe runs/vae --per-class 500 --knn-k 10     # study 001's protocol, 1.5 min\n"
            "\n"
            "On the full 60,000-image training split of MNIST / Fashion-MNIST a probe takes 4-5 minutes of one\n"
            "CPU core (UMAP fit ~1.5 min, logistic regression on pixels ~2 min; twice that on a busy machine);\n"
            "each stage prints its estimate when it starts and its time when it ends."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (RUN@init / RUN@last for other weights)")
    p.add_argument("--baselines", default="pca,umap,pixels", help="comma-separated subset of pca,umap,pixels, or none")
    p.add_argument("--dim", type=int, default=None, help="components of the PCA and UMAP baselines (default: the first run's code dimension)")
    p.add_argument("--classifiers", default="logreg,knn", help="comma-separated subset of logreg,knn")
    p.add_argument("--max-train", type=int, help="probe on a seeded subsample of this many training images")
    p.add_argument("--max-test", type=int, help="likewise for the test split")
    p.add_argument("--per-class", type=int, metavar="N",
                   help="probe on N seeded training images of every class (study 001's kNN protocol: 500 with "
                        "--knn-k 10); far quicker than the full training split")
    p.add_argument("--logreg-c", type=number(0.0, low_open=True), default=1.0, help="inverse L2 strength of logistic regression")
    p.add_argument("--logreg-max-iter", type=int, default=1000, help="lbfgs iterations of logistic regression")
    p.add_argument("--knn-k", type=int, default=5, help="neighbours of the kNN classifier")
    p.add_argument("--map-points", type=int, default=3000, help="test points per 2-D map (0: no maps.png)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of subsampling, UMAP, PCA and the classifiers")
    p.add_argument("--batch-size", type=int, default=500, help="embedding batch size")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, or auto")
    p.add_argument("--data-dir", help="dataset root (overrides the runs' data.data_dir)")
    p.add_argument("--out", help="analysis folder (default: RUN/analysis/probe for one run, "
                   "./analysis/probe for several)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentscape.probe.api import ProbeOptions, probe_runs
    from latentscape.probe.classifiers import ProbeProtocol

    if args.logreg_c <= 0 or args.logreg_max_iter < 1 or args.knn_k < 1:
        raise LatentscapeError("--logreg-c must be > 0, --logreg-max-iter and --knn-k >= 1")
    options = ProbeOptions(
        baselines=_names(args.baselines, "--baselines"), dim=args.dim,
        classifiers=_names(args.classifiers, "--classifiers"), max_train=args.max_train, per_class=args.per_class,
        max_test=args.max_test, map_points=args.map_points, batch_size=args.batch_size,
        device=args.device, data_dir=args.data_dir,
        protocol=ProbeProtocol(logreg_c=args.logreg_c, logreg_max_iter=args.logreg_max_iter,
                               knn_k=args.knn_k, seed=args.seed),
    )
    probe_runs(list(args.runs), options, out_dir=args.out)
    return 0
