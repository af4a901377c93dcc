"""Benchmark: auto-decoder (GLO) vs an autoencoder with the same decoder, on MNIST (../shared/data).

For each latent size d (default 2 and 32), in one process, with the same data, decoder
(an FC decoder d-500-500-784, ReLU, no batch norm, sigmoid output), optimizer (Adam), batch
size and number of epochs:
- glo: `model.name=autodecoder`, zeros-initialised latent table with its own LR (--latent-lr 0.1:
  each latent gets one update per epoch, so at the decoder's 1e-3 a short run leaves the latents
  near zero; with --latent-lr 0.001, the study's single LR, the autoencoder wins at d=2 and 32);
- ae: `model.name=ae`, net=fc, a mirrored encoder 784-500-500-d in front of the same decoder.
Reports train and validation (test split) MSE per pixel and training wall time:
- glo_train_mse_<d>: decodes of the learned training latents; glo_val_mse_<d>: decodes of latents
  fitted to the test images with the decoder frozen (--val-steps Adam steps at --val-lr), the
  study's validation; glo_val_seconds_<d>: the time that fitting takes;
- ae_train_mse_<d>, ae_val_mse_<d>: decodes of the encoder's codes;
- glo_seconds_<d>, ae_seconds_<d>: training time (optimisation steps only).
The GLO runs use dense Adam on the table, the study's (Keras) optimizer; --sparse uses the
model's default SparseAdam, which moves each latent once per epoch only (worse after few epochs).
Then the table's update mode: ms per training step with dense gradients + Adam over the whole
table vs sparse gradients + SparseAdam (rows of the batch only), on a table of --speed-rows rows,
alternated --repeats times, best of each (dense_ms_<d>, sparse_ms_<d>).

The default size finishes in a few minutes on a CPU (--fraction 0.1 of MNIST, 5 epochs); the
study's setting is --fraction 0.5 --epochs 100 (the study's figures: 500).

Usage:
    nice -n 10 python bench/autodecoder.py [--data-dir ../shared/data] [--out bench/results/autodecoder.json]
        [--fraction 0.1] [--epochs 5] [--dims 2 32] [--val-steps 50] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import StepClock, default_data_dir, write_results



def _config(model: dict, args, epochs: int, max_steps: int | None = None):
    from latentscape.config import config_from_dict

    train = {
        "epochs": epochs, "batch_size": args.batch_size, "optimizer": {"name": "adam", "lr": args.lr},
        "eval_every": 0, "final_eval_splits": [], "log_every": 10**9, "device": "cpu",
        "num_threads": args.threads, "max_steps": max_steps,
    }
    return config_from_dict({"model": model, "data": {"name": "mnist"}, "train": train, "seed": args.seed})


def _train(cfg, data, workdir: Path, name: str):
    from latentscape.rundir.load import load_run
    from latentscape.train.api import train_and_evaluate

    clock = StepClock()
    train_and_evaluate(cfg, workdir / name, data=data, quiet=True, callbacks=[clock])
    return load_run(workdir / name).model, clock.end - clock.start


@torch.no_grad()
def _mse(model, images: torch.Tensor, codes_fn, batch: int = 1000) -> float:
    """Mean per-pixel MSE of decode(codes_fn(x)) over uint8 images (N, C, H, W)."""
    total, n = 0.0, 0
    for start in range(0, images.shape[0], batch):
        x = images[start : start + batch].float().div_(255.0)  # (b, C, H, W)
        total += float((model.decode(codes_fn(x, start)) - x).square().flatten(1).mean(1).double().sum())
        n += x.shape[0]
    return total / max(n, 1)


def quality(args, data, workdir: Path, d: int) -> dict[str, float]:
    arch = "-".join(str(h) for h in args.hidden)
    glo_cfg = _config({"name": "autodecoder", "arch": arch, "latent_dim": d, "activation": "relu",
                       "batchnorm": False, "latent_init": "zeros", "val_steps": args.val_steps,
                       "val_lr": args.val_lr, "latent_lr": args.latent_lr,
                       "sparse": args.sparse}, args, args.epochs)
    ae_cfg = _config({"name": "ae", "net": "fc", "hidden_dims": list(reversed(args.hidden)),
                      "decoder_hidden_dims": list(args.hidden), "latent_dim": d, "losses": {"mse": 1.0}},
                     args, args.epochs)
    glo, glo_s = _train(glo_cfg, data, workdir, f"glo_{d}")
    ae, ae_s = _train(ae_cfg, data, workdir, f"ae_{d}")
    train, test = data["train"].images, data["test"].images
    table = glo.training_latents()
    out = {f"glo_seconds_{d}": glo_s, f"ae_seconds_{d}": ae_s}
    out[f"glo_train_mse_{d}"] = _mse(glo, train, lambda x, s: table[s : s + x.shape[0]])
    t0 = time.perf_counter()
    out[f"glo_val_mse_{d}"] = _mse(glo, test, lambda x, s: glo.fit_codes(x))
    out[f"glo_val_seconds_{d}"] = time.perf_counter() - t0
    out[f"ae_train_mse_{d}"] = _mse(ae, train, lambda x, s: ae.embed(x))
    out[f"ae_val_mse_{d}"] = _mse(ae, test, lambda x, s: ae.embed(x))
    return out


def update_speed(args, data, workdir: Path, d: int) -> dict[str, float]:
    """ms per training step, dense vs sparse table updates (alternated, best of each)."""
    best = {"dense": float("inf"), "sparse": float("inf")}
    arch = "-".join(str(h) for h in args.hidden)
    for r in range(args.repeats):
        for mode in ("dense", "sparse"):
            cfg = _config({"name": "autodecoder", "arch": arch, "latent_dim": d, "activation": "relu",
                           "batchnorm": False, "sparse": mode == "sparse"}, args, 1, max_steps=args.speed_steps)
            _, seconds = _train(cfg, data, workdir, f"speed_{mode}_{d}_{r}")
            best[mode] = min(best[mode], 1000 * seconds / max(args.speed_steps - 1, 1))
    return {f"dense_ms_{d}": best["dense"], f"sparse_ms_{d}": best["sparse"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=default_data_dir(), help="root holding mnist/ (default: ../shared/data)")
    p.add_argument("--out", default="bench/results/autodecoder.json", help="JSON results path")
    p.add_argument("--fraction", type=float, default=0.1, help="part of MNIST train/test used (study: 0.5)")
    p.add_argument("--epochs", type=int, default=5, help="training epochs of both models (study: 100)")
    p.add_argument("--dims", type=int, nargs="+", default=[2, 32], help="latent sizes")
    p.add_argument("--hidden", type=int, nargs="+", default=[500, 500], help="decoder hidden widths")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--latent-lr", type=float, default=0.1,
                   help="LR of the GLO latent table (each latent gets one update per epoch; the study: --lr)")
    p.add_argument("--sparse", action="store_true",
                   help="GLO quality runs with SparseAdam on the table (the model's default) instead of dense Adam")
    p.add_argument("--val-steps", type=int, default=50, help="latent-fitting steps of the auto-decoder")
    p.add_argument("--val-lr", type=float, default=0.05, help="latent-fitting learning rate")
    p.add_argument("--speed-rows", type=float, default=1.0, help="fraction of MNIST train as the table of the speed test")
    p.add_argument("--speed-steps", type=int, default=150, help="steps per dense/sparse speed run (0 skips)")
    p.add_argument("--repeats", type=int, default=3, help="alternated dense/sparse speed runs")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from latentscape.config import DataConfig
    from latentscape.data.registry import load_splits

    torch.set_num_threads(args.threads)
    data = load_splits(DataConfig(name="mnist", data_dir=args.data_dir, fraction=args.fraction))
    results: dict[str, float | int | str] = {"fraction": args.fraction, "epochs": args.epochs,
                                             "glo_table_update": "sparse" if args.sparse else "dense",
                                             "train_images": len(data["train"]), "test_images": len(data["test"]),
                                             "val_steps": args.val_steps}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for d in args.dims:
            results.update(quality(args, data, work, d))
        if args.speed_steps > 0:
            full = load_splits(DataConfig(name="mnist", data_dir=args.data_dir, fraction=args.speed_rows))
            results["speed_rows"] = len(full["train"])
            for d in args.dims:
                results.update(update_speed(args, full, work, d))

    print(f"\nMNIST, {results['train_images']} train / {results['test_images']} test images, {args.epochs} epochs, "
          f"decoder d-{'-'.join(map(str, args.hidden))}-784")
    print(f"{'d':>3} {'GLO train':>10} {'GLO val':>9} {'AE train':>9} {'AE val':>8} {'GLO s':>7} {'AE s':>7} {'GLO fit s':>9}")
    for d in args.dims:
        print(f"{d:>3} {results[f'glo_train_mse_{d}']:>10.5f} {results[f'glo_val_mse_{d}']:>9.5f} "
              f"{results[f'ae_train_mse_{d}']:>9.5f} {results[f'ae_val_mse_{d}']:>8.5f} "
              f"{results[f'glo_seconds_{d}']:>7.1f} {results[f'ae_seconds_{d}']:>7.1f} {results[f'glo_val_seconds_{d}']:>9.1f}")
    for d in args.dims:
        glo, ae = results[f"glo_val_mse_{d}"], results[f"ae_val_mse_{d}"]
        winner = "the auto-decoder (GLO)" if glo < ae else "the autoencoder"
        ratio = max(glo, ae) / max(min(glo, ae), 1e-12)
        results[f"val_winner_{d}"] = "glo" if glo < ae else "ae"
        print(f"d={d}: {winner} reconstructs the validation images better "
              f"(val MSE {glo:.5f} GLO vs {ae:.5f} AE, {ratio:.2f}x); training time GLO/AE = "
              f"{results[f'glo_seconds_{d}'] / results[f'ae_seconds_{d}']:.2f}")
        if f"dense_ms_{d}" in results:
            print(f"d={d}: table updates on {results['speed_rows']} rows: dense {results[f'dense_ms_{d}']:.1f} ms/step, "
                  f"sparse {results[f'sparse_ms_{d}']:.1f} ms/step")
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
