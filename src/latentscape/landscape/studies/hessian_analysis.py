"""`latentscape hessian RUN`: top eigenvalues, trace and eigenvalue density of the objective's
Hessian at a run's weights (PyHessian, Yao et al. 2020), written to RUN/analysis/hessian-<time>/."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from latentscape.data.loader import iterate_in_order
from latentscape.errors import LatentscapeError
from latentscape.io import write_json
from latentscape.landscape.core import hessian as H
from latentscape.landscape.studies.analysis import EvalOptions, _is_main, from_refs
from latentscape.landscape.studies.inputs import load_eval_data
from latentscape.landscape.studies.outputs import adopt_config, check_output_dir, new_output_dir, write_report
from latentscape.landscape.studies.surface_analysis import group_param_names
from latentscape.viz.deferred import draw


def analyse_hessian(
    ref: str,
    *,
    top_k: int = 5,
    method: str = "power",
    trace: bool = False,
    density: bool = False,
    batches: int = 1,
    split: str = "train",
    group: str | None = None,
    seed: int = 0,
    max_iter: int = 100,
    tol: float = 1e-3,
    trace_samples: int = 100,
    slq_runs: int = 1,
    slq_steps: int = 90,
    out: str | None = None,
    opts: EvalOptions | None = None,
    quiet: bool = False,
) -> tuple[Path, dict]:
    """Spectral summary of the Hessian of the model's objective on `batches` batches of `split`."""
    check_output_dir(out)  # before any evaluation: a bad --out costs nothing
    opts = opts or EvalOptions()
    if top_k < 0 or batches < 1 or method not in ("power", "lanczos"):
        raise LatentscapeError("--top-k must be >= 0, --batches >= 1, --method power or lanczos")
    for option, value, low in (("--max-iter", max_iter, 1), ("--trace-samples", trace_samples, 2),
                               ("--slq-runs", slq_runs, 1), ("--slq-steps", slq_steps, 2)):
        if value < low:
            raise LatentscapeError(f"{option} {value}: must be at least {low}")
    if not (math.isfinite(tol) and tol > 0):
        raise LatentscapeError(f"--tol {tol}: must be a positive number")
    src, (w,) = from_refs([ref], opts.data_dir)
    names = group_param_names(src.model, group)
    data = load_eval_data(src.data_cfg, [split], opts.max_examples)[split]
    device = opts.device
    sub = [b for _, b in zip(range(batches), iterate_in_order(data, opts.batch_size, device))]
    params = {k: v.to(device) for k, v in w.items() if names is None or k in names}
    fixed = {k: v.to(device) for k, v in {**src.buffers, **{k: v for k, v in w.items() if k not in params}}.items()}
    model = src.model.to(device)
    op = H.HessianOperator(H.model_objective(model, fixed, group=group, seed=seed), params, sub)
    if top_k > op.dim:
        raise LatentscapeError(f"--top-k {top_k}: the Hessian has only {op.dim} eigenvalues (one per parameter)")
    doc: dict[str, Any] = {
        "source": str(ref), "split": split, "examples": sum(int(b.x.shape[0]) for b in sub), "parameters": op.dim,
        "group": group, "seed": seed, "objective": "model(batch" + (f", group={group!r}" if group else "") + ").loss, eval mode",
    }
    timings: dict[str, float] = {}
    main = _is_main()
    out_dir = None
    if main:  # the folder first: each stage's numbers are written as soon as they exist
        out_dir = new_output_dir("hessian", out, root=str(Path(src.run_dir) / "analysis"))
        adopt_config(out_dir, src.run_dir)
    say = (lambda line: None) if quiet or not main else (lambda line: print(line, flush=True))

    def stage_done(name: str, t0: float, line: str) -> None:
        """Record a stage's time, write hessian.json so far (a kill loses at most the running
        stage) and print the stage's result."""
        timings[name] = time.perf_counter() - t0
        doc["seconds"] = timings
        doc["hessian_vector_products"] = op.calls
        if out_dir is not None:
            write_json(out_dir / "hessian.json", {**doc, "complete": False})
        say(f"{line}  ({timings[name]:.1f} s, {op.calls} Hessian-vector products so far)")

    say(f"Hessian of {op.dim:,} parameters on {doc['examples']} {split} examples")
    if top_k:
        t0 = time.perf_counter()
        if method == "power":
            say(f"top {top_k} eigenvalue(s) by power iteration (at most {max_iter} products each)...")
            vals, _ = H.power_iteration(op, top_k, max_iter=max_iter, tol=tol, seed=seed)
        else:
            say(f"top {top_k} eigenvalue(s) by Lanczos ({max(3 * top_k, slq_steps)} steps)...")
            vals = H.lanczos_top(op, top_k, m=max(3 * top_k, slq_steps), seed=seed)
        doc["top_eigenvalues"] = {"method": method, "values": vals}
        stage_done("top_eigenvalues", t0, "top eigenvalues: " + ", ".join(f"{v:.5g}" for v in vals))
    if trace:
        t0 = time.perf_counter()
        say(f"trace by Hutchinson's estimator (at most {trace_samples} samples)...")
        mean, err, n = H.hutchinson_trace(op, trace_samples, seed=seed, tol=tol)
        doc["trace"] = {"estimate": mean, "std_error": err, "samples": n, "method": "Hutchinson (Rademacher)"}
        stage_done("trace", t0, f"trace: {mean:.5g} +- {err:.2g} ({n} samples)")
    dens = None
    if density:
        t0 = time.perf_counter()
        say(f"eigenvalue density by stochastic Lanczos quadrature ({slq_runs} run(s) of {slq_steps} steps)...")
        dens = H.slq_density(op, slq_runs, slq_steps, seed=seed)
        _, sigma = H.default_grid(dens)
        doc["density"] = {
            "method": "stochastic Lanczos quadrature", "runs": slq_runs, "steps": slq_steps, "sigma": sigma,
            "nodes": [n.tolist() for n in dens.nodes], "weights": [x.tolist() for x in dens.weights],
            "trace_estimate": dens.moment(1) * op.dim,
        }
        stage_done("density", t0, f"density: {slq_runs} SLQ run(s) of {slq_steps} steps; trace from SLQ {doc['density']['trace_estimate']:.5g}")
    doc["seconds"] = timings
    doc["hessian_vector_products"] = op.calls
    if out_dir is None:
        return Path(out or "."), doc
    write_json(out_dir / "hessian.json", {**doc, "complete": True})  # the numbers first: a failure while drawing cannot lose them
    draw(_draw_hessian, out_dir, dens)
    say(f"hessian results: {out_dir}")
    return out_dir, doc


def _draw_hessian(out_dir: Path, dens: Any) -> None:
    """images/hessian_density.png (when the density was estimated) and report.html."""
    if dens is not None:
        from latentscape.viz.plots import plot_curves

        grid, sigma = H.default_grid(dens)
        phi = dens.evaluate(grid, sigma)
        plot_curves({"density": (grid, np.maximum(phi, 1e-12))}, out_dir / "images" / "hessian_density.png", xlabel="eigenvalue", ylabel="density (log)", title="Hessian eigenvalue density (SLQ)", logy=True)
    write_report(out_dir)
