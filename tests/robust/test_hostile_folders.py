"""Nothing outside the folder: `report DIR --serve` and the self-contained report pages, with a
folder of runs that holds symbolic links out of it, a FIFO, hidden files, and a browser page
whose own host name points at 127.0.0.1 (DNS rebinding). The server is the real one, over HTTP."""

from __future__ import annotations

import base64
import http.client
import os
import threading

import pytest
import torch

from latentscape.viz.compare import write_compare
from latentscape.viz.grid import save_image_grid
from latentscape.viz.report import write_report
from latentscape.viz.serve import IndexServer

SECRET = "SECRET-3f9a1c: the contents of a file outside the folder"


@pytest.fixture
def places(tmp_path):
    """DIR with one run, and a folder outside it holding a secret text file and a secret picture."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    torch.manual_seed(1)
    save_image_grid(torch.rand(4, 1, 8, 8), outside / "secret.png", nrow=2)
    (outside / "secret.json").write_text(f'{{"token": "{SECRET}"}}')
    root = tmp_path / "DIR"
    run = root / "runs" / "a"
    (run / "images").mkdir(parents=True)
    (run / "eval").mkdir()
    (run / "config.yaml").write_text("name: a\nmodel: {name: ae}\ndata: {name: digits}\n")
    (run / "metrics.jsonl").write_text('{"step": 1, "split": "train", "loss": 0.5}\n')
    save_image_grid(torch.rand(4, 1, 8, 8), run / "images" / "samples.png", nrow=2)
    (run / "notes.txt").write_text("inside\n")
    return root, run, outside


@pytest.fixture
def server(places, capfd):
    root, _, _ = places
    srv = IndexServer(root, port=0, refresh_seconds=5)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    capfd.readouterr()
    seen: list[str] = []

    def lines() -> list[str]:  # what the server printed on stderr (its refusals) so far
        seen.extend(line for line in capfd.readouterr().err.splitlines() if line.strip())
        return seen

    srv.lines = lines
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def _get(srv, path: str, host: str | None = None, method: str = "GET"):
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=10)
    conn.putrequest(method, path, skip_host=True)
    conn.putheader("Host", host if host is not None else f"127.0.0.1:{srv.server_address[1]}")
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, dict(resp.getheaders()), body


def test_server_serves_files_inside(server):
    status, headers, body = _get(server, "/runs/a/notes.txt")
    assert (status, body) == (200, b"inside\n")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    status, _, _ = _get(server, "/index.html", host=f"localhost:{server.server_address[1]}")
    assert status == 200
    assert server.lines() == []


def test_server_refuses_a_link_to_a_file_outside(server, places):
    _, run, outside = places
    (run / "images" / "leak.txt").symlink_to(outside / "secret.txt")
    (run / "images" / "leak-rel.txt").symlink_to(os.path.relpath(outside / "secret.txt", run / "images"))
    for path in ("/runs/a/images/leak.txt", "/runs/a/images/leak-rel.txt"):
        status, headers, body = _get(server, path)
        assert status == 404 and SECRET.encode() not in body
        assert headers["X-Content-Type-Options"] == "nosniff"
    assert len(server.lines()) == 2 and all(line.startswith("refused GET /runs/a/images/leak") for line in server.lines())


def test_server_refuses_a_link_to_a_folder_outside_and_lists_no_folder(server, places):
    root, run, outside = places
    (root / "etc").symlink_to(outside, target_is_directory=True)
    for path in ("/etc/secret.txt", "/etc/", "/etc", "/runs/", "/runs/a/images/", "/runs/a/images"):
        status, _, body = _get(server, path)
        assert status == 404, path
        assert SECRET.encode() not in body and b"secret.txt" not in body and b"samples.png" not in body
    assert len(server.lines()) == 6


def test_server_refuses_another_host_name(server):
    port = server.server_address[1]
    for host in (f"attacker.example:{port}", "attacker.example", f"127.0.0.1.nip.io:{port}", ""):
        status, headers, body = _get(server, "/runs/a/notes.txt", host=host)
        assert status == 421 and b"inside" not in body
        assert "Content-Security-Policy" in headers
    assert len(server.lines()) == 4 and "is not this server" in server.lines()[0]


def test_server_refuses_hidden_names_encoded_parents_and_fifos(server, places):
    root, run, _ = places
    (run / ".lock").write_text("PID 1 on host x")
    os.mkfifo(run / "pipe.txt")  # a plain open() would wait for a writer forever
    for path in ("/runs/a/.lock", "/runs/a/%2e%2e/%2e%2e/../index.html", "/runs/a/pipe.txt", "/runs/a/%ff.txt", "/x%00.txt"):
        status, _, body = _get(server, path)
        assert status in (400, 404), path
        assert b"PID 1" not in body
    assert len(server.lines()) == 5
    assert all("\x00" not in line for line in server.lines())  # control characters escaped


def test_report_embeds_no_picture_from_outside(places):
    _, run, outside = places
    (run / "images" / "evil.png").symlink_to(outside / "secret.png")
    (run / "images" / "linked").symlink_to(outside, target_is_directory=True)
    (run / "images" / "inside_link.png").symlink_to("samples.png")  # a link that stays inside is fine
    html = write_report(run, plot_curves=False).read_text()
    secret = base64.b64encode((outside / "secret.png").read_bytes()).decode()
    own = base64.b64encode((run / "images" / "samples.png").read_bytes()).decode()
    assert secret not in html
    assert html.count(own) == 2
    assert "Not embedded (links to files outside this folder): evil.png" in html


def test_report_shows_no_text_from_outside(places):
    _, run, outside = places
    (run / "eval" / "stolen.json").symlink_to(outside / "secret.json")
    (run / "config.yaml").unlink()
    (run / "config.yaml").symlink_to(outside / "secret.txt")
    html = write_report(run, plot_curves=False).read_text()
    assert "SECRET-3f9a1c" not in html


def test_compare_embeds_no_picture_from_outside(places, tmp_path):
    root, run, outside = places
    other = root / "runs" / "b"
    other.mkdir()
    (other / "config.yaml").write_text("name: b\nmodel: {name: ae}\ndata: {name: digits}\n")
    (other / "images").mkdir()
    (other / "images" / "samples.png").symlink_to(outside / "secret.png")
    html = write_compare([run, other], tmp_path / "compare.html").read_text()
    assert base64.b64encode((outside / "secret.png").read_bytes()).decode() not in html
