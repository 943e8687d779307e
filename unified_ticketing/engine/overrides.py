"""Field-level mapping overrides (docs/mapping-overrides.md): checking one, merging the tenant's and
the account's on top of the shipped mapping, and applying them where the engine produces a record.

One override edits one resource and *method*:
- `read`: `{"fields": {"custom_fields.plan": "<JSONata over the helpdesk object>", "priority": null}}`
  adds or replaces single fields of every record of the resource (lists, gets, events, export,
  read-after-write) or, with null, removes one (a model field becomes empty; a custom field goes);
- `list`: `{"filters": {"status": "open"}}`, default filters (query-string values) for a list
  that does not send them;
- `create` / `update`: `{"inputs": {"custom_fields.plan": "<JSONata over the unified body>"}}`
  edits single fields of a write's body before the mapping sends it.
Precedence, per field: shipped <- tenant <- account. Compiled once per version (`Resolver`).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import jlens

from ..errors import ApiError
from ..schemas.ticketing import MODELS
from ..schemas.writes import BODIES
from ..state import mapping_overrides as store
from . import mapping_schema
from .expressions import Expression, ExpressionFailed, MappingError, compile_expression

log = logging.getLogger(__name__)
KINDS = {"read": "fields", "list": "filters", "create": "inputs", "update": "inputs"}  # method -> its key
CUSTOM = "custom_fields."
_FIXED = {"id", "remote_data"}  # what identifies a record or is the helpdesk's own: never overridden


class Invalid(Exception):
    """An override that cannot be stored: `param` names the key, the message says what to fix."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param
        self.message = message


class OverrideFailed(Exception):
    """An override's expression raised on one record."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class FieldEdit:
    key: str  # "priority", "custom_fields.plan"
    expr: Expression | None  # None: remove the field
    custom: str | None = None  # the custom field's name
    empty: object = None  # what a removed model field becomes ([] for a list, {} for an object)
    origin: str = ""  # "tenant v3": where the edit comes from, for error messages


@dataclass(frozen=True)
class Override:
    """One stored version, compiled."""
    method: str
    edits: tuple[FieldEdit, ...] = ()
    filters: dict = field(default_factory=dict)


def _empty(schema, name: str):
    kind = type(schema.fields[name]).__name__
    return [] if kind == "List" else {} if kind == "Dict" else None


def _expression(source, param: str, variables: dict) -> Expression:
    if not isinstance(source, str) or not source.strip():
        raise Invalid(param, f"{param}: expected a JSONata expression (a string), or null to remove the field")
    try:
        jlens.Expression(source)
    except jlens.JlensError as exc:
        pos = getattr(exc, "position", None)
        at = f" at position {pos}" if isinstance(pos, int) else ""
        raise Invalid(param, f"{param}: the expression does not compile{at}: {exc}") from None
    try:
        return compile_expression(source, param, variables)
    except MappingError as exc:
        raise Invalid(param, str(exc)) from None


def _edits(resource: str, method: str, edits, origin: str) -> tuple[FieldEdit, ...]:
    kind = KINDS[method]
    if not isinstance(edits, dict) or not edits:
        raise Invalid(kind, f"{kind}: expected an object of field -> JSONata expression (or null), with at least "
                            "one field")
    if method == "read":
        schema, context = MODELS[resource], "record"
        allowed = sorted(set(schema.fields) - _FIXED)
        customs = True
    else:
        schema, context = BODIES.get((resource, method)), "none"
        if schema is None:
            raise Invalid("method", f"{resource} has no {method}; write inputs exist for "
                                    f"{', '.join(sorted(f'{r}.{m}' for r, m in BODIES))}")
        allowed = sorted(schema.fields)
        customs = "custom_fields" in schema.fields
    variables = mapping_schema.variables(context)
    out = []
    for key, source in edits.items():
        param = f"{kind}.{key}"
        if key.startswith(CUSTOM) and customs:
            name = key[len(CUSTOM):]
            if not name or "." in name:
                raise Invalid(param, f"{param}: name one custom field, as custom_fields.<name> (no dots in the "
                                     "name)")
            out.append(FieldEdit(key, None if source is None else _expression(source, param, variables), name,
                                 origin=origin))
            continue
        if key not in allowed:
            extra = ", or custom_fields.<name>" if customs else ""
            raise Invalid(param, f"{param}: {resource} has no field '{key}'; fields: {', '.join(allowed)}{extra}")
        expr = None if source is None else _expression(source, param, variables)
        out.append(FieldEdit(key, expr, None, _empty(schema, key) if method == "read" else None, origin))
    return tuple(out)


def compile_override(resource: str, method: str, body, origin: str = "") -> Override:
    """Check and compile an override body (raises Invalid); list filters are checked by the caller."""
    if method not in KINDS:
        raise Invalid("method", f"method must be one of {', '.join(KINDS)}; got '{method}'")
    if resource not in MODELS:
        raise Invalid("resource", f"No resource '{resource}'; resources: {', '.join(MODELS)}")
    kind = KINDS[method]
    if not isinstance(body, dict):
        raise Invalid("override", "override: expected an object")
    extra = sorted(set(body) - {kind, "note"})
    if extra:
        raise Invalid(extra[0], f"A {method} override holds '{kind}' (and an optional 'note'), not '{extra[0]}'")
    if kind not in body:
        raise Invalid(kind, f"A {method} override needs '{kind}'")
    if "note" in body and not isinstance(body["note"], str):
        raise Invalid("note", "note: expected a string")
    if kind == "filters":
        filters = body["filters"]
        if not isinstance(filters, dict) or not filters or not all(
                isinstance(v, str) and v for v in filters.values()):
            raise Invalid("filters", "filters: expected an object of filter parameter -> value (a non-empty "
                                     "string, as in a query string), e.g. {\"status\": \"open\"}")
        return Override(method, filters=dict(filters))
    return Override(method, _edits(resource, method, body[kind], origin))


# --- applying -------------------------------------------------------------------------------------
def _merge(edits: list[tuple[FieldEdit, ...]]) -> tuple[FieldEdit, ...]:
    by_key: dict[str, FieldEdit] = {}
    for layer in edits:
        for edit in layer:
            by_key.pop(edit.key, None)
            by_key[edit.key] = edit
    return tuple(by_key.values())


def apply_edits(edits: tuple[FieldEdit, ...], resource: str | None, data, target: dict, bindings: dict) -> dict:
    """`target` with `edits` applied, each expression evaluated over `data` (raises OverrideFailed)."""
    out = dict(target)
    custom = None
    dump = MODELS[resource].dump if resource else None
    for edit in edits:
        try:
            value = None if edit.expr is None else edit.expr(data, **bindings)
            if edit.custom is not None:
                if custom is None:
                    custom = out["custom_fields"] = dict(out.get("custom_fields") or {})
                if value is None:
                    custom.pop(edit.custom, None)
                else:
                    custom[edit.custom] = value
            elif dump is None:  # a write body: a field without a value is left out
                if value is None:
                    out.pop(edit.key, None)
                else:
                    out[edit.key] = value
            elif edit.expr is None:
                out[edit.key] = edit.empty
            else:
                out[edit.key] = dump({edit.key: value}).get(edit.key)
        except (ExpressionFailed, ValueError, TypeError, AttributeError) as exc:
            raise OverrideFailed(edit.key, f"{edit.key} ({edit.origin}): {exc}") from None
    return out


@dataclass
class AccountOverrides:
    """What applies to one account: the tenant's and the account's overrides, merged."""
    fields: dict[str, tuple[FieldEdit, ...]] = field(default_factory=dict)  # resource ->
    filters: dict[str, dict] = field(default_factory=dict)  # resource -> default filters
    inputs: dict[tuple[str, str], tuple[FieldEdit, ...]] = field(default_factory=dict)

    def record(self, resource: str, raw, record: dict, bindings: dict) -> dict:
        edits = self.fields.get(resource)
        if not edits:
            return record
        try:
            return apply_edits(edits, resource, raw, record, bindings)
        except OverrideFailed as exc:
            log.warning("override failed: %s", exc)
            raise ApiError(502, "override_error", f"A mapping override failed on a {resource} record: {exc}. Try "
                           "it with POST /mapping-overrides/.../preview and fix or roll it back") from None

    def input(self, resource: str, method: str, payload: dict) -> dict:
        edits = self.inputs.get((resource, method))
        if not edits:
            return payload
        try:
            return apply_edits(edits, None, payload, payload, {})
        except OverrideFailed as exc:
            raise ApiError(422, "override_error", f"A write-input override failed on this body: {exc}",
                           param=exc.key) from None


def merge(layers: list[tuple[str, Override]]) -> AccountOverrides | None:
    """[(resource, compiled override)] from the lowest layer (tenant) to the highest (account)."""
    if not layers:
        return None
    out = AccountOverrides()
    for resource, ov in layers:
        if ov.method == "read":
            out.fields[resource] = _merge([out.fields.get(resource, ()), ov.edits])
        elif ov.method == "list":
            out.filters[resource] = {**out.filters.get(resource, {}), **ov.filters}
        else:
            key = (resource, ov.method)
            out.inputs[key] = _merge([out.inputs.get(key, ()), ov.edits])
    return out


def apply_collecting(edits: tuple[FieldEdit, ...], resource: str | None, data, target: dict, bindings: dict
                     ) -> tuple[dict, list[dict]]:
    """Like apply_edits, but an edit that fails leaves its field as it was and is reported: (result, errors)."""
    errors = []
    for edit in edits:
        try:
            target = apply_edits((edit,), resource, data, target, bindings)
        except OverrideFailed as exc:
            errors.append({"field": edit.key, "message": str(exc)})
    return target, errors


class Preview:
    """Stands for an account's overrides while previewing: keeps each record before (the live overrides)
    and after (the proposed ones), with the proposed ones' errors per record, and stores nothing."""

    filters: dict = {}
    inputs: dict = {}

    def __init__(self, before: AccountOverrides | None, after: AccountOverrides | None):
        self.before, self.after = before, after
        self.rows: list[dict] = []

    def record(self, resource: str, raw, record: dict, bindings: dict) -> dict:
        before, _ = apply_collecting(self.before.fields.get(resource, ()) if self.before else (), resource, raw,
                                     record, bindings)
        after, errors = apply_collecting(self.after.fields.get(resource, ()) if self.after else (), resource, raw,
                                         record, bindings)
        self.rows.append({"id": record.get("id"), "before": before, "after": after, "errors": errors})
        return dict(after)  # the page adds remote_data to what it is given; the preview's row stays the record


# --- per-worker cache -----------------------------------------------------------------------------
@dataclass
class _Tenant:
    gen: int
    live: dict[str, dict]  # slot -> version entry
    accounts: dict[tuple[str, str], AccountOverrides | None] = field(default_factory=dict)


class Resolver:
    """Each worker's compiled overrides, per tenant: rebuilt when the tenant's change counter moves
    (one GET per request), each version compiled once."""

    MAX_TENANTS = 10_000

    def __init__(self, r):
        self.r = r
        self._tenants: dict[str, _Tenant] = {}
        self._compiled: dict[tuple[str, str, int], Override | None] = {}
        self._lock = threading.Lock()

    def _tenant(self, tenant: str, gen: int | None = None) -> _Tenant | None:
        """`gen`: the tenant's counter when the caller read it already (with the account)."""
        gen = store.generation(self.r, tenant) if gen is None else gen
        if gen == 0:
            return None
        cached = self._tenants.get(tenant)
        if cached is not None and cached.gen == gen:
            return cached
        gen, live = store.snapshot(self.r, tenant)
        with self._lock:
            if len(self._tenants) >= self.MAX_TENANTS:
                self._tenants.clear()
            cached = self._tenants[tenant] = _Tenant(gen, live)
        return cached

    def compiled(self, tenant: str, name: str, entry: dict) -> Override | None:
        key = (tenant, name, entry["version"])
        if key not in self._compiled:
            scope, _, resource, method = name.split("/")
            try:
                ov = compile_override(resource, method, entry["override"], f"{scope} override v{entry['version']}")
            except Invalid as exc:  # stored before a model change made it invalid: left out, loudly
                log.error("mapping override %s v%s of %s no longer compiles: %s", name, entry["version"], tenant,
                          exc.message)
                ov = None
            if len(self._compiled) >= 50 * self.MAX_TENANTS:
                self._compiled.clear()
            self._compiled[key] = ov
        return self._compiled[key]

    def layers(self, tenant: str, integration: str, account_id: str, skip: str | None = None,
               scopes: tuple[str, ...] = store.SCOPES) -> list[tuple[str, Override]]:
        """[(resource, compiled override)] that apply to the account, tenant ones first; `skip`: leave one
        slot out."""
        cached = self._tenant(tenant)
        if cached is None:
            return []
        out = []
        for scope, target in (("tenant", integration), ("account", account_id)):
            if scope not in scopes:
                continue
            prefix = f"{scope}/{target}/"
            for name in sorted(n for n in cached.live if n.startswith(prefix) and n != skip):
                ov = self.compiled(tenant, name, cached.live[name])
                if ov is not None:
                    out.append((name.split("/")[2], ov))
        return out

    def for_account(self, tenant: str, integration: str, account_id: str,
                    generation: int | None = None) -> AccountOverrides | None:
        cached = self._tenant(tenant, generation)
        if cached is None:
            return None
        key = (integration, account_id)
        if key not in cached.accounts:
            cached.accounts[key] = merge(self.layers(tenant, integration, account_id))
        return cached.accounts[key]
