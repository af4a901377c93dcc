"""Benchmark: representation quality of the study-001 VAE vs PCA, UMAP and pixels; MIG vs beta.

Measures, in one process:
- Fashion-MNIST: the study's best VAE (configs/fmnist_fcconv_vae.yaml: FC-conv, latent 10, BCE,
  batch 512, 30 epochs) trained with latentscape, then `latentscape probe`'s protocol
  (standard scaler, logistic regression C=1, kNN k=5, fitted on the full training split by
  default, scored on the full test split) on its posterior means and on PCA 10, UMAP 10 (fitted
  on the training split) and raw pixels. Keys `vae_logreg_acc`, `pca_logreg_acc`,
  `umap_logreg_acc`, `pixels_logreg_acc` (fractions; also `*_knn_acc`). Target: VAE >= 0.80 and
  >= 0.03 above PCA.
  Also the study's own protocol, which is where its "~80% vs 73%" comes from (main.ipynb,
  section 5: kNN, k=10, uniform votes, on 500 training codes per class, raw codes, full test
  split): `vae_knn10_500pc_acc`, `pca_knn10_500pc_acc` (mean over 5 seeded draws, `*_sd`), and
  diagnostics `vae_active_units` (Burda et al. 2016) and `vae_test_nelbo` (nats per image).
- shapes: configs/shapes_beta_vae.yaml for beta in --betas (1, 4, 8), MIG (`mig_beta_<b>`),
  FactorVAE and DCI disentanglement of the test split's posterior means; `mig_rises_with_beta`.

Measured (2026-11-23, 2-core CPU, seed 42, full 60k train / 10k test; see README "Benchmarks"):
the logistic-regression target is NOT met, and no bug explains it. The net and loss match the
study's code (784-32 ReLU encoder, 1x1 heads, 10-118 ReLU decoder, sigmoid/BCE summed per image +
KL, Adam 1e-3, batch 512, 30 epochs); test -ELBO 250.5 nats, KL 12.7 nats, 7 of 10 latent units
active (3 collapsed to the prior). Logistic regression converges (~100 lbfgs iterations, no
warning) and is not regularisation-bound (C=100 within 0.001; train accuracy 0.763 vs test 0.754):
a linear read-out of 7 active VAE dimensions is as good as one of 10 principal components
(VAE 0.754, PCA 0.755; UMAP 0.770, pixels 0.835, where lbfgs stops at 1000 iterations on 784-d
pixels). The study's 80% is a kNN number on the test split: with its protocol this VAE scores
0.782 +- 0.002 vs PCA 0.770 +- 0.003; kNN (k=5) on the full training split gives VAE 0.801, PCA
0.812. The study's 73% for PCA is not reproduced by any of these protocols. Full run ~20 min on
the shared 2-core machine (UMAP 3 min, the 60k x 784 pixel fit most of the rest); `--baselines
pca` takes ~4 min.
shapes, full length (`--skip-fmnist`, 64 px, 20,000 sprites, 10 epochs, seed 0; ~17 min): MIG
0.019 / 0.077 / 0.019, FactorVAE 0.40 / 0.59 / 0.33, DCI disentanglement 0.10 / 0.25 / 0.16 for
beta 1 / 4 / 8: every metric rises from beta 1 to 4 and falls at 8 (KL 8.1 nats at beta 8 against
11.2 at beta 4), so `mig_rises_with_beta` (monotone over all betas) is False for this seed.

Usage (defaults: the full study settings; a shared 2-core machine needs the smaller ones):
    nice -n 10 python bench/probe.py [--data-dir ../shared/data] [--out bench/results/probe.json]
        [--epochs 30] [--fraction 1.0] [--max-train N] [--baselines pca,umap,pixels]
        [--shapes-epochs 10] [--shapes-examples 20000] [--shapes-image-size 64] [--betas 1,4,8]
        [--threads 1] [--fmnist-run RUN] [--skip-fmnist] [--skip-shapes] [--workdir DIR]
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
    options = ProbeOptions(baselines=tuple(args.baselines), dim=10, max_train=args.max_train,
                           map_points=args.map_points, data_dir=args.data_dir)
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
    res.update(study_protocol(run, args))
    return res


def study_protocol(run: Path, args, per_class: int = 500, k: int = 10, draws: int = 5) -> dict:
    """Study 001's own comparison (main.ipynb, section 5): kNN (k=10, uniform votes) fitted on
    500 raw training codes per class, accuracy on the full test split; mean and sd over `draws`
    seeded class-balanced draws. Plus the VAE's active units and test -ELBO."""
    import dataclasses
    import json

    import numpy as np
    from sklearn.neighbors import KNeighborsClassifier

    from latentscape.data.registry import load_split
    from latentscape.probe.diagnostics import active_units, per_class_indices
    from latentscape.probe.embeddings import baseline_embedding, embed_dataset
    from latentscape.rundir.load import load_run

    loaded = load_run(run)
    data_cfg = dataclasses.replace(loaded.config.data, data_dir=args.data_dir)
    train, test = load_split(data_cfg, "train"), load_split(data_cfg, "test")
    y_train, y_test = train.labels.numpy(), test.labels.numpy()
    codes = {"vae": (embed_dataset(loaded.model, train), embed_dataset(loaded.model, test))}
    pca = baseline_embedding("pca", train, test, 10, seed=0)
    codes["pca"] = (pca.train, pca.test)
    res: dict = {"vae_active_units": active_units(codes["vae"][0])}
    final = run / "eval" / "final.json"
    if final.is_file():
        res["vae_test_nelbo"] = json.loads(final.read_text()).get("test", {}).get("nelbo")
    for name, (z_train, z_test) in codes.items():
        accs = []
        for seed in range(draws):
            idx = per_class_indices(y_train, per_class, seed)
            knn = KNeighborsClassifier(n_neighbors=k).fit(z_train[idx], y_train[idx])
            accs.append(float(np.mean(knn.predict(z_test) == y_test)))
        res[f"{name}_knn{k}_{per_class}pc_acc"] = float(np.mean(accs))
        res[f"{name}_knn{k}_{per_class}pc_sd"] = float(np.std(accs))
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
    p.add_argument("--max-train", type=int, default=None,
                   help="probe on this many training images (default: the full training split)")
    p.add_argument("--baselines", default="pca,umap,pixels",
                   help="comma-separated subset of pca,umap,pixels (umap is the slow one)")
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
    args.baselines = [b.strip() for b in args.baselines.split(",") if b.strip()]
    import torch

    torch.set_num_threads(args.threads)
    results: dict = {"command": " ".join(["python bench/probe.py", *(argv if argv is not None else sys.argv[1:])])}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        if not args.skip_fmnist:
            results.update(fmnist(args, workdir))
            if "vae_logreg_acc" in results and "pca_logreg_acc" in results:
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
