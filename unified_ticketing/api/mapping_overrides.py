"""`/mapping-overrides`: a tenant's field-level mapping overrides, with versions, rollback and preview.

A slot is `/<scope>/<target>/<resource>/<method>`: scope `tenant` with an integration name (every
account of the tenant on that helpdesk) or `account` with an integrated account id. A key limited to
some accounts reaches only those accounts' overrides; a read-only key may read them, not change them.
"""
from __future__ import annotations

from flask import Blueprint, g, request

from ..engine import overrides as ov
from ..engine.executor import Options
from ..engine.query import parse_filters
from ..errors import ApiError, bad_request, not_found
from ..schemas.ticketing import MODELS
from ..state import mapping_overrides as store
from .common import require_tenant, services, tenant_account, unlimited_key

bp = Blueprint("mapping_overrides", __name__, url_prefix="/mapping-overrides")
SLOT = "/<scope>/<target>/<resource>/<method>"
PREVIEW_LIMIT = 50


class _Slot:
    """The slot a request names, checked: its tenant, integration and (account scope) account."""

    def __init__(self, scope: str, target: str, resource: str, method: str):
        self.tenant = require_tenant()
        svc = services()
        if scope not in store.SCOPES:
            raise not_found(f"No scope '{scope}'; scopes: {', '.join(store.SCOPES)}")
        if resource not in MODELS:
            raise not_found(f"No resource '{resource}'; resources: {', '.join(MODELS)}")
        if method not in ov.KINDS:
            raise not_found(f"No method '{method}'; methods: {', '.join(ov.KINDS)}")
        self.account = None
        if scope == "tenant":
            unlimited_key("reach tenant-wide mapping overrides")
            if target not in svc.engines:
                raise not_found(f"No integration '{target}'; integrations: {', '.join(sorted(svc.engines))}")
            self.integration = target
        else:
            self.account = tenant_account(self.tenant, target)
            self.integration = self.account.integration
        self.scope, self.target, self.resource, self.method = scope, target, resource, method
        self.name = store.slot(scope, target, resource, method)
        self.engine = svc.engines[self.integration]

    def check(self, body) -> ov.Override:
        """The override compiled, or a 422 naming the key and what is wrong."""
        try:
            compiled = ov.compile_override(self.resource, self.method, body, "proposed")
        except ov.Invalid as exc:
            raise ApiError(422, "invalid_override", exc.message, param=exc.param) from None
        if self.method == "list":
            self._check_filters(compiled.filters)
        elif self.method in ("create", "update") and not self._supports(self.method):
            raise ApiError(422, "invalid_override", f"{self.engine.integration.title} does not support "
                           f"{self.method} {self.resource}", param="method")
        return compiled

    def _supports(self, method: str) -> bool:
        integration = self.engine.integration
        return any(integration.operation(self.resource, method, v) is not None for v in integration.versions)

    def _check_filters(self, filters: dict) -> None:
        integration = self.engine.integration
        versions = [self.account["api_version"]] if self.account else integration.versions
        ops = [(v, integration.operation(self.resource, "list", v)) for v in versions]
        if not any(op for _, op in ops):
            raise ApiError(422, "invalid_override", f"{integration.title} does not list {self.resource}",
                           param="method")
        for version, op in ops:
            if op is None:
                continue
            try:
                parse_filters(op, filters)
            except ApiError as err:
                raise ApiError(422, "invalid_override", f"filters.{err.param} (API version {version}): "
                               f"{err.message}", param=f"filters.{err.param}") from None

    def describe(self, entry: dict | None) -> dict:
        return {"scope": self.scope, "target": self.target, "integration": self.integration,
                "resource": self.resource, "method": self.method, **(entry or {})}


def _who() -> str | None:
    key = g.get("api_key")
    return key.id if key is not None else None


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request("Send a JSON object body with 'Content-Type: application/json'", "body")
    return body


@bp.get("")
def list_overrides():
    """The tenant's live overrides (a key limited to accounts: only those accounts')."""
    tenant = require_tenant()
    key = g.get("api_key")
    integration, account_id = request.args.get("integration"), request.args.get("integrated_account_id")
    _, live = store.snapshot(services().redis, tenant)
    out = []
    for name, entry in live.items():
        scope, target, resource, method = name.split("/")
        if scope == "tenant" and (key.accounts or (integration and target != integration)):
            continue
        if scope == "account" and (not key.reaches(target) or (account_id and target != account_id)):
            continue
        if scope == "account" and integration:
            found = services().accounts.load(target)
            if found is None or found.integration != integration:
                continue
        out.append({"scope": scope, "target": target, "resource": resource, "method": method, **entry})
    return {"result": sorted(out, key=lambda e: (e["scope"] != "tenant", e["target"], e["resource"], e["method"]))}


@bp.get(SLOT)
def show(scope, target, resource, method):
    s = _Slot(scope, target, resource, method)
    entry = store.current(services().redis, s.tenant, s.name)
    if entry is None:
        raise not_found(f"No {scope} override of {resource} {method} for '{target}'")
    return s.describe(entry)


@bp.put(SLOT)
def put(scope, target, resource, method):
    s = _Slot(scope, target, resource, method)
    body = _body()
    s.check(body)
    return s.describe(store.put(services().redis, s.tenant, s.name, body, _who()))


@bp.delete(SLOT)
def delete(scope, target, resource, method):
    s = _Slot(scope, target, resource, method)
    entry = store.delete(services().redis, s.tenant, s.name, _who())
    if entry is None:
        raise not_found(f"No {scope} override of {resource} {method} for '{target}'")
    return s.describe(entry)


@bp.get(SLOT + "/versions")
def versions(scope, target, resource, method):
    s = _Slot(scope, target, resource, method)
    return {"result": store.history(services().redis, s.tenant, s.name)}


@bp.post(SLOT + "/rollback")
def rollback(scope, target, resource, method):
    s = _Slot(scope, target, resource, method)
    version = _body().get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < 2 ** 31:
        raise bad_request("version: the version number to roll back to (an integer from 1)", "version")
    old = store.version_of(services().redis, s.tenant, s.name, version)
    if old is None:
        raise not_found(f"No version {version} of this override; list them at .../versions")
    if old["override"] is not None:
        s.check(old["override"])  # still valid under today's model and mapping
    return s.describe(store.rollback(services().redis, s.tenant, s.name, version, _who()))


@bp.post(SLOT + "/preview")
def preview(scope, target, resource, method):
    """The proposed override on a real upstream page (or one record, or a sample object): each record
    before (the live overrides) and after. Nothing is stored."""
    s = _Slot(scope, target, resource, method)
    body = _body()
    extra = sorted(set(body) - {"override", "integrated_account_id", "sample", "record_id", "filters", "limit"})
    if extra:
        raise bad_request(f"Unknown key '{extra[0]}'; preview takes override, integrated_account_id, sample, "
                          "record_id, filters, limit", extra[0])
    proposed = s.check(body.get("override"))
    if method in ("create", "update"):
        return _preview_input(s, proposed, body)
    account = _preview_account(s, body)
    svc = services()
    lower, higher = (svc.overrides.layers(s.tenant, s.integration, account.id, skip=s.name, scopes=(sc,))
                     for sc in store.SCOPES)  # tenant ones, account ones
    after = ov.merge([*lower, (resource, proposed), *higher] if scope == "tenant"
                     else [*lower, *higher, (resource, proposed)])
    before = svc.overrides.for_account(s.tenant, s.integration, account.id)
    limit = body.get("limit", 10)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= PREVIEW_LIMIT:
        raise bad_request(f"limit: an integer from 1 to {PREVIEW_LIMIT}", "limit")
    if method == "list":
        return _preview_list(s, account, before, after, body, limit)
    capture = ov.Preview(before, after)
    engine = s.engine.with_overrides(capture)
    options = Options(include_remote_data=False)
    if "sample" in body:
        sample = body["sample"]
        if not isinstance(sample, dict):
            raise bad_request(f"sample: a {engine.integration.title} object, as remote_data shows it", "sample")
        op = engine.integration.operation(resource, "get", account.version) or \
            engine.operation(resource, "list", account.version)
        try:
            engine._record(op, sample, {"version": account.version, "base_url": engine._base_url(account)})
        except ApiError as err:
            if err.type != "mapping_error":
                raise
            raise bad_request(f"sample: the shipped mapping cannot read it ({err.message}); send an object as "
                              "remote_data shows it", "sample") from None
    elif "record_id" in body:
        engine.get(account, resource, str(body["record_id"]), options)
    else:
        op = engine.operation(resource, "list", account.version)
        filters = parse_filters(op, _filters(body))
        engine.list(account, op, limit, filters, None, options)
    return {"result": capture.rows, "stored": False}


def _filters(body: dict) -> dict:
    filters = body.get("filters", {})
    if not isinstance(filters, dict) or not all(isinstance(v, str) for v in filters.values()):
        raise bad_request("filters: an object of filter parameter -> value, as in a query string", "filters")
    return filters


def _preview_account(s: _Slot, body: dict) -> dict:
    if s.account is not None:
        if body.get("integrated_account_id", s.target) != s.target:
            raise bad_request("An account override is previewed on its own account; leave integrated_account_id "
                              "out", "integrated_account_id")
        return s.account
    account_id = body.get("integrated_account_id")
    if not isinstance(account_id, str) or not account_id:
        raise bad_request(f"integrated_account_id: the {s.integration} account to preview the tenant override on",
                          "integrated_account_id")
    account = tenant_account(s.tenant, account_id)
    if account.integration != s.integration:
        raise bad_request(f"integrated_account_id: account '{account_id}' is on {account.integration}, not "
                          f"{s.integration}", "integrated_account_id")
    return account


def _preview_list(s: _Slot, account, before, after, body: dict, limit: int) -> dict:
    op = s.engine.operation(s.resource, "list", account.version)
    asked = parse_filters(op, _filters(body))
    pages = {}
    for label, layer in (("before", before), ("after", after)):
        defaults = layer.filters.get(s.resource, {}) if layer else {}
        filters = {**parse_filters(op, defaults), **asked}
        page = s.engine.with_overrides(layer).list(account, op, limit, filters, None,
                                                   Options(include_remote_data=False))
        pages[label] = {"filters": filters, "result": page["result"]}
    return {**pages, "stored": False}


def _preview_input(s: _Slot, proposed: ov.Override, body: dict) -> dict:
    sample = body.get("sample")
    if not isinstance(sample, dict):
        raise bad_request(f"sample: a {s.resource} {s.method} body, as you would send it", "sample")
    after, errors = ov.apply_collecting(proposed.edits, None, sample, sample, {})
    return {"result": [{"before": sample, "after": after, "errors": errors}], "stored": False}
