"""Curvature at one weight set (PyHessian, Yao et al. 2020): the top eigenvalues, the trace and
the eigenvalue density of the Hessian of a task's objective on a few batches.

`compute_hessian` runs the stages in order (top-k, trace, density: one stage per SLQ run) and
reports each through `on_stage` as soon as it is done, so `write_hessian` can keep hessian.json
current ("complete": false until the last): a kill loses at most the running stage, and
`resume` (with the same settings) keeps every finished stage and SLQ run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from latentscape.errors import LatentscapeError
from latentscape.io import write_json
from latentscape.landscape.core import hessian as H
from latentscape.landscape.core.data import as_data, batch_size_of
from latentscape.landscape.core.params import Params
from latentscape.landscape.core.task import Task
from latentscape.landscape.studies.grid_file import weights_digest
from latentscape.landscape.studies.outputs import Summary, draw_and_report, write_summary


#: How top_eigenvalues are chosen and ordered (hessian.json, the page, the printed line).
ORDER = "largest magnitude first"


@dataclass
class HessianResult:
    """The spectral summary of one Hessian.

    Attributes:
        top_eigenvalues: {"method", "order", "values"}: the k eigenvalues largest in magnitude,
            largest magnitude first (ORDER; power iteration and Lanczos alike, as PyHessian).
        trace: {"estimate", "std_error", "samples", "method"}.
        density: SLQ {"method", "runs", "steps", "sigma", "nodes", "weights", "trace_estimate"}.
        protocol: source, split, examples, parameters, group, seed, objective, settings.
        seconds: stage -> seconds.
        hessian_vector_products: products computed (in this process).
        complete: every asked-for stage is done.
    """

    top_eigenvalues: dict[str, Any] | None = None
    trace: dict[str, Any] | None = None
    density: dict[str, Any] | None = None
    protocol: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    hessian_vector_products: int = 0
    complete: bool = False

    def to_json(self) -> dict[str, Any]:
        """hessian.json."""
        doc = dict(self.protocol)
        for key in ("top_eigenvalues", "trace", "density"):
            if getattr(self, key) is not None:
                doc[key] = getattr(self, key)
        return {**doc, "seconds": self.seconds, "hessian_vector_products": self.hessian_vector_products, "complete": self.complete}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> HessianResult:
        keys = ("top_eigenvalues", "trace", "density", "seconds", "hessian_vector_products", "complete")
        protocol = {k: v for k, v in doc.items() if k not in keys}
        return cls(doc.get("top_eigenvalues"), doc.get("trace"), doc.get("density"), protocol,
                   dict(doc.get("seconds") or {}), int(doc.get("hessian_vector_products") or 0), bool(doc.get("complete")))

    def density_curve(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(grid, phi): the SLQ density with Gaussian broadening, or None."""
        if not self.density:
            return None
        dens = H.Density([np.asarray(n) for n in self.density["nodes"]], [np.asarray(w) for w in self.density["weights"]])
        grid, sigma = H.default_grid(dens)
        return grid, dens.evaluate(grid, sigma)

    def save(self, folder: str | Path) -> Path:
        """Write the analysis folder (see `write_hessian`); returns it."""
        return write_hessian(folder, self)


def compute_hessian(
    model: nn.Module,
    task: Task,
    weights: Params,
    data: Any,
    *,
    top_k: int = 5,
    method: str = "power",
    trace: bool = False,
    density: bool = False,
    batches: int = 1,
    batch_size: int = 256,
    names: set[str] | None = None,
    buffers: Params | None = None,
    seed: int = 0,
    max_iter: int = 100,
    tol: float = 1e-3,
    trace_samples: int = 100,
    slq_runs: int = 1,
    slq_steps: int = 90,
    device: str = "cpu",
    protocol: dict[str, Any] | None = None,
    known: HessianResult | None = None,
    on_stage: Callable[[str, HessianResult], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> HessianResult:
    """The asked-for spectral estimates of the Hessian of `task.objective` at `weights`.

    Args:
        model, task: the architecture and what its objective is (`core.task`).
        weights: the point (name -> tensor).
        data: the data (anything `core.data.as_data` takes); the objective averages over its
            first `batches` batches of `batch_size` examples.
        names: the parameters the Hessian is over (None: all; others held fixed, e.g. a GAN group).
        buffers: buffers (default: the model's own, in eval mode).
        top_k, method: eigenvalues by "power" iteration with deflation, or "lanczos".
        trace, density: Hutchinson's trace; the SLQ density of `slq_runs` runs of `slq_steps` steps.
        known: a result of the same settings to continue (its finished stages are kept).
        on_stage: `(stage, result so far)` after each stage (and each SLQ run).
        progress: `progress(done, total)` Hessian-vector products computed here, of at most
            `total` (it shrinks when power iteration or Hutchinson's estimator stop early; the
            last call has done == total).
    """
    if top_k < 0 or batches < 1 or method not in ("power", "lanczos"):
        raise LatentscapeError("--top-k must be >= 0, --batches >= 1, --method power or lanczos")
    sub = [b for _, b in zip(range(batches), as_data(data).batches(batch_size, device))]
    params = {k: v.to(device) for k, v in weights.items() if names is None or k in names}
    own = buffers if buffers is not None else {k: v.detach() for k, v in model.named_buffers()}
    fixed = {k: v.to(device) for k, v in {**own, **{k: v for k, v in weights.items() if k not in params}}.items()}
    op = H.HessianOperator(H.model_objective(model.to(device), fixed, seed=seed, loss=task.objective), params, sub)
    if top_k > op.dim:
        raise LatentscapeError(f"--top-k {top_k}: the Hessian has only {op.dim} eigenvalues (one per parameter)")
    settings = {"weights": weights_digest([weights]), "top_k": top_k, "method": method, "trace": trace, "density": density,
                "batches": batches, "batch_size": batch_size, "seed": seed, "max_iter": max_iter, "tol": tol,
                "trace_samples": trace_samples, "slq_runs": slq_runs, "slq_steps": slq_steps, "task": task.description}
    result = known if known is not None else HessianResult()
    if known is not None and known.protocol.get("settings") != settings:
        theirs = known.protocol.get("settings") or {}
        key = next((k for k in settings if theirs.get(k) != settings[k]), "settings")
        raise LatentscapeError(f"--resume: hessian.json was computed with other settings ({key}: {theirs.get(key)!r} there, "
                               f"{settings.get(key)!r} now); rerun with the same options, or without --resume")
    proto = dict(protocol or {})
    objective = str(proto.pop("objective_of", task.description))
    result.protocol = {**proto, "examples": sum(batch_size_of(b) for b in sub), "parameters": op.dim, "seed": seed,
                       "objective": objective + ", eval mode", "settings": settings}
    stages = (["top_eigenvalues"] if top_k else []) + (["trace"] if trace else []) + [f"density {r + 1}" for r in range(slq_runs if density else 0)]
    finished = [s for s in stages if _has(result, s)]
    lanczos_steps = min(max(3 * top_k, slq_steps), op.dim)
    most = {"top_eigenvalues": top_k * max_iter if method == "power" else lanczos_steps, "trace": trace_samples,
            "density": min(slq_steps, op.dim)}  # products of each stage at most (of each SLQ run)
    spent = [0]  # products of the stages finished here

    def report(running: str | None = None) -> Callable[[int, int], None]:
        """progress(products, at most) of the stage `running` -> the analysis's own call."""

        def call(stage_done: int = 0, stage_most: int = 0) -> None:
            if progress is not None:
                later = sum(most[s.split()[0]] for s in stages if s not in finished and s.split()[0] != running)
                here = spent[0] + op.calls
                progress(here, here + stage_most - stage_done + later)

        return call

    def done(stage: str, t0: float) -> None:
        result.seconds[stage.split()[0]] = result.seconds.get(stage.split()[0], 0.0) + time.perf_counter() - t0
        result.hessian_vector_products += op.calls
        spent[0] += op.calls
        op.calls = 0
        finished.append(stage)
        result.complete = len(finished) == len(stages)
        if on_stage is not None:
            on_stage(stage, result)
        report()()

    report()()  # the products ahead, before the first

    if top_k and not _has(result, "top_eigenvalues"):
        t0 = time.perf_counter()
        if on_stage is not None:
            on_stage("start top_eigenvalues", result)
        if method == "power":
            vals, _ = H.power_iteration(op, top_k, max_iter=max_iter, tol=tol, seed=seed, progress=report("top_eigenvalues"))
        else:
            vals = H.lanczos_top(op, top_k, m=max(3 * top_k, slq_steps), seed=seed, progress=report("top_eigenvalues"))
        result.top_eigenvalues = {"method": method, "order": ORDER, "values": vals}
        done("top_eigenvalues", t0)
    if trace and not _has(result, "trace"):
        t0 = time.perf_counter()
        if on_stage is not None:
            on_stage("start trace", result)
        mean, err, n = H.hutchinson_trace(op, trace_samples, seed=seed, tol=tol, progress=report("trace"))
        result.trace = {"estimate": mean, "std_error": err, "samples": n, "method": "Hutchinson (Rademacher)"}
        done("trace", t0)
    if density and not all(_has(result, f"density {r + 1}") for r in range(slq_runs)):
        t0 = [time.perf_counter()]
        if on_stage is not None:
            on_stage("start density", result)
        prior = result.density
        start = H.Density([np.asarray(n) for n in prior["nodes"]], [np.asarray(w) for w in prior["weights"]]) if prior else None

        def run_done(dens: H.Density) -> None:
            _, sigma = H.default_grid(dens)
            result.density = {
                "method": "stochastic Lanczos quadrature", "runs": slq_runs, "steps": slq_steps, "sigma": sigma,
                "nodes": [n.tolist() for n in dens.nodes], "weights": [x.tolist() for x in dens.weights],
                "trace_estimate": dens.moment(1) * op.dim,
            }
            done(f"density {len(dens.nodes)}", t0[0])
            t0[0] = time.perf_counter()

        H.slq_density(op, slq_runs, slq_steps, seed=seed, done=start, on_run=run_done, progress=report("density"))
    result.complete = True
    return result


def _has(result: HessianResult, stage: str) -> bool:
    if stage == "top_eigenvalues":
        return result.top_eigenvalues is not None
    if stage == "trace":
        return result.trace is not None
    run = int(stage.split()[1])
    return result.density is not None and len(result.density.get("nodes", [])) >= run


def hessian_summary(result: HessianResult) -> Summary:
    """summary.json: the top eigenvalue, the trace, and what they were computed on."""
    p = result.protocol
    metrics: dict[str, float] = {}
    bits = []
    if result.top_eigenvalues:
        vals = result.top_eigenvalues["values"]
        metrics["top eigenvalue"] = vals[0]
        if len(vals) > 1:
            metrics[f"eigenvalue {len(vals)}"] = vals[-1]
        bits.append(f"top eigenvalue {vals[0]:.4g} (largest in magnitude)")
    if result.trace:
        metrics["trace"] = result.trace["estimate"]
        bits.append(f"trace {result.trace['estimate']:.4g} +- {result.trace['std_error']:.2g}")
    if result.density:
        metrics["trace (SLQ)"] = result.density["trace_estimate"]
        bits.append(f"eigenvalue density from {len(result.density['nodes'])} SLQ run(s)")
    where = f"{count(p.get('examples'))} {p.get('split', '')} examples".replace("  ", " ")
    finding = (f"The Hessian of the objective over {p.get('parameters', 0):,} parameters on {where}: " + ", ".join(bits) + "."
               if bits else "No stage finished yet.")
    metrics["parameters"] = float(p.get("parameters", 0))
    title = f"Hessian spectrum of {p.get('source', 'the model')}"
    return Summary("hessian", title, finding, str(p.get("model", "")), str(p.get("dataset", "")), metrics)


def write_hessian(folder: str | Path, result: HessianResult, pictures: bool = True) -> Path:
    """hessian.json and summary.json; with `pictures`, images/hessian_density.png and report.html."""
    folder = Path(folder)
    write_json(folder / "hessian.json", result.to_json())
    write_summary(folder, hessian_summary(result))
    if pictures:
        draw_and_report(folder, _draw_hessian, folder, result)
    return folder


METHOD_NAMES = {"power": "power iteration", "lanczos": "Lanczos"}  # how the top eigenvalues were found


def count(n: Any) -> str:
    """1,000 (a count as the finding and the picture write it), or "?" when unknown."""
    return f"{n:,}" if isinstance(n, int) else "?"


def _draw_hessian(folder: Path, result: HessianResult) -> None:
    curve = result.density_curve()
    if curve is not None:
        from latentscape.viz.plots import plot_density

        grid, phi = curve
        p, d = result.protocol, result.density
        top = (result.top_eigenvalues or {}).get("values") or []
        runs = f"{d['runs']} run{'s' * (d['runs'] != 1)} of {d['steps']} Lanczos steps"
        plot_density(grid, phi, folder / "images" / "hessian_density.png", marks=top,
                     marks_label=f"top {len(top)} ({METHOD_NAMES.get(str((result.top_eigenvalues or {}).get('method')), 'direct')})",
                     title=f"Hessian eigenvalue density of {p.get('source', 'the model')}\n"
                           f"(SLQ, {runs}; {count(p.get('examples'))} {p.get('split', '')} examples)",
                     xlabel="eigenvalue of the Hessian of the objective")
