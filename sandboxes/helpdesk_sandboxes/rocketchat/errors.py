"""Rocket.Chat's error answers, in its own shapes.

- 401 (not logged in) is `{"status": "error", "message": "You must be logged in to do this."}`.
- Everything else is `{"success": false, "error": "...", ["errorType": "..."]}`: a validation failure
  reads `must have required property 'rid' [invalid-params]` with `errorType: invalid-params`; a
  thrown `Meteor.Error` reads `message [error-code]` with `errorType: error-code`; a plain `Error`
  carries only its message.
"""
from __future__ import annotations

from flask import Response, jsonify


class RocketChatError(Exception):
    def __init__(self, error: str, status: int = 400, error_type: str | None = None):
        super().__init__(error)
        self.error = error
        self.status = status
        self.error_type = error_type
        self.headers: dict[str, str] = {}

    @property
    def kind(self) -> str:
        """A short name for statistics."""
        return self.error_type or self.error

    def body(self) -> dict:
        out = {"success": False, "error": self.error}
        if self.error_type:
            out["errorType"] = self.error_type
        return out


class NotLoggedIn(RocketChatError):
    def __init__(self):
        super().__init__("You must be logged in to do this.", 401, "unauthorized")

    def body(self) -> dict:
        return {"status": "error", "message": self.error}


class BareFailure(RocketChatError):
    """`API.v1.failure()` without a reason: the body is only `{"success": false}`."""

    def __init__(self):
        super().__init__("failure", 400)

    def body(self) -> dict:
        return {"success": False}


def missing(prop: str) -> RocketChatError:
    """An ajv validation failure for a required property."""
    return RocketChatError(f"must have required property '{prop}' [invalid-params]", 400, "invalid-params")


def invalid(message: str) -> RocketChatError:
    return RocketChatError(f"{message} [invalid-params]", 400, "invalid-params")


def meteor(code: str, message: str | None = None, status: int = 400) -> RocketChatError:
    """A `Meteor.Error(code, message)`: the message, then the code in brackets."""
    return RocketChatError(f"{message} [{code}]" if message else code, status, code if message else None)


def forbidden() -> RocketChatError:
    return RocketChatError("User does not have the permissions required for this action [error-unauthorized]", 403)


def render(err: RocketChatError) -> Response:
    resp = jsonify(err.body())
    resp.status_code = err.status
    for k, v in err.headers.items():
        resp.headers[k] = v
    return resp
