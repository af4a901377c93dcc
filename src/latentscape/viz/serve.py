"""`serve(root, port)`: the index of a folder that is still being written, on http://127.0.0.1.

Standard library only (`http.server`). Every request for a page first checks a cheap fingerprint
of the folder (mtime and size of each config.yaml, metrics.jsonl, eval/*.json and summary JSON)
and rebuilds the index, and the stale report pages, when it changed; the index also reloads
itself every `refresh_seconds`, so a browser left open follows the runs as they log and finish.

Nothing outside the folder, to anyone but this machine's browser:

- bound to 127.0.0.1 only (the pages show paths and configs that should not leave the machine);
- the `Host` header must name the address bound (127.0.0.1:PORT or localhost:PORT): a web page
  whose own name an attacker re-points at 127.0.0.1 (DNS rebinding) is answered 421, not the files;
- only regular files whose real path lies inside the folder are served (viz/inside.py): no
  symbolic link leads out, no folder is listed, no hidden name (.lock, temp files) is served;
- every answer says `X-Content-Type-Options: nosniff` and carries a Content-Security-Policy that
  allows the pages' own inline CSS and script and data: pictures, and nothing else: no request to
  any other place (a hostile page dropped into the folder cannot read or send anything);
- each refused request is one line on stderr (method, path, client, why).

A rebuild that fails is printed once and answered with an error page (HTTP 500) until one succeeds,
never with the stale index; folders the index skips are printed as warnings.
"""

from __future__ import annotations

import email.utils
import mimetypes
import shutil
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from latentscape.errors import LatentscapeError
from latentscape.viz.discover import fingerprint
from latentscape.viz.index import error_html, write_index
from latentscape.viz.inside import OutsideFolder, open_inside
from latentscape.viz.templating import PAGE_POLICY

HOST = "127.0.0.1"
#: The pages' own policy (also in each page's <meta>), plus what only a header can say.
CONTENT_SECURITY_POLICY = f"{PAGE_POLICY}; frame-ancestors 'none'"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages change as runs log
}


class IndexServer(ThreadingHTTPServer):
    """An HTTP server over `root` that keeps root/index.html up to date."""

    daemon_threads = True

    def __init__(self, root: Path, port: int = 0, refresh_seconds: int = 10, log: Callable[[str], None] | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise LatentscapeError(f"not a folder: {root}")
        self.refresh_seconds = refresh_seconds
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))  # one line each
        self.error: str | None = None  # why the last rebuild failed (then the error page is served)
        self._lock = threading.Lock()
        self._seen: tuple | None = None
        self._warned: list[str] = []
        self.rebuild()
        try:
            super().__init__((HOST, port), _Handler)
        except OSError as exc:
            raise LatentscapeError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}") from None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/index.html"

    def allowed_hosts(self) -> set[str]:
        """Host header values naming this server (lower case)."""
        port = self.server_address[1]
        hosts = {f"{HOST}:{port}", f"localhost:{port}"}
        return hosts | ({HOST, "localhost"} if port == 80 else set())

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
                    self.log(_printable(error))
                self.error = error
                return False
            if lines != self._warned:
                for line in lines:
                    self.log(f"warning: {line}")
                self._warned = lines
            self.error = None
            return True


class _Refused(Exception):
    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    server: IndexServer
    server_version = "latentscape"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        try:
            host = (self.headers.get("Host") or "").strip().lower()
            if host not in self.server.allowed_hosts():
                raise _Refused(HTTPStatus.MISDIRECTED_REQUEST, f"Host {host or '(none)'!r} is not this server")
            path = urlsplit(self.path).path
            if path in ("/", ""):
                self.send_response(HTTPStatus.FOUND)
                self.send_header("Location", "/index.html")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if path.endswith(".html"):
                self.server.rebuild()  # a failure is kept in server.error (and logged once)
            if path == "/index.html" and self.server.error:
                self._send_error_page(self.server.error, body)
                return
            self._send_file(path, body)
        except _Refused as refusal:
            self.server.log(f"refused {self.command} {_printable(self.path)} from {self.client_address[0]}: {refusal}")
            self.send_error(refusal.status)

    def _send_file(self, urlpath: str, body: bool) -> None:
        try:
            parts = [p for p in unquote(urlpath, errors="strict").split("/") if p not in ("", ".")]
        except UnicodeDecodeError:
            raise _Refused(HTTPStatus.BAD_REQUEST, "a path that is not UTF-8") from None
        if any(p == ".." or p.startswith(".") or "\x00" in p for p in parts):
            raise _Refused(HTTPStatus.NOT_FOUND, "a hidden or parent path")
        target = self.server.root.joinpath(*parts)
        if target.is_dir():
            raise _Refused(HTTPStatus.NOT_FOUND, "a folder (no listings)")
        try:
            with open_inside(self.server.root, target) as (fh, st):
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", _content_type(target))
                self.send_header("Content-Length", str(st.st_size))
                self.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
                self.end_headers()
                if body:
                    try:
                        shutil.copyfileobj(fh, self.wfile)
                    except ConnectionError:  # the browser went away (a reload): nothing to say
                        pass
        except OutsideFolder as exc:
            if not target.exists() and not target.is_symlink():  # simply missing: not worth a line
                if parts == ["favicon.ico"]:  # browsers ask for it on every page
                    self.send_response(HTTPStatus.NO_CONTENT)
                    self.end_headers()
                else:
                    self.send_error(HTTPStatus.NOT_FOUND)
                return
            raise _Refused(HTTPStatus.NOT_FOUND, str(exc).replace(str(self.server.root), "DIR")) from None

    def _send_error_page(self, message: str, body: bool) -> None:
        page = error_html(self.server.root, message, self.server.refresh_seconds).encode("utf-8")
        self.send_response(HTTPStatus.INTERNAL_SERVER_ERROR)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        if body:
            self.wfile.write(page)

    def end_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass  # quiet: the terminal shows the URL and refusals, not one line per request


def _content_type(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith("text/") or kind in ("application/json",) else kind


def _printable(text: str, limit: int = 200) -> str:
    """`text` safe for a terminal: control characters escaped, at most `limit` characters."""
    safe = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return safe if len(safe) <= limit else safe[:limit] + "..."


def serve(root: str | Path, port: int = 0, refresh_seconds: int = 10, announce=print) -> int:
    """Serve `root` until Ctrl-C; prints the URL first. Returns 0 (the CLI's exit status)."""
    server = IndexServer(Path(root), port, refresh_seconds)
    announce(f"serving {Path(root).resolve()} at {server.url} (Ctrl-C stops)")
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        announce("stopped")
    finally:
        server.server_close()
    return 0
