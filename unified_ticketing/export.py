"""Bulk export: every ticket of an account, optionally with its full transcript, as NDJSON.

Streams page by page (memory stays flat in the number of chats), waits out rate limits, and can
resume after an interruption from the cursor saved after each page.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import orjson

from .engine.executor import REPEATED_PAGE, Account, Engine, Options
from .errors import ApiError

log = logging.getLogger(__name__)
PAGE = 100


def _retrying(fetch, attempts: int = 8):
    """Call `fetch`, sleeping out 429/502/504 answers (rate limits, upstream hiccups)."""
    for attempt in range(attempts):
        try:
            return fetch()
        except ApiError as err:
            if err.status not in (429, 502, 503, 504) or err.type == REPEATED_PAGE or attempt == attempts - 1:
                raise
            wait = float(err.headers.get("Retry-After", 2 ** attempt))
            log.warning("export: %s; waiting %.0f s", err.message, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")


def comments_of(engine: Engine, account: Account, ticket_id: str, options: Options) -> list[dict]:
    op = engine.operation("comments", "list", account.version)
    out, cursor = [], None
    while True:
        page = _retrying(lambda c=cursor: engine.list(account, op, PAGE, {"ticket_id": ticket_id}, c, options))
        out += page["result"]
        cursor = page["next_cursor"]
        if cursor is None:
            return out


def export_tickets(engine: Engine, account: Account, *, since: str | None = None, with_comments: bool = True,
                   cursor: str | None = None, include_remote_data: bool = False,
                   ) -> Iterator[tuple[list[dict], str | None]]:
    """Yield (NDJSON-ready records of one page, the cursor to resume after it) until the end."""
    options = Options(include_remote_data=include_remote_data)
    op = engine.operation("tickets", "list", account.version)
    filters = {"created_at": {"gte": since}} if since else {}
    while True:
        page = _retrying(lambda c=cursor: engine.list(account, op, PAGE, filters, c, options))
        records = []
        for ticket in page["result"]:
            if with_comments:
                ticket = {**ticket, "comments": comments_of(engine, account, ticket["id"], options)}
            records.append(ticket)
        cursor = page["next_cursor"]
        yield records, cursor
        if cursor is None:
            return


def ndjson(records: list[dict]) -> str:
    return "".join(_line(r) for r in records)


def _line(record: dict) -> str:
    try:
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE).decode()
    except TypeError:  # what orjson refuses (an integer beyond 64 bits): the standard encoder
        return json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"
