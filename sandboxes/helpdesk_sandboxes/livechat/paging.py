"""LiveChat pagination: `limit`/`sort_order`/`filters` on the first call, then `page_id` alone.

Page ids are opaque base64 over the query and a keyset anchor `(created_at, id)`, so a traversal
returns every item exactly once even while new items arrive. `next_page_id` / `previous_page_id`
appear only when such a page exists.
"""
from __future__ import annotations

import base64
import bisect
import json
from dataclasses import dataclass

from .errors import validation


@dataclass
class Query:
    filters: dict
    sort_order: str
    limit: int
    anchor: list | None = None  # [created_at_us, id] of the edge item of the previous page
    direction: str = "next"  # "next": items after the anchor; "prev": items before it


def parse_query(body: dict, kind: str, default_limit: int, max_limit: int = 100) -> Query:
    page_id = body.get("page_id")
    if page_id is not None:
        clash = [k for k in ("filters", "limit", "sort_order", "sort_by") if body.get(k) is not None]
        if clash:
            raise validation(f"page_id cannot be used together with {', '.join(clash)}")
        return decode(page_id, kind)
    limit = body.get("limit", default_limit)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= max_limit:
        raise validation(f"limit: must be an integer between 1 and {max_limit}")
    order = body.get("sort_order", "desc")
    if order not in ("asc", "desc"):
        raise validation("sort_order: must be one of asc, desc")
    filters = body.get("filters") or {}
    if not isinstance(filters, dict):
        raise validation("filters: must be an object")
    extra = {k: body[k] for k in ("sort_by", "chat_id", "min_events_count") if body.get(k) is not None}
    return Query(filters={**filters, **({"_": extra} if extra else {})}, sort_order=order, limit=limit)


def encode(query: Query, kind: str, anchor: list, direction: str) -> str:
    raw = json.dumps({"k": kind, "f": query.filters, "o": query.sort_order, "l": query.limit,
                      "a": anchor, "d": direction}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode(page_id, kind: str) -> Query:
    try:
        data = json.loads(base64.urlsafe_b64decode(page_id.encode()))
        if data["k"] != kind:
            raise ValueError
        return Query(filters=data["f"], sort_order=data["o"], limit=data["l"], anchor=data["a"],
                     direction=data["d"])
    except Exception:
        raise validation("page_id: invalid page id") from None


def page(items: list, key, predicate, query: Query, kind: str) -> tuple[list, str | None, str | None]:
    """One page of `items` (sorted ascending by `key`) matching `predicate`.

    Returns `(page, next_page_id, previous_page_id)`.
    """
    desc = query.sort_order == "desc"
    anchor = tuple(query.anchor) if query.anchor else None
    backwards = query.direction == "prev"
    # Walk in display order (forward) or against it (backwards, for a previous page).
    step_down = desc != backwards
    if anchor is None:
        i = len(items) - 1 if step_down else 0
    elif step_down:
        i = bisect.bisect_left(items, anchor, key=key) - 1
    else:
        i = bisect.bisect_right(items, anchor, key=key)
    found = []
    while 0 <= i < len(items) and len(found) <= query.limit:
        if predicate(items[i]):
            found.append(items[i])
        i += -1 if step_down else 1
    more = len(found) > query.limit
    found = found[: query.limit]
    if backwards:
        found.reverse()
        has_prev, has_next = more, True
    else:
        has_prev, has_next = anchor is not None, more
    next_id = encode(query, kind, list(key(found[-1])), "next") if has_next and found else None
    prev_id = encode(query, kind, list(key(found[0])), "prev") if has_prev and found else None
    return found, next_id, prev_id


def with_page_ids(out: dict, next_id: str | None, prev_id: str | None) -> dict:
    """A list answer with `next_page_id` / `previous_page_id` only where such a page exists."""
    if next_id:
        out["next_page_id"] = next_id
    if prev_id:
        out["previous_page_id"] = prev_id
    return out
