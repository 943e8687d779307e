"""LiveChat list filters, compiled once per request into predicates.

A set filter is `{values | exclude_values | exists, require_every_value?}` (list_archives'
`agents`, `tags`, `event_types`, ...); a range filter is `{gt|gte|lt|lte|eq}` (list_customers).
"""
from __future__ import annotations

from . import clock
from .errors import validation

PLAN_EVENT_TYPES = {
    "filled_form": "filled_form", "system_message": "system_message", "system_message_closed": "system_message",
    "customer_message": "message", "agent_message": "message", "agent_closing": "message",
    "private_note": "message", "file": "file", "rich_message": "rich_message", "bot_message": "message",
}


def set_filter(spec, field: str):
    """Predicate over a collection of values, from LiveChat's set-filter object."""
    if not isinstance(spec, dict) or not spec:
        raise validation(f"filters.{field}: must be an object with values, exclude_values or exists")
    unknown = set(spec) - {"values", "exclude_values", "exists", "require_every_value"}
    if unknown:
        raise validation(f"filters.{field}: unknown key {sorted(unknown)[0]}")
    kinds = [k for k in ("values", "exclude_values", "exists") if k in spec]
    if len(kinds) != 1:
        raise validation(f"filters.{field}: use exactly one of values, exclude_values, exists")
    kind = kinds[0]
    if kind == "exists":
        if not isinstance(spec["exists"], bool):
            raise validation(f"filters.{field}.exists: must be a boolean")
        want = spec["exists"]
        return lambda have: bool(have) == want
    values = spec[kind]
    if not isinstance(values, list) or not values:
        raise validation(f"filters.{field}.{kind}: must be a non-empty array")
    wanted = set(values)
    if kind == "exclude_values":
        return lambda have: not wanted.intersection(have)
    if spec.get("require_every_value"):
        return lambda have: wanted.issubset(have)
    return lambda have: bool(wanted.intersection(have))


def range_filter(spec, field: str, parse=None):
    if not isinstance(spec, dict) or not spec:
        raise validation(f"filters.{field}: must be an object with gt, gte, lt, lte or eq")
    ops = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b,
           "lte": lambda a, b: a <= b, "eq": lambda a, b: a == b}
    checks = []
    for op, bound in spec.items():
        if op not in ops:
            raise validation(f"filters.{field}: unknown operator {op}")
        value = parse(bound, f"filters.{field}.{op}") if parse else bound
        if not parse and not isinstance(value, int):
            raise validation(f"filters.{field}.{op}: must be an integer")
        checks.append((ops[op], value))
    return lambda have: all(fn(have, bound) for fn, bound in checks)


# Filters list_archives gained in v3.6 (messaging/agent-chat-api/changelog/index.mdx, [v3.6] Chats;
# the v3.6 request table in messaging/agent-chat-api/index.mdx); v3.5 refuses them as unknown.
V36_ARCHIVE_FILTERS = ("customer_id", "customer_email", "chat_ids")


def archive_predicate(store, filters: dict, version: str = "3.5"):
    """Predicate over a Thread for list_archives' filters."""
    checks = []
    if version == "3.5" and set(filters) & set(V36_ARCHIVE_FILTERS):
        name = sorted(set(filters) & set(V36_ARCHIVE_FILTERS))[0]
        raise validation(f"filters: unknown filter {name} (list_archives has it from v3.6)")
    for name, spec in filters.items():
        if name == "_":
            continue
        if name == "from":
            bound = clock.parse(spec, "filters.from")
            checks.append(lambda t, b=bound: t.created_at >= b)
        elif name == "to":
            bound = clock.parse(spec, "filters.to")
            checks.append(lambda t, b=bound: t.created_at <= b)
        elif name == "query":
            if not isinstance(spec, str) or not spec.strip():
                raise validation("filters.query: must be a non-empty string")
            needle = spec.strip().lower()
            checks.append(lambda t, n=needle: _thread_text_contains(store, t, n))
        elif name == "thread_ids":
            if not isinstance(spec, list) or not all(isinstance(i, str) for i in spec):
                raise validation("filters.thread_ids: must be an array of thread ids")
            if len(spec) > 20:
                raise validation("filters.thread_ids: at most 20 thread ids")
            if set(filters) - {"thread_ids", "_"}:
                raise validation("filters.thread_ids: cannot be used with other filters")
            ids = set(spec)
            checks.append(lambda t, s=ids: t.id in s)
        elif name in ("customer_id", "customer_email"):
            if not isinstance(spec, str) or not spec:
                raise validation(f"filters.{name}: must be a non-empty string")
            if name == "customer_id":
                checks.append(lambda t, v=spec: store.chats[t.chat_id].customer_id == v)
            else:  # the docs do not say how emails compare; the sandbox ignores case, as email does
                email = spec.lower()
                checks.append(lambda t, v=email: (store.customers.get(store.chats[t.chat_id].customer_id)
                                                  or {}).get("email", "").lower() == v)
        elif name == "chat_ids":
            if not isinstance(spec, list) or not all(isinstance(i, str) for i in spec) or len(spec) > 1000:
                raise validation("filters.chat_ids: must be an array of at most 1000 chat ids")
            checks.append(lambda t, s=set(spec): t.chat_id in s)
        elif name == "group_ids":
            if not isinstance(spec, list) or not all(isinstance(g, int) for g in spec):
                raise validation("filters.group_ids: must be an array of integers")
            gids = set(spec)
            checks.append(lambda t, s=gids: bool(s.intersection(t.group_ids)))
        elif name == "agents":
            p = set_filter(spec, name)
            # bots are agents too (v3.6 adds `agent_types` to tell them apart: agent-chat-api/index.mdx)
            checks.append(lambda t, p=p: p([u for u in t.user_ids if u in store.agents or u in store.bots]))
        elif name == "tags":
            p = set_filter(spec, name)
            checks.append(lambda t, p=p: p(t.tags))
        elif name == "event_types":
            p = set_filter(spec, name)
            checks.append(lambda t, p=p: p(_event_types(store, t)))
        elif name == "customer_countries":
            p = set_filter(spec, name)
            checks.append(lambda t, p=p: p([_country(store, t)]))
        elif name == "properties":
            if not isinstance(spec, dict):
                raise validation("filters.properties: must be an object")
        else:
            raise validation(f"filters: unknown filter {name}")
    return lambda t: all(c(t) for c in checks)


def _event_types(store, thread) -> set:
    if thread.events is None:
        return {PLAN_EVENT_TYPES[k] for k in thread.plan}
    return {e["type"] for e in thread.events}


def _country(store, thread) -> str | None:
    customer = store.customers.get(store.chats[thread.chat_id].customer_id) or {}
    return (customer.get("last_visit") or {}).get("geolocation", {}).get("country_code")


def _thread_text_contains(store, thread, needle: str) -> bool:
    for ev in store.events(thread):
        for key in ("text", "name"):
            if needle in str(ev.get(key, "")).lower():
                return True
    return False
