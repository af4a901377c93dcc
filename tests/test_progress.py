"""latentscape.progress: a bar on a terminal, a few plain lines elsewhere, nothing when quiet."""

from __future__ import annotations

import io
import re

import pytest

from latentscape import progress as progress_mod
from latentscape.progress import Progress, format_duration, remaining_seconds, resolve_style, stage


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    """A fake perf_counter the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(progress_mod.time, "perf_counter", fake)
    monkeypatch.delenv("LATENTSCAPE_PROGRESS", raising=False)
    return fake


def test_durations_read_like_a_person_writes_them():
    assert format_duration(7.4) == "7 s"
    assert format_duration(245) == "4 min 05 s"
    assert format_duration(3720) == "1 h 02 min"
    assert format_duration(float("nan")) == "?"


def test_time_left_comes_from_the_rate_so_far_else_from_the_estimate():
    assert remaining_seconds(done=2, total=10, elapsed=4.0) == pytest.approx(16.0)
    assert remaining_seconds(done=0, total=10, elapsed=4.0, estimate=30.0) == pytest.approx(26.0)
    assert remaining_seconds(done=0, total=10, elapsed=40.0, estimate=30.0) == 0.0
    assert remaining_seconds(done=0, total=10, elapsed=4.0) is None


def test_lines_off_a_terminal_one_per_tenth_never_a_flood(clock):
    out = io.StringIO()
    with Progress("surface 31x31 grid", 961, unit="point", stream=out) as bar:
        fn = bar.callback()
        for done in range(1, 962):  # 961 callbacks
            clock.now += 0.1
            fn(done, 961)
    lines = out.getvalue().splitlines()
    assert lines[0] == "surface 31x31 grid (961 points): started"
    assert lines[-1].startswith("surface 31x31 grid: done (961/961 points) in 1 min 36 s")
    middle = lines[1:-1]
    assert len(middle) == 9  # 10 %, 20 %, ... 90 %
    assert middle[0].startswith("surface 31x31 grid:  10% (97/961 points), 10 s so far, about 1 min 26 s left")
    assert all("\r" not in line for line in lines)


def test_a_fast_stage_prints_its_end_line_only(clock):
    out = io.StringIO()
    with Progress("embedding", 15000, unit="image", estimate=1.0, stream=out) as bar:
        for done in range(500, 15001, 500):
            clock.now += 0.02
            bar.update(done)
    assert out.getvalue().splitlines() == ["embedding: done (15000/15000 images) in 1 s"]
    with stage("PCA fit", estimate=0.3, stream=out):
        clock.now += 0.2
    assert out.getvalue().splitlines()[1:] == ["PCA fit: done in 0 s"]


def test_a_lazy_stage_talks_only_once_it_is_slow(clock):
    out = io.StringIO()
    with Progress("eval: loss", unit="image", stream=out, lazy=True) as bar:  # quick: silent
        clock.now += 1.0
        bar.update(10000, 10000)
    with Progress("eval: lpips", unit="image", stream=out, lazy=True):  # never ran (skipped): silent
        pass
    assert out.getvalue() == ""
    with Progress("eval: iwae", unit="image", stream=out, lazy=True) as bar:
        for done in range(1000, 10001, 1000):
            clock.now += 3.0
            bar.update(done, 10000)
    lines = out.getvalue().splitlines()
    assert lines[0] == "eval: iwae (10000 images): started"
    assert lines[-1] == "eval: iwae: done (10000/10000 images) in 30 s" and len(lines) == 2 + 4  # 20, 40, 60, 80 %


def test_a_deferred_stage_starts_talking_at_its_first_update(clock):
    out = io.StringIO()
    with pytest.raises(ValueError):
        with Progress("surface: 3x3 grid", 9, unit="point", stream=out, deferred=True):
            raise ValueError("a grid file of other settings")  # refused before the first point
    assert out.getvalue() == ""  # the refusal is the only line
    with Progress("surface: 3x3 grid", 9, unit="point", stream=out, deferred=True) as bar:
        assert out.getvalue() == ""
        bar.update(0, 9)
        assert out.getvalue() == "surface: 3x3 grid (9 points): started\n"
        bar.update(9, 9)
    assert out.getvalue().splitlines()[-1] == "surface: 3x3 grid: done (9/9 points) in 0 s"


def test_a_resumed_stage_counts_its_rate_from_where_it_restarted(clock):
    out = io.StringIO()
    bar = Progress("train", 1000, unit="step", stream=out, initial=900, every=5.0)
    clock.now += 10.0
    bar.update(950)  # 50 steps in 10 s: 50 left take 10 s more (not 950 in 10 s)
    assert out.getvalue().splitlines() == ["train (1000 steps, 900 done before): started",
                                           "train:  95% (950/1000 steps), 10 s so far, about 10 s left"]


def test_a_slow_stage_prints_after_every_seconds_of_silence(clock):
    out = io.StringIO()
    bar = Progress("tune trials", total=1000, unit="trial", stream=out, every=30.0)
    clock.now += 31
    bar.update(1)  # 0.1 %: no new tenth, but 31 s since the last line
    clock.now += 5
    bar.update(2)  # 5 s later: nothing
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "(1/1000 trials), 31 s so far" in lines[1]


def test_the_callers_estimate_is_shown_until_the_first_unit(clock):
    out = io.StringIO()
    bar = Progress("latent fit", total=None, unit="batch", estimate=120.0, stream=out, every=10.0)
    clock.now += 11
    bar.update(0, 20)
    assert out.getvalue().splitlines() == [
        "latent fit: started, estimate 2 min 00 s",
        "latent fit:   0% (0/20 batches), 11 s so far, about 1 min 49 s left",
    ]


def test_a_bar_on_a_terminal(clock):
    term = Terminal()
    with Progress("eval fid", total=10, unit="batch", stream=term) as bar:
        for done in range(1, 11):
            clock.now += 1.0
            bar.update(done)
    text = term.getvalue()
    assert "\r" in text  # drawn in place by tqdm
    assert re.search(r"eval fid: .*10/10", text)
    assert text.rstrip().splitlines()[-1].endswith("eval fid: done (10/10 batches) in 10 s")
    assert "started" not in text  # the bar itself says what runs


def test_quiet_and_the_environment_switch_everything_off(clock, monkeypatch):
    out = io.StringIO()
    with Progress("x", total=3, stream=out, quiet=True) as bar:
        bar.update(1)
        bar.update(3)
    with stage("y", estimate=3, stream=out, quiet=True):
        pass
    monkeypatch.setenv("LATENTSCAPE_PROGRESS", "none")
    with Progress("z", total=3, stream=Terminal()) as bar:
        bar.update(2)
    assert out.getvalue() == ""
    assert resolve_style("auto", Terminal()) == "none"
    monkeypatch.setenv("LATENTSCAPE_PROGRESS", "lines")
    assert resolve_style("auto", Terminal()) == "lines"


def test_a_stage_without_steps_says_its_estimate_then_its_time(clock):
    out = io.StringIO()
    with stage("UMAP fit on 60000 images", estimate=95.0, stream=out):
        clock.now += 80.2
    assert out.getvalue().splitlines() == [
        "UMAP fit on 60000 images: started (estimate 1 min 35 s)",
        "UMAP fit on 60000 images: done in 1 min 20 s",
    ]


def test_an_interrupted_stage_does_not_claim_to_be_done(clock):
    out = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        with Progress("train", total=5, stream=out) as bar:
            bar.update(1)
            raise KeyboardInterrupt
    assert "done" not in out.getvalue()
    with pytest.raises(KeyboardInterrupt):
        with stage("fit", stream=out):
            raise KeyboardInterrupt
    assert "done" not in out.getvalue()
