"""`latentscape demo` with tiny settings: every promised file appears and the numbers agree."""

import json

from latentscape.cli import build_parser
from latentscape.demo import DemoSettings, run_demo


def test_demo_tiny(tmp_path):
    s = DemoSettings(epochs=1, curve_epochs=1, points=3, hidden=16, latent_dim=4, threads=1, max_examples=100)
    summary = run_demo(tmp_path / "demo", s, quiet=True)
    out = tmp_path / "demo"
    for name in ("line_vs_curve_test_loss.png", "curve_dynamics.gif", "line_dynamics.gif", "curve_dynamics.png"):
        assert (out / "images" / name).is_file(), name
    assert (out / "report.html").is_file()
    saved = json.loads((out / "eval" / "demo.json").read_text())
    # both paths join the same two autoencoders: same losses at the ends
    for split in ("train", "test"):
        assert saved["line"][split]["start"] == saved["curve"][split]["start"]
        assert saved["line"][split]["end"] == saved["curve"][split]["end"]
    assert summary["line"]["test"]["barrier"] >= 0.0


def test_demo_is_on_the_command_line():
    args = build_parser().parse_args(["demo", "--out", "x", "--epochs", "2"])
    assert args.epochs == 2 and args.func is not None
