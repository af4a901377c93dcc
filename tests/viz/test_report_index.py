"""Index, compare and serve pages: discovery of every kind of folder, escaping, links that exist,
stale pages rewritten, protocols shown, and the live server following a folder being written."""

import json
import re
import threading
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

from latentscape.cli import main
from latentscape.errors import LatentscapeError
from latentscape.viz.compare import write_compare
from latentscape.viz.discover import discover
from latentscape.viz.index import write_index
from latentscape.viz.report import write_report
from latentscape.viz.serve import IndexServer
from report_workspace import EVIL, make_workspace


def _links(html: str) -> list[str]:
    return re.findall(r"href='([^'#]+)", html)


def test_discover_finds_every_kind(tmp_path):
    ws = make_workspace(tmp_path)
    entries = {e.folder: e for e in discover(tmp_path).entries}
    kinds = {role: entries[path].kind for role, path in ws.items()}
    assert kinds == {"a": "run", "b": "run", "demo": "demo", "path": "path", "plane": "plane", "study": "tune", "probe": "probe"}
    demo = entries[ws["demo"]]
    assert demo.model == "vae"  # a curve reports the model of its start run
    assert "barrier of 0.18" in demo.finding and "lowers it to 0.001" in demo.finding
    assert entries[ws["path"]].metrics == {"test loss barrier": pytest.approx(0.18)}
    assert entries[ws["plane"]].metrics == {"test loss min": 0.1, "test loss max": 0.9}
    assert entries[ws["study"]].metrics == {"best val loss": 0.25, "trials": 8.0}
    assert entries[ws["probe"]].metrics == {"accuracy": 0.91}
    assert entries[ws["a"]].metrics["test loss"] == 0.9 and "test fid (eval)" in entries[ws["a"]].metrics


def test_index_lists_links_and_escapes(tmp_path):
    ws = make_workspace(tmp_path)
    html = write_index(tmp_path).read_text()
    assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<script>") == 1  # only the page's own sort/filter script
    links = _links(html)
    assert len(links) == 7
    for link in links:
        assert (tmp_path / link).is_file(), link  # every page the index links to exists
    assert not re.search(r"(src|href)\s*=\s*['\"]?https?:", html, re.I)
    for attr in ("data-model='vae'", "data-dataset='digits'", "data-kind='tune'"):
        assert attr in html
    assert (ws["study"] / "report.html").is_file()  # a generic analysis gets a page too
    assert "LR grid search" in (ws["study"] / "report.html").read_text()


def test_index_rewrites_stale_pages_only(tmp_path):
    ws = make_workspace(tmp_path)
    write_index(tmp_path)
    page = ws["b"] / "report.html"
    before = page.stat().st_mtime_ns
    write_index(tmp_path)
    assert page.stat().st_mtime_ns == before  # nothing changed: not rewritten
    with open(ws["b"] / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"step": 99, "split": "test", "loss": 0.123456}) + "\n")
    write_index(tmp_path)
    assert "0.1235" in page.read_text()
    foreign = ws["a"] / "report.html"
    foreign.write_text("<html>made by hand</html>")
    (ws["a"] / "metrics.jsonl").touch()
    write_index(tmp_path)
    assert foreign.read_text() == "<html>made by hand</html>"  # not ours: left alone


def test_analysis_pages_lead_with_their_finding(tmp_path):
    ws = make_workspace(tmp_path)
    html = write_report(ws["demo"]).read_text()
    assert html.index("class='finding'") < html.index("<section")
    assert "straight line" in html and "trained curve" in html and "barrier" in html
    assert "<span>input</span>" in html and "<span>t = 0.5</span>" in html  # labelled strip columns
    assert html.count("image/gif") == 2
    assert "No metrics" not in html and "No curves" not in html
    path_html = write_report(ws["path"]).read_text()
    assert "Loss along the straight line from a to b" in path_html and "rises to 0.3 at t = 0.50" in path_html
    plane_html = write_report(ws["plane"]).read_text()
    assert "ranges from 0.1 to 0.9" in plane_html and "image/png" in plane_html


def test_compare_page(tmp_path):
    ws = make_workspace(tmp_path)
    out = write_compare([ws["a"], ws["b"]], tmp_path / "cmp.html")
    html = out.read_text()
    assert EVIL not in html and "&lt;script&gt;" in html
    assert "protocol: n" in html and "The protocols differ" in html  # n 1000 vs 500
    assert "12.5" in html and "30" in html
    assert html.count("<h3>samples</h3>") == 1 and html.count("image/gif") == 2
    assert "model.name" in html  # config difference vae vs ae
    with pytest.raises(LatentscapeError, match="at least two"):
        write_compare([ws["a"]], tmp_path / "x.html")


def test_runs_of_one_config_name_each_get_their_folder_in_their_label(tmp_path):
    """Two seeds of one config (both named mnist-mlp) are told apart by their folders, both of
    them: the second was left as the bare name once the first had been renamed."""
    from latentscape.viz.compare import run_labels

    runs = []
    for folder in ("mlp0", "mlp1", "mlp2"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.yaml").write_text("name: mnist-mlp\n")
        runs.append(tmp_path / folder)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.yaml").write_text("name: vae\n")
    assert run_labels([*runs, tmp_path / "other"]) == ["mnist-mlp (mlp0)", "mnist-mlp (mlp1)", "mnist-mlp (mlp2)", "vae"]


def test_report_command_modes(tmp_path, capsys):
    ws = make_workspace(tmp_path)
    assert main(["report", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "index.html")
    assert main(["report", str(ws["b"])]) == 0
    assert capsys.readouterr().out.strip() == str(ws["b"] / "report.html")
    cmp = tmp_path / "c.html"
    assert main(["report", "--compare", str(ws["a"]), str(ws["b"]), "--out", str(cmp)]) == 0 and cmp.is_file()
    capsys.readouterr()
    assert main(["report", "--compare", str(ws["a"]), str(tmp_path / "nope")]) == 2
    assert main(["report"]) == 2
    assert main(["report", str(tmp_path), "--serve", "--port", "70000"]) == 2
    err = capsys.readouterr().err
    assert all(line.startswith("error: ") for line in err.strip().splitlines())


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.read().decode("utf-8")


def test_serve_follows_the_folder(tmp_path):
    ws = make_workspace(tmp_path)
    server = IndexServer(tmp_path, port=0, refresh_seconds=5)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        assert server.server_address[0] == "127.0.0.1"
        html = _get(server.url)
        assert "http-equiv='refresh'" in html and "late-run" not in html
        late = tmp_path / "runs" / "late"
        late.mkdir()
        (late / "config.yaml").write_text("name: late-run\nmodel: {name: ae}\ndata: {name: digits}\n")
        assert "late-run" in _get(server.url)  # a run that appeared is listed on the next request
        assert "&lt;script&gt;" in _get(server.url.replace("index.html", "runs/a/report.html"))
        with pytest.raises(urllib.error.HTTPError):
            _get(server.url.replace("index.html", "../../etc/passwd"))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert not ws["a"].joinpath("index.html").exists()


@pytest.mark.slow
def test_serve_command_prints_url_and_stops_on_ctrl_c(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    make_workspace(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "latentscape.cli", "report", str(tmp_path), "--serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a shell's background job ignores SIGINT
    )
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/index\.html", line).group(0)
        assert "lr-grid" in _get(url)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "stopped" in out and "Traceback" not in err


def test_hostile_result_files_do_not_break_pages(tmp_path):
    ws = make_workspace(tmp_path)
    (ws["path"] / "path.json").write_text(json.dumps({"kind": "line", "summary": {"test": [1, 2]}}))
    (ws["plane"] / "plane.json").write_text(json.dumps({"values": {"test": {"loss": "x"}}, "points": 3}))
    (ws["demo"] / "eval" / "demo.json").write_text(json.dumps({"line": {"test": "bad"}, "curve": 1}))
    (ws["study"] / "summary.json").write_text(json.dumps({"report": "/etc/passwd", "kind": "<b>k</b>", "metrics": {"a": "nan", "b": 1e400}}))
    (ws["b"] / "eval" / "fge.json").write_text(json.dumps({"ensemble": {}, "original": None}))
    html = write_index(tmp_path).read_text()
    assert "/etc/passwd" not in html and "<b>k</b>" not in html and "&lt;b&gt;k&lt;/b&gt;" in html
    for link in _links(html):
        assert (tmp_path / link).is_file(), link
    assert (ws["b"] / "report.html").is_file()  # a damaged eval/fge.json does not hide its run
    for role in ("path", "plane", "demo"):  # results of an unexpected shape: skipped, each named in a warning
        rel = ws[role].relative_to(tmp_path).as_posix()
        assert f"skipped {rel}: a result file of an unexpected shape" in html
        assert f"href='{rel}/report.html'" not in html


class _Tables(HTMLParser):
    """Each index table: its kind, column headers and the cell texts of its rows."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict] = {}
        self._table = self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "entries" in (attrs.get("class") or ""):
            self._table = self.tables.setdefault(attrs["data-kind"], {"head": [], "rows": []})
        elif self._table is not None and tag == "tr":
            self._table["rows"].append([])
        elif self._table is not None and tag in ("th", "td"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if self._table is None:
            return
        if tag in ("th", "td") and self._cell is not None:
            text = " ".join("".join(self._cell).split()).replace(" \u2195", "")
            (self._table["head"] if tag == "th" else self._table["rows"][-1]).append(text)
            self._cell = None
        elif tag == "table":
            self._table["rows"] = [r for r in self._table["rows"] if r]
            self._table = None


def _analysis(folder: Path, kind: str, metrics: dict) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("name: copy\nmodel: {name: vae}\ndata: {name: mnist}\n")  # an analysis keeps its run's config
    (folder / "summary.json").write_text(json.dumps({"kind": kind, "title": f"{kind} of a", "finding": f"The {kind} finding.", "metrics": metrics}))
    return folder


def test_index_has_a_table_per_kind_with_its_own_columns(tmp_path):
    ws = make_workspace(tmp_path)
    analysis = ws["a"] / "analysis"
    _analysis(analysis / "surface-1", "surface", {"loss at w": 0.1, "max loss": 2.0})
    _analysis(analysis / "hessian-1", "hessian", {"top eigenvalue": 2.2, "trace": 40.0})
    _analysis(analysis / "probe", "probe", {"logreg accuracy": 0.9})
    _analysis(tmp_path / "odd", "my-new-kind", {"widgets": 3})
    c = tmp_path / "runs" / "c"  # a classifier among autoencoders: its accuracy gets no column of its own
    c.mkdir()
    (c / "config.yaml").write_text("name: c\nmodel: {name: mlp_classifier}\ndata: {name: digits}\n")
    (c / "metrics.jsonl").write_text(json.dumps({"step": 3, "split": "test", "loss": 0.7, "accuracy": 0.61}) + "\n")
    html = write_index(tmp_path).read_text()
    tables = _Tables()
    tables.feed(html)
    kinds = tables.tables
    assert list(kinds) == ["demo", "run", "path", "plane", "surface", "hessian", "probe", "tune", "my-new-kind"]
    assert kinds["hessian"]["head"] == ["name", "model · data", "finding", "top eigenvalue", "trace", "updated"]
    assert kinds["probe"]["rows"][0][0] == "probe runs/a/analysis/probe"  # the probe under RUN/analysis/probe
    assert kinds["path"]["head"][3:] == ["test loss barrier", "updated"]
    assert "copy" not in html  # an analysis folder is not listed again as a run
    for kind, table in kinds.items():
        columns = table["head"][3:-1]
        for i, column in enumerate(columns, start=3):  # no mostly-empty metric column
            filled = sum(1 for row in table["rows"] if row[i])
            assert 2 * filled >= len(table["rows"]), (kind, column)
    runs = kinds["run"]
    assert runs["head"][3:] == ["test loss", "train loss (window mean)", "test ssim", "test fid (eval)", "test psnr (eval)", "updated"]
    assert [row[2] for row in runs["rows"] if row[0].startswith("c ")] == ["Trained for 3 steps; last test loss 0.7. also: test accuracy 0.61"]
