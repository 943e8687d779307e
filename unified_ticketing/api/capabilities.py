"""What an integration supports, read from its mapping files (never maintained twice)."""
from __future__ import annotations

from flask import Blueprint, request

from ..engine.loader import RESOURCES
from ..errors import bad_request, not_found
from ..schemas.ticketing import MODELS
from .common import require_tenant, services
from .integrated_accounts import engine_for

bp = Blueprint("capabilities", __name__)


def _filters(op) -> list[dict]:
    """The product's filters (schemas/filters.py) this operation supports, and where each is applied: `upstream`
    (the helpdesk narrows, pages are full) or `after_mapping` (checked on mapped records, pages may be sparse)."""
    return [{"name": f.name, "type": f.type, "operators": list(f.ops), "values": list(f.values),
             "required": f.required, "applied": f.applied, **_bounds(f)}
            for f in getattr(op, "filters", {}).values()]


def _bounds(f) -> dict:
    """Whether the helpdesk narrows the list for this filter (so it costs calls in proportion to the matches),
    whether every matching record comes back, and how (the mapping's `upstream` and `misses` sentences)."""
    out = {"upstream": f.where is None or f.until is not None or f.upstream is not None, "exact": f.misses is None}
    if f.upstream:
        out["upstream_how"] = f.upstream
    if f.misses:
        out["misses"] = f.misses
    return out


def _resource(integration, resource: str, version: str) -> dict:
    """Supported methods, unsupported ones with the reason (the 422's message), the list filters, and what
    the helpdesk must have for some methods (`requires`)."""
    ops = {m: op for (r, m, v), op in integration.operations.items() if r == resource and v == version}
    unsupported = {m: op.unsupported for m, op in ops.items() if getattr(op, "unsupported", None)}
    entry = {"methods": [m for m in ops if m not in unsupported], "unsupported": unsupported,
             "filters": _filters(ops.get("list"))}
    requires = {m: op.requires for m, op in ops.items() if getattr(op, "requires", None)}
    if requires:  # methods that work only on some editions or licenses of the helpdesk
        entry["requires"] = requires
    return entry


@bp.get("/integrations/<name>/capabilities")
def capabilities(name: str):
    require_tenant()
    integration = engine_for(name).integration
    versions = {}
    for version in integration.versions:
        entries = {resource: _resource(integration, resource, version) for resource in RESOURCES}
        versions[version] = {resource: entry for resource, entry in entries.items() if entry["methods"]}
    return {"integration": integration.name, "title": integration.title,
            "default_api_version": integration.default_version, "api_versions": versions,
            "auth": {kind: {"fields": list(style.fields), "optional": list(style.optional)}
                     for kind, style in sorted(integration.auth.items())},
            "server_url_field": integration.base_url.credential, "oauth": integration.oauth is not None,
            "webhooks": name in services().events}


@bp.get("/unified/ticketing/<resource>/meta/<method>")
def meta(resource: str, method: str):
    require_tenant()
    if resource not in RESOURCES:
        raise not_found(f"No resource '{resource}'; resources: {', '.join(RESOURCES)}")
    name = request.args.get("integration")
    if name is None:
        engines = services().engines
        if len(engines) != 1:
            raise bad_request(f"integration is required: one of {', '.join(sorted(engines))}", "integration")
        name = next(iter(engines))
    integration = engine_for(name).integration
    version = request.args.get("api_version", integration.default_version)
    if version not in integration.versions:
        raise bad_request(f"api_version: {integration.title} supports {', '.join(integration.versions)}",
                          "api_version")
    op = integration.operation(resource, method, version)
    if op is None:
        raise not_found(f"{integration.title} (v{version}) has no {method} for {resource}; it has "
                        f"{', '.join(_resource(integration, resource, version)['methods']) or 'none'}")
    schema = MODELS[resource]
    fields = [{"name": n, "type": type(f).__name__.lower(), "required": f.required, "nullable": f.allow_none}
              for n, f in schema.fields.items()]
    return {"integration": integration.name, "api_version": version, "resource": resource, "method": method,
            "mapping_file": op.source, "filters": _filters(op), "fields": fields}
