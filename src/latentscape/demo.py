"""`latentscape demo`: mode connectivity of two small autoencoders on the embedded `digits` data.

The story of the autoencoder study in about a minute on a laptop CPU: two autoencoders trained
from different seeds, the straight segment between them (a loss barrier), a trained one-bend
Bezier curve (Garipov et al. 2018) that avoids it, the loss along both on one plot, and the
image dynamics (fixed test digits reconstructed by the networks along the curve) as a GIF.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from latentscape.config import config_from_dict
from latentscape.io import write_json
from latentscape.landscape.studies.inputs import EvalOptions, from_curve, from_refs
from latentscape.landscape.studies.outputs import adopt_config, new_output_dir, write_report
from latentscape.landscape.studies.path import path_study, write_path
from latentscape.train.api import train_and_evaluate


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of the demo (the defaults finish in about a minute on 2 CPU cores)."""

    epochs: int = 15
    curve_epochs: int = 15
    points: int = 21
    hidden: int = 128
    latent_dim: int = 8
    batch_size: int = 128
    lr: float = 5e-3
    threads: int = 2
    max_examples: int | None = None


def _ae_config(s: DemoSettings, seed: int, out: Path) -> dict:
    return {
        "model": {"name": "ae", "net": "fc", "hidden_dims": [s.hidden], "latent_dim": s.latent_dim, "losses": {"mae": 1.0}},
        "data": {"name": "digits"},
        "train": {
            "epochs": s.epochs, "batch_size": s.batch_size, "eval_every": 0, "num_threads": s.threads,
            "optimizer": {"name": "adam", "lr": s.lr}, "schedule": {"name": "cosine", "final_fraction": 0.05},
            "log_every": 10_000, "device": "cpu",
        },
        "seed": seed,
        "name": f"ae-seed{seed}",
        "output_dir": str(out),
    }


def _curve_config(s: DemoSettings, a: Path, b: Path, out: Path) -> dict:
    raw = _ae_config(s, 0, out)
    raw["model"] = {"name": "curve", "start": str(a.resolve()), "end": str(b.resolve()), "kind": "bezier", "bends": 1}
    raw["train"]["epochs"] = s.curve_epochs
    raw["name"] = "curve"
    return raw


def run_demo(out: str | Path, settings: DemoSettings | None = None, quiet: bool = False) -> dict:
    """Train, connect, evaluate and draw; returns the summary written to demo.json."""
    import torch

    from latentscape.landscape.studies.path_plots import plot_compare

    s = settings or DemoSettings()
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(s.threads)
    t0 = time.time()
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    runs = []
    for seed in (0, 1):
        say(f"[demo] training autoencoder seed {seed} ...")
        runs.append(train_and_evaluate(config_from_dict(_ae_config(s, seed, out)), out / f"ae_seed{seed}", quiet=True).path)
    say("[demo] training a 1-bend Bezier curve between them ...")
    curve_run = train_and_evaluate(config_from_dict(_curve_config(s, runs[0], runs[1], out)), out / "curve", quiet=True).path
    opts = EvalOptions(splits=("train", "test"), batch_size=500, max_examples=s.max_examples)
    say("[demo] evaluating the straight line and the curve ...")
    results = {}
    for kind, src, folder in (("line", from_refs([str(runs[0]), str(runs[1])], None), "line"), ("curve", from_curve(str(curve_run), None), "curve_path")):
        results[kind] = path_study(src, opts, points=s.points)
        write_path(new_output_dir("path", str(out / folder)), results[kind])
    line_doc, curve_doc = (results[k].to_json() for k in ("line", "curve"))
    plot_compare(results, "test", "loss", out / "images" / "line_vs_curve_test_loss.png")
    plot_compare(results, "train", "loss", out / "images" / "line_vs_curve_train_loss.png")
    for name in ("dynamics.gif", "dynamics.png"):
        for kind, folder in (("curve", "curve_path"), ("line", "line")):
            src = out / folder / "images" / name
            if src.exists():
                (out / "images" / f"{kind}_{name}").write_bytes(src.read_bytes())
    summary = {
        kind: {sp: {k: doc["summary"][sp]["loss"][k] for k in ("start", "end", "max", "mean", "barrier")} for sp in doc["summary"]}
        for kind, doc in (("line", line_doc), ("curve", curve_doc))
    }
    summary["dynamics"] = {  # the report labels the strips' columns with these t values
        kind: {"strip": f"images/{kind}_dynamics.png", "gif": f"images/{kind}_dynamics.gif", "strip_ts": doc["dynamics"]["strip_ts"]}
        for kind, doc in (("line", line_doc), ("curve", curve_doc)) if "dynamics" in doc
    }
    summary["seconds"] = time.time() - t0
    summary["folders"] = {"autoencoders": [str(r) for r in runs], "curve_run": str(curve_run), "line": str(out / "line"), "curve_path": str(out / "curve_path")}
    write_json(out / "eval" / "demo.json", summary)
    adopt_config(out, curve_run)
    report = write_report(out)
    if not quiet:
        print(format_demo_table(summary))
        print(f"loss plot:      {out / 'images' / 'line_vs_curve_test_loss.png'}")
        print(f"image dynamics: {out / 'images' / 'curve_dynamics.gif'} (straight line: line_dynamics.gif)")
        if report:
            print(f"report:         {report}")
        print(f"done in {summary['seconds']:.0f} s")
    return summary


def format_demo_table(summary: dict) -> str:
    lines = [f"{'path':<8}{'split':<7}{'loss at A':>11}{'loss at B':>11}{'max loss':>11}{'barrier':>11}"]
    for kind in ("line", "curve"):
        for sp, v in summary[kind].items():
            lines.append(f"{kind:<8}{sp:<7}{v['start']:>11.4f}{v['end']:>11.4f}{v['max']:>11.4f}{v['barrier']:>11.4f}")
    return "\n".join(lines)
