"""Fixtures for the scratchnet.data tests.

* Every test gets its own verification cache folder, so no test reads or writes the
  user's real cache and no test depends on another's cached hashes.
* ``real_data`` finds the reference datasets through ``$SCRATCHNET_DATA`` and skips,
  saying why, when they are absent.
* ``http_server`` is a real HTTP/1.1 server on 127.0.0.1 (ephemeral port) in a thread,
  serving bytes the test provides, with switches for the failures downloads must
  survive: a connection dropped part-way, a server that ignores ``Range``, a slow
  server, and 404s for unknown paths. It records every request it answers.
"""

from __future__ import annotations

import http.server
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("SCRATCHNET_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def real_data() -> Path:
    env = os.environ.get("SCRATCHNET_DATA")
    if not env:
        pytest.skip("SCRATCHNET_DATA is not set; it must point at the reference datasets")
    root = Path(env)
    needed = [
        root / "mnist" / "t10k-images-idx3-ubyte.gz",
        root / "emnist" / "emnist-bymerge-test-images-idx3-ubyte.gz",
    ]
    absent = [str(p) for p in needed if not p.is_file()]
    if absent:
        pytest.skip(f"SCRATCHNET_DATA={env} lacks the reference files: {', '.join(absent)}")
    return root


@dataclass
class Route:
    """What the server sends for one path."""

    body: bytes
    drop_after: int | None = None  # first response: send this many bytes, then cut
    drops_left: int = 1
    ignore_range: bool = False
    delay: float = 0.0  # seconds before the response headers
    requests: list[dict] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    routes: dict[str, Route]

    def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
        pass

    def do_GET(self):  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        route = self.server.routes.get(self.path)  # type: ignore[attr-defined]
        if route is None:
            self.send_error(404, "Not Found")
            return
        rng = self.headers.get("Range")
        route.requests.append({"range": rng})
        if route.delay:
            time.sleep(route.delay)
        start = 0
        if rng and not route.ignore_range:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(route.body):
                self.send_error(416, "Range Not Satisfiable")
                return
        body = route.body[start:]
        if start:
            self.send_response(206)
            total = len(route.body)
            self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        try:
            if route.drop_after is not None and route.drops_left > 0:
                route.drops_left -= 1
                self.wfile.write(body[: route.drop_after])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout)


class LocalServer:
    """Handle to the running server: add routes, build URLs."""

    def __init__(self) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.routes = {}  # type: ignore[attr-defined]
        # A short poll interval keeps shutdown() (and so each test's teardown) fast.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def add(self, path: str, body: bytes, **kw) -> Route:
        route = Route(body, **kw)
        self.httpd.routes[path] = route  # type: ignore[attr-defined]
        return route

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"


@pytest.fixture
def http_server():
    server = LocalServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(timeout=5)
