"""Server-side paging state behind the opaque unified cursors.

A traversal is one walk through a list: its query, where each unified page starts (an upstream
position and the records read ahead of it, so `prev_cursor` can go back), which item keys it has
emitted (for upstreams that return one record more than once, once per part of it) and which
upstream positions it has read (to stop an upstream whose cursor loops). A cursor names a
traversal and a page number, HMAC-signed with the tenant and account, so it cannot be forged,
moved to another tenant or account, or used after it expires.
"""
from __future__ import annotations

import json
import secrets
import time

from .secrets import seal, unseal


class CursorError(Exception):
    pass


class Traversals:
    def __init__(self, r, sign, ttl: int):
        self.r = r
        self.sign = sign
        self.ttl = ttl

    def _key(self, account_id: str, traversal: str, part: str) -> str:
        return f"ut:{{acct:{account_id}}}:trav:{traversal}:{part}"

    # --- cursors ------------------------------------------------------------------------------
    def cursor(self, tenant: str, account_id: str, resource: str, traversal: str, page: int) -> str:
        return seal(self.sign, {"t": tenant, "a": account_id, "r": resource, "v": traversal, "p": page,
                                "e": int(time.time()) + self.ttl})

    def open_cursor(self, cursor: str, tenant: str, account_id: str, resource: str) -> tuple[str, int]:
        data = unseal(self.sign, cursor)
        if not data:
            raise CursorError("cursor is not valid: pass next_cursor or prev_cursor exactly as returned")
        if data["t"] != tenant or data["a"] != account_id or data["r"] != resource:
            raise CursorError("cursor belongs to another account or resource")
        if data["e"] < time.time():
            raise CursorError("cursor has expired; start again without a cursor")
        return data["v"], data["p"]

    # --- state --------------------------------------------------------------------------------
    # One traversal is four keys: `query` (JSON), `pages` (page number -> where it starts: an upstream
    # position and the records read ahead of it), `seen` (item key -> the position it was first seen at)
    # and `read` (upstream position -> the page that read it, for the repeat guard).
    @staticmethod
    def new() -> str:
        """A fresh traversal id; nothing is written until its first page is saved."""
        return secrets.token_urlsafe(12)

    def load(self, account_id: str, traversal: str, page: int) -> tuple[dict, dict | None]:
        """The traversal's query and the state where `page` starts (None: at the beginning). One round trip."""
        query, state = self.r.pipeline().get(self._key(account_id, traversal, "query")).hget(
            self._key(account_id, traversal, "pages"), str(page)).execute()
        if query is None or state is None:
            raise CursorError("cursor has expired; start again without a cursor")
        state = json.loads(state)
        if state is not None and not {"at", "ahead", "end"} <= set(state):
            raise CursorError("cursor was made by an earlier version of the service; start again without a cursor")
        return json.loads(query), state

    def save(self, account_id: str, traversal: str, page: int, *, query: dict | None, next_state: dict,
             positions: list[str]) -> list[str]:
        """Write what `page` learnt in one round trip: the query (on the first page), where page + 1 starts,
        and the upstream `positions` it read. Returns those positions an earlier page had already read
        (an upstream that loops); re-reading a page, or reading it again with a larger limit (then it reads
        what later pages read), is no repeat."""
        keys = {part: self._key(account_id, traversal, part) for part in ("query", "pages", "read")}
        pipe = self.r.pipeline()
        if query is not None:
            pipe.set(keys["query"], json.dumps(query, sort_keys=True), ex=self.ttl)
            pipe.hset(keys["pages"], "0", json.dumps(None))
        pipe.hset(keys["pages"], str(page + 1), json.dumps(next_state, separators=(",", ":")))
        for pos in positions:
            pipe.hsetnx(keys["read"], pos, page)
        if positions:
            pipe.hmget(keys["read"], positions)
        for key in keys.values():
            pipe.expire(key, self.ttl)
        out = pipe.execute()
        readers = out[-1 - len(keys)] if positions else []
        return [pos for pos, reader in zip(positions, readers, strict=True) if int(reader) < page]

    def first_seen(self, account_id: str, traversal: str, keys_and_positions: list[tuple[str, str]]) -> list[bool]:
        """For each (item key, position): is this position where the key was first seen in the traversal?

        Positions are deterministic (upstream page + index), so re-reading a page gives the same answer.
        """
        if not keys_and_positions:
            return []
        key = self._key(account_id, traversal, "seen")
        pipe = self.r.pipeline()
        for item_key, pos in keys_and_positions:
            pipe.hsetnx(key, item_key, pos)
        pipe.hmget(key, [k for k, _ in keys_and_positions])
        pipe.expire(key, self.ttl)
        stored = pipe.execute()[-2]
        return [s == pos for s, (_, pos) in zip(stored, keys_and_positions, strict=True)]
