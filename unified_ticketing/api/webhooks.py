"""Webhooks: the helpdesk's deliveries in (`/webhooks/<integration>` for webhooks registered per
app, routed by license; `/webhooks/<integration>/<account>` for those registered per account) and
tenants' subscriptions out (`/webhook-subscriptions`). Registering: webhook_registration.py."""
from __future__ import annotations

import logging
import secrets

from flask import Blueprint, current_app, request

from .. import observability
from ..engine.events import EVENTS
from ..errors import ApiError, bad_request, not_found
from ..schemas.requests import SubscriptionCreate
from ..state import webhooks as store
from ..urls import http_url
from .addresses import check_public
from .common import load_body, require_tenant, services, unlimited_key

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)


# --- in ---------------------------------------------------------------------------------------
def _mapping(integration: str):
    svc = services()
    mapping = svc.events.get(integration)
    if mapping is None and integration in svc.engines:
        raise ApiError(404, "not_supported", f"{svc.engines[integration].integration.title} webhooks are not mapped "
                       "to unified events (the integration has no events mapping); poll the read API instead")
    if mapping is None:
        raise not_found(f"No integration '{integration}' receives webhooks here")
    return mapping


def _delivery(mapping, expected: str | None, whose: str) -> tuple[dict, str]:
    """(body, action) of the delivery being received, once its secret matches `expected`.

    When the secret travels in a header (the mapping's secret expression finds it without a body), it is
    checked before the body is read: a forged delivery costs us its headers only."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    early = mapping.secret({}, headers=headers)
    if isinstance(early, str) and early:
        _verify(expected, early, whose)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request("Send the webhook as a JSON object", "body")
    if not (isinstance(early, str) and early):
        given = mapping.secret(body, headers=headers)
        _verify(expected, given if isinstance(given, str) else "", whose)
    action = mapping.action(body)
    if not isinstance(action, str) or action not in mapping.actions:
        raise ApiError(422, "unknown_action", f"Action '{action}' is not mapped to unified events", param="action")
    return body, action


def _verify(expected: str | None, given: str, whose: str) -> None:
    if not expected or not secrets.compare_digest(expected.encode(), given.encode()):
        raise ApiError(401, "unauthorized", f"The webhook's secret does not match the one registered for {whose}")


@bp.post("/webhooks/<integration>")
def receive_for_integration(integration: str):
    """Webhooks registered per app (`registration.scope: client`): routed by the license they name."""
    svc = services()
    mapping = _mapping(integration)
    title = svc.engines[integration].integration.title
    if not mapping.per_client:
        raise not_found(f"{title} webhooks are received per account: POST /webhooks/{integration}/<account id>")
    env_name = mapping.registration.secret_env
    expected = current_app.config["UPSTREAM_ENV"].get(env_name)
    if not expected:
        raise ApiError(503, "not_configured", f"{title} webhooks are not configured here: set {env_name}")
    body, action = _delivery(mapping, expected, f"{title} on this service ({env_name})")
    license_id = mapping.license(body)
    targets = store.routed(svc.redis, integration, license_id) if isinstance(license_id, str) and license_id else []
    if not targets:  # acknowledged, so the helpdesk does not retry it; nobody here may see it
        observability.WEBHOOKS_RECEIVED.labels(integration, "unknown_license").inc()
        log.warning("dropped a %s %s webhook: no integrated account is on license %r", integration, action,
                    license_id)
        return {"accepted": False, "duplicate": False, "accounts": 0}
    payload = mapping.payload(body)
    accepted = [store.accept(svc.redis, account_id, action, payload) for account_id in targets]
    for ok in accepted:
        observability.WEBHOOKS_RECEIVED.labels(integration, "accepted" if ok else "duplicate").inc()
    return {"accepted": any(accepted), "duplicate": not any(accepted), "accounts": len(targets)}


@bp.post("/webhooks/<integration>/<account_id>")
def receive(integration: str, account_id: str):
    """Webhooks registered per account (`registration.scope: account`)."""
    svc = services()
    mapping = _mapping(integration)
    if mapping.per_client:
        raise not_found(f"{svc.engines[integration].integration.title} webhooks are received for the whole "
                        f"integration: POST /webhooks/{integration}")
    account = svc.accounts.load(account_id)
    if account is None or account.integration != integration:
        raise not_found(f"No {integration} integrated account '{account_id}' receives webhooks here")
    body, action = _delivery(mapping, svc.accounts.webhook_secret(account), "this account")
    accepted = store.accept(svc.redis, account_id, action, mapping.payload(body))
    observability.WEBHOOKS_RECEIVED.labels(integration, "accepted" if accepted else "duplicate").inc()
    return {"accepted": accepted, "duplicate": not accepted}


# --- out --------------------------------------------------------------------------------------
def _check_url(url: str) -> str:
    if http_url(url) is None:
        raise bad_request("url must be an absolute http(s) URL with a valid host name or address and port, no "
                          "user part, spaces or backslashes", "url")
    if not current_app.config["ALLOW_PRIVATE_WEBHOOKS"]:
        check_public(url, "url", "webhooks go to public URLs")
    return url


def _owned(sub_id: str, tenant: str) -> dict:
    unlimited_key("manage webhook subscriptions (they receive every account's events)")
    record = store.subscription(services().redis, sub_id)
    if record is None or record["tenant"] != tenant:
        raise not_found(f"No webhook subscription '{sub_id}'")
    return record


@bp.post("/webhook-subscriptions")
def subscribe():
    tenant = require_tenant()
    unlimited_key("manage webhook subscriptions (they receive every account's events)")
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
    tenant = require_tenant()
    unlimited_key("manage webhook subscriptions (they receive every account's events)")
    items = [store.public_subscription(s) for s in store.subscriptions_of(services().redis, tenant)]
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
