"""KL-weight (beta) schedules of the beta-VAE, as pure functions of the global step.

- constant: beta at every step (Higgins et al. 2017, eq. 4; beta = 1 is the plain VAE).
- linear: warm-up from 0 to beta over `warmup_steps` steps, then beta (Bowman et al. 2016,
  "KL cost annealing"; the CIFAR-10 study ramps over its whole 20-epoch run).
- cyclical: repeat the warm-up every `cycle_steps` steps, ramping during the first `ramp_fraction`
  of each cycle and holding beta for the rest (Fu et al. 2019, eq. 6 with R = ramp_fraction).
"""

from __future__ import annotations

from latentscape.registry import BETA_SCHEDULES, UnknownNameError


def constant_beta(step: int, beta: float, warmup_steps: int, cycle_steps: int, ramp_fraction: float) -> float:
    """beta."""
    return beta


def linear_beta(step: int, beta: float, warmup_steps: int, cycle_steps: int, ramp_fraction: float) -> float:
    """beta * min(1, step / warmup_steps); beta when warmup_steps is 0."""
    if warmup_steps <= 0:
        return beta
    return beta * min(1.0, step / warmup_steps)


def cyclical_beta(step: int, beta: float, warmup_steps: int, cycle_steps: int, ramp_fraction: float) -> float:
    """beta * min(1, tau / R) with tau = (step mod cycle_steps) / cycle_steps (Fu et al. 2019)."""
    if cycle_steps <= 0:
        raise ValueError("the cyclical beta schedule needs cycle_steps > 0")
    tau = (step % cycle_steps) / cycle_steps
    return beta * min(1.0, tau / ramp_fraction)




def beta_at(
    schedule: str,
    step: int,
    beta: float,
    warmup_steps: int = 0,
    cycle_steps: int = 0,
    ramp_fraction: float = 0.5,
) -> float:
    """The KL weight at global step `step` under the named schedule."""
    try:
        fn = BETA_SCHEDULES.get(schedule)  # the names are declared in latentscape.registry
    except UnknownNameError as exc:
        raise ValueError(str(exc)) from None
    return float(fn(step, beta, warmup_steps, cycle_steps, ramp_fraction))
