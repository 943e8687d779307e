"""Webhook delivery: registered and license-enabled webhooks get the documented envelope
`{webhook_id, secret_key, action, organization_id, payload, additional_data}`.

LiveChat's retry policy: a delivery answered with anything but 200 (or not answered within the
timeout) is retried, by default 3 more times within about a minute, then dropped.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time

import requests

log = logging.getLogger("livechat-sandbox.webhooks")
ACTIONS = ("incoming_chat", "incoming_event", "chat_deactivated", "thread_tagged", "thread_untagged",
           "chat_transferred", "incoming_customer", "customer_session_fields_updated", "event_properties_updated")


class Dispatcher:
    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.cond = threading.Condition()
        self.queue: list = []
        self.seq = itertools.count()
        self.thread: threading.Thread | None = None
        self.stopping = False
        self.session = requests.Session()
        self.reset()

    def reset(self) -> None:
        self.webhooks: dict[str, dict] = {}
        self.enabled: set[str] = set()
        with self.cond:
            self.queue.clear()

    # --- producing ----------------------------------------------------------------------------
    def emit(self, action: str, payload: dict, author_type: str | None = None) -> None:
        """Queue a delivery of `action` to every matching webhook whose owner enabled license webhooks."""
        for hook in list(self.webhooks.values()):
            if hook["action"] != action or hook["owner_client_id"] not in self.enabled:
                continue
            wanted = (hook.get("filters") or {}).get("author_type")
            if wanted and author_type and wanted != author_type:
                continue
            envelope = {
                "webhook_id": hook["id"], "secret_key": hook["secret_key"], "action": action,
                "organization_id": self.sandbox.store.organization_id, "payload": payload,
                "additional_data": {},
            }
            self._schedule(time.monotonic(), hook["url"], envelope, attempt=0)

    def _schedule(self, due: float, url: str, envelope: dict, attempt: int) -> None:
        with self.cond:
            heapq.heappush(self.queue, (due, next(self.seq), url, envelope, attempt))
            self.cond.notify()

    # --- delivering ---------------------------------------------------------------------------
    def start(self) -> None:
        if self.thread is None:
            self.stopping = False
            self.thread = threading.Thread(target=self._run, name="webhook-dispatcher", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.stopping and (not self.queue or self.queue[0][0] > time.monotonic()):
                    self.cond.wait(timeout=(self.queue[0][0] - time.monotonic()) if self.queue else None)
                if self.stopping:
                    return
                _, _, url, envelope, attempt = heapq.heappop(self.queue)
            self._deliver(url, envelope, attempt)

    def _deliver(self, url: str, envelope: dict, attempt: int) -> None:
        knobs, stats = self.sandbox.knobs, self.sandbox.stats
        try:
            ok = self.session.post(url, json=envelope, timeout=knobs.webhook_timeout).status_code == 200
        except requests.RequestException as exc:
            log.info("webhook %s to %s failed: %s", envelope["action"], url, exc)
            ok = False
        if ok:
            stats.bump("webhook_deliveries", "delivered")
            return
        stats.bump("webhook_deliveries", "failed_attempt")
        delays = knobs.webhook_retry_delays
        if attempt < len(delays):
            self._schedule(time.monotonic() + delays[attempt], url, envelope, attempt + 1)
        else:
            stats.bump("webhook_deliveries", "dropped")
