"""The registry of API methods: `@method("agent", "list_chats", scopes=...)` adds one."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

VERSIONS = ("3.5", "3.6")


@dataclass(frozen=True)
class Method:
    api: str  # "agent" | "configuration"
    name: str
    handler: Callable
    scopes: tuple[str, ...]
    versions: tuple[str, ...]


@dataclass
class Call:
    """One API call as a handler sees it."""
    sandbox: Any
    principal: Any
    body: dict
    version: str
    files: Any = None

    @property
    def store(self):
        """The license of the caller's account."""
        return self.sandbox.store_of(self.principal)


REGISTRY: dict[tuple[str, str], Method] = {}


def method(api: str, name: str, scopes: tuple[str, ...] = (), versions: tuple[str, ...] = VERSIONS):
    def register(fn):
        REGISTRY[(api, name)] = Method(api, name, fn, scopes, versions)
        return fn
    return register
