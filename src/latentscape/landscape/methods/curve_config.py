"""The `curve` model's options: `CurveConfig` (model.* of a curve run), and `UserModelRecord`, what a
curve of your own model records about its factory (`connect --model`)."""

from __future__ import annotations

from dataclasses import dataclass

from latentscape.config import ModelConfig
from latentscape.ranges import ranged
from latentscape.registry import CURVE_KINDS

CurveKindName = CURVE_KINDS.literal()


@dataclass(frozen=True)
class UserModelRecord:
    """The `--model` a curve of your own model was made with (`connect --model`).

    Attributes:
        factory: FILE.py:factory (the file's absolute path) or package.module:factory.
        args: the factory's keyword arguments, a JSON object (None: none).
        loss: the `--loss` the curve was trained with.
        sha256: of the factory's source file when the curve was made (a changed file is refused).
        data: the dataset's name (the run's `data` section holds all its settings).
    """

    factory: str = ""
    args: str | None = None
    loss: str = "cross_entropy"
    sha256: str = ""
    data: str = ""

    def describe(self) -> str:
        """'FILE.py:build (args {...}, loss cross_entropy, data digits, sha256 0123456789ab)'."""
        args = f"args {self.args}, " if self.args else ""
        return f"{self.factory} ({args}loss {self.loss}, data {self.data}, sha256 {self.sha256[:12]})"


@dataclass(frozen=True)
class CurveConfig(ModelConfig):
    """Options of a weight-space curve between two runs.

    Attributes:
        start, end: weight references of the endpoints (RUN_DIR, RUN_DIR@init, ...).
        kind: "bezier" or "polychain".
        bends: number of free control points between the ends (0: a straight segment).
        fix_start, fix_end: keep the endpoints fixed (else they are trained too).
        l2: weight of the regulariser 0.5 * l2 * ||theta(t)||^2, the squared norm of all the
            base's parameters at this batch's t: Garipov et al.'s curve weight decay exactly
            (their train.py trains curves with `curves.l2_regularizer(wd)` = 0.5 * wd * sum over
            layers of ||w(t)||^2 and the optimizer's weight decay at 0; `connect` sets it to 0
            too). Its gradient on control point k is l2 * c_k(t) * theta(t), not a decay of each
            control point. Their utils.l2_regularizer (0.5 * wd * sum ||p||, unsquared norms)
            is only added to a reported loss in their connect.py / plane.py, never trained with.
        eval_t: position at which the run's periodic and final evaluation look at the curve
            (0.5: the middle); a base with BatchNorm gets the statistics of theta(eval_t),
            recomputed from the training split as `path --curve` does.
        user: the factory of your own model when start and end are its weights files
            (`connect --model`); None for a curve between latentscape runs.
    """

    name: str = "curve"
    start: str = ""
    end: str = ""
    kind: CurveKindName = "bezier"
    bends: int = ranged(1, 0, 64)
    fix_start: bool = True
    fix_end: bool = True
    l2: float = ranged(0.0, 0.0, 1e6)
    eval_t: float = ranged(0.5, 0.0, 1.0)
    user: UserModelRecord | None = None

    def __post_init__(self) -> None:
        if not self.start or not self.end:
            raise ValueError("model.start and model.end must name the endpoint runs")
        if self.bends < 0:
            raise ValueError(f"model.bends must be >= 0, got {self.bends}")
        if self.bends == 0 and self.fix_start and self.fix_end:  # a fixed straight line: no parameter to train
            raise ValueError("model.bends=0 with both ends fixed leaves nothing to train; use --bends >= 1 "
                             "or free an end (--no-fix-start / --no-fix-end)")
        if self.l2 < 0:
            raise ValueError(f"model.l2 must be >= 0, got {self.l2}")
