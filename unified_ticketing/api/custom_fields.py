"""`GET /unified/ticketing/fields`: the custom fields an account's helpdesk holds for contacts or tickets."""
from __future__ import annotations

from flask import Blueprint, request

from ..engine import custom_fields
from ..errors import ApiError, bad_request
from .common import require_tenant, services, tenant_account

bp = Blueprint("custom_fields", __name__)


@bp.get("/unified/ticketing/fields")
def list_fields():
    tenant = require_tenant()
    account_id, resource = request.args.get("integrated_account_id"), request.args.get("resource")
    if not account_id:
        raise bad_request("integrated_account_id is required", "integrated_account_id")
    if resource not in custom_fields.RESOURCES:
        raise bad_request(f"resource must be one of {', '.join(custom_fields.RESOURCES)}", "resource")
    account = tenant_account(tenant, account_id)
    svc = services()
    engine = svc.engines[account.integration]
    sources = svc.custom_fields.get(account.integration, {}).get((resource, account.version))
    if sources is None:
        raise ApiError(501, "not_supported", f"{engine.integration.title} declares no custom fields for {resource}")
    return {"integration": account.integration, "resource": resource,
            "result": custom_fields.discover(engine, account, sources)}
