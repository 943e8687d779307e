"""Registering this service's webhook receiver with a helpdesk, in the model its events.yaml names.

- Per account (`registration.scope: account`): each account registers its own URL and secret with
  its own credentials when it connects, and unregisters them when it is deleted.
- Per client (`scope: client`): the webhooks belong to the app's OAuth client. The operator
  registers one URL for the integration (`unified-ticketing webhooks register`) with the app
  developer's credentials; each connecting account enables them for its license with its own
  token, and joins the routing set of that license; the last account of a license disables them.
"""
from __future__ import annotations

import json
import logging
import secrets

from flask import current_app

from ..engine import writes
from ..engine.executor import Account, account_from
from ..errors import ApiError
from ..state import accounts
from ..state import webhooks as store
from .common import services

log = logging.getLogger(__name__)


def receiver_url(integration: str, account_id: str | None = None) -> str:
    base = f"{current_app.config['PUBLIC_URL']}/webhooks/{integration}"
    return f"{base}/{account_id}" if account_id else base


def _license(record: dict) -> str | None:
    return accounts.public(record)["context"].get("license")


def _bindings(engine, version: str, **extra) -> dict:
    return {"client_id": engine.upstream.client_id, "version": version, "steps": {}, **extra}


# --- accounts coming and going ------------------------------------------------------------------
def account_connected(engine, record: dict, mapping, register: bool) -> dict | None:
    """What to note in the account's context about its webhooks (None: nothing to say)."""
    if mapping.per_client:
        return _join_license(engine, record, mapping, register)
    if not register:
        return None
    try:
        return register_account_webhooks(engine, record, mapping)
    except ApiError as err:
        return {"webhooks": f"not registered: {err.message}; run 'unified-ticketing webhooks sync {record['id']}'"}


def _join_license(engine, record: dict, mapping, enable: bool) -> dict | None:
    svc = services()
    name, license_id = record["integration"], _license(record)
    if not license_id:
        return enable and {"webhooks": f"no events: {engine.integration.title} did not name this account's license "
                           "when it connected, so deliveries cannot be routed to it; reconnect the account"} or None
    store.route_add(svc.redis, name, license_id, record["id"])
    if not enable:
        return None
    client_env = engine.integration.oauth.client_id_env if engine.integration.oauth else "the OAuth client id"
    if not engine.upstream.client_id:
        return {"webhooks": f"not enabled: set {client_env} (the app whose webhooks the license enables)"}
    account = account_from(record, accounts.credentials(svc.fernet, record))
    try:
        writes.steps_run(engine, account, mapping.registration.enable, _bindings(engine, record["api_version"]))
    except ApiError as err:
        return {"webhooks": f"not enabled for license {license_id}: {err.message}; then run "
                f"'unified-ticketing webhooks sync {record['id']}'"}
    return {"webhooks": f"enabled for license {license_id}: events arrive at {receiver_url(name)}"}


def account_removed(engine, record: dict, mapping) -> None:
    """Undo what connecting did; failures are only logged (the account goes anyway)."""
    if mapping is None:
        return
    if not mapping.per_client:
        if record.get("webhook_ids"):
            unregister_account_webhooks(engine, record, mapping)
        return
    svc = services()
    license_id = _license(record)
    if not license_id:
        return
    remaining = store.route_remove(svc.redis, record["integration"], license_id, record["id"])
    if remaining or not current_app.config["WEBHOOKS_REGISTER"] or not engine.upstream.client_id:
        return
    account = account_from(record, accounts.credentials(svc.fernet, record))
    try:
        writes.steps_run(engine, account, mapping.registration.disable, _bindings(engine, record["api_version"]))
    except ApiError as err:
        log.warning("could not disable webhooks on license %s: %s", license_id, err.message)


# --- per account --------------------------------------------------------------------------------
def register_account_webhooks(engine, record: dict, mapping) -> dict:
    """(Re-)register this service's receiver URL with the helpdesk for one account (the mapping's steps)."""
    svc = services()
    reg = mapping.registration
    client_id = engine.upstream.client_id
    if reg is None:
        return {"webhooks": f"not registered: {engine.integration.title} webhooks are set up in the helpdesk"}
    if reg.needs_oauth_client and not client_id:
        return {"webhooks": "not registered: set the OAuth client id to register webhooks"}
    unregister_account_webhooks(engine, record, mapping)
    secret = secrets.token_urlsafe(32)
    url = receiver_url(record["integration"], record["id"])
    account = account_from(record, accounts.credentials(svc.fernet, record))
    run = writes.steps_run(engine, account, reg.register, _bindings(
        engine, record["api_version"], secret=secret, url=url, actions=list(mapping.actions)))
    ids = run.eval(reg.ids)
    ids = [] if ids is None else ids if isinstance(ids, list) else [ids]
    svc.redis.hset(accounts.key(record["id"]), mapping={
        "webhook_secret": svc.fernet.encrypt(secret.encode()).decode(), "webhook_ids": json.dumps(ids)})
    return {"webhooks": f"registered {len(mapping.actions)} actions at {url}"}


def unregister_account_webhooks(engine, record: dict, mapping) -> None:
    """Undo the registration (the mapping's unregister steps, once per kept id); failures are only logged."""
    svc = services()
    ids = json.loads(record.get("webhook_ids") or "[]")
    reg = mapping.registration if mapping else None
    if not ids or reg is None:
        return
    account = account_from(record, accounts.credentials(svc.fernet, record))
    for hook_id in ids:
        try:
            writes.steps_run(engine, account, reg.unregister, _bindings(
                engine, record["api_version"], id=hook_id, url=receiver_url(record["integration"], record["id"])))
        except ApiError as err:
            log.warning("could not unregister webhook %s: %s", hook_id, err.message)
    svc.redis.hdel(accounts.key(record["id"]), "webhook_ids")


def sync_account(engine, record: dict, mapping) -> str:
    """`webhooks sync <account>`: register it again (per account) or enable its license again (per client)."""
    if mapping.per_client:
        note = _join_license(engine, record, mapping, enable=True)
    else:
        note = register_account_webhooks(engine, record, mapping)
    svc = services()
    info = {**accounts.public(record)["context"], **note}
    svc.redis.hset(accounts.key(record["id"]), "info", json.dumps(info))
    return note["webhooks"]


# --- per client: the operator's commands --------------------------------------------------------
class NotConfigured(Exception):
    pass


def _operator(engine, mapping) -> tuple[Account, dict]:
    """The developer's account and the bindings every operator step gets; NotConfigured names what is missing."""
    reg = mapping.registration
    env = current_app.config["UPSTREAM_ENV"]
    auth_type, creds, missing = reg.operator_credentials(env)
    oauth = engine.integration.oauth
    if not engine.upstream.client_id:
        missing.append(oauth.client_id_env if oauth else "the OAuth client id")
    if missing:
        raise NotConfigured(f"set {', '.join(missing)} to manage {engine.integration.title} webhooks (the app's "
                            "client id and its developer's credentials)")
    version = engine.integration.default_version
    account = Account(id=None, tenant="", version=version, auth_type=auth_type, credentials=creds)
    return account, _bindings(engine, version, url=receiver_url(engine.integration.name))


def listed(engine, mapping) -> list[dict]:
    """The client's registered webhooks, each `{id, url, action, ours}`."""
    account, bindings = _operator(engine, mapping)
    reg = mapping.registration
    run = writes.steps_run(engine, account, reg.list, {**bindings, "steps": {}})
    hooks = run.eval(reg.listed) or []
    return [{**h, "ours": h.get("url") == bindings["url"]} for h in hooks if isinstance(h, dict)]


def register(engine, mapping) -> str:
    """Register the receiver for every mapped action, then drop older registrations of the same URL
    (registering first keeps deliveries flowing; retries of the overlap are deduplicated)."""
    env = current_app.config["UPSTREAM_ENV"]
    reg = mapping.registration
    secret = env.get(reg.secret_env)
    if not secret:
        raise NotConfigured(f"set {reg.secret_env} (the secret {engine.integration.title} sends with each webhook)")
    account, bindings = _operator(engine, mapping)
    old = [h for h in listed(engine, mapping) if h["ours"]]
    writes.steps_run(engine, account, reg.register, {**bindings, "steps": {}, "secret": secret,
                                                     "actions": list(mapping.actions)})
    for hook in old:
        writes.steps_run(engine, account, reg.unregister, {**bindings, "id": hook["id"], "steps": {}})
    note = f"; replaced {len(old)} older registrations" if old else ""
    return (f"registered {len(mapping.actions)} actions ({', '.join(mapping.actions)}) for client "
            f"{engine.upstream.client_id} at {bindings['url']}{note}; {_route_existing(engine)} accounts routed")


def _route_existing(engine) -> int:
    """Put every stored account of the integration with a known license on its license's route (accounts
    connected before webhooks were registered per app); how many there are."""
    r = services().redis
    name, count = engine.integration.name, 0
    for tenant in sorted(r.smembers("ut:tenants")):
        for account in accounts.list_for(r, tenant):
            if account["integration"] == name and account["context"].get("license"):
                store.route_add(r, name, account["context"]["license"], account["id"])
                count += 1
    return count


def unregister(engine, mapping) -> str:
    account, bindings = _operator(engine, mapping)
    ours = [h for h in listed(engine, mapping) if h["ours"]]
    for hook in ours:
        writes.steps_run(engine, account, mapping.registration.unregister, {**bindings, "id": hook["id"], "steps": {}})
    return f"unregistered {len(ours)} webhooks at {bindings['url']}"
