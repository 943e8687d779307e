"""Runs a unified operation: builds upstream requests from the mapping, pages, maps records.

A unified list page costs one upstream call: the page starts where the previous one stopped
(an upstream page id and an offset inside that page) and ends at `limit` records or at the end
of the upstream page, whichever comes first.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from ..errors import ApiError, bad_request, not_found
from ..schemas.ticketing import MODELS
from ..state.accounts import Account
from ..state.traversals import CursorError, Traversals
from .calls import Prepared
from .expressions import ExpressionFailed
from .loader import Integration, Operation, Pagination
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
            return MODELS[op.resource].dump(op.record(raw, **bindings))
        except ExpressionFailed as exc:
            log.error("mapping failed: %s", exc)
            title = self.integration.title
            raise ApiError(502, "mapping_error", f"A {title} record could not be mapped: {exc}") from None

    def _matches(self, spec, record: dict, value) -> bool:
        try:
            return bool(spec.where(record, value=value))
        except ExpressionFailed as exc:
            log.error("filter failed: %s", exc)
            raise ApiError(502, "mapping_error", f"Filter {spec.name} could not be checked: {exc}") from None

    @staticmethod
    def _present(op: Operation, raw, record: dict | None, options: Options) -> dict:
        remote = op.remote_data(raw) if op.remote_data else raw
        if options.raw:
            return remote
        return {**record, "remote_data": remote} if options.include_remote_data else record

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
    def list(self, account: Account, op: Operation, limit: int, filters: dict, cursor: str | None,
             options: Options) -> dict:
        resource = op.resource
        query = {"limit": limit, "filters": filters, "raw": options.raw}
        if cursor:
            try:
                traversal, page = self.traversals.open_cursor(cursor, account.tenant, account.id, resource)
                stored_query, state = self.traversals.load(account.id, traversal, page)
            except CursorError as exc:
                raise ApiError(400, "invalid_cursor", str(exc), param="cursor") from None
            query = stored_query
        else:
            traversal, page, state = self.traversals.start(account.id, query), 0, None
        limit, filters = query["limit"], query["filters"]
        bindings = {"filters": filters, "limit": limit, "version": account.version, "base_url": self._base_url(account),
                    "account": account.context}

        pag = self.integration.pagination
        try:
            first = op.request.prepare(None, **bindings)
        except ExpressionFailed:
            raise bad_request(f"These filters cannot be sent to {self.integration.title}: {sorted(filters)}",
                              "filters") from None
        upstream_cursor, skip = (state["cursor"], state["skip"]) if state else (None, 0)
        try:
            data = self._call(account, first if upstream_cursor is None else _page_request(pag, first, upstream_cursor))
        except ApiError as err:
            parent = next((s for s in op.filters.values() if s.required), None)
            if parent and upstream_cursor is None and err.status == 404 and err.remote:
                # the list belongs to a parent record (comments of a ticket) that does not exist
                raise ApiError(404, "not_found", f"No {parent.name.removesuffix('_id')} with id "
                               f"'{filters[parent.name]}' in this integrated account", param=parent.name) from None
            raise
        items = op.items(data, **bindings) or []
        if not isinstance(items, list):
            items = [items]
        next_upstream = _next_page(pag, data, upstream_cursor)

        post = [(s, filters[s.name]) for s in op.filters.values() if s.where is not None and s.name in filters]
        page_key = upstream_cursor or "first"
        keep = [True] * len(items)
        if op.dedupe_by is not None:
            keys = [(str(op.dedupe_by(it)), f"{page_key}#{i}") for i, it in enumerate(items)]
            keep = [True] * skip + self.traversals.first_seen(account.id, traversal, keys[skip:])
        results, stopped_at = [], None
        for i in range(skip, len(items)):
            if len(results) == limit:
                stopped_at = i
                break
            if not keep[i]:
                continue
            record = None
            if post or not options.raw:
                record = self._record(op, items[i], bindings)
                if post and not all(self._matches(spec, record, value) for spec, value in post):
                    continue
            results.append(self._present(op, items[i], record, options))

        if stopped_at is not None:
            next_state = {"cursor": upstream_cursor, "skip": stopped_at}
        elif next_upstream is not None:
            next_state = {"cursor": next_upstream, "skip": 0}
        else:
            next_state = None
        if next_state:
            self.traversals.save_page(account.id, traversal, page + 1, next_state)
        cur = self.traversals.cursor
        return {
            "result": results,
            "next_cursor": cur(account.tenant, account.id, resource, traversal, page + 1) if next_state else None,
            "prev_cursor": cur(account.tenant, account.id, resource, traversal, page - 1) if page > 0 else None,
            "result_count": len(results),
        }


def _page_request(pag: Pagination, first: Prepared, position) -> Prepared:
    """The request for a later upstream page: the first one, moved to `position`."""
    if pag.location == "query":
        params = [(k, v) for k, v in first.params if k != pag.param] + [(pag.param, str(position))]
        return replace(first, params=params)
    if pag.type == "cursor":
        body = {pag.param: position, **{k: first.body[k] for k in pag.request_keeps if k in (first.body or {})}}
    else:
        body = {**(first.body or {}), pag.param: position}
    return replace(first, body=body)


def _next_page(pag: Pagination, data, position):
    """Where the next upstream page starts (a cursor or an offset), or None after the last one."""
    if pag.type == "cursor":
        return _path(data, pag.next_cursor_path) or None
    count, total = _path(data, pag.count_path), _path(data, pag.total_path)
    if not isinstance(count, int) or not isinstance(total, int) or count <= 0:
        return None
    offset = (position or 0) + count
    return offset if offset < total else None


def _path(data, dotted: str):
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data
