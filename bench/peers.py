"""Benchmark: latentscape against the libraries a user would otherwise pick, side by side.

Same data, same weights, same points; each row alternates latentscape and the peer `--repeats`
(3) times and keeps the best of each; ratio = peer time / latentscape time (> 1: latentscape is
faster). Nothing is installed at run time: the peers are the pinned bench dependencies
`loss-landscapes` 3.0.6 and `pythae` 0.1.2. torch-fidelity and pytorch-fid need torchvision (not
installed), so their published algorithms run instead and are named as such:
pytorch-fid's `calculate_frechet_distance` (numpy mean/cov + scipy.linalg.sqrtm, float64) and
torch-fidelity's KID (numpy, float32 features, subsets drawn with RandomState(seed).choice).

Rows (JSON keys `<work>_ratio`, plus `_s` timings and agreement numbers):
- line_inprocess: 21 points of the segment between two MNIST MLPs (784-64-10) on the first
  --examples test images: `PointEvaluator` (what `compute.path` runs) vs
  loss_landscapes.linear_interpolation on the very same 21 points (its start shifted one step
  back so that its steps land on t = 0, 0.05, ..., 1).
- line_command: `latentscape path A B --points 21 --splits test` (whole process: start-up, load,
  evaluate, JSON, plots, report) vs a peer script (plain torch + loss-landscapes: read the IDX
  test file, load the checkpoints, interpolate, write JSON and a matplotlib plot).
  Both command rows also time `python -c "import torch"` in the same alternation
  (`torch_import_floor_s`): every process pays it, so `<row>_above_floor_ratio` compares the work
  above it and `<row>_ratio_ceiling` = peer / floor is the best ratio any torch-based command could
  reach against this peer (on the 2-core machine the floor is ~1.6 s of the peer's ~2.4 s, which
  caps the whole-command ratio near 1.4 whatever latentscape does).
- plane_inprocess / plane_command: 21 x 21 (planar_interpolation's own 441 points in-process;
  the commands each evaluate their own 441-point grid on the same data).
- vae_epoch: one epoch of the FC VAE 784-400-20 (Adam 1e-3, batch 128) on --vae-examples MNIST
  training images: latentscape's trainer vs pythae's BaseTrainer; test -ELBO of both afterwards.
  A bare PyTorch loop of the same net and update (pre-made tensors, fused Adam) is timed in the
  same alternation: `vae_epoch_bare_loop_s`, `vae_epoch_ratio_ceiling` (peer / bare: the most any
  trainer of this net can reach against pythae, since the matmuls are most of the epoch on a CPU)
  and `vae_epoch_vs_bare_loop` (bare / latentscape: 1.0 means no overhead at all).
- fid: FID of two --fid-n x --fid-dim feature sets (statistics + distance).
- kid: KID, --kid-subsets subsets of --kid-size, on the same features (float32 both sides).

Usage:
    OMP_NUM_THREADS=1 nice -n 10 python bench/peers.py [--data-dir ../shared/data]
        [--out bench/results/peers.json] [--repeats 3] [--examples 2000] [--vae-examples 10000]
        [--fid-n 5000] [--fid-dim 2048] [--skip fid,vae]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import REPO, default_data_dir, write_results

PEER_LINE_SCRIPT = r'''
import gzip, json, sys
import numpy as np, torch
from torch import nn
import loss_landscapes
from loss_landscapes.metrics import Loss

def read_idx(path):
    raw = gzip.open(path).read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)

def mlp(path):
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    sd = torch.load(path, weights_only=True)["state_dict"]
    net.load_state_dict({k.replace("net.", "", 1): v for k, v in sd.items() if k.startswith("net.")}, strict=False)
    return net

data_dir, n, kind, out, *runs = sys.argv[1:]
x = torch.from_numpy(read_idx(f"{data_dir}/mnist/t10k-images-idx3-ubyte.gz")[: int(n)].copy()).float().div(255).unsqueeze(1)
y = torch.from_numpy(read_idx(f"{data_dir}/mnist/t10k-labels-idx1-ubyte.gz")[: int(n)].astype(np.int64))
nets = [mlp(f"{r}/checkpoints/final.pt") for r in runs]
metric = Loss(nn.CrossEntropyLoss(), x, y)
with torch.no_grad():
    if kind == "line":
        values = loss_landscapes.linear_interpolation(nets[0], nets[1], metric, steps=21, deepcopy_model=True)
    else:
        values = loss_landscapes.planar_interpolation(nets[0], nets[1], nets[2], metric, steps=21, deepcopy_model=True)
json.dump({"loss": np.asarray(values).tolist()}, open(f"{out}/peer.json", "w"))
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
if kind == "line":
    ax.plot(values)
else:
    ax.contourf(values)
fig.savefig(f"{out}/peer.png")
'''


def best_alternating(ours, peer, repeats: int) -> tuple[float, float, object, object]:
    """Run ours/peer alternately `repeats` times; best time of each and the last results."""
    t_ours, t_peer, r_ours, r_peer = [], [], None, None
    for _ in range(repeats):
        t = time.perf_counter()
        r_ours = ours()
        t_ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        r_peer = peer()
        t_peer.append(time.perf_counter() - t)
    return min(t_ours), min(t_peer), r_ours, r_peer


def record(results: dict, key: str, ours_s: float, peer_s: float, **extra) -> None:
    results[f"{key}_s"] = round(ours_s, 4)
    results[f"{key}_peer_s"] = round(peer_s, 4)
    results[f"{key}_ratio"] = round(peer_s / ours_s, 3)
    results.update({f"{key}_{k}": v for k, v in extra.items()})
    print(f"{key:<16} latentscape {ours_s:8.3f} s   peer {peer_s:8.3f} s   ratio {peer_s / ours_s:6.2f}  {extra}", flush=True)


def train_runs(data_dir: str, work: Path, threads: int) -> list[Path]:
    """Three MNIST MLPs 784-64-10 (one epoch on a fifth of the training set, seeds 0, 1, 2)."""
    from latentscape.config import config_from_dict
    from latentscape.train.api import train_and_evaluate

    runs = []
    for seed in range(3):
        path = work / f"mlp{seed}"
        if not (path / "checkpoints" / "final.pt").is_file():
            cfg = config_from_dict({
                "model": {"name": "mlp_classifier", "hidden_dims": [64]},
                "data": {"name": "mnist", "data_dir": data_dir, "fraction": 0.2},
                "train": {"epochs": 1, "batch_size": 128, "eval_every": 0, "num_threads": threads,
                          "final_eval_splits": ["test"], "optimizer": {"name": "adam", "lr": 2e-3}},
                "seed": seed,
            })
            train_and_evaluate(cfg, path, quiet=True, callbacks=[])
        runs.append(path)
    return runs


def landscapes(args, work: Path, results: dict) -> None:
    import copy

    import loss_landscapes
    from loss_landscapes.metrics import Loss
    from torch import nn

    from latentscape.config import DataConfig
    from latentscape.data.registry import load_split
    from latentscape.landscape.core.metrics import contract_task
    from latentscape.landscape.core.points import evaluator_for
    from latentscape.landscape.core.evaluate import PointSet
    from latentscape.rundir.load import load_run

    runs = train_runs(args.data_dir, work, args.threads)
    models = [load_run(str(r)).model.eval() for r in runs]
    test = load_split(DataConfig(name="mnist", data_dir=args.data_dir), "test")
    test = test.subset(torch.arange(args.examples))
    data = {"test": test}
    x, y = test.float_images(), test.labels
    peer_metric = Loss(nn.CrossEntropyLoss(), x, y)
    params = [{k: v.detach() for k, v in m.named_parameters()} for m in models]

    def peer_net(m):  # the same weights as a plain module for loss-landscapes
        net = copy.deepcopy(m.net)
        return nn.Sequential(*net) if isinstance(net, nn.Sequential) else net

    nets = [peer_net(m) for m in models]
    ev = evaluator_for(models[0], contract_task(models[0], ["model"]), batch_size=args.examples)
    inprocess_repeats = max(args.repeats, 10)  # tens of milliseconds each: more draws for a stable best

    # line: loss-landscapes evaluates start + k (end - start) / steps for k = 1..steps; starting
    # one step before A puts its 21 steps on t = 0, 0.05, ..., 1 of the segment A -> B
    ts = [k / 20 for k in range(21)]
    pre = copy.deepcopy(nets[0])
    with torch.no_grad():
        for p, pa, pb in zip(pre.parameters(), nets[0].parameters(), nets[1].parameters()):
            p.copy_(pa - (pb - pa) / 20)
    line_pts = PointSet([params[0], params[1]], [[1 - t, t] for t in ts])
    ours = lambda: ev.evaluate(line_pts, data)["test"]["loss"]  # noqa: E731
    peer = lambda: loss_landscapes.linear_interpolation(pre, nets[1], peer_metric, steps=21, deepcopy_model=True)  # noqa: E731
    with torch.no_grad():
        a, b, r_ours, r_peer = best_alternating(ours, peer, inprocess_repeats)
    record(results, "line_inprocess", a, b, max_abs_diff=float(np.abs(np.asarray(r_ours) - np.asarray(r_peer)).max()), strategy=ev.last_strategy)

    # plane: planar_interpolation's own points (a snake over rows; see its source): point (i, k)
    # = A + i (B - A) / s + k (C - A) / s, k = 1..s on even rows and s-1..0 on odd rows
    s = 21
    coeffs = []
    for i in range(s):
        ks = range(1, s + 1) if i % 2 == 0 else range(s - 1, -1, -1)
        row = [[1 - i / s - k / s, i / s, k / s] for k in ks]
        coeffs.extend(row if i % 2 == 0 else row[::-1])
    plane_pts = PointSet(params, coeffs)
    ours = lambda: ev.evaluate(plane_pts, data)["test"]["loss"].reshape(s, s)  # noqa: E731
    peer = lambda: loss_landscapes.planar_interpolation(nets[0], nets[1], nets[2], peer_metric, steps=s, deepcopy_model=True)  # noqa: E731
    with torch.no_grad():
        a, b, r_ours, r_peer = best_alternating(ours, peer, inprocess_repeats)
    record(results, "plane_inprocess", a, b, max_abs_diff=float(np.abs(np.asarray(r_ours) - np.asarray(r_peer)).max()), strategy=ev.last_strategy)

    # whole commands: fresh processes (start-up, imports, loading, evaluation, files, plots)
    if "commands" in args.skip.split(","):
        return
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": str(args.threads)}
    script = work / "peer_landscape.py"
    script.write_text(PEER_LINE_SCRIPT)
    for kind, refs, extra in (("line", runs[:2], ["--points", "21"]), ("plane", runs, ["--grid", "21"])):
        cmd_out = work / f"cmd_{kind}"
        peer_out = work / f"peer_{kind}"
        peer_out.mkdir(exist_ok=True)
        ours_cmd = [sys.executable, "-m", "latentscape.cli", "path" if kind == "line" else "plane", *map(str, refs),
                    *extra, "--splits", "test", "--max-examples", str(args.examples), "--batch-size", str(args.examples),
                    "--metrics", "model", "--threads", str(args.threads), "--data-dir", args.data_dir, "--out", str(cmd_out)]
        peer_cmd = [sys.executable, str(script), args.data_dir, str(args.examples), kind, str(peer_out), *map(str, refs)]
        floor_cmd = [sys.executable, "-c", "import torch"]

        def run(cmd, plots="sync"):
            subprocess.run(cmd, check=True, env={**env, "LATENTSCAPE_PLOTS": plots}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        name = "path.json" if kind == "line" else "plane.json"

        def timed(cmd, plots="sync") -> float:
            t = time.perf_counter()
            run(cmd, plots)
            return time.perf_counter() - t

        # alternating: ours (pictures drawn), ours (pictures in the background), the peer script,
        # and the floor every one of them pays: a Python process that only imports torch
        times: dict[str, list[float]] = {"sync": [], "background": [], "peer": [], "floor": []}
        for _ in range(args.repeats):
            times["sync"].append(timed(ours_cmd))
            times["background"].append(timed(ours_cmd, "background"))
            time.sleep(3)  # the background child finishes drawing before the next timing
            times["peer"].append(timed(peer_cmd))
            times["floor"].append(timed(floor_cmd))
        best = {k: min(v) for k, v in times.items()}
        ok = (cmd_out / name).is_file() and (peer_out / "peer.json").is_file()
        record(results, f"{kind}_command", best["sync"], best["peer"], outputs_written=ok)
        record(results, f"{kind}_command_background_plots", best["background"], best["peer"])
        results["torch_import_floor_s"] = round(best["floor"], 4)
        for key in (f"{kind}_command", f"{kind}_command_background_plots"):
            ours_s, peer_s, f = results[f"{key}_s"], results[f"{key}_peer_s"], best["floor"]
            # the ratio of the work above the shared floor (interpreter start-up + `import torch`)
            results[f"{key}_above_floor_ratio"] = round((peer_s - f) / max(ours_s - f, 1e-3), 3)
            results[f"{key}_ratio_ceiling"] = round(peer_s / f, 3)  # if ours did nothing but import torch
        print(f"{'':<16} floor (python -c 'import torch') {best['floor']:.3f} s; above the floor: "
              f"{results[f'{kind}_command_above_floor_ratio']:.2f}x (sync), {results[f'{kind}_command_background_plots_above_floor_ratio']:.2f}x (background); "
              f"a command doing nothing after `import torch` would score {results[f'{kind}_command_ratio_ceiling']:.2f}x", flush=True)


def vae_epoch(args, work: Path, results: dict) -> None:
    from pythae.data.datasets import BaseDataset
    from pythae.models import VAE as PythaeVAE
    from pythae.models import VAEConfig as PythaeVAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig
    import torch.nn.functional as F
    from torch import nn

    from latentscape.config import load_config
    from latentscape.data.registry import load_split
    from latentscape.train.api import train_and_evaluate
    from latentscape.train.trainer import evaluate

    frac = args.vae_examples / 60000
    cfg = load_config(REPO / "configs" / "mnist_fc_vae.yaml", [
        f"data.data_dir={args.data_dir}", f"data.fraction={frac}", "train.epochs=1", "train.eval_every=0",
        "train.final_eval_splits=[]", f"train.num_threads={args.threads}", "train.log_every=100000"])
    train = load_split(cfg.data, "train")
    test = load_split(cfg.data, "test")

    class Enc(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, 400), nn.ReLU())
            self.mu, self.logvar = nn.Linear(400, 20), nn.Linear(400, 20)

        def forward(self, x):
            h = self.body(x)
            return ModelOutput(embedding=self.mu(h), log_covariance=self.logvar(h))

    class Dec(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(20, 400), nn.ReLU(), nn.Linear(400, 784), nn.Sigmoid())

        def forward(self, z):
            return ModelOutput(reconstruction=self.body(z).view(-1, 1, 28, 28))

    x_train = train.float_images()

    def ours():  # the whole `train` call: run directory, checkpoints, metrics (no report pictures)
        os.environ["LATENTSCAPE_PLOTS"] = "none"
        try:
            return train_and_evaluate(cfg, Path(tempfile.mkdtemp(dir=work)), quiet=True, callbacks=[])
        finally:
            os.environ.pop("LATENTSCAPE_PLOTS")

    def peer():
        torch.manual_seed(0)
        pcfg = PythaeVAEConfig(input_dim=(1, 28, 28), latent_dim=20, reconstruction_loss="bce")
        model = PythaeVAE(pcfg, encoder=Enc(), decoder=Dec())
        tcfg = BaseTrainerConfig(output_dir=tempfile.mkdtemp(dir=work), num_epochs=1, learning_rate=1e-3,
                                 per_device_train_batch_size=128, optimizer_cls="Adam", no_cuda=True)
        dataset = BaseDataset(x_train, torch.zeros(len(x_train)))  # what pythae's pipelines build from arrays
        BaseTrainer(model, train_dataset=dataset, training_config=tcfg).train()
        return model

    def bare():
        """The compute floor: the same net and update as a bare PyTorch loop over pre-made tensors
        (no run directory, no data pipeline, no logging; fused Adam, as latentscape uses)."""
        torch.manual_seed(0)
        enc, mu, logvar = nn.Sequential(nn.Flatten(), nn.Linear(784, 400), nn.ReLU()), nn.Linear(400, 20), nn.Linear(400, 20)
        dec = nn.Sequential(nn.Linear(20, 400), nn.ReLU(), nn.Linear(400, 784))
        params = [*enc.parameters(), *mu.parameters(), *logvar.parameters(), *dec.parameters()]
        opt = torch.optim.Adam(params, lr=1e-3, fused=True)
        flat = x_train.flatten(1)
        for idx in torch.randperm(len(flat)).split(128):
            x = flat[idx]
            h = enc(x)
            m, lv = mu(h), logvar(h)
            z = m + torch.randn_like(m) * (0.5 * lv).exp()
            rec = F.binary_cross_entropy_with_logits(dec(z), x, reduction="sum")
            kl = -0.5 * (1 + lv - m.pow(2) - lv.exp()).sum()
            opt.zero_grad(set_to_none=True)
            ((rec + kl) / len(x)).backward()
            opt.step()

    timings: dict[str, list[float]] = {"ours": [], "peer": [], "bare": []}
    last: dict[str, object] = {}
    for _ in range(args.repeats):
        for name, fn in (("ours", ours), ("peer", peer), ("bare", bare)):
            t = time.perf_counter()
            last[name] = fn()
            timings[name].append(time.perf_counter() - t)
    run, peer_model = last["ours"], last["peer"]
    a, b, floor = (min(timings[k]) for k in ("ours", "peer", "bare"))
    from latentscape.rundir.load import load_run

    ours_nelbo = evaluate(load_run(str(run.path)).model, test, 500, torch.device("cpu"), seed=0)["nelbo"]
    peer_model.eval()
    torch.manual_seed(0)
    with torch.no_grad():  # pythae's loss: BCE summed over pixels + KL, averaged over images
        xt = test.float_images()
        peer_nelbo = float(sum(peer_model({"data": xt[i:i + 500]}).loss * len(xt[i:i + 500]) for i in range(0, len(xt), 500)) / len(xt))
    record(results, "vae_epoch", a, b, test_nelbo=round(ours_nelbo, 3), peer_test_nelbo=round(peer_nelbo, 3), examples=len(train),
           bare_loop_s=round(floor, 4), ratio_ceiling=round(b / floor, 3), vs_bare_loop=round(floor / a, 3))


def peer_fid(f1: np.ndarray, f2: np.ndarray) -> float:
    """pytorch-fid's published algorithm: numpy statistics + calculate_frechet_distance (sqrtm)."""
    from latentscape.metrics.fid import frechet_distance_sqrtm  # = calculate_frechet_distance

    mu1, s1 = np.mean(f1, axis=0), np.cov(f1, rowvar=False)
    mu2, s2 = np.mean(f2, axis=0), np.cov(f2, rowvar=False)
    return frechet_distance_sqrtm(mu1, s1, mu2, s2)


def peer_kid(f1: np.ndarray, f2: np.ndarray, subsets: int, size: int, seed: int = 0, dtype=np.float32) -> float:
    """torch-fidelity's KID (kid_features_to_metric): numpy, per-subset cubic kernels."""
    f1, f2 = f1.astype(dtype), f2.astype(dtype)
    rng = np.random.RandomState(seed)
    d = f1.shape[1]
    m = size
    mmds = np.zeros(subsets)
    for i in range(subsets):
        x = f1[rng.choice(len(f1), m, replace=False)]
        y = f2[rng.choice(len(f2), m, replace=False)]
        a = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
        b = (x @ y.T / d + 1) ** 3
        mmds[i] = (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return float(mmds.mean() / m)


def metrics_rows(args, results: dict) -> None:
    from latentscape import compute

    rng = np.random.default_rng(0)
    mix = (rng.standard_normal((args.fid_dim, args.fid_dim)) / np.sqrt(args.fid_dim)).astype(np.float32)
    f1 = np.maximum(rng.standard_normal((args.fid_n, args.fid_dim)).astype(np.float32) @ mix, 0)  # ReLU-like pool3
    f2 = np.maximum((rng.standard_normal((args.fid_n, args.fid_dim)).astype(np.float32) * 1.1 + 0.05) @ mix, 0)
    t1, t2 = torch.from_numpy(f1), torch.from_numpy(f2)
    a, b, r_ours, r_peer = best_alternating(lambda: compute.fid(t1, t2), lambda: peer_fid(f1.astype(np.float64), f2.astype(np.float64)), args.repeats)
    record(results, "fid", a, b, value=r_ours, peer_value=r_peer, rel_diff=abs(r_ours - r_peer) / abs(r_peer), shape=[args.fid_n, args.fid_dim])
    n_sub, size = args.kid_subsets, min(args.kid_size, args.fid_n)
    a, b, r_ours, r_peer = best_alternating(lambda: compute.kid(t1, t2, size, n_sub)[0], lambda: peer_kid(f1, f2, n_sub, size), args.repeats)
    ref64 = peer_kid(f1, f2, n_sub, size, dtype=np.float64)
    record(results, "kid", a, b, value=r_ours, peer_value=r_peer, float64_value=ref64,
           rel_diff_vs_float64=abs(r_ours - ref64) / abs(ref64), peer_rel_diff_vs_float64=abs(r_peer - ref64) / abs(ref64))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=default_data_dir())
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "peers.json"))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--examples", type=int, default=2000, help="test images for the line and plane rows")
    p.add_argument("--vae-examples", type=int, default=10000, help="training images in the VAE epoch")
    p.add_argument("--fid-n", type=int, default=5000)
    p.add_argument("--fid-dim", type=int, default=2048)
    p.add_argument("--kid-subsets", type=int, default=100)
    p.add_argument("--kid-size", type=int, default=1000)
    p.add_argument("--skip", default="", help="comma-separated rows to skip: landscapes, commands (the line/plane command rows), vae, metrics")
    p.add_argument("--workdir", help="where runs are kept (default: a temporary folder)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    skip = set(filter(None, args.skip.split(",")))
    results: dict = {"repeats": args.repeats, "threads": args.threads, "examples": args.examples}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        if "landscapes" not in skip:
            landscapes(args, work, results)
        if "metrics" not in skip:
            metrics_rows(args, results)
        if "vae" not in skip:
            vae_epoch(args, work, results)
    write_results(args.out, results)
    print(json.dumps({k: v for k, v in results.items() if k.endswith("_ratio")}))


if __name__ == "__main__":
    main()
