"""The registry of REST routes: `@route("GET", "/api/v1/livechat/rooms", permissions=(...))` adds one.

`auth="user"` routes need `X-Auth-Token` + `X-User-Id` (a personal access token) and, when
`permissions` is given, at least one of them; `auth="visitor"` routes are the visitor-side ones
the widget calls with a visitor token instead.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import invalid, missing

_MANAGING = {"view-livechat-rooms", "view-l-room", "close-others-livechat-room", "save-others-livechat-room-info",
             "view-livechat-departments", "manage-livechat-tags", "view-livechat-manager", "transfer-livechat-guest"}
ROLE_PERMISSIONS = {
    "admin": _MANAGING | {"view-privileged-setting", "edit-privileged-setting"},
    "livechat-manager": set(_MANAGING),
    "livechat-agent": {"view-l-room", "close-livechat-room"},
    "user": set(),
}


def permissions_of(user: dict) -> set[str]:
    return set().union(*(ROLE_PERMISSIONS.get(r, set()) for r in user.get("roles", [])))


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # Flask rule, e.g. "/api/v1/livechat/<rid>/messages"
    handler: Callable
    auth: str  # "user" | "visitor"
    permissions: tuple[str, ...]


@dataclass
class Call:
    """One API call as a handler sees it."""
    sandbox: Any
    user: dict | None
    args: Any  # the query string (werkzeug MultiDict)
    body: dict
    params: dict = field(default_factory=dict)  # path parameters
    files: Any = None
    headers: Any = None

    @property
    def store(self):
        return self.sandbox.store

    def required(self, name: str, source: dict | None = None):
        """A required string property of the body (or `source`), else ajv's invalid-params answer."""
        value = (self.body if source is None else source).get(name)
        if value is None or value == "":
            raise missing(name)
        return value

    def only_params(self, *names: str) -> None:
        """A route whose ajv query schema says `additionalProperties: false`: any other parameter is refused."""
        for key in self.args:
            if key not in names:
                raise invalid("must NOT have additional properties")

    def listed(self, name: str) -> list[str]:
        """A query parameter that may be repeated or given as `name[]` (how `qs` parses arrays)."""
        return [v for key in (name, f"{name}[]") for v in self.args.getlist(key) if v != ""]


REGISTRY: list[Route] = []


def route(method: str, path: str, auth: str = "user", permissions: tuple[str, ...] = ()):
    def register(fn):
        REGISTRY.append(Route(method, path, fn, auth, permissions))
        return fn
    return register
