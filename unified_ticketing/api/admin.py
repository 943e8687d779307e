"""Admin routes, guarded by UNIFIED_ADMIN_TOKEN."""
from flask import Blueprint

from ..schemas.requests import ApiKeyCreate
from ..state import tenants
from .common import load_body, require_admin, services

bp = Blueprint("admin", __name__)


@bp.post("/admin/api-keys")
def create_api_key():
    require_admin()
    body = load_body(ApiKeyCreate())
    api_key = tenants.create_api_key(services().redis, body["tenant"])
    return {"tenant": body["tenant"], "api_key": api_key}, 201
