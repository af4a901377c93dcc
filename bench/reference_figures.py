"""The two reference results of latentscape's landscape tools, reproduced through the CLI.

1. Li et al. 2018 ("Visualizing the Loss Landscape of Neural Nets", sec. 5, fig. 5, table 1):
   a CIFAR ResNet and the same net without shortcuts ("noshort"), trained with their recipe
   (configs/cifar10_resnet*.yaml). Claim: without shortcuts the minimum is worse (higher test
   error), sharper (larger top Hessian eigenvalue, a larger |lambda_min / lambda_max| showing more
   non-convexity) and its filter-normalised 2-D surface less convex, increasingly so with depth
   (ResNet-20: nearly the same; ResNet-56/110: chaotic). Measured: test error, the Hessian's
   largest and smallest eigenvalues at the minimum (`hessian --density`: the extreme Ritz values
   of a Lanczos run with full re-orthogonalisation, on training images, eval mode) and two
   surfaces (`surface --norm filter --ignore biasbn --fixed-bn`: Li et al.'s directions, their
   BatchNorm statistics kept) drawn side by side on one colour scale.
2. Garipov et al. 2018 ("Loss Surfaces, Mode Connectivity, and Fast Ensembling of DNNs", sec. 3,
   5, 6): two VGG-16-BN minima from different seeds (configs/cifar10_vgg16_bn.yaml). Claim: the
   straight line between them leaves the low-loss region (high test error at its midpoint), while a
   trained Bezier curve and a PolyChain with three control points (their num_bends=3: one free
   bend, `connect --bends 1`) keep the test error near the endpoints' all the way; fast geometric
   ensembling (cyclic LR snapshots) beats the single model. Measured with `path` (BatchNorm
   statistics recomputed at every point), `connect` and `fge`.

Everything runs as `latentscape` commands in subprocesses (train, connect, path, surface,
hessian, fge) and reads their JSON, so the script keeps working when the package's insides move.
Runs and analyses are kept in --work-dir and reused when finished (an interrupted training is
resumed); delete the folder to start over. Scales (--scale; the one that ran is printed and
written to the JSON):

- cpu (default): the 5,000-image CIFAR-10 subset in ../shared/data (4,000 train / 1,000 test);
  ResNet-20 and ResNet-20-noshort at full width, 20 epochs (lr x0.1 after 10, 15, 18); surfaces
  on a 17x17 grid over [-1, 1]^2 with 256 training images; Hessian on 256 training images;
  VGG-16-BN at a quarter of the width (first block 16 channels, hidden 128), 30 epochs; curves
  20 epochs; FGE 4 cycles of 2 epochs; 21 points per path, test split.
- smoke: the same pipeline in a minute or two (tiny widths, 1-2 epochs, 5% of the subset), for tests.
- paper: the papers' settings on the full CIFAR-10 (data.download=true), for a GPU: ResNet-56 vs
  ResNet-56-noshort (300 epochs), 51x51 surfaces on 5,000 training images, VGG-16-BN (200
  epochs), curves (600 epochs), FGE 20 cycles of 2 epochs, 61 points, train and test splits.

    nice -n 10 python bench/reference_figures.py [--scale cpu|smoke|paper] [--resnet-depth 56] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from _common import default_data_dir, write_results

from latentscape.io import write_json

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


@dataclass(frozen=True)
class Scale:
    """Everything that differs between the scales of the reproduction."""

    name: str
    data: tuple[str, ...]  # overrides of every run's data section
    resnet_depth: int
    resnet_width: int
    resnet_epochs: int
    resnet_milestones: tuple[int, ...]
    vgg_width: int
    vgg_hidden: int
    vgg_epochs: int
    curve_epochs: int
    fge_cycles: int
    surface_grid: int
    surface_examples: int
    hessian_examples: int
    lanczos_steps: int
    path_points: int
    path_splits: str

    def describe(self) -> str:
        data = "full CIFAR-10" if "data.name=cifar10" in self.data else "CIFAR-10 subset " + " ".join(self.data)
        return (
            f"scale {self.name}: {data}; ResNet-{self.resnet_depth} (width {self.resnet_width}) with and without "
            f"shortcuts, {self.resnet_epochs} epochs, lr x0.1 after {list(self.resnet_milestones)}; surfaces "
            f"{self.surface_grid}x{self.surface_grid} on {self.surface_examples} training images; Hessian on "
            f"{self.hessian_examples} training images, {self.lanczos_steps} Lanczos steps; VGG-16-BN width "
            f"{self.vgg_width} (hidden {self.vgg_hidden}), {self.vgg_epochs} epochs; curves {self.curve_epochs} "
            f"epochs; FGE {self.fge_cycles} cycles of 2 epochs; paths {self.path_points} points on {self.path_splits}"
        )


SCALES = {
    "smoke": Scale("smoke", ("data.name=cifar10-subset", "data.fraction=0.05"), 20, 2, 2, (1,), 2, 8, 2, 1, 1,
                   5, 64, 64, 8, 5, "test"),
    "cpu": Scale("cpu", ("data.name=cifar10-subset",), 20, 16, 20, (10, 15, 18), 16, 128, 30, 20, 4,
                 17, 256, 256, 40, 21, "test"),
    "paper": Scale("paper", ("data.name=cifar10", "data.download=true"), 56, 16, 300, (150, 225, 275), 64, 512, 200,
                   600, 20, 51, 5000, 1000, 90, 61, "train,test"),
}


class Runner:
    """Runs `latentscape` commands in subprocesses, several at once, logging to work/logs/."""

    def __init__(self, work: Path, data_dir: str, threads: int, device: str) -> None:
        self.work, self.threads, self.device = work, threads, device
        (work / "logs").mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "LATENTSCAPE_DATA": data_dir, "OMP_NUM_THREADS": str(threads),
                    "LATENTSCAPE_NO_TENSORBOARD": "1", "PYTHONPATH": str(ROOT / "src")}

    def parallel(self, jobs: dict[str, list[str]]) -> None:
        """Run each job (name -> latentscape arguments) at the same time; stop on any failure."""
        t0, procs = time.time(), {}
        for name, args in jobs.items():
            log = open(self.work / "logs" / f"{name}.log", "w")
            procs[name] = (subprocess.Popen([sys.executable, "-m", "latentscape.cli", *args], env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT), log)
        failed = []
        for name, (proc, log) in procs.items():
            if proc.wait() != 0:
                failed.append(name)
            log.close()
        if failed:
            tails = {n: (self.work / "logs" / f"{n}.log").read_text()[-1500:] for n in failed}
            raise SystemExit("failed: " + "; ".join(f"{n}:\n{t}" for n, t in tails.items()))
        group, seconds = ", ".join(jobs), round(time.time() - t0, 1)
        write_json(self.timings, {**self.seconds(), group: seconds})
        print(f"  {group}: {seconds:.0f} s", flush=True)

    @property
    def timings(self) -> Path:
        return self.work / "timings.json"

    def seconds(self) -> dict[str, float]:
        """Wall seconds of every group of commands that ran in this work folder (reused ones too)."""
        return read(self.timings) if self.timings.exists() else {}

    def train_args(self, name: str, config: Path, overrides: list[str]) -> list[str] | None:
        """`train` (or `train --resume`) of a run, or None when it is finished already."""
        run = self.work / name
        if (run / "checkpoints" / "final.pt").exists():
            return None
        common = [f"train.num_threads={self.threads}", f"train.device={self.device}"]
        if (run / "checkpoints" / "last.pt").exists():
            return ["train", "--resume", str(run)]
        return ["train", str(config), *overrides, *common, "--run-dir", str(run)]

    def todo(self, jobs: dict[str, list[str] | None]) -> None:
        """Run the jobs that are not done (None) in parallel."""
        pending = {k: v for k, v in jobs.items() if v is not None}
        if pending:
            self.parallel(pending)

    def analysis(self, out: str, marker: str, args: list[str]) -> list[str] | None:
        """An analysis command writing into work/out, or None when work/out/marker exists."""
        return None if (self.work / out / marker).exists() else [*args, "--out", str(self.work / out)]


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def test_error(run: Path) -> float:
    """1 - test accuracy of a run's final weights (eval/final.json)."""
    return 1.0 - read(run / "eval" / "final.json")["test"]["accuracy"]


def hessian_extremes(folder: Path) -> tuple[float, float]:
    """(lambda_max, lambda_min): the extreme Ritz values of the SLQ Lanczos runs."""
    nodes = np.concatenate([np.asarray(n) for n in read(folder / "hessian.json")["density"]["nodes"]])
    return float(nodes.max()), float(nodes.min())


def li_part(r: Runner, s: Scale) -> tuple[dict, dict]:
    d = s.resnet_depth
    names = {"short": f"resnet{d}", "noshort": f"resnet{d}_noshort"}
    over = [*s.data, f"model.width={s.resnet_width}", f"train.epochs={s.resnet_epochs}", "train.eval_every=5",
            f"train.schedule.milestones=[{','.join(map(str, s.resnet_milestones))}]"]
    r.todo({n: r.train_args(n, CONFIGS / f"cifar10_{n}.yaml", over) for n in names.values()})
    common = ["--threads", str(r.threads), "--device", r.device, "--plots", "none"]
    r.todo({f"surface_{n}": r.analysis(f"surface_{n}", "surface.json", [
        "surface", str(r.work / n), "--grid", str(s.surface_grid), "--range", "-1:1", "--norm", "filter",
        "--ignore", "biasbn", "--fixed-bn", "--splits", "train", "--metrics", "loss", "--max-examples",
        str(s.surface_examples), "--batch-size", str(min(s.surface_examples, 1000)), *common]) for n in names.values()})
    batch = min(s.hessian_examples, 256)
    r.todo({f"hessian_{n}": r.analysis(f"hessian_{n}", "hessian.json", [
        "hessian", str(r.work / n), "--top-k", "0", "--density", "--slq-steps", str(s.lanczos_steps),
        "--batch-size", str(batch), "--batches", str(max(1, s.hessian_examples // batch)), *common])
        for n in names.values()})
    out, grids = {}, {}
    for key, n in names.items():
        lmax, lmin = hessian_extremes(r.work / f"hessian_{n}")
        label = f"resnet{d}" if key == "short" else f"resnet{d}_noshort"
        out[f"{label}_test_err"] = test_error(r.work / n)
        out[f"{label}_top_eig"] = lmax
        out[f"{label}_min_eig"] = lmin
        out[f"{label}_eig_ratio"] = abs(lmin / lmax)
        doc = read(r.work / f"surface_{n}" / "surface.json")
        grids[label] = (np.asarray(doc["grid_x"]), np.asarray(doc["grid_y"]), np.asarray(doc["values"]["train"]["loss"]))
    return out, grids


def garipov_part(r: Runner, s: Scale) -> dict:
    over = [*s.data, f"model.width={s.vgg_width}", f"model.hidden={s.vgg_hidden}", f"train.epochs={s.vgg_epochs}",
            "train.eval_every=5"]
    r.todo({n: r.train_args(n, CONFIGS / "cifar10_vgg16_bn.yaml", [*over, f"seed={i}"]) for i, n in enumerate(("vgg_a", "vgg_b"))})
    a, b = str(r.work / "vgg_a"), str(r.work / "vgg_b")
    curve = ["--bends", "1", "--epochs", str(s.curve_epochs), "--lr", "0.015", "--wd", "5e-4", "--schedule", "garipov"]
    r.todo({k: None if (r.work / k / "checkpoints" / "final.pt").exists() else
            (["train", "--resume", str(r.work / k)] if (r.work / k / "checkpoints" / "last.pt").exists() else
             ["connect", a, b, f"train.num_threads={r.threads}", f"train.device={r.device}", "--curve", k, *curve,
              "--out", str(r.work / k)]) for k in ("bezier", "polychain")})
    common = ["--points", str(s.path_points), "--splits", s.path_splits, "--threads", str(r.threads),
              "--device", r.device, "--plots", "none"]
    r.todo({
        "path_line": r.analysis("path_line", "path.json", ["path", a, b, *common]),
        "path_bezier": r.analysis("path_bezier", "path.json", ["path", "--curve", str(r.work / "bezier"), *common]),
    })
    r.todo({
        "path_polychain": r.analysis("path_polychain", "path.json", ["path", "--curve", str(r.work / "polychain"), *common]),
        "fge": r.analysis("fge", "fge.json", ["fge", a, "--cycles", str(s.fge_cycles), "--cycle-epochs", "2", "--lr1", "0.01",
                                              "--lr2", "0.0001", "--wd", "5e-4", "--threads", str(r.threads), "--device", r.device]),
    })
    errs = {k: 1.0 - np.asarray(read(r.work / f"path_{k}" / "path.json")["metrics"]["test"]["accuracy"]) for k in ("line", "bezier", "polychain")}
    ts = np.asarray(read(r.work / "path_line" / "path.json")["ts"])
    fge = read(r.work / "fge" / "fge.json")
    return {
        # the endpoints as the paths see them (BatchNorm statistics recomputed, like every other point)
        "vgg16_end_test_err": float(np.mean([errs["line"][0], errs["line"][-1]])),
        # and as trained (their running BatchNorm statistics; eval/final.json)
        "vgg16_end_test_err_as_trained": float(np.mean([test_error(r.work / "vgg_a"), test_error(r.work / "vgg_b")])),
        "vgg16_line_mid_test_err": float(np.interp(0.5, ts, errs["line"])),
        "vgg16_bezier_max_test_err": float(errs["bezier"].max()),
        "vgg16_polychain_max_test_err": float(errs["polychain"].max()),
        "vgg16_single_test_err": 1.0 - fge["original"]["accuracy"],
        "vgg16_fge_test_err": 1.0 - fge["ensemble"]["accuracy"],
        # FGE's last snapshot alone: how much of the gain is the extra training, not the ensemble
        "vgg16_fge_last_snapshot_test_err": 1.0 - fge["final_snapshot"]["accuracy"],
        "vgg16_fge_snapshots": len(fge["snapshots"]),
        "_paths": {k: (np.asarray(read(r.work / f"path_{k}" / "path.json")["ts"]).tolist(), v.tolist()) for k, v in errs.items()},
    }


def draw_surfaces(grids: dict, numbers: dict, scale: str, path: Path) -> None:
    """The surfaces side by side, filled contours of log10(train loss) on ONE colour scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logs = {k: np.log10(np.clip(z, 1e-4, None)) for k, (_, _, z) in grids.items()}
    lo = min(float(v.min()) for v in logs.values())
    hi = max(float(v.max()) for v in logs.values())
    levels = np.linspace(lo, hi, 31)
    fig, axes = plt.subplots(1, len(grids), figsize=(5.2 * len(grids) + 1.2, 5), constrained_layout=True)
    for ax, (label, (x, y, _)) in zip(np.atleast_1d(axes), grids.items()):
        filled = ax.contourf(x, y, logs[label], levels=levels, cmap="viridis")
        ax.contour(x, y, logs[label], levels=levels[::3], colors="white", linewidths=0.5)
        ax.plot(0, 0, "r+", markersize=10)
        name = label.replace("resnet", "ResNet-").replace("_noshort", "-noshort")
        ax.set_title(f"{name}: test err {numbers[label + '_test_err']:.1%}, "
                     f"$\\lambda_{{max}}$ {numbers[label + '_top_eig']:.3g}, "
                     f"|$\\lambda_{{min}}/\\lambda_{{max}}$| {numbers[label + '_eig_ratio']:.3f}", fontsize=9)
        ax.set_xlabel("filter-normalised direction 1")
        ax.set_ylabel("filter-normalised direction 2")
        ax.set_aspect("equal")
    bar = fig.colorbar(filled, ax=axes, label="train loss, log scale (one scale for both)")
    ticks = np.linspace(lo, hi, 7)
    bar.set_ticks(ticks, labels=[f"{10 ** t:.3g}" for t in ticks])
    fig.suptitle(f"Li et al. 2018, fig. 5: filter-normalised surfaces at the minimum (scale {scale})", fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_paths(paths: dict, numbers: dict, scale: str, path: Path) -> None:
    """Test error along the line, the Bezier curve and the PolyChain (Garipov et al., fig. 2/table 1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2), constrained_layout=True)
    for name, (ts, err) in paths.items():
        ax.plot(ts, np.asarray(err) * 100, marker=".", label={"line": "line segment", "bezier": "Bezier (3 control points)",
                                                             "polychain": "PolyChain (3 control points)"}[name])
    ax.axhline(numbers["vgg16_end_test_err"] * 100, color="gray", ls=":", label="endpoints (mean)")
    ax.axhline(numbers["vgg16_fge_test_err"] * 100, color="black", ls="--", label=f"FGE ensemble ({numbers['vgg16_fge_snapshots']})")
    ax.set_xlabel("t")
    ax.set_ylabel("test error (%)")
    ax.set_title(f"Garipov et al. 2018: two VGG-16-BN minima, line vs trained curves (scale {scale})", fontsize=9)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def verdicts(n: dict, d: int) -> dict[str, str]:
    """Plain statements of whether each claim held at the scale that ran."""
    short, noshort = f"resnet{d}", f"resnet{d}_noshort"
    worse = n[f"{noshort}_test_err"] > n[f"{short}_test_err"]
    sharper = n[f"{noshort}_top_eig"] > n[f"{short}_top_eig"]
    less_convex = n[f"{noshort}_eig_ratio"] > n[f"{short}_eig_ratio"]
    mid_bad = n["vgg16_line_mid_test_err"] - n["vgg16_end_test_err"]
    curve_gap = max(n["vgg16_bezier_max_test_err"], n["vgg16_polychain_max_test_err"]) - n["vgg16_end_test_err"]
    holds = mid_bad >= 0.05 and curve_gap <= 0.5 * mid_bad
    return {
        "li": (f"noshort test error {'higher' if worse else 'NOT higher'} ({n[f'{noshort}_test_err']:.1%} vs "
               f"{n[f'{short}_test_err']:.1%}); top eigenvalue {'larger' if sharper else 'NOT larger'} "
               f"({n[f'{noshort}_top_eig']:.3g} vs {n[f'{short}_top_eig']:.3g}); |lambda_min/lambda_max| "
               f"{'larger' if less_convex else 'NOT larger'} ({n[f'{noshort}_eig_ratio']:.3f} vs {n[f'{short}_eig_ratio']:.3f})"),
        "garipov_curves": (f"test error at the line's midpoint {mid_bad:+.1%} and at the worse curve's maximum "
                           f"{curve_gap:+.1%} from the endpoints': the claim (a high line barrier, curves at most half "
                           f"of it) {'holds' if holds else 'does NOT hold'}"),
        "garipov_fge": (f"FGE ensemble {n['vgg16_fge_test_err']:.1%} vs the model it started from "
                        f"{n['vgg16_single_test_err']:.1%} and its own last snapshot {n['vgg16_fge_last_snapshot_test_err']:.1%}: "
                        f"{'better than both' if n['vgg16_fge_test_err'] < min(n['vgg16_single_test_err'], n['vgg16_fge_last_snapshot_test_err']) else 'NOT better than both'}"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", choices=list(SCALES), default="cpu")
    ap.add_argument("--data-dir", default=default_data_dir())
    ap.add_argument("--work-dir", default=None, help="runs and analyses (default bench/results/reference_runs_<scale>)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "reference_figures.json"))
    ap.add_argument("--threads", type=int, default=1, help="CPU threads per command (two commands run at once)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--only", choices=["li", "garipov"], help="run one of the two parts")
    ap.add_argument("--resnet-depth", type=int, choices=[20, 56, 110], help="ResNet of part 1 (default: the scale's, 56 at paper)")
    args = ap.parse_args()
    s = SCALES[args.scale]
    if args.resnet_depth:
        s = replace(s, resnet_depth=args.resnet_depth)
    work = Path(args.work_dir or ROOT / "bench" / "results" / f"reference_runs_{s.name}")
    r = Runner(work, args.data_dir, args.threads, args.device)
    print(s.describe(), flush=True)
    t0 = time.time()
    numbers: dict = {"scale": s.name, "scale_description": s.describe(), "scale_settings": asdict(s)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "li"):
        print(f"Li et al.: ResNet-{s.resnet_depth} with and without shortcuts", flush=True)
        li, grids = li_part(r, s)
        numbers.update(li)
        draw_surfaces(grids, numbers, s.name, out.with_name(out.stem + "_li_surfaces.png"))
    if args.only in (None, "garipov"):
        print("Garipov et al.: VGG-16-BN minima, line vs curves, FGE", flush=True)
        gar = garipov_part(r, s)
        paths = gar.pop("_paths")
        numbers.update(gar)
        draw_paths(paths, numbers, s.name, out.with_name(out.stem + "_garipov_paths.png"))
    if args.only is None:
        numbers["verdicts"] = verdicts(numbers, s.resnet_depth)
    numbers["seconds_this_call"] = round(time.time() - t0, 1)
    numbers["seconds_compute"] = round(sum(r.seconds().values()), 1)  # wall time of every command group, reused ones included
    numbers["seconds_by_step"] = r.seconds()
    for k, v in numbers.items():
        if isinstance(v, float):
            print(f"{k:<32} {v:.4g}")
    for k, v in numbers.get("verdicts", {}).items():
        print(f"{k}: {v}")
    write_results(out, numbers)


if __name__ == "__main__":
    main()
