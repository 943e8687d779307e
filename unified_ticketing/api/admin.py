"""Admin routes, guarded by UNIFIED_ADMIN_TOKEN: tenants' API keys (create, list, revoke, rotate)."""
from flask import Blueprint, request

from ..errors import bad_request, not_found
from ..schemas.requests import ApiKeyCreate, ApiKeyRotate
from ..state import tenants
from .common import load_body, require_admin, services

bp = Blueprint("admin", __name__)


@bp.post("/admin/api-keys")
def create_api_key():
    require_admin()
    body = load_body(ApiKeyCreate())
    return tenants.issue(services().redis, body["tenant"], body["scope"], body["integrated_account_ids"],
                         body["expires_in"]), 201


@bp.get("/admin/api-keys")
def list_api_keys():
    require_admin()
    tenant = request.args.get("tenant")
    if not tenant:
        raise bad_request("tenant is required: the tenant whose keys to list", "tenant")
    items = tenants.list_keys(services().redis, tenant)
    return {"result": items, "next_cursor": None, "prev_cursor": None, "result_count": len(items)}


@bp.delete("/admin/api-keys/<key_id>")
def revoke_api_key(key_id: str):
    require_admin()
    if not tenants.revoke(services().redis, key_id):
        raise not_found(f"No live API key '{key_id}' (revoked, expired or never made)")
    return "", 204


@bp.post("/admin/api-keys/<key_id>/rotate")
def rotate_api_key(key_id: str):
    require_admin()
    body = load_body(ApiKeyRotate()) if request.content_length else {"overlap_seconds": 3600}
    rotated = tenants.rotate(services().redis, key_id, body["overlap_seconds"])
    if rotated is None:
        raise not_found(f"No live API key '{key_id}' (revoked, expired or never made)")
    return rotated, 201
