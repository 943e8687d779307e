"""WSGI servers for the sandboxes, the dev service and tests.

`keepalive_server` (cheroot) keeps HTTP/1.1 connections open between requests, as the helpdesks'
servers do, so a client's pooled connections are reused: the sandboxes use it, and the bench's raw
baseline is then a fair one. Like the helpdesks' Node servers (and unlike werkzeug), it routes on the
path as sent: an encoded slash (`%2F`) stays in PATH_INFO, inside one segment.

`threaded_server` (werkzeug) answers every request with `Connection: close` whatever the protocol
version (werkzeug's serving.py does so on purpose); the dev service and the tests' in-process service
use it for werkzeug's handling of chunked request bodies (`wsgi.input_terminated`, which the body
limits rely on).
"""
from __future__ import annotations

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from werkzeug.serving import WSGIRequestHandler, make_server

KEEPALIVE_THREADS = 64  # requests served at once; an idle kept-alive connection holds no thread
KEEPALIVE_CONNECTIONS = 256  # idle connections kept open (cheroot's default, 10, is below one client's pool)


class KeepAliveServer:
    """cheroot's WSGI server behind the small interface the callers use (werkzeug's names)."""

    def __init__(self, host: str, port: int, app, tls_files: tuple[str, str] | None = None):
        self._server = wsgi.Server((host, port), app, numthreads=KEEPALIVE_THREADS, timeout=60,
                                   request_queue_size=128)
        self._server.keep_alive_conn_limit = KEEPALIVE_CONNECTIONS
        if tls_files:
            self._server.ssl_adapter = BuiltinSSLAdapter(*tls_files)
        self._server.prepare()  # binds now, so the port is known before serving
        self.server_port = self._server.bind_addr[1]

    def serve_forever(self) -> None:
        self._server.serve()

    def shutdown(self) -> None:
        self._server.stop()

    server_close = shutdown


def keepalive_server(host: str, port: int, app, tls_files: tuple[str, str] | None = None) -> KeepAliveServer:
    """A keep-alive HTTP/1.1 server for `app` on host:port (0: a free port); https with (cert, key) files."""
    return KeepAliveServer(host, port, app, tls_files)


class _Handler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"


def threaded_server(host: str, port: int, app, ssl_context=None):
    return make_server(host, port, app, threaded=True, ssl_context=ssl_context, request_handler=_Handler)


def serve_app(app, host: str, port: int, ready=None) -> None:
    """Serve `app` until interrupted; `ready(base_url)` is called once it listens."""
    server = threaded_server(host, port, app)
    if ready:
        ready(f"http://{host}:{server.server_port}")
    try:
        server.serve_forever()
    finally:
        server.server_close()
