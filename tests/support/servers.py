"""Local HTTP servers a test answers from (real sockets on 127.0.0.1, never the network)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class LocalServer:
    """``handler`` served on 127.0.0.1 (a free port, a thread per request) until :meth:`stop` or
    the end of a ``with`` block; :attr:`url` is its base URL (plus ``path``)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], path: str = "") -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()


def answer(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str = "application/json") -> None:
    """A whole answer with its length."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def drip(handler: BaseHTTPRequestHandler, *, chunks: int, every: float, byte: bytes = b" ", content_type: str | None = None) -> None:
    """A 200 announcing ``chunks`` bytes, then one byte every ``every`` seconds: each read gets
    data in time, so only a total deadline cuts it. Stops when the client hangs up."""
    handler.send_response(200)
    if content_type:
        handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(chunks))
    handler.end_headers()
    try:
        for _ in range(chunks):
            handler.wfile.write(byte)
            handler.wfile.flush()
            time.sleep(every)
    except OSError:
        return  # the client gave up: as it should
