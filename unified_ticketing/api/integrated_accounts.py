"""Integrated accounts: a tenant's connections to helpdesk accounts. Another tenant's account is a 404."""
import json

from flask import Blueprint, current_app, g

from ..errors import ApiError, bad_request, not_found
from ..schemas.requests import IntegratedAccountCreate
from ..state import accounts
from .addresses import check_public
from .common import load_body, require_tenant, services

bp = Blueprint("integrated_accounts", __name__)


@bp.post("/integrated-accounts")
def create():
    tenant = require_tenant()
    body = load_body(IntegratedAccountCreate())
    engine = engine_for(body["integration"])
    creds = dict(body["credentials"])
    if "expires_at" in creds:
        creds["expires_at"] = creds["expires_at"].isoformat()
    auth_type = creds.pop("type")
    _check_fields(engine.integration, auth_type, creds)
    return connect(tenant, engine, body.get("api_version"), auth_type, creds, info={}), 201


def _check_fields(integration, auth_type: str, creds: dict) -> None:
    """The credential fields the integration file names for this auth type: no fewer, no more."""
    style = integration.auth.get(auth_type)
    if style is None:
        raise bad_request(f"credentials.type: {integration.title} accepts {', '.join(sorted(integration.auth))}",
                          "credentials.type")
    for name in style.fields:
        if name not in creds and name not in style.optional:
            raise bad_request(f"credentials.{name}: required for {auth_type} credentials", f"credentials.{name}")
    for name in creds:
        if name not in style.fields:
            raise bad_request(f"credentials.{name}: not used by {integration.title} {auth_type} credentials; "
                              f"send {', '.join(style.fields)}", f"credentials.{name}")


def engine_for(name: str):
    svc = services()
    engine = svc.engines.get(name)
    if engine is None:
        raise bad_request(f"integration: unknown integration '{name}'; available: {', '.join(sorted(svc.engines))}",
                          "integration")
    return engine


def connect(tenant: str, engine, version: str | None, auth_type: str, creds: dict, info: dict) -> dict:
    """Check credentials against the helpdesk, then store the account (credentials encrypted)."""
    integration = engine.integration
    version = version or integration.default_version
    if version not in integration.versions:
        raise bad_request(f"api_version: {integration.title} supports {', '.join(integration.versions)}",
                          "api_version")
    base_url = engine.upstream.base_url_for(creds)  # a server URL among the credentials must be usable
    field = integration.base_url.credential
    if field and not current_app.config["ALLOW_PRIVATE_UPSTREAMS"]:
        check_public(base_url, f"credentials.{field}", f"{integration.title} servers must be public (set "
                     "UNIFIED_ALLOW_PRIVATE_UPSTREAMS=true for one on a private network)")
    try:
        engine.upstream.call(auth_type, creds, integration.verify.prepare(None, version=version))
    except ApiError as err:
        rule = integration.verify_errors.get((err.remote or {}).get("type"))
        if rule is not None:  # the integration file says what this failure means (a missing permission, say)
            raise ApiError(rule.status, "invalid_credentials", str(rule.message(None, error=err.remote)),
                           param=rule.param or "credentials", remote=err.remote) from None
        if err.status in (401, 403):
            raise ApiError(422, "invalid_credentials", f"{integration.title} did not accept these credentials: "
                           f"{err.remote.get('message') if err.remote else err.message}", param="credentials",
                           remote=err.remote) from None
        if field and err.remote and err.remote.get("status") == 404 and not err.remote.get("type"):
            raise ApiError(422, "invalid_credentials", f"{base_url} answered HTTP 404 without a {integration.title} "
                           f"error: check that credentials.{field} is the server's base URL (no path after it "
                           "unless the server lives under one)", param=f"credentials.{field}",
                           remote=err.remote) from None
        raise
    svc = services()
    account = accounts.create(svc.redis, svc.fernet, tenant, integration.name, version, {"type": auth_type, **creds},
                              info=info)
    mapping = svc.events.get(integration.name)
    if mapping is not None and current_app.config["WEBHOOKS_REGISTER"]:
        from .webhooks import register_account_webhooks

        try:
            note = register_account_webhooks(engine, accounts.get(svc.redis, account["id"]), mapping)
        except ApiError as err:
            note = {"webhooks": f"not registered: {err.message}; run 'unified-ticketing webhooks sync'"}
        svc.redis.hset(accounts.key(account["id"]), "info", json.dumps({**info, **note}))
        account = accounts.public(accounts.get(svc.redis, account["id"]))
    return account


@bp.get("/integrated-accounts")
def index():
    tenant = require_tenant()
    items = accounts.list_for(services().redis, tenant)
    return {"result": items, "next_cursor": None, "prev_cursor": None, "result_count": len(items)}


def owned_account(account_id: str, tenant: str) -> dict:
    record = accounts.get(services().redis, account_id)
    if record is None or record["tenant"] != tenant:
        raise not_found(f"No integrated account '{account_id}'")
    g.integration = record["integration"]  # for metrics and logs
    return record


@bp.get("/integrated-accounts/<account_id>")
def show(account_id: str):
    return accounts.public(owned_account(account_id, require_tenant()))


@bp.delete("/integrated-accounts/<account_id>")
def delete(account_id: str):
    record = owned_account(account_id, require_tenant())
    svc = services()
    if record.get("webhook_ids"):
        from .webhooks import unregister_account_webhooks

        unregister_account_webhooks(svc.engines[record["integration"]], record, svc.events.get(record["integration"]))
    accounts.delete(svc.redis, record)
    return "", 204
