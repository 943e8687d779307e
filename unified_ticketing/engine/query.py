"""Unified list parameters: `limit`, cursors, options, and the filters an operation declares.

A filter is `name=value` or, for ranges, `name[op]=value`. Unknown filters and malformed values
are a 400 that names the parameter.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime

from ..errors import bad_request
from .filters import FilterSpec
from .loader import Operation

RESERVED = {"integrated_account_id", "limit", "next_cursor", "prev_cursor", "include_remote_data", "format"}
PARAM = re.compile(r"^([a-z_]+)(?:\[([a-z]+)\])?$")
DEFAULT_LIMIT, MAX_LIMIT = 20, 100


def parse_datetime(value: str, param: str) -> str:
    """ISO 8601 in, UTC with six fractional digits out (`2026-05-01T10:00:00.000000Z`)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(f"{param} must be an ISO 8601 date-time such as 2026-05-01T10:00:00Z; got '{value}'",
                          param) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        dt = dt.astimezone(UTC)
    except OverflowError:
        dt = None
    if dt is None or dt.year < 1970:
        raise bad_request(f"{param} must be a date-time from 1970 on; got '{value}'", param)
    return f"{dt.year:04d}" + dt.strftime("-%m-%dT%H:%M:%S.%fZ")


def parse_limit(args) -> int:
    raw = args.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:  # "١٢" is digits to Python
        raise bad_request(f"limit must be an integer from 1 to {MAX_LIMIT}; got '{raw}'", "limit")
    return int(raw)


def parse_bool(args, name: str, default: bool) -> bool:
    raw = args.get(name)
    if raw is None:
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise bad_request(f"{name} must be true or false; got '{raw}'", name)


def parse_filters(op: Operation, args) -> dict:
    filters: dict = {}
    for param in args:
        if param in RESERVED:
            continue
        m = PARAM.match(param)
        spec: FilterSpec | None = op.filters.get(m.group(1)) if m else None
        if spec is None:
            known = ", ".join(_names(op)) or "none"
            raise bad_request(f"Unknown parameter '{param}' for {op.resource}; filters: {known}", param)
        op_name = m.group(2)
        value = args.get(param)
        if spec.type == "datetime":
            if op_name not in spec.ops:
                raise bad_request(f"{param}: use {spec.name}[op] with op one of {', '.join(spec.ops)}", param)
            filters.setdefault(spec.name, {})[op_name] = parse_datetime(value, param)
            continue
        if op_name is not None:
            raise bad_request(f"{param}: {spec.name} takes no operator; use {spec.name}=value", param)
        if not value:
            raise bad_request(f"{param} must not be empty", param)
        if spec.type == "enum" and value not in spec.values:
            raise bad_request(f"{param} must be one of {', '.join(spec.values)}; got '{value}'", param)
        filters[spec.name] = value
    for spec in op.filters.values():
        if spec.required and spec.name not in filters:
            raise bad_request(f"{spec.name} is required to list {op.resource}", spec.name)
    return filters


def _names(op: Operation) -> list[str]:
    return [f"{s.name}[{'|'.join(s.ops)}]" if s.type == "datetime" else s.name for s in op.filters.values()]
