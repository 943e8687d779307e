"""Request-body limits per route, enforced before anything reads the body (authentication included):
a body larger than its route's limit is a 413 from the announced Content-Length, and a body sent without
one stops being read at the limit (werkzeug's LimitedStream)."""
from __future__ import annotations

from flask import Flask, current_app, request

from ..errors import ApiError

MB = 1 << 20


def body_limit(endpoint: str | None) -> int:
    """Bytes the route may receive: uploads (multipart) and the proxy carry files, webhooks carry a helpdesk's
    event with its payload (some send a whole conversation), everything else a small JSON body."""
    config = current_app.config
    if endpoint == "unified.create_record" and request.mimetype == "multipart/form-data":
        return config["MAX_UPLOAD_BODY"]
    if endpoint == "proxy.forward":
        return config["MAX_UPLOAD_BODY"]
    if endpoint and endpoint.startswith("webhooks.receive"):
        return config["MAX_WEBHOOK_BODY"]
    return config["MAX_JSON_BODY"]


def init_app(app: Flask) -> None:
    @app.before_request
    def limit_body():
        limit = body_limit(request.endpoint)
        request.max_content_length = limit
        size = request.content_length
        if size is None and request.environ.get("wsgi.input_terminated"):  # chunked: count as it is read
            request.environ["wsgi.input"] = _Capped(request.environ["wsgi.input"], limit)
            request.max_content_length = None  # werkzeug would cut the body silently at the limit instead
        # a multipart upload's own check names the helpdesk's file limit (api/unified.py); werkzeug refuses
        # to read past max_content_length either way
        if size is not None and size > limit and request.mimetype != "multipart/form-data":
            raise too_large(size, limit)


class _Capped:
    """A body stream that raises the 413 once more than `limit` bytes have been read."""

    def __init__(self, stream, limit: int):
        self.stream, self.limit, self.seen = stream, limit, 0

    def read(self, size: int = -1) -> bytes:
        return self._take(self.stream.read, size)

    def readline(self, size: int = -1) -> bytes:
        return self._take(self.stream.readline, size)

    def _take(self, read, size) -> bytes:
        room = self.limit + 1 - self.seen
        data = read(room if size is None or size < 0 else min(size, room))
        self.seen += len(data)
        if self.seen > self.limit:
            raise too_large(None, self.limit)
        return data


def too_large(size: int | None, limit: int) -> ApiError:
    what = f"{size / MB:.1f} MB" if size else "larger than that"
    return ApiError(413, "body_too_large", f"This route accepts request bodies up to {limit / MB:g} MB; this one "
                    f"is {what}. Send less (files go to POST /unified/ticketing/attachments as multipart)")
