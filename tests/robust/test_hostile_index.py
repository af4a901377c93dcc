"""One bad folder must not stop the index (issue 23, item 4): a summary.json with an unpaired
surrogate, a folder name that is not UTF-8, a summary that is not JSON, a 20 MB summary, and an
index server whose rebuild fails. Each bad folder is skipped with one warning line in the page
and on stderr, the others stay listed, and the pages stay small; `--serve` never keeps serving a
stale index in silence. Each of these failed before the index moved to viz/templates."""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from latentscape.cli import main
from latentscape.viz import serve as serve_module
from latentscape.viz.serve import IndexServer
from report_workspace import make_workspace


def _summary(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(text, encoding="utf-8")
    return folder


def _index(root: Path, capsys) -> tuple[str, list[str]]:
    """`latentscape report ROOT`: the index text and the warning lines on stderr (exit 0 asserted)."""
    assert main(["report", str(root)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(root / "index.html")
    html = (root / "index.html").read_text(encoding="utf-8")
    return html, [line for line in err.splitlines() if line]


def test_a_summary_with_an_unpaired_surrogate_is_skipped_with_a_warning(tmp_path, capsys):
    make_workspace(tmp_path)
    _summary(tmp_path / "studies" / "bad", '{"kind": "probe", "title": "x\\ud800y", "metrics": {"accuracy": 0.5}}')
    html, warnings = _index(tmp_path, capsys)
    assert warnings == ["warning: skipped studies/bad: summary.json: holds text that is not valid Unicode (an unpaired surrogate escape)"]
    assert "skipped studies/bad: summary.json: holds text that is not valid Unicode" in html
    assert "LR grid search" in html and "href='runs/a/report.html'" in html  # the others are still listed


def test_a_surrogate_in_a_metric_name_or_a_config_is_skipped_too(tmp_path, capsys):
    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("name: r\nmodel: {name: ae}\ndata: {name: digits}\n")
    (run / "metrics.jsonl").write_text('{"step": 1, "split": "test", "lo\\udc80ss": 0.5}\n')
    good = _summary(tmp_path / "good", json.dumps({"kind": "tune", "title": "fine", "metrics": {"trials": 2}}))
    html, warnings = _index(tmp_path, capsys)
    assert warnings == ["warning: skipped runs/r: its results hold text that is not valid Unicode (an unpaired surrogate)"]
    assert "fine" in html and good.joinpath("report.html").is_file()


@pytest.mark.skipif(os.uname().sysname == "Darwin", reason="macOS refuses file names that are not UTF-8")
def test_a_folder_name_that_is_not_utf8_is_skipped_with_a_readable_warning(tmp_path, capsys):
    make_workspace(tmp_path)
    os.makedirs(os.path.join(os.fsencode(tmp_path), b"studies", b"caf\xe9"))
    bad = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), b"studies", b"caf\xe9")))
    _summary(bad, json.dumps({"kind": "probe", "metrics": {"accuracy": 0.5}}))
    html, warnings = _index(tmp_path, capsys)
    assert warnings == ["warning: skipped studies/caf\\udce9: its folder name is not valid UTF-8"]
    assert "studies/caf\\udce9" in html and "LR grid search" in html


def test_a_summary_that_is_not_json_is_named_not_silently_dropped(tmp_path, capsys):
    _summary(tmp_path / "half", '{"kind": "probe", "title": "cut off')
    _summary(tmp_path / "ok", json.dumps({"kind": "probe", "title": "whole"}))
    html, warnings = _index(tmp_path, capsys)
    assert len(warnings) == 1 and warnings[0].startswith("warning: skipped half: summary.json: not valid JSON (")
    assert "whole" in html


def test_a_huge_summary_becomes_a_small_index_and_a_small_page(tmp_path, capsys):
    trials = [{"trial": i, "params": {"lr": 1e-3 * i}, "history": list(range(200))} for i in range(15_000)]
    doc = {"kind": "tune", "title": "T" * 2_000_000, "finding": "F" * 5_000_000, "metrics": {f"m{i}": i for i in range(10_000)},
           "trials": trials}
    big = _summary(tmp_path / "big", json.dumps(doc))
    assert (big / "summary.json").stat().st_size > 20e6
    html, warnings = _index(tmp_path, capsys)
    assert warnings == []
    assert len(html.encode()) < 100_000
    assert "big</a>" in html and "Shortened for this page" in html and "summary.json is 2" in html
    page = (big / "report.html").read_text(encoding="utf-8")
    assert len(page.encode()) < 1_000_000
    assert "the best 200 of 15,000 trials (summary.json has them all)" in page  # a tune page's trials table, cut


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


@pytest.fixture
def server(tmp_path):
    make_workspace(tmp_path)
    lines: list[str] = []
    srv = IndexServer(tmp_path, port=0, refresh_seconds=5, log=lines.append)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv, lines
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def test_serve_rebuilds_past_a_bad_summary_instead_of_serving_the_stale_index(server, tmp_path):
    srv, lines = server
    assert _get(srv.url)[0] == 200
    _summary(tmp_path / "studies" / "bad", '{"kind": "probe", "title": "\\udfff"}')
    _summary(tmp_path / "studies" / "late", json.dumps({"kind": "probe", "title": "arrived later"}))
    status, html = _get(srv.url)
    assert status == 200 and "arrived later" in html  # not the stale index
    assert "skipped studies/bad: summary.json: holds text that is not valid Unicode" in html
    assert lines == ["warning: skipped studies/bad: summary.json: holds text that is not valid Unicode (an unpaired surrogate escape)"]


def test_serve_shows_a_failed_rebuild_and_recovers(server, tmp_path, monkeypatch):
    srv, lines = server
    real = serve_module.write_index

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(serve_module, "write_index", disk_full)
    _summary(tmp_path / "studies" / "late", json.dumps({"kind": "probe", "title": "arrived later"}))
    for _ in range(2):  # the same failure is printed once, however often the page is asked for
        status, html = _get(srv.url)
        assert status == 500 and "No space left on device" in html and "arrived later" not in html
        assert "http-equiv='refresh'" in html  # it keeps trying
    assert lines == ["index rebuild failed: OSError: [Errno 28] No space left on device"]
    monkeypatch.setattr(serve_module, "write_index", real)  # space again: the next request rebuilds
    status, html = _get(srv.url)
    assert status == 200 and "arrived later" in html
