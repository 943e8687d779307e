"""Rocket.Chat's offset pagination: `offset`, `count`, `sort` (a JSON object) in the query string.

Answers carry `offset` (as asked), `count` (items in this page, not the page size) and `total`
(items matching the query). `count` defaults to 50 (`API_Default_Count`) and is capped at 100
(`API_Upper_Count_Limit`); `count=0` returns everything (`API_Allow_Infinite_Count`). A sort is
`{"field": 1 | -1, ...}` over dotted paths; ties fall back to `_id` so pages never overlap.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from .errors import RocketChatError, meteor

DEFAULT_COUNT = 50
UPPER_COUNT = 100


@dataclass
class Page:
    offset: int
    count: int  # 0: no limit
    sort: list[tuple[str, int]]


def parse_page(args, default_sort: list[tuple[str, int]]) -> Page:
    offset = _integer(args.get("offset"), "offset", 0)
    count = _integer(args.get("count"), "count", DEFAULT_COUNT)
    return Page(offset, min(count, UPPER_COUNT), parse_sort(args.get("sort"), default_sort))


def _integer(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RocketChatError("must be integer [invalid-params]", 400, "invalid-params") from None
    if value < 0:
        raise RocketChatError("must be >= 0 [invalid-params]", 400, "invalid-params")
    return value


def parse_sort(raw: str | None, default: list[tuple[str, int]]) -> list[tuple[str, int]]:
    if raw is None or raw == "":
        return default
    try:
        spec = json.loads(raw)
    except ValueError:
        raise meteor("error-invalid-sort", f'Invalid sort parameter provided "{raw}"') from None
    if not isinstance(spec, dict) or not spec or any(v not in (1, -1) for v in spec.values()):
        raise meteor("error-invalid-sort-parameter", f'Invalid sort parameter: "{raw}"')
    return list(spec.items())


def lookup(doc: dict, path: str):
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


class _Key:
    """Orders documents like MongoDB does for one field: missing and null first, then by value."""
    __slots__ = ("value", "desc")

    def __init__(self, value, desc: bool):
        self.value = (0, "") if value is None else (1, str(value)) if isinstance(value, str | bool) else (1, value)
        self.desc = desc

    def __lt__(self, other: _Key) -> bool:
        try:
            less = self.value < other.value
            greater = other.value < self.value
        except TypeError:
            less, greater = str(self.value) < str(other.value), str(other.value) < str(self.value)
        return greater if self.desc else less

    def __eq__(self, other) -> bool:
        return self.value == other.value


def sorted_docs(docs: list[dict], sort: list[tuple[str, int]]) -> list[dict]:
    if not any(field == "_id" for field, _ in sort):
        sort = [*sort, ("_id", 1)]
    return sorted(docs, key=lambda d: [_Key(lookup(d, f), direction == -1) for f, direction in sort])


def paginate(docs: list[dict], page: Page) -> tuple[list[dict], int]:
    """The page of `docs` (already filtered) and their total."""
    ordered = sorted_docs(docs, page.sort)
    end = None if page.count == 0 else page.offset + page.count
    return ordered[page.offset:end], len(ordered)


def list_answer(key: str, items: list[dict], page: Page, total: int) -> dict:
    return {key: items, "count": len(items), "offset": page.offset, "total": total, "success": True}
