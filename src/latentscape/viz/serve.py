"""`serve(root, port)`: the index of a folder that is still being written, on http://127.0.0.1.

Standard library only (`http.server`). Every request for a page first checks a cheap fingerprint
of the folder (mtime and size of each config.yaml, metrics.jsonl, eval/*.json and summary JSON)
and rebuilds the index, and the stale report pages, when it changed; the index also reloads
itself every `refresh_seconds`, so a browser left open follows the runs as they log and finish.
Bound to 127.0.0.1 only: the pages show paths and configs that should not leave the machine.
A rebuild that fails is printed once and answered with an error page (HTTP 500) until one succeeds,
never with the stale index; folders the index skips are printed as warnings.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from latentscape.errors import LatentscapeError
from latentscape.viz.discover import fingerprint
from latentscape.viz.index import error_html, write_index

HOST = "127.0.0.1"


class IndexServer(ThreadingHTTPServer):
    """An HTTP server over `root` that keeps root/index.html up to date."""

    daemon_threads = True

    def __init__(self, root: Path, port: int = 0, refresh_seconds: int = 10, warn: Callable[[str], None] | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise LatentscapeError(f"not a folder: {root}")
        self.refresh_seconds = refresh_seconds
        self.warn = warn or (lambda line: None)  # rebuild errors and skipped folders, one line each
        self.error: str | None = None  # why the last rebuild failed (then the error page is served)
        self._lock = threading.Lock()
        self._seen: tuple | None = None
        self._warned: list[str] = []
        self.rebuild()
        handler = partial(_Handler, directory=str(self.root))
        try:
            super().__init__((HOST, port), handler)
        except OSError as exc:
            raise LatentscapeError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}") from None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/index.html"

    def rebuild(self) -> bool:
        """Rewrite the index (and stale pages) if the folder changed; True when it did.

        A failure is kept in `error` and announced once (one line): until a rebuild succeeds, the
        index is answered with an error page instead of the stale index. Skipped folders are
        announced as warnings when their set changes.
        """
        with self._lock:  # one rebuild at a time; concurrent requests wait for it
            current = fingerprint(self.root)
            if current == self._seen and self.error is None and (self.root / "index.html").is_file():
                return False
            self._seen = current
            lines: list[str] = []
            try:
                write_index(self.root, refresh_seconds=self.refresh_seconds, warn=lines.append)
            except Exception as exc:  # noqa: BLE001 - a half-written run must not stop the server
                error = f"index rebuild failed: {type(exc).__name__}: {exc}".splitlines()[0]
                if error != self.error:
                    self.warn(error)
                self.error = error
                return False
            if lines != self._warned:
                for line in lines:
                    self.warn(f"warning: {line}")
                self._warned = lines
            self.error = None
            return True


class _Handler(SimpleHTTPRequestHandler):
    server: IndexServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        if path in ("/", "") or path.endswith(".html"):
            self.server.rebuild()
        if path == "/index.html" and self.server.error:
            self._send_error_page(self.server.error)
            return
        if path in ("/", ""):
            self.send_response(302)
            self.send_header("Location", "/index.html")
            self.end_headers()
            return
        super().do_GET()

    def _send_error_page(self, message: str) -> None:
        body = error_html(self.server.root, message, self.server.refresh_seconds).encode("utf-8")
        self.send_response(500)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")  # pages change as runs log
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass  # quiet: the terminal shows the URL, not one line per request


def serve(root: str | Path, port: int = 0, refresh_seconds: int = 10, announce=print) -> int:
    """Serve `root` until Ctrl-C; prints the URL first. Returns 0 (the CLI's exit status)."""
    server = IndexServer(Path(root), port, refresh_seconds, warn=lambda line: print(line, file=sys.stderr, flush=True))
    announce(f"serving {Path(root).resolve()} at {server.url} (Ctrl-C stops)")
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        announce("stopped")
    finally:
        server.server_close()
    return 0
