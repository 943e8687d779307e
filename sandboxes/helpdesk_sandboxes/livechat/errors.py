"""LiveChat's error body: `{"error": {"type", "message", "data"?}}`.

LiveChat does not document an HTTP status per error type; clients must detect an error by the
body. The sandbox answers with the statuses below in "http" mode and with 200 in "200" mode
(third-party docs report errors arriving with HTTP 200).
"""
from flask import jsonify

STATUS_BY_TYPE = {
    "authentication": 401,
    "authorization": 403,
    "missing_access": 403,
    "license_expired": 402,
    "validation": 400,
    "not_found": 404,
    "chat_inactive": 422,
    "agent_offline": 422,
    "limit_reached": 422,
    "entity_too_large": 413,
    "too_many_requests": 429,
    "request_timeout": 504,
    "internal": 500,
    "service_unavailable": 503,
    "misdirected_request": 421,
    "unsupported_version": 400,
}


class LiveChatError(Exception):
    def __init__(self, type_: str, message: str, data: dict | None = None):
        super().__init__(message)
        self.type = type_
        self.message = message
        self.data = data

    def body(self) -> dict:
        err = {"type": self.type, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return {"error": err}


def validation(message: str) -> LiveChatError:
    return LiveChatError("validation", message)


def not_found(message: str) -> LiveChatError:
    return LiveChatError("not_found", message)


def render(error: LiveChatError, status_mode: str):
    status = 200 if status_mode == "200" else STATUS_BY_TYPE.get(error.type, 400)
    resp = jsonify(error.body())
    resp.status_code = status
    return resp
