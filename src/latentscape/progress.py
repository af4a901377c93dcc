"""Progress of long stages on the terminal: a bar on a tty, a few plain lines otherwise.

Maths never prints (docs/ARCHITECTURE.md, "Progress"): a long compute function takes
`progress: Callable[[int, int], None] | None = None` and calls `progress(done, total)` after each
unit of work. The command that calls it owns a `Progress` and passes its callback:

    with tracked("surface 51x51 grid", unit="point") as progress:   # Progress(...).callback()
        surface(..., progress=progress)

A stage that cannot report steps (a library fit) is announced with a start line that carries an
estimate, and an end line with the time it took:

    with stage("UMAP fit on 60000 images", estimate=90.0):
        umap.fit(x)

Output goes to stderr (stdout keeps the results). On a terminal `Progress` draws a tqdm bar; on a
pipe or a log file it prints a start line, then one line per ~10 % of the work (at least GAP
seconds apart) or after `every` seconds of silence, each with the fraction done, the time so far
and the time left (from the rate so far; before the first unit, from the caller's `estimate`),
and an end line with the time taken. A stage whose `estimate` is under SHORT seconds prints its
end line only; a `lazy` one prints nothing unless it runs SHORT seconds; a `deferred` one starts
talking at its first update (a compute function's `progress(0, total)` once its inputs are
checked: a refusal is then the only line). `quiet=True` or
LATENTSCAPE_PROGRESS=none prints nothing; LATENTSCAPE_PROGRESS=lines or =bar forces a style.
Plain declarations only (tqdm is imported when a bar is drawn): any layer may use it.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Literal, TextIO

#: `progress(done, total)`: the callback of a long compute function (the shared contract).
ProgressFn = Callable[[int, int], None]
#: `stage(what, estimate=seconds)`: the hook form of `stage`, for a function that runs fits
#: without steps (`with stage("UMAP fit on 60000 images", estimate=180.0): ...`).
StageFn = Callable[..., AbstractContextManager[None]]
Style = Literal["auto", "bar", "lines", "none"]
STYLES = ("auto", "bar", "lines", "none")
ENV = "LATENTSCAPE_PROGRESS"
#: stages estimated shorter than this (seconds) print no start line, only the end line
SHORT = 2.0
#: the least seconds between two progress lines of a stage (lines style)
GAP = 5.0


def format_duration(seconds: float) -> str:
    """`7 s`, `4 min 05 s`, `1 h 02 min`: a human-readable duration (rounded to seconds)."""
    if not math.isfinite(seconds):
        return "?"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def plural(unit: str) -> str:
    """"point" -> "points", "batch" -> "batches"."""
    return unit + ("es" if unit.endswith(("s", "x", "ch", "sh")) else "s")


def resolve_style(style: Style = "auto", stream: TextIO | None = None, quiet: bool = False) -> str:
    """"bar", "lines" or "none": quiet wins, then $LATENTSCAPE_PROGRESS, then `style`, then
    whether `stream` is a terminal."""
    if quiet:
        return "none"
    forced = os.environ.get(ENV, "").strip().lower()
    if forced in STYLES and forced != "auto":
        return forced
    if style != "auto":
        return style
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return "bar" if callable(isatty) and isatty() else "lines"


def remaining_seconds(done: int, total: int, elapsed: float, estimate: float | None = None) -> float | None:
    """Seconds left: from the rate so far once a unit is done, else from the prior `estimate`
    (total seconds of the whole stage); None when neither says anything."""
    if total > 0 and done > 0:
        return elapsed / done * (total - done)
    if estimate is not None:
        return max(estimate - elapsed, 0.0)
    return None


class Progress:
    """One long stage's progress: a tqdm bar on a terminal, a line per ~10 % (or per `every`
    seconds) elsewhere.

    Args:
        what: what runs, shown before the numbers ("probe: UMAP of 60000 codes").
        total: units of work, if known now (`update` may give or change it).
        unit: the name of one unit ("point", "batch", "step").
        estimate: the caller's estimate of the whole stage in seconds, shown until a unit is done.
        quiet: print nothing.
        style: "auto" (bar on a tty, lines otherwise), "bar", "lines" or "none".
        stream: where to write (default sys.stderr).
        every: seconds after which a line is printed even without a new 10 % (lines style).
        steps: how many lines a whole stage prints at most from the fraction done (10: every 10 %).
        gap: the least seconds between two lines (default GAP; a fast stage prints its end line only).
        lazy: say nothing until the stage has run SHORT seconds (a quick stage, or one that
            turns out not to run, such as a metric that does not apply, prints nothing at all).
        initial: units already done before this process (a resumed run): the rate and the time
            left count only the units done here.
        deferred: print the start line at the first `update`, not now (nothing at all for a
            stage that never starts, such as one whose inputs are refused).
    """

    def __init__(
        self,
        what: str,
        total: int | None = None,
        *,
        unit: str = "step",
        estimate: float | None = None,
        quiet: bool = False,
        style: Style = "auto",
        stream: TextIO | None = None,
        every: float = 30.0,
        steps: int = 10,
        gap: float | None = None,
        lazy: bool = False,
        initial: int = 0,
        deferred: bool = False,
    ) -> None:
        self.what = what
        self.total = total
        self.unit = unit
        self.estimate = estimate
        self.stream = sys.stderr if stream is None else stream
        self.style = resolve_style(style, self.stream, quiet)
        self.every = every
        self.steps = max(1, steps)
        self.gap = GAP if gap is None else gap
        self.initial = self.done = initial
        self.start = time.perf_counter()
        self._last_line = self.start
        self._last_step = math.floor(initial / total * self.steps) if total else 0  # tenth of the last line
        self._bar: Any = None
        self._postfix: dict[str, str] = {}
        self._closed = False
        self._lazy = lazy
        self._shown = False  # the stage has started talking (lazy ones wait for SHORT seconds)
        if not (lazy or deferred):
            self._show()

    def _show(self) -> None:
        self._shown = True
        if self.style == "lines" and (self.estimate is None or self.estimate >= SHORT):
            self._write(self._start_line())

    # ------------------------------------------------------------------ updates

    def update(self, done: int, total: int | None = None) -> None:
        """`done` units of `total` (or of the total given before) are finished."""
        if total is not None:
            self.total = total
        self.done = done
        if self._closed or self.style == "none":
            return
        if not self._shown:
            if self._lazy and self.elapsed() < SHORT:
                return
            self._show()
        if self.style == "bar":
            self._draw_bar()
        else:
            self._maybe_line()

    def callback(self) -> ProgressFn:
        """The `progress(done, total)` function to hand to a compute function."""
        return self.update

    def write(self, line: str, file: TextIO | None = None) -> None:
        """Print a line of results (stdout by default) without breaking the bar on a terminal."""
        file = sys.stdout if file is None else file
        if self._bar is not None:
            self._bar.write(line, file=file)
        else:
            print(line, file=file, flush=True)

    def postfix(self, values: dict[str, str]) -> None:
        """Numbers shown after the bar (a training loss); lines style ignores them."""
        self._postfix = dict(values)
        if self._bar is not None:
            self._bar.set_postfix(self._postfix)

    def close(self, note: str = "") -> float:
        """End the stage (a final line with the time taken, and `note` if given; nothing for a
        quick lazy stage); returns the seconds it took."""
        elapsed = self.elapsed()
        if self._closed:
            return elapsed
        self._closed = True
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self.style != "none" and self._shown:
            tail = f"; {note}" if note else ""
            unit = plural(self.unit)
            count = f"{self.done}/{self.total} {unit}" if self.total else (f"{self.done} {unit}" if self.done else "")
            self._write(f"{self.what}: done{' (' + count + ')' if count else ''} in {format_duration(elapsed)}{tail}")
        return elapsed

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:  # interrupted or failed: close the bar without claiming the stage is done
            self._closed = True
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    # ------------------------------------------------------------------ drawing

    def _draw_bar(self) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=self.what, unit=self.unit, file=self.stream,
                             dynamic_ncols=True, leave=False, initial=self.initial)
            if self._postfix:
                self._bar.set_postfix(self._postfix, refresh=False)
            elif self.estimate is not None:
                self._bar.set_postfix_str(f"estimate {format_duration(self.estimate)}", refresh=False)
        if self.total is not None and self._bar.total != self.total:
            self._bar.total = self.total
        self._bar.update(self.done - self._bar.n)

    def _start_line(self) -> str:
        before = f", {self.initial} done before" if self.initial else ""  # a resumed stage
        size = f" ({self.total} {plural(self.unit)}{before})" if self.total else ""
        guess = f", estimate {format_duration(self.estimate)}" if self.estimate is not None else ""
        return f"{self.what}{size}: started{guess}"

    def _maybe_line(self) -> None:
        now = time.perf_counter()
        total = self.total or 0
        step = math.floor(self.done / total * self.steps) if total > 0 else 0
        since = now - self._last_line
        due = (step > self._last_step and since >= self.gap) or since >= self.every
        if not due or (total > 0 and self.done >= total):  # the end line says it (close)
            return
        self._last_step, self._last_line = max(step, self._last_step), now
        elapsed = now - self.start
        left = remaining_seconds(self.done - self.initial, total - self.initial, elapsed, self.estimate)
        where = f"{100 * self.done / total:3.0f}% ({self.done}/{total} {plural(self.unit)})" if total > 0 else f"{self.done} {plural(self.unit)}"
        eta = f", about {format_duration(left)} left" if left is not None else ""
        self._write(f"{self.what}: {where}, {format_duration(elapsed)} so far{eta}")

    def _write(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


@contextmanager
def stage(what: str, *, estimate: float | None = None, quiet: bool = False, stream: TextIO | None = None) -> Iterator[None]:
    """A stage without intermediate steps (a library fit): a start line with `estimate`
    (seconds) when known (none when under SHORT), an end line with the time it took. On a
    terminal the same lines (nothing moves in between, so a bar would claim more than is known)."""
    stream = sys.stderr if stream is None else stream
    if resolve_style("lines", stream, quiet) == "none":
        yield
        return
    if estimate is None or estimate >= SHORT:
        guess = f" (estimate {format_duration(estimate)})" if estimate is not None else ""
        print(f"{what}: started{guess}", file=stream, flush=True)
    start = time.perf_counter()
    yield
    print(f"{what}: done in {format_duration(time.perf_counter() - start)}", file=stream, flush=True)


@contextmanager
def silent(what: str, *, estimate: float | None = None) -> Iterator[None]:
    """The StageFn that says nothing (the default of functions that take one)."""
    yield


@contextmanager
def tracked(what: str, total: int | None = None, **options: Any) -> Iterator[ProgressFn]:
    """`with tracked("surface 51x51 grid", unit="point") as progress: surface(..., progress=progress)`:
    a `Progress` (same arguments) whose value is its `progress(done, total)` callback."""
    with Progress(what, total, **options) as bar:
        yield bar.callback()
