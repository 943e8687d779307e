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
    return [{"name": f.name, "type": f.type, "operators": list(f.ops), "values": list(f.values),
             "required": f.required, "applied": "after mapping" if f.where is not None else "by the helpdesk"}
            for f in getattr(op, "filters", {}).values()]


def _methods(integration, resource: str, version: str) -> list[str]:
    return [m for (r, m, v), op in integration.operations.items() if r == resource and v == version
            and not getattr(op, "unsupported", None)]


def _unsupported(integration, resource: str, version: str) -> dict[str, str]:
    """Methods the mapping declares the helpdesk cannot do, with the reason (the 422's message)."""
    return {m: op.unsupported for (r, m, v), op in integration.operations.items() if r == resource and v == version
            and getattr(op, "unsupported", None)}


@bp.get("/integrations/<name>/capabilities")
def capabilities(name: str):
    require_tenant()
    integration = engine_for(name).integration
    versions = {}
    for version in integration.versions:
        versions[version] = {
            resource: {"methods": _methods(integration, resource, version),
                       "unsupported": _unsupported(integration, resource, version),
                       "filters": _filters(integration.operation(resource, "list", version))}
            for resource in RESOURCES if _methods(integration, resource, version)}
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
                        f"{', '.join(_methods(integration, resource, version)) or 'none'}")
    schema = MODELS[resource]
    fields = [{"name": n, "type": type(f).__name__.lower(), "required": f.required, "nullable": f.allow_none}
              for n, f in schema.fields.items()]
    return {"integration": integration.name, "api_version": version, "resource": resource, "method": method,
            "mapping_file": op.source, "filters": _filters(op), "fields": fields}
