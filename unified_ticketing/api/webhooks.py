"""Webhooks: the helpdesk's deliveries in (`/webhooks/<integration>/<account>`), tenants'
subscriptions out (`/webhook-subscriptions`), and registering the receiver with the helpdesk."""
from __future__ import annotations

import json
import logging
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, current_app, request

from .. import observability
from ..engine import writes
from ..engine.events import EVENTS
from ..engine.executor import account_from
from ..errors import ApiError, bad_request, not_found
from ..schemas.requests import SubscriptionCreate
from ..state import accounts
from ..state import webhooks as store
from .addresses import check_public
from .common import load_body, require_tenant, services

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)


# --- in ---------------------------------------------------------------------------------------
@bp.post("/webhooks/<integration>/<account_id>")
def receive(integration: str, account_id: str):
    svc = services()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request("Send the webhook as a JSON object", "body")
    record = accounts.get(svc.redis, account_id)
    mapping = svc.events.get(integration)
    if mapping is None and integration in svc.engines:
        raise ApiError(404, "not_supported", f"{svc.engines[integration].integration.title} webhooks are not mapped "
                       "to unified events (the integration has no events mapping); poll the read API instead")
    if record is None or record["integration"] != integration or mapping is None:
        raise not_found(f"No {integration} integrated account '{account_id}' receives webhooks here")
    expected = record.get("webhook_secret")
    given = mapping.secret(body, headers={k.lower(): v for k, v in request.headers.items()})
    if not expected or not isinstance(given, str) or not secrets.compare_digest(
            svc.fernet.decrypt(expected.encode()).decode(), given):
        raise ApiError(401, "unauthorized", "The webhook's secret does not match the one registered for this account")
    action = mapping.action(body)
    if action not in mapping.actions:
        raise ApiError(422, "unknown_action", f"Action '{action}' is not mapped to unified events", param="action")
    accepted = store.accept(svc.redis, account_id, action, mapping.payload(body))
    observability.WEBHOOKS_RECEIVED.labels(integration, "accepted" if accepted else "duplicate").inc()
    return {"accepted": accepted, "duplicate": not accepted}


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
    url = receiver_url(record)
    account = account_from(record, accounts.credentials(svc.fernet, record))
    bindings = {"secret": secret, "url": url, "client_id": client_id, "version": record["api_version"],
                "actions": list(mapping.actions), "steps": {}}
    run = writes.steps_run(engine, account, reg.register, bindings)
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
        bindings = {"id": hook_id, "url": receiver_url(record), "client_id": engine.upstream.client_id,
                    "version": record["api_version"], "steps": {}}
        try:
            writes.steps_run(engine, account, reg.unregister, bindings)
        except ApiError as err:
            log.warning("could not unregister webhook %s: %s", hook_id, err.message)
    svc.redis.hdel(accounts.key(record["id"]), "webhook_ids")


def receiver_url(record: dict) -> str:
    return f"{current_app.config['PUBLIC_URL']}/webhooks/{record['integration']}/{record['id']}"


# --- out --------------------------------------------------------------------------------------
def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request("url must be an absolute http(s) URL", "url")
    if not current_app.config["ALLOW_PRIVATE_WEBHOOKS"]:
        check_public(url, "url", "webhooks go to public URLs")
    return url


def _owned(sub_id: str, tenant: str) -> dict:
    record = store.subscription(services().redis, sub_id)
    if record is None or record["tenant"] != tenant:
        raise not_found(f"No webhook subscription '{sub_id}'")
    return record


@bp.post("/webhook-subscriptions")
def subscribe():
    tenant = require_tenant()
    body = load_body(SubscriptionCreate())
    unknown = [e for e in body["events"] if e not in EVENTS and e != "*"]
    if unknown:
        raise bad_request(f"events: unknown event '{unknown[0]}'; events: {', '.join(EVENTS)} or *", "events")
    svc = services()
    record, secret = store.create_subscription(svc.redis, svc.fernet, tenant, _check_url(body["url"]),
                                               body["events"])
    return {**record, "secret": secret}, 201


@bp.get("/webhook-subscriptions")
def subscriptions():
    items = [store.public_subscription(s) for s in store.subscriptions_of(services().redis, require_tenant())]
    return {"result": items, "next_cursor": None, "prev_cursor": None, "result_count": len(items)}


@bp.get("/webhook-subscriptions/<sub_id>")
def subscription(sub_id: str):
    return store.public_subscription(_owned(sub_id, require_tenant()))


@bp.delete("/webhook-subscriptions/<sub_id>")
def unsubscribe(sub_id: str):
    store.delete_subscription(services().redis, _owned(sub_id, require_tenant()))
    return "", 204


@bp.get("/webhook-subscriptions/<sub_id>/deliveries")
def delivery_log(sub_id: str):
    _owned(sub_id, require_tenant())
    items = store.deliveries(services().redis, sub_id)
    return {"result": items, "next_cursor": None, "prev_cursor": None, "result_count": len(items)}


@bp.post("/webhook-subscriptions/<sub_id>/deliveries/<delivery_id>/replay")
def replay(sub_id: str, delivery_id: str):
    _owned(sub_id, require_tenant())
    r = services().redis
    body = store.stored_body(r, sub_id, delivery_id)
    if body is None:
        raise not_found(f"No delivery '{delivery_id}' to replay (bodies are kept 7 days)")
    store.replay(r, sub_id, delivery_id, body)
    return {"id": delivery_id, "state": "queued"}, 202
