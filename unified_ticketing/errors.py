"""The service's one error type and its handler: every 4xx/5xx has the same JSON shape.

`{"error": {"status": 404, "type": "not_found", "message": "...", "param"?: "...", "remote"?: {...}}}`
"""
from __future__ import annotations

import redis
from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    def __init__(self, status: int, type_: str, message: str, *, param: str | None = None,
                 remote: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.param = param
        self.remote = remote
        self.headers = headers or {}

    def to_dict(self) -> dict:
        err = {"status": self.status, "type": self.type, "message": self.message}
        if self.param:
            err["param"] = self.param
        if self.remote is not None:
            err["remote"] = self.remote
        return {"error": err}


def bad_request(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request", message, param=param)


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


def response_for(err: ApiError):
    """The JSON error response for `err` (what the error handler answers)."""
    resp = jsonify(err.to_dict())
    resp.status_code = err.status
    resp.headers.update(err.headers)
    return resp


def redis_unavailable_error() -> ApiError:
    return ApiError(503, "unavailable", "The service's shared state (Redis) is unreachable; retry shortly",
                    headers={"Retry-After": "1"})


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(err: ApiError):
        return response_for(err)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        messages = {404: "No such route; see /openapi.yaml for the API",
                    413: "The request body is larger than this route accepts; send less",
                    405: f"Method not allowed; this route accepts {', '.join(sorted(err.valid_methods or []))}"
                    if getattr(err, "valid_methods", None) else "Method not allowed on this route"}
        allow = {"Allow": ", ".join(sorted(err.valid_methods))} if getattr(err, "valid_methods", None) else {}
        return api_error(ApiError(err.code or 500, err.name.lower().replace(" ", "_"),
                                  messages.get(err.code, err.description or err.name), headers=allow))

    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    def redis_unavailable(err: redis.RedisError):
        app.logger.error("Redis unavailable: %s", err)
        return api_error(redis_unavailable_error())

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        app.logger.exception("unhandled error")
        return api_error(ApiError(500, "internal_error", "Unexpected error in unified-ticketing; it was logged"))
