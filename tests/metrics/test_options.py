"""`latentscape eval --opt KEY=VALUE`: every key a metric reads is declared, and no other is taken."""

import re
from pathlib import Path

import pytest

import latentscape.metrics
from latentscape.errors import LatentscapeError
from latentscape.metrics.options import METRIC_OPTIONS, parse_options

METRICS_DIR = Path(latentscape.metrics.__file__).parent
# options.get("key", ...), ctx.options["key"], _int_option(ctx, "key", ...), int_option(ctx.options, "key", ...)
READ = re.compile(r"""options(?:\.get\(|\[)\s*["'](\w+)["']|int_option\(\s*[\w.]+,\s*["'](\w+)["']""")


def test_every_option_a_metric_reads_is_declared():
    read = {a or b for path in METRICS_DIR.glob("*.py") for a, b in READ.findall(path.read_text())}
    assert {"mig_bins", "kid_dtype", "feature_run", "ssim_window"} <= read
    assert read - set(METRIC_OPTIONS) == set()


def test_parse_options():
    assert parse_options(["mig_bins=10", "inception_weights=a=b.pth"]) == {"mig_bins": "10", "inception_weights": "a=b.pth"}
    with pytest.raises(LatentscapeError, match=r"unknown option \(did you mean 'inception_weights'\?\); allowed: .*inception_weights"):
        parse_options(["inception_weight=x.pth"])
    with pytest.raises(LatentscapeError, match="not of the form key=value"):
        parse_options(["mig_bins"])
