"""How a list walks through an upstream's pages: a closed set of variants, one per kind of
`pagination:` in integration.yaml.

Each variant answers two questions: `next_position(data, position)`, where the page after the one
just read starts (None after the last page), and `request_for(first, position)`, the request that
reads the page at `position` (None: the first page, `first` itself). A position is what the
traversal keeps between unified pages: a cursor token or an offset.

`Walk` guards a traversal: an upstream that answers a position it already gave (a cursor pointing
back at a page that was read) would otherwise be followed forever.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace

from .calls import Prepared

COMMON_KEYS = frozenset({"type", "param", "in"})


def _path(data, dotted: str):
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _with_query_param(first: Prepared, param: str, value) -> Prepared:
    return replace(first, params=[(k, v) for k, v in first.params if k != param] + [(param, str(value))])


@dataclass(frozen=True)
class CursorPaging:
    """The answer's `next_cursor_path` holds a token, absent on the last page. A later request sends
    it as `param`: in the body alone (plus the first body's `request_keeps`: some upstreams refuse
    the first request's filters next to a page token), or in the query."""
    param: str
    location: str  # "body" | "query"
    next_cursor_path: str
    request_keeps: tuple[str, ...] = ()

    REQUIRED = frozenset({"next_cursor_path"})
    OPTIONAL = frozenset({"request_keeps"})
    DEFAULT_IN = "body"

    @classmethod
    def build(cls, node: dict, location: str) -> CursorPaging:
        return cls(str(node["param"]), location, str(node["next_cursor_path"]),
                   tuple(node.get("request_keeps", ())))

    def next_position(self, data, position):
        return _path(data, self.next_cursor_path) or None

    def request_for(self, first: Prepared, position) -> Prepared:
        if position is None:
            return first
        if self.location == "query":
            return _with_query_param(first, self.param, position)
        keep = {k: first.body[k] for k in self.request_keeps if k in (first.body or {})}
        return replace(first, body={self.param: position, **keep})


@dataclass(frozen=True)
class OffsetPaging:
    """A later request sends `param` = the offset of its first item: the previous offset plus the
    answer's `count_path` (items in that page), until it reaches `total_path`."""
    param: str
    location: str
    count_path: str
    total_path: str

    REQUIRED = frozenset({"count_path", "total_path"})
    OPTIONAL = frozenset()
    DEFAULT_IN = "query"

    @classmethod
    def build(cls, node: dict, location: str) -> OffsetPaging:
        return cls(str(node["param"]), location, str(node["count_path"]), str(node["total_path"]))

    def next_position(self, data, position):
        count, total = _path(data, self.count_path), _path(data, self.total_path)
        if not isinstance(count, int) or not isinstance(total, int) or isinstance(count, bool) or count <= 0:
            return None
        offset = (position or 0) + count
        return offset if offset < total else None

    def request_for(self, first: Prepared, position) -> Prepared:
        if position is None:
            return first
        if self.location == "query":
            return _with_query_param(first, self.param, position)
        return replace(first, body={**(first.body or {}), self.param: position})


Pagination = CursorPaging | OffsetPaging
VARIANTS: dict[str, type[CursorPaging] | type[OffsetPaging]] = {"cursor": CursorPaging, "offset": OffsetPaging}


def position_key(position) -> str:
    """A position as text, the same for equal positions (for the repeat guard and dedupe keys)."""
    return "first" if position is None else json.dumps(position, sort_keys=True, separators=(",", ":"))


class RepeatedPosition(Exception):
    """The upstream pointed back at a page the traversal has already read."""

    def __init__(self, position):
        super().__init__(f"returned a page position it had already returned ({position_key(position)})")
        self.position = position


class Walk:
    """The upstream positions one unified page reads, in order; refuses a position read before."""

    def __init__(self, start):
        self.position = start
        self.read: list[str] = []

    def advance(self, pagination: Pagination, data) -> bool:
        """Move to the page after the one just read; False at the end. RepeatedPosition on a loop."""
        self.read.append(position_key(self.position))
        nxt = pagination.next_position(data, self.position)
        if nxt is None:
            return False
        if position_key(nxt) in self.read:
            raise RepeatedPosition(nxt)
        self.position = nxt
        return True
