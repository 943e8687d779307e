"""Integrated accounts: a tenant's connections to helpdesk accounts. Another tenant's account is a 404."""
import logging

from flask import Blueprint, current_app

from ..engine.expressions import ExpressionFailed
from ..errors import ApiError, bad_request
from ..schemas.requests import IntegratedAccountCreate
from ..state.accounts import Account
from .addresses import check_public
from .common import key_reaches, load_body, require_tenant, services, tenant_account, unlimited_key
from .webhook_registration import Registrar

bp = Blueprint("integrated_accounts", __name__)
log = logging.getLogger(__name__)


@bp.post("/integrated-accounts")
def create():
    tenant = require_tenant()
    unlimited_key("connect new accounts")
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
    """Check credentials against the helpdesk, learn whose they are (`identity`), then store the account
    (credentials encrypted)."""
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
    unsaved = Account(id=None, tenant=tenant, version=version, auth_type=auth_type, credentials=creds,
                      integration=integration.name)
    try:
        engine.upstream.call(unsaved, integration.verify.prepare(None, version=version))
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
    info = {**identify(engine, unsaved), **info}  # what the token answer said wins
    svc = services()
    account = svc.accounts.create(tenant, integration.name, version, auth_type, creds, info=info)
    mapping = svc.events.get(integration.name)
    note = mapping and Registrar.of(current_app).account_connected(engine, account, mapping)
    if note:
        svc.accounts.set_info(account, {**info, **note})
    return account.public()


def identify(engine, account: Account) -> dict:
    """The account's context from the integration's `identity` call: whose credentials these are."""
    spec, title = engine.integration.identity, engine.integration.title
    if spec is None:
        return {}
    request = spec.request.prepare(None, version=account.version)
    try:
        answer = engine.upstream.call(account, request, base_url=engine.upstream.identity_url)
    except ApiError as err:
        if err.status in (401, 403):
            raise ApiError(422, "invalid_credentials", f"{title} accepted these credentials but would not say "
                           f"whose they are ({request.method} {request.path}): {err.message}",
                           param="credentials", remote=err.remote) from None
        raise
    context = {}
    for name, expr in spec.context.items():
        try:
            value = expr(answer)
        except ExpressionFailed:
            value = None
        if isinstance(value, str) and value or isinstance(value, int | float) and not isinstance(value, bool):
            context[name] = value
    missing = sorted(set(spec.context) - set(context))
    if missing:
        raise ApiError(502, "upstream_error", f"{title} answered {spec.request.path} without "
                       f"{', '.join(missing)}; the account cannot be connected without it")
    return context


def complete_identity(engine, account) -> None:
    """Learn, once, the identity of an account connected before the integration asked for it (its
    writes need it). Best effort: if the helpdesk will not say, the write's mapping reports it."""
    spec = engine.integration.identity
    if spec is None or set(spec.context) <= set(account.context):
        return
    try:
        learnt = identify(engine, account)
    except ApiError as err:
        log.warning("could not learn the identity of account %s: %s", account.id, err.message)
        return
    services().accounts.set_info(account, {**learnt, **account.context})


@bp.get("/integrated-accounts")
def index():
    tenant = require_tenant()
    items = [a for a in services().accounts.list_for(tenant) if key_reaches(a["id"])]
    return {"result": items, "next_cursor": None, "prev_cursor": None, "result_count": len(items)}


@bp.get("/integrated-accounts/<account_id>")
def show(account_id: str):
    return tenant_account(require_tenant(), account_id).public()


@bp.delete("/integrated-accounts/<account_id>")
def delete(account_id: str):
    account = tenant_account(require_tenant(), account_id)
    svc = services()
    Registrar.of(current_app).account_removed(svc.engines[account.integration], account,
                                              svc.events.get(account.integration))
    svc.accounts.delete(account)
    return "", 204
