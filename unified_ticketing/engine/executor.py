"""Runs a unified operation: builds upstream requests from the mapping, pages, maps records.

A unified list page is full: it reads upstream pages until it holds `limit` records (or the list
ends), and keeps the records it read beyond them in the traversal, where the next page starts; so
a whole traversal reads each upstream page once.
"""
from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass

from ..errors import ApiError, bad_request, not_found
from ..schemas.ticketing import MODELS
from ..state.accounts import Account
from ..state.traversals import CursorError, Loading, Traversals
from .calls import Prepared
from .expressions import ExpressionFailed
from .loader import Integration, Operation
from .overrides import AccountOverrides
from .pagination import RepeatedPosition, Walk, position_key
from .upstream import Upstream

log = logging.getLogger(__name__)


@dataclass
class Options:
    include_remote_data: bool = True
    raw: bool = False


class Engine:
    def __init__(self, integration: Integration, upstream: Upstream, traversals: Traversals):
        self.integration = integration
        self.upstream = upstream
        self.traversals = traversals
        self.overrides: AccountOverrides | None = None  # the account's mapping overrides (with_overrides)

    def with_overrides(self, overrides: AccountOverrides | None) -> Engine:
        """This engine for one account's requests: its records get the account's mapping overrides."""
        if overrides is None:
            return self
        engine = copy.copy(self)
        engine.overrides = overrides
        return engine

    def operation(self, resource: str, method: str, version: str) -> Operation:
        op = self.integration.operation(resource, method, version)
        if op is None:
            raise ApiError(501, "not_supported", f"{self.integration.title} does not support {method} {resource}")
        return op

    def _call(self, account: Account, request: Prepared) -> dict:
        log.debug("upstream %s %s", request.name, request.path)
        return self.upstream.call(account, request)

    def _base_url(self, account: Account) -> str:
        """`$base_url` in mappings: the API's base URL for this account (for links relative to the server)."""
        return self.upstream.base_url_for(account.credentials)

    def _record(self, op: Operation, raw, bindings: dict) -> dict:
        try:
            record = MODELS[op.resource].dump_one(op.record(raw, **bindings))
        except ExpressionFailed as exc:
            log.error("mapping failed: %s", exc)
            title = self.integration.title
            raise ApiError(502, "mapping_error", f"A {title} record could not be mapped: {exc}") from None
        return record if self.overrides is None else self.overrides.record(op.resource, raw, record, bindings)

    def _holds(self, expression, spec, record: dict, value) -> bool:
        """A filter's `where` or `until` on a mapped record."""
        try:
            return bool(expression(record, value=value))
        except ExpressionFailed as exc:
            log.error("filter failed: %s", exc)
            raise ApiError(502, "mapping_error", f"Filter {spec.name} could not be checked: {exc}") from None

    @staticmethod
    def _present(op: Operation, raw, record: dict | None, options: Options) -> dict:
        remote = op.remote_data(raw) if op.remote_data else raw
        if options.raw:
            return remote
        if options.include_remote_data:
            record["remote_data"] = remote  # (the record is the page's own: mapped for this request)
        return record

    # --- get ----------------------------------------------------------------------------------
    def get(self, account: Account, resource: str, record_id: str, options: Options) -> dict:
        op = self.operation(resource, "get", account.version)
        bindings = {"id": record_id, "version": account.version, "base_url": self._base_url(account),
                    "account": account.context}
        try:
            request = op.request.prepare(None, **bindings)
        except ExpressionFailed:  # an id the helpdesk cannot even be asked about
            raise not_found(f"No {resource} with id '{record_id}' in this integrated account") from None
        try:
            data = self._call(account, request)
        except ApiError as err:
            if err.remote and err.remote.get("type") in self.integration.errors.not_found_types:
                raise not_found(f"No {resource} with id '{record_id}' in this integrated account") from None
            raise
        raw = op.item(data, **bindings)
        if raw is None:
            raise not_found(f"No {resource} with id '{record_id}' in this integrated account")
        return self._present(op, raw, None if options.raw else self._record(op, raw, bindings), options)

    # --- list ---------------------------------------------------------------------------------
    def list(self, account: Account, op: Operation, limit: int | None, filters: dict | None, cursor: str | None,
             options: Options, *, loading: Loading | None = None, writes=None) -> dict:
        """One page. With a cursor, `limit` None keeps the traversal's and `filters` None are its query's;
        filters that differ from the cursor's are refused. `loading`: the cursor's state, already read with
        the account (`Traversals.loading`); `writes`: the request's last pipeline (`request_writes.py`), where
        the traversal's next state is queued instead of written at once."""
        page = self._open_page(account, op, limit, filters, cursor, loading)
        # upstream pages keep the traversal's first size, so each is read the same way by every page of it
        bindings = {"filters": page.filters, "limit": page.query["limit"], "version": account.version,
                    "base_url": self._base_url(account), "account": account.context}
        seen = _Seen(self.traversals, account.id, page, op.dedupe_by, (page.state or {}).get("seen", ()))
        rows, walk, end = self._read_pages(account, op, page, seen, bindings, options)
        rows, ahead = rows[:page.limit], rows[page.limit:]
        out = [self._present(op, raw, record, options) for raw, record in self._mapped(op, rows, bindings, options)]
        self._save_page(account, page, ahead, walk, end, seen, writes)
        cur = self.traversals.cursor
        more = not end or bool(ahead)
        return {
            "result": out,
            "next_cursor": cur(account.tenant, account.id, op.resource, page.traversal, page.number + 1)
            if more else None,
            "prev_cursor": cur(account.tenant, account.id, op.resource, page.traversal, page.number - 1)
            if page.number > 0 else None,
            "result_count": len(out),
        }

    def _open_page(self, account: Account, op: Operation, limit: int | None, filters: dict | None,
                   cursor: str | None, loading: Loading | None) -> _Page:
        """Where the page starts: a new traversal, or the cursor's (its query checked against the request's)."""
        if not cursor:
            return _Page(self.traversals.new(), 0, {"limit": limit, "filters": filters or {}}, None, limit, True)
        try:
            traversal, number = self.traversals.open_cursor(cursor, account.tenant, account.id, op.resource)
            query, state = loading.result(account.id, traversal, number) if loading is not None \
                else self.traversals.load(account.id, traversal, number)
        except CursorError as exc:
            raise ApiError(400, "invalid_cursor", str(exc), param="cursor") from None
        if filters is not None:
            _same_filters(query["filters"], filters)
        return _Page(traversal, number, query, state, limit or query["limit"], False)

    def _read_pages(self, account: Account, op: Operation, page: _Page, seen: _Seen, bindings: dict,
                    options: Options):
        """Records for the page (the ones read ahead first), then upstream pages until there are `limit`,
        the list ends, or the helpdesk's rate limit stops it. Upstream pages are read until the items new to
        this request could fill the page, then checked against the traversal's earlier pages in one round
        trip (`_Seen`), and read on if that leaves the page short. Returns ([(raw, record | None)], the walk,
        whether the list ended)."""
        state = page.state or {"at": None, "ahead": [], "end": False}
        rows = [(raw, None) for raw in state["ahead"]]
        if page.state is None and op.also is not None:  # the first page (also when read again)
            rows += self._read_also(account, op, page, seen, bindings, options)
        walk, end = Walk(state["at"]), state["end"]
        first = None
        reads = 0
        while len(rows) < page.limit and not end and reads < MAX_READS:
            limited = False
            while len(rows) + seen.waiting < page.limit and not end and reads < MAX_READS:
                if first is None:
                    first = self._first_request(op, page.filters, bindings)
                try:
                    data = self._call_list(account, op, first, walk.position, page.filters)
                except ApiError as err:
                    if err.status != 429 or not (rows or seen.waiting):
                        raise
                    limited = True  # rate limited: the records already read make the page; its cursor reads on
                    break
                reads += 1
                seen.add(walk.position, self._items(op, data, bindings))
                try:
                    end = not walk.advance(self.integration.pagination, data)
                except RepeatedPosition as exc:
                    raise self._repeated(exc) from None
                seen.read(walk.read[-1])
            fresh, stopped = self._kept(op, page, self._checked(seen), bindings, options)
            rows += fresh
            end = end or stopped
            if limited:
                break
        self._checked(seen)  # the positions read after the last check (the repeat guard)
        return rows, walk, end

    def _checked(self, seen: _Seen) -> list:
        try:
            return seen.check()
        except RepeatedPosition as exc:
            raise self._repeated(exc) from None

    def _read_also(self, account: Account, op: Operation, page: _Page, seen: _Seen, bindings: dict,
                   options: Options) -> list:
        """The records of the operation's `also` source (engine/also.py) when its `when` holds: every page of
        its request, the ids they give, then one fetch per chunk of ids, kept as the main request's items are."""
        also = op.also
        if not self._expression(also.when, {}, bindings):
            return []
        first = self._expression(lambda _, **b: also.request.prepare(None, **b), None, bindings)
        walk, ids = Walk(None), []
        while True:
            data = self._call(account, self.integration.pagination.request_for(first, walk.position))
            found = self._expression(also.ids, data, bindings)
            ids += found if isinstance(found, list) else [] if found is None else [found]
            try:
                if not walk.advance(self.integration.pagination, data):
                    break
            except RepeatedPosition as exc:
                raise self._repeated(exc) from None
        for n, chunk in enumerate(also.chunks(list(dict.fromkeys(ids)))):
            request = self._expression(lambda _, **b: also.fetch.prepare(None, **b), None, {**bindings, "ids": chunk})
            seen.add({"also": n}, self._items(op, self._call(account, request), bindings))
        rows, _ = self._kept(op, page, self._checked(seen), bindings, options)
        return rows  # an `until` bound does not end the traversal here: these are not in its order

    def _expression(self, expression, data, bindings: dict):
        """An `also` expression (or request) evaluated; a failure is the mapping's (502)."""
        try:
            return expression(data, **bindings)
        except ExpressionFailed as exc:
            raise ApiError(502, "mapping_error", f"The {self.integration.title} list's extra source failed: {exc}") \
                from None

    def _first_request(self, op: Operation, filters: dict, bindings: dict) -> Prepared:
        try:
            return op.request.prepare(None, **bindings)
        except ExpressionFailed:
            raise bad_request(f"These filters cannot be sent to {self.integration.title}: {sorted(filters)}",
                              "filters") from None

    def _call_list(self, account: Account, op: Operation, first: Prepared, position, filters: dict):
        try:
            return self._call(account, self.integration.pagination.request_for(first, position))
        except ApiError as err:
            parent = next((s for s in op.filters.values() if s.required), None)
            if parent and position is None and err.status == 404 and err.remote:
                # the list belongs to a parent record (comments of a ticket) that does not exist
                raise ApiError(404, "not_found", f"No {parent.name.removesuffix('_id')} with id "
                               f"'{filters[parent.name]}' in this integrated account", param=parent.name) from None
            raise

    @staticmethod
    def _items(op: Operation, data, bindings: dict) -> list:
        items = op.items(data, **bindings) or []
        return items if isinstance(items, list) else [items]

    def _kept(self, op: Operation, page: _Page, items: list, bindings: dict, options: Options) -> tuple[list, bool]:
        """The items the page keeps: those matching the filters checked after mapping, up to the first that is
        past an `until` bound (then True: the traversal ends there). Without such filters nothing is mapped
        here: only the records the page delivers are (`_mapped`)."""
        given = [(s, page.filters[s.name]) for s in op.filters.values() if s.name in page.filters]
        checks = [(s, v) for s, v in given if s.where is not None]
        bounds = [(s, v) for s, v in given if s.until is not None]
        if not (checks or bounds):
            return [(raw, None) for raw in items], False
        out = []
        for raw, record in zip(items, self._records(op, items, bindings), strict=True):
            if bounds and any(self._holds(spec.until, spec, record, value) for spec, value in bounds):
                return out, True
            if checks and not all(self._holds(spec.where, spec, record, value) for spec, value in checks):
                continue
            out.append((raw, record))
        return out, False

    def _mapped(self, op: Operation, rows: list, bindings: dict, options: Options) -> list:
        """The page's rows with their records (mapped here, in one evaluation, where `_kept` did not)."""
        if options.raw:
            return rows
        todo = [raw for raw, record in rows if record is None]
        if not todo:
            return rows
        records = self._records(op, todo, bindings)
        if len(todo) == len(rows):  # the common case: none was mapped before
            return list(zip(todo, records, strict=True))
        records = iter(records)
        return [(raw, next(records) if record is None else record) for raw, record in rows]

    def _records(self, op: Operation, items: list, bindings: dict) -> list[dict]:
        """`_record` for a page of items, the record expression evaluated once for all of them."""
        try:
            mapped = op.record.each(items, **bindings)
            dump = MODELS[op.resource].dump_one
            records = list(map(dump, mapped))
        except ExpressionFailed as exc:
            log.error("mapping failed: %s", exc)
            title = self.integration.title
            raise ApiError(502, "mapping_error", f"A {title} record could not be mapped: {exc}") from None
        if self.overrides is None:
            return records
        return [self.overrides.record(op.resource, raw, record, bindings) for raw, record in zip(items, records,
                                                                                                   strict=True)]

    def _repeated(self, exc: RepeatedPosition) -> ApiError:
        return ApiError(502, REPEATED_PAGE, f"{self.integration.title} {exc}: following it would "
                        "read the same records forever, so the listing stopped. Start again without a cursor; "
                        f"if it happens again, the list in {self.integration.title} is changing under the "
                        "traversal or is broken")

    def _save_page(self, account: Account, page: _Page, ahead: list, walk: Walk, end: bool, seen: _Seen,
                   writes) -> None:
        """One write, queued in the request's last pipeline when there is one: the query (new traversal), where
        the next page starts, and what a new traversal's first page read. Nothing after the last page: no
        cursor will need it."""
        if end and not ahead:
            return
        nxt = {"at": walk.position, "ahead": [raw for raw, _ in ahead], "end": end}
        if seen.dedupe_by is not None:
            nxt["seen"] = seen.recent()
        self.traversals.save(account.id, page.traversal, page.number, query=page.query if page.new else None,
                             next_state=nxt, seen=seen.unsaved, positions=seen.unsaved_positions,
                             pipe=writes.pipe if writes is not None else None)


REPEATED_PAGE = "upstream_repeated_page"  # a 502 that no retry mends: the upstream's cursor loops
KNOWN_PAGES = 10  # a page's state carries the item keys of about this many pages (of its limit) for the next
# page's dedupe (`_Seen.recent`)
MAX_READS = 20  # upstream pages one unified page may read: a sparse filter answers part of a page, with a cursor


@dataclass
class _Page:
    traversal: str
    number: int
    query: dict  # what the traversal was started with: {"limit", "filters"}
    state: dict | None  # where the page starts: {"at": upstream position, "ahead": [raw items], "end": bool}
    limit: int
    new: bool

    @property
    def filters(self) -> dict:
        return self.query["filters"]


def _flat(filters: dict) -> dict:
    """Filters as request parameters: {"created_at[gte]": ..., "status": ...}."""
    out = {}
    for name, value in filters.items():
        if isinstance(value, dict):
            out.update({f"{name}[{op}]": v for op, v in value.items()})
        else:
            out[name] = value
    return out


def _same_filters(stored: dict, sent: dict) -> None:
    """A cursor continues its query: a request may repeat its filters, not change them."""
    old, new = _flat(stored), _flat(sent)
    differ = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    if differ:
        name = differ[0]
        was = f"{name}={old[name]}" if name in old else f"no {name}"
        raise bad_request(f"{name} differs from the query this cursor was made for ({was}): send the cursor with "
                          "the same filters or none, or start again without a cursor for a new query", name)


class _Seen:
    """One page's dedupe (`dedupe_by`: each record once per traversal) and repeat guard.

    Items are first deduped within the request, and against `known`: the keys the last pages saw, carried
    in the page's state (an upstream that lists a record once per part of it, such as a chat once per
    thread, mostly repeats it close to where it was first listed). Those new to both wait until `check`.
    On a new traversal nothing was seen or read before, so that is the whole answer, and the keys and
    positions are saved with the page; on a later page `check` asks Redis, once for everything read since
    the last check. Knowing the last pages' keys, a page reads upstream until it is full before that check,
    instead of finding it short after it and checking again."""

    def __init__(self, traversals: Traversals, account_id: str, page: _Page, dedupe_by, known=()):
        self.traversals, self.account_id, self.page, self.dedupe_by = traversals, account_id, page, dedupe_by
        # item key -> where this request first saw it; "" for `known`, what the last pages saw (oldest first)
        self.first: dict[str, str] = dict.fromkeys(known, "")
        self.pending: list = []  # items waiting for `check`
        self.asked: list[tuple[str, str]] = []  # with dedupe_by: (key, position) of each waiting item
        self.positions: list[str] = []  # upstream positions read since the last check
        self.unsaved: list[tuple[str, str]] = []  # a new traversal's (key, position): written with the page
        self.unsaved_positions: list[str] = []

    @property
    def waiting(self) -> int:
        return len(self.pending)

    def add(self, position, items: list) -> None:
        if self.dedupe_by is None:
            self.pending += items
            return
        at = position_key(position)
        for i, item in enumerate(items):
            key, pos = str(self.dedupe_by(item)), f"{at}#{i}"
            if self.first.setdefault(key, pos) == pos:
                self.pending.append(item)
                self.asked.append((key, pos))

    def read(self, position: str) -> None:
        self.positions.append(position)

    def recent(self) -> list[str]:
        """The keys for the next page's `known`: the last KNOWN_PAGES pages' worth, this page's after the rest.
        (The state grows with the page size, as the records read ahead do: 1 000 keys are 15 KB of JSON.)"""
        return list(self.first)[-KNOWN_PAGES * self.page.limit:]

    def check(self) -> list:
        """The waiting items that are new to the traversal, in order. RepeatedPosition when an earlier page
        read one of the upstream positions read since the last check."""
        pending, asked, positions = self.pending, self.asked, self.positions
        self.pending, self.asked, self.positions = [], [], []
        if self.page.new:
            self.unsaved += asked
            self.unsaved_positions += positions
            return pending
        if not asked and not positions:
            return pending
        kept, repeated = self.traversals.check(self.account_id, self.page.traversal, self.page.number, asked,
                                               positions)
        if repeated:
            raise RepeatedPosition(json.loads(repeated[0]) if repeated[0] != "first" else None)
        return [item for item, new in zip(pending, kept, strict=True) if new] if asked else pending
