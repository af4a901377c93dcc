"""Train the domain classifier whose `embed` features FID/KID use (`latentscape fid-net`)."""

from __future__ import annotations

from pathlib import Path

from latentscape.train.api import train_and_evaluate


def train_domain_feature_net(cfg, out_dir: str | Path, quiet: bool = True) -> Path:
    """Train the classifier of `cfg` (see `domain_net_config`) into `out_dir`; reuse a finished one.

    Returns:
        The run directory, usable as `feature_run`.
    """
    out_dir = Path(out_dir)
    if (out_dir / "checkpoints" / "final.pt").is_file():
        return out_dir
    train_and_evaluate(cfg, out_dir, callbacks=[], quiet=quiet)
    return out_dir
