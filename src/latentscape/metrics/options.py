"""The `--opt KEY=VALUE` options of `latentscape eval`, declared once (imports no torch).

Metrics read their options from `EvalContext.options` by these names; the command refuses any
other key, so a misspelt option is an error that lists the allowed ones instead of being silently
ignored. Add a metric's option here when the metric starts reading it.
"""

from __future__ import annotations

from latentscape.errors import LatentscapeError, did_you_mean

#: option -> what it sets (and its default), shown by `latentscape eval --help`.
METRIC_OPTIONS: dict[str, str] = {
    "iwae_k": "importance samples of the IWAE bound (same as --iwae-k; default 100)",
    "ssim_window": "Gaussian window of SSIM (default 11)",
    "feature_net": "FID/KID features: domain (default; `latentscape fid-net DATASET`) or inception",
    "feature_run": "run directory of the domain feature net (default: the cached one of the dataset)",
    "inception_weights": "local FID Inception-v3 weights file (default: cache / hashed download)",
    "reference_split": "FID/KID reference statistics: the evaluated split (default) or train",
    "kid_subset_size": "KID subset size (default 1000)",
    "kid_subsets": "KID subsets (default 100)",
    "kid_dtype": "KID kernel precision: float32 (default) or float64",
    "lpips_net": "LPIPS backbone: alex (default), vgg or squeeze",
    "lpips_backbone_weights": "local torchvision weights file of the LPIPS backbone",
    "lpips_heads": "local LPIPS v0.1 heads file",
    "mig_bins": "bins of the discretised codes of MIG (default 20)",
    "factorvae_votes": "FactorVAE training votes (default 5000; half as many evaluation votes)",
    "factorvae_batch": "examples per FactorVAE vote (default 64)",
    "factorvae_threshold": "FactorVAE: code dimensions with a smaller variance are inactive (default 0.05)",
    "dci_regressor": "DCI importances: random_forest (default) or lasso",
    "disentanglement_max_n": "MIG/FactorVAE/DCI on a seeded subsample of N examples (default: all)",
}


def parse_options(items: list[str]) -> dict[str, str]:
    """`["k=v", ...]` -> {k: v}; a malformed item or an unknown key is a LatentscapeError."""
    options = {}
    for item in items:
        if "=" not in item:
            raise LatentscapeError(f"--opt {item!r} is not of the form key=value")
        key, value = item.split("=", 1)
        key = key.strip()
        if key not in METRIC_OPTIONS:
            raise LatentscapeError(f"--opt {key}: unknown option{did_you_mean(key, METRIC_OPTIONS)}; allowed: {', '.join(sorted(METRIC_OPTIONS))}")
        options[key] = value
    return options


def options_help() -> str:
    """The option list for `latentscape eval --help`."""
    width = max(map(len, METRIC_OPTIONS))
    return "\n".join(f"  {key:<{width}}  {text}" for key, text in METRIC_OPTIONS.items())
