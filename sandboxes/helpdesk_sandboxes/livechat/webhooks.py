"""Webhook delivery: registered and license-enabled webhooks get the documented envelope
`{webhook_id, secret_key, action, organization_id, payload, additional_data}`.

Webhooks belong to a Client ID, not to a license; a license receives them only once it enabled
that client's webhooks, and each delivery names the license it is about by `organization_id`
(docs: src/pages/management/configuration-api/index.mdx, "Webhooks" and "Enable License
Webhooks"; the general webhook format there). So one URL registered for a client gets the
events of every license that enabled it: the receiver must route by `organization_id`.

LiveChat's retry policy: a delivery answered with anything but 200 (or not answered within the
timeout) is retried, by default 3 more times within about a minute, then dropped.

Payloads are snapshots: inside `batch()` (one API call) they are copied when the call ends, so an
`incoming_chat` carries the events the chat was started with, and later writes do not leak into
deliveries still queued or being retried.
"""
from __future__ import annotations

import copy
import logging
import threading
from contextlib import contextmanager

import requests

from ..deliveries import DeliveryQueue

log = logging.getLogger("livechat-sandbox.webhooks")
ACTIONS = ("incoming_chat", "incoming_event", "chat_deactivated", "thread_tagged", "thread_untagged",
           "chat_transferred", "incoming_customer", "customer_session_fields_updated", "event_properties_updated",
           "event_deleted")


class Dispatcher:
    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.deliveries = DeliveryQueue(self._deliver, "webhook-dispatcher")
        self.session = requests.Session()
        self.local = threading.local()
        self.reset()

    def reset(self) -> None:
        """Forget webhooks and queued deliveries; a delivery in flight neither retries nor counts."""
        self.webhooks: dict[str, dict] = {}
        self.enabled: set[tuple[str, str]] = set()  # (owner_client_id, organization_id) pairs
        self.deliveries.reset()

    # --- producing ----------------------------------------------------------------------------
    @contextmanager
    def batch(self, store=None):
        """Hold this thread's emits (about `store`'s license; default the first) until the block
        ends, then snapshot and queue them in order."""
        if getattr(self.local, "pending", None) is not None:
            yield
            return
        self.local.pending, self.local.store = [], store
        try:
            yield
        finally:
            pending, self.local.pending, self.local.store = self.local.pending, None, None
            for args in pending:
                self._emit_now(*args)

    def emit(self, action: str, payload: dict, author_type: str | None = None) -> None:
        """Queue a delivery of `action` to every matching webhook whose owner this license enabled."""
        store = getattr(self.local, "store", None) or self.sandbox.store
        pending = getattr(self.local, "pending", None)
        if pending is not None:
            pending.append((action, payload, author_type, store))
        else:
            self._emit_now(action, payload, author_type, store)

    def _emit_now(self, action: str, payload: dict, author_type: str | None, store) -> None:
        with store.lock:
            hooks = [h for h in self.webhooks.values() if h["action"] == action
                     and (h["owner_client_id"], store.organization_id) in self.enabled]
            if not hooks:
                return
            payload = copy.deepcopy(payload)
            for hook in hooks:
                wanted = (hook.get("filters") or {}).get("author_type")
                if wanted and author_type and wanted != author_type:
                    continue
                envelope = {
                    "webhook_id": hook["id"], "secret_key": hook["secret_key"], "action": action,
                    "organization_id": store.organization_id, "payload": payload,
                    "additional_data": self._additional_data(store, hook, payload),
                }
                self.deliveries.schedule(0, (hook["url"], envelope))

    def _additional_data(self, store, hook: dict, payload: dict) -> dict:
        """What the webhook asked for with `additional_data` at registration, for the chat concerned."""
        wanted = hook.get("additional_data") or []
        chat_id = payload.get("chat_id") or (payload.get("chat") or {}).get("id")
        chat = store.chats.get(chat_id) if isinstance(chat_id, str) else None
        out = {}
        if chat is None:
            return out
        if "chat_properties" in wanted:
            out["chat_properties"] = copy.deepcopy(chat.properties)
        if "chat_presence_user_ids" in wanted:
            out["chat_presence_user_ids"] = [u["id"] for u in store.chat_users(chat) if u["present"]]
        return out

    # --- delivering ---------------------------------------------------------------------------
    def start(self) -> None:
        self.deliveries.start()

    def stop(self) -> None:
        self.deliveries.stop()

    def _deliver(self, item: tuple[str, dict], attempt: int, generation: int) -> None:
        url, envelope = item
        knobs, stats = self.sandbox.knobs, self.sandbox.stats
        try:
            ok = self.session.post(url, json=envelope, timeout=knobs.webhook_timeout).status_code == 200
        except requests.RequestException as exc:
            log.info("webhook %s to %s failed: %s", envelope["action"], url, exc)
            ok = False
        if not self.deliveries.current(generation):  # the sandbox was reset meanwhile
            return
        if ok:
            stats.bump("webhook_deliveries", "delivered")
            return
        stats.bump("webhook_deliveries", "failed_attempt")
        delays = knobs.webhook_retry_delays
        if attempt < len(delays):
            self.deliveries.schedule(delays[attempt], item, attempt + 1, generation)
        else:
            stats.bump("webhook_deliveries", "dropped")
