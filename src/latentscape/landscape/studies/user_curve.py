"""Curves of your own model: what `connect --model` records, and the explicit opt-in that
loading such a curve run needs.

A curve run of your own model records its factory (`curve_config.UserModelRecord`: the file or
module, the factory, its arguments, the loss, the dataset and the file's SHA-256). Rebuilding the
curve imports that file, which runs its code, so nothing does it implicitly: a command rebuilds
such a run only inside `opted_in(spec)`, with `spec` the `--model` given on its command line,
which must name the recorded factory, whose file must still have the recorded hash (checked
before it is imported). Everything else (a report, a probe, a load without `--model`) is refused
with one line that names the flag and the recorded factory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from latentscape.errors import LatentscapeError
from latentscape.landscape.core.metrics import task_for
from latentscape.landscape.core.params import Params
from latentscape.landscape.methods.curve_config import CurveConfig, UserModelRecord
from latentscape.landscape.methods.curve_model import USER_BASE, user_code_refusal
from latentscape.landscape.methods.task_model import TaskModel, wrap
from latentscape.landscape.studies.inputs import UserModel
from latentscape.landscape.studies.user_model import (
    build_user_model,
    criterion_for,
    factory_source,
    file_sha256,
    fit_weights,
    read_weights_file,
)


def record_of(user: UserModel) -> UserModelRecord:
    """The record of `--model` options that a curve run keeps (its file's hash taken now)."""
    factory, source = factory_source(user.spec)
    return UserModelRecord(factory, user.args, user.loss, file_sha256(source) if source else "", user.data)


def check_same_model(spec: str, record: UserModelRecord) -> None:
    """Refuse (one line) a `--model` that is not the recorded factory, or whose file changed
    since the curve was made; nothing is imported."""
    factory, source = factory_source(spec)
    if factory != record.factory:
        raise LatentscapeError(f"--model {spec}: this curve run is of another model, {record.describe()}")
    now = file_sha256(source) if source else ""
    if now != record.sha256:
        where = str(source) if source else factory
        raise LatentscapeError(
            f"--model {spec}: {where} changed since the curve was made (sha256 {record.sha256[:12] or 'none'} recorded, "
            f"{now[:12] or 'none'} now); restore that file, or connect the weights again"
        )


def recorded_user_model(run_ref: str | Path) -> UserModelRecord | None:
    """The `--model` record of a curve run (None for any other run), read without loading it."""
    from latentscape.rundir.load import parse_weight_spec
    from latentscape.rundir.run import Run

    model = Run.open(parse_weight_spec(run_ref)[0]).config().model
    return getattr(model, "user", None) if model.name == "curve" else None


def check_opt_in(run_ref: str | Path, spec: str | None) -> UserModelRecord | None:
    """Before loading the run `run_ref`: a curve of your own model needs `--model` (naming the
    recorded factory, its file unchanged); any other run must not be given one.

    Returns:
        The run's record (None: not a curve of your own model).
    """
    record = recorded_user_model(run_ref)
    if record is None:
        if spec:
            raise LatentscapeError(f"--model {spec}: {run_ref} is not a curve of your own model; it loads without --model")
        return None
    if not spec:
        raise user_code_refusal(record, str(run_ref))
    check_same_model(spec, record)
    return record


@contextlib.contextmanager
def opted_in(spec: str | None) -> Iterator[None]:
    """While the block runs, curve runs of your own model `spec` (`--model`) may be rebuilt
    (`curve_model.build_curve`); `spec=None` allows nothing."""
    if not spec:
        yield
        return
    token = USER_BASE.set(lambda cfg: curve_base(spec, cfg))
    try:
        yield
    finally:
        USER_BASE.reset(token)


def curve_base(spec: str, cfg: CurveConfig) -> tuple[TaskModel, Params, Params]:
    """(base, start weights, end weights) of a curve of your own model: the factory's module,
    with the start file's buffers, scored by the recorded loss; the weights named as the base's."""
    record = cfg.user
    if record is None:  # pragma: no cover - build_curve calls this for user curves only
        raise LatentscapeError("this curve joins latentscape runs, not weights of your own model")
    check_same_model(spec, record)
    net = build_user_model(record.factory, record.args)
    start, buffers = fit_weights(net, read_weights_file(cfg.start), f"{cfg.start} (for --model {record.factory})")
    end, _ = fit_weights(net, read_weights_file(cfg.end), f"{cfg.end} (for --model {record.factory})")
    net.load_state_dict({**start, **buffers})
    kind, fn = criterion_for(record.loss)
    return TaskModel(net, task_for(net, **{kind: fn})), wrap(start), wrap(end)
