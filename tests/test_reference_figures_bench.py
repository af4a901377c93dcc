"""bench/reference_figures.py end to end at its smoke scale: every CLI step runs, the JSON holds
the issue's keys and the scale that ran, the two pictures are drawn, and a second run reuses the
finished runs and analyses."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KEYS = [
    "resnet20_test_err", "resnet20_noshort_test_err", "resnet20_top_eig", "resnet20_noshort_top_eig",
    "resnet20_eig_ratio", "resnet20_noshort_eig_ratio",
    "vgg16_end_test_err", "vgg16_line_mid_test_err", "vgg16_bezier_max_test_err", "vgg16_fge_test_err",
]


def _bench(tmp_path: Path, data_dir: Path) -> tuple[dict, str]:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "reference_figures.py"), "--scale", "smoke", "--data-dir", str(data_dir),
         "--work-dir", str(tmp_path / "work"), "--out", str(tmp_path / "out.json")],
        capture_output=True, text=True, timeout=1200, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads((tmp_path / "out.json").read_text()), proc.stdout


@pytest.mark.slow
@pytest.mark.shared_data
def test_smoke_scale_runs_every_step_and_writes_the_numbers_and_pictures(tmp_path, shared_data_dir):
    doc, out = _bench(tmp_path, shared_data_dir)
    assert doc["scale"] == "smoke" and "cifar10-subset" in doc["scale_description"]
    assert doc["scale_description"] in out
    for key in KEYS:
        assert math.isfinite(doc[key]) and (0 <= doc[key] <= 1 if key.endswith("_err") else True), key
    assert doc["resnet20_eig_ratio"] >= 0 and doc["resnet20_top_eig"] >= doc["resnet20_min_eig"]
    assert set(doc["verdicts"]) == {"li", "garipov_curves", "garipov_fge"}
    for png in ("out_li_surfaces.png", "out_garipov_paths.png"):
        assert (tmp_path / png).stat().st_size > 10_000
    again, out = _bench(tmp_path, shared_data_dir)  # everything reused: no command runs again
    assert "resnet20, resnet20_noshort:" not in out and "path_line" not in out
    assert {k: again[k] for k in KEYS} == {k: doc[k] for k in KEYS}
