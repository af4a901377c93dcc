"""Benchmark: representation quality of the study-001 VAE vs PCA, UMAP and pixels; MIG vs beta.

Measures, in one process:
- Fashion-MNIST: the study's best VAE (configs/fmnist_fcconv_vae.yaml: FC-conv, latent 10, BCE,
  batch 512, 30 epochs) trained with latentscape, then `latentscape probe`'s protocol
  (standard scaler, logistic regression C=1, kNN k=5, fitted on train, scored on test) on its
  posterior means and on PCA 10, UMAP 10 (fitted on the training split) and raw pixels.
  Keys `vae_logreg_acc`, `pca_logreg_acc`, `umap_logreg_acc`, `pixels_logreg_acc` (fractions; also
  `*_knn_acc`). Target: VAE >= 0.80 and >= 0.03 above PCA.
- shapes: configs/shapes_beta_vae.yaml for beta in --betas (1, 4, 8), MIG (`mig_beta_<b>`),
  FactorVAE and DCI disentanglement of the test split's posterior means; `mig_rises_with_beta`.

Usage (defaults: the full study settings; a shared 2-core machine needs the smaller ones):
    nice -n 10 python bench/probe.py [--data-dir ../shared/data] [--out bench/results/probe.json]
        [--epochs 30] [--fraction 1.0] [--max-train N] [--shapes-epochs 10]
        [--shapes-examples 20000] [--shapes-image-size 64] [--betas 1,4,8] [--threads 1]
        [--fmnist-run RUN] [--skip-fmnist] [--skip-shapes] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _common import default_data_dir, write_results

REPO = Path(__file__).resolve().parents[1]


def train(cfg_path: Path, overrides: list[str], workdir: Path, name: str) -> tuple[Path, float]:
    """Train a config with the real trainer; (run dir, seconds)."""
    from latentscape.config import load_config
    from latentscape.train.api import train_and_evaluate

    cfg = load_config(cfg_path, overrides)
    start = time.perf_counter()
    run = train_and_evaluate(cfg, workdir / name, quiet=True)
    return run.path, time.perf_counter() - start


def fmnist(args, workdir: Path) -> dict:
    from latentscape.probe.api import ProbeOptions, probe_runs

    if args.fmnist_run:  # probe a VAE trained earlier (e.g. by this script with --workdir)
        run, seconds = Path(args.fmnist_run), float("nan")
    else:
        run, seconds = train(REPO / "configs" / "fmnist_fcconv_vae.yaml", [
            f"train.epochs={args.epochs}", f"data.fraction={args.fraction}", f"data.data_dir={args.data_dir}",
            f"train.num_threads={args.threads}", "train.eval_every=0", "train.device=cpu",
        ], workdir, "fmnist_vae")
    options = ProbeOptions(dim=10, max_train=args.max_train, map_points=args.map_points, data_dir=args.data_dir)
    out_dir = Path(args.out).with_suffix("") if args.out else workdir / "probe"
    result = probe_runs([str(run)], options, out_dir=out_dir, log=None)
    names = {run.name: "vae", "pca10": "pca", "umap10": "umap", "pixels": "pixels"}
    res: dict = {"fmnist_vae_train_s": seconds, "fmnist_epochs": args.epochs, "fmnist_fraction": args.fraction,
                 "probe_train_size": result["protocol"]["train_size"],
                 "probe_test_size": result["protocol"]["test_size"], "probe_out": str(out_dir)}
    for row in result["rows"]:
        key = names[row["embedding"]]
        res[f"{key}_logreg_acc"] = row["logreg_acc"]
        res[f"{key}_knn_acc"] = row["knn_acc"]
        res[f"{key}_fit_s"] = row["fit_s"]
    return res


def shapes(args, workdir: Path) -> dict:
    import numpy as np

    from latentscape.data.registry import load_split
    from latentscape.metrics.disentanglement import dci, factorvae_score, mig
    from latentscape.probe.embeddings import embed_dataset
    from latentscape.rundir.load import load_run

    res: dict = {}
    for beta in args.betas:
        run, seconds = train(REPO / "configs" / "shapes_beta_vae.yaml", [
            f"model.beta={beta}", f"train.epochs={args.shapes_epochs}", f"train.num_threads={args.threads}",
            f"data.num_examples={args.shapes_examples}", f"data.image_size={args.shapes_image_size}",
            "train.eval_every=0", "train.device=cpu",
        ], workdir, f"shapes_beta{beta:g}")
        loaded = load_run(run)
        test = load_split(loaded.config.data, "test")
        codes = embed_dataset(loaded.model, test)
        factors = test.factors.numpy()
        tag = f"{beta:g}"
        res[f"mig_beta_{tag}"] = mig(codes, factors)["mig"]
        try:  # undefined when every dimension collapsed to the prior (a short run at large beta)
            res[f"factorvae_beta_{tag}"] = factorvae_score(codes, factors)["factorvae"]
        except ValueError as exc:
            res[f"factorvae_beta_{tag}"] = None
            print(f"beta {tag}: FactorVAE metric undefined: {exc}", flush=True)
        res[f"dci_disentanglement_beta_{tag}"] = dci(codes, factors)["dci_disentanglement"]
        res[f"shapes_train_s_beta_{tag}"] = seconds
        print(f"beta {tag}: MIG {res[f'mig_beta_{tag}']:.4f}", flush=True)
    migs = [res[f"mig_beta_{b:g}"] for b in sorted(args.betas)]
    res["mig_rises_with_beta"] = bool(np.all(np.diff(migs) > 0))
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=default_data_dir())
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "probe.json"))
    p.add_argument("--epochs", type=int, default=30, help="FMNIST VAE epochs (study: 30)")
    p.add_argument("--fraction", type=float, default=1.0, help="part of FMNIST used (train and test)")
    p.add_argument("--max-train", type=int, default=None, help="probe on this many training images")
    p.add_argument("--map-points", type=int, default=2000, help="points per panel of maps.png")
    p.add_argument("--shapes-epochs", type=int, default=10)
    p.add_argument("--shapes-examples", type=int, default=20000)
    p.add_argument("--shapes-image-size", type=int, default=64)
    p.add_argument("--betas", default="1,4,8", help="comma-separated beta values")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--fmnist-run", help="probe this trained FMNIST VAE run instead of training one")
    p.add_argument("--skip-fmnist", action="store_true")
    p.add_argument("--skip-shapes", action="store_true")
    p.add_argument("--workdir", help="keep the trained runs here (default: a temporary folder)")
    args = p.parse_args(argv)
    args.betas = [float(b) for b in args.betas.split(",") if b.strip()]
    import torch

    torch.set_num_threads(args.threads)
    results: dict = {"command": " ".join(["python bench/probe.py", *(argv if argv is not None else sys.argv[1:])])}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        if not args.skip_fmnist:
            results.update(fmnist(args, workdir))
            if "vae_logreg_acc" in results:
                results["vae_minus_pca_points"] = 100 * (results["vae_logreg_acc"] - results["pca_logreg_acc"])
        if not args.skip_shapes:
            results.update(shapes(args, workdir))
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value:.4f}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
