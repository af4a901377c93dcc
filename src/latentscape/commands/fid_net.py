"""`latentscape fid-net DATASET [--out DIR]`: train the domain feature net of FID / KID."""

from __future__ import annotations

import argparse

from latentscape.commands._types import EPOCHS, SEED, count


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fid-net",
        help="train the domain classifier whose features FID/KID use (offline alternative to Inception)",
        description=(
            "Train a small CNN classifier (cnn_classifier) on DATASET's training split and store it as "
            "a run. Its penultimate features are the `domain` feature net of the fid/kid metrics and of "
            "the GAN's FID-vs-iteration curve. Without --out the run goes to "
            "$LATENTSCAPE_CACHE/fid_nets/DATASET (default ~/.cache/latentscape), where those metrics "
            "look for it; elsewhere, pass it with `--opt feature_run=DIR`. A finished run is reused."
        ),
        epilog=(
            "examples:\n"
            "  latentscape fid-net mnist\n"
            "  latentscape eval runs/mnist_gan --metrics fid,kid\n"
            "  latentscape fid-net fashion-mnist --out runs/fid_net_fmnist --epochs 2\n"
            "  latentscape eval runs/fmnist_gan --metrics fid --opt feature_run=runs/fid_net_fmnist"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dataset", help="registered dataset name (latentscape data list)")
    p.add_argument("--out", help="run directory (default: the dataset's cached feature net)")
    p.add_argument("--data-dir", help="dataset root (default $LATENTSCAPE_DATA)")
    p.add_argument("--epochs", type=EPOCHS, default=1, help="training epochs (default 1)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, or auto")
    p.add_argument("--seed", type=SEED, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentscape.metrics.features import default_feature_run, domain_feature_net, domain_net_config
    from latentscape.train.feature_net import train_domain_feature_net

    cfg = domain_net_config(args.dataset, args.data_dir, epochs=args.epochs, device=args.device, seed=args.seed)
    out = train_domain_feature_net(cfg, args.out or default_feature_run(args.dataset), quiet=False)
    net = domain_feature_net(out)
    print(f"domain feature net {net.id} ({net.dim} features): {out}")
    return 0
