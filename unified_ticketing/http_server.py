"""A threaded HTTP/1.1 (keep-alive) WSGI server for the sandbox, the dev service and tests."""
from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler, make_server


class KeepAliveHandler(WSGIRequestHandler):
    # HTTP/1.1 keeps connections open, so clients reuse them as they would with a real upstream.
    protocol_version = "HTTP/1.1"


def threaded_server(host: str, port: int, app, ssl_context=None):
    return make_server(host, port, app, threaded=True, ssl_context=ssl_context, request_handler=KeepAliveHandler)


def serve_app(app, host: str, port: int, ready=None) -> None:
    """Serve `app` until interrupted; `ready(base_url)` is called once it listens."""
    server = threaded_server(host, port, app)
    if ready:
        ready(f"http://{host}:{server.server_port}")
    try:
        server.serve_forever()
    finally:
        server.server_close()
