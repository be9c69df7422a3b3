"""A tiny HTTP server on 127.0.0.1 for the tests of stores by URL: serves bytes by path, and can
drop a response half-way, as a broken connection does."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from typing import ClassVar


class Files(http.server.BaseHTTPRequestHandler):
    """Serves `routes` (path -> bytes); a path in `cut` announces its full length and stops
    half-way. Every request's path is appended to `hits`."""
    routes: ClassVar[dict[str, bytes]] = {}
    cut: ClassVar[set[str]] = set()
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = self.routes.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if self.path in self.cut else body)

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve_files(routes: dict[str, bytes]) -> Iterator[str]:
    """Serve `routes` until the block ends; yields the base URL."""
    Files.routes, Files.cut, Files.hits = dict(routes), set(), []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
