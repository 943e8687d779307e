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
    # Round trips per page (bench figure 3): a cursor's state is read with the request's account
    # (`Loading`); a page of a new traversal needs no read (nothing was seen or read before it: its keys
    # and positions are written with its state); a later page checks what it read in one round trip per
    # batch (`check`); the writes go in the request's last pipeline, with its account-log entry.
    @staticmethod
    def new() -> str:
        """A fresh traversal id; nothing is written until its first page is saved."""
        return secrets.token_urlsafe(12)

    def loading(self, cursor: str) -> Loading | None:
        """The state a cursor names, to be read in another pipeline (the request's first); None for a cursor
        that is not ours (the engine then refuses it). Its claims are checked before the state is used."""
        data = unseal(self.sign, cursor)
        if not data or not isinstance(data.get("a"), str) or not isinstance(data.get("v"), str):
            return None
        return Loading(self, data["a"], data["v"], data.get("p"))

    def load(self, account_id: str, traversal: str, page: int) -> tuple[dict, dict | None]:
        """The traversal's query and the state where `page` starts (None: at the beginning). One round trip."""
        loading = Loading(self, account_id, traversal, page)
        loading.take(loading.queue(self.r.pipeline(transaction=False)).execute())
        return loading.result(account_id, traversal, page)

    def _parts(self, account_id: str, traversal: str) -> dict[str, str]:
        return {part: self._key(account_id, traversal, part) for part in ("query", "pages", "seen", "read")}

    def check(self, account_id: str, traversal: str, page: int, keys_and_positions: list[tuple[str, str]],
              positions: list[str]) -> tuple[list[bool], list[str]]:
        """One round trip for what a page of an existing traversal read: for each (item key, position), is
        this where the key was first seen; and which upstream `positions` an earlier page had already read
        (an upstream that loops). Re-reading a page, or reading it again with a larger limit (then it reads
        what later pages read), is no repeat; item positions are deterministic (upstream page + index), so a
        page read again gets the same answers."""
        keys = self._parts(account_id, traversal)
        pipe = self.r.pipeline(transaction=False)
        for item_key, pos in keys_and_positions:
            pipe.hsetnx(keys["seen"], item_key, pos)
        if keys_and_positions:
            pipe.hmget(keys["seen"], [k for k, _ in keys_and_positions])
        for pos in positions:
            pipe.hsetnx(keys["read"], pos, page)
        if positions:
            pipe.hmget(keys["read"], positions)
        out = pipe.execute()
        stored = out[len(keys_and_positions)] if keys_and_positions else []
        readers = out[-1] if positions else []
        kept = [s == pos for s, (_, pos) in zip(stored, keys_and_positions, strict=True)]
        return kept, [pos for pos, reader in zip(positions, readers, strict=True) if int(reader) < page]

    def save(self, account_id: str, traversal: str, page: int, *, query: dict | None, next_state: dict,
             seen: list[tuple[str, str]], positions: list[str], pipe=None) -> None:
        """Write what `page` learnt: the query (on a new traversal's first page), where page + 1 starts, and
        (on that first page, which `check`ed nothing) the item keys and upstream positions it read. Into
        `pipe` (the request's last pipeline) when given, else in a round trip of its own."""
        keys = self._parts(account_id, traversal)
        out = pipe if pipe is not None else self.r.pipeline(transaction=False)
        if query is not None:
            out.set(keys["query"], json.dumps(query, sort_keys=True), ex=self.ttl)
            out.hset(keys["pages"], "0", json.dumps(None))
        out.hset(keys["pages"], str(page + 1), json.dumps(next_state, separators=(",", ":")))
        if seen:
            out.hset(keys["seen"], mapping=dict(seen))  # a new traversal's: nothing else has written them
        if positions:
            out.hset(keys["read"], mapping=dict.fromkeys(positions, page))
        for key in keys.values():
            out.expire(key, self.ttl)
        if pipe is None:
            out.execute()


class Loading:
    """A traversal's state queued into another pipeline, read when its replies are handed back."""

    def __init__(self, traversals: Traversals, account_id: str, traversal: str, page):
        self.keys = traversals._parts(account_id, traversal)
        self.claims = (account_id, traversal, page)
        self.replies: list | None = None

    def queue(self, pipe):
        """Add the reads to `pipe` (two commands); returns it."""
        return pipe.get(self.keys["query"]).hget(self.keys["pages"], str(self.claims[2]))

    def take(self, replies: list) -> None:
        """The replies of the two reads `queue` added, in order."""
        self.replies = replies

    def result(self, account_id: str, traversal: str, page: int) -> tuple[dict, dict | None]:
        """The query and the state where `page` starts, for the cursor's checked claims."""
        if self.replies is None or self.claims != (account_id, traversal, page):
            raise CursorError("cursor is not valid: pass next_cursor or prev_cursor exactly as returned")
        query, state = self.replies
        if query is None or state is None:
            raise CursorError("cursor has expired; start again without a cursor")
        state = json.loads(state)
        if state is not None and not {"at", "ahead", "end"} <= set(state):
            raise CursorError("cursor was made by an earlier version of the service; start again without a cursor")
        return json.loads(query), state
