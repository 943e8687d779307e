"""`unified-ticketing worker`: turns stored upstream webhooks into unified events and delivers them
to tenants' subscriptions (signed, retried with backoff for up to 24 h, then dead-lettered)."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
import threading
import time

import requests
import structlog

from . import observability
from .engine.executor import Options
from .errors import ApiError
from .netguard import GuardedAdapter
from .state import webhooks as store

log = logging.getLogger(__name__)


def sign(secret: str, timestamp: int, body: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class Worker:
    def __init__(self, app, name: str | None = None):
        self.app = app
        self.svc = app.extensions["unified"]
        self.r = self.svc.redis
        self.name = name or f"worker-{secrets.token_hex(4)}"
        self.http = requests.Session()
        cfg = app.config
        if not cfg["ALLOW_PRIVATE_WEBHOOKS"]:  # a subscriber URL resolved again at delivery: public only
            for scheme in ("http://", "https://"):
                self.http.mount(scheme, GuardedAdapter())
        self.backoff = cfg["WEBHOOK_BACKOFF_BASE"]
        self.max_age = cfg["WEBHOOK_MAX_AGE"]
        self.timeout = cfg["WEBHOOK_TIMEOUT"]
        self.lock_ms = int(cfg["WEBHOOK_LOCK_SECONDS"] * 1000)
        store.ensure_groups(self.r)

    # --- inbound → unified events -------------------------------------------------------------
    def process_inbound(self, block_ms: int = 500) -> int:
        """Turn stored helpdesk webhooks into queued events. One that cannot be processed now (its helpdesk
        is down, say) is put back with backoff, so it never holds up the others; after WEBHOOK_MAX_AGE it
        is given up on (kept in the inbound dead-letter stream)."""
        entries = store.read_inbound(self.r, self.name, block_ms=block_ms,
                                     claim_idle_ms=int(self.app.config["WEBHOOK_LOCK_SECONDS"] * 1000))
        failing: dict[str, str] = {}  # account -> why its last entry failed, in this batch
        for entry_id, fields in entries:
            with structlog.contextvars.bound_contextvars(request_id=f"webhook-{entry_id}"):
                why = failing.get(fields["account"]) or self._try_fan_out(entry_id, fields)
                if why is not None:
                    failing[fields["account"]] = why
                    self._retry_later(entry_id, fields, why)
                    continue
            store.ack_inbound(self.r, entry_id)
            observability.WEBHOOK_PROCESSING_LAG.observe(max(0.0, time.time() - store.first_seen(entry_id, fields)))
        return len(entries)

    def _try_fan_out(self, entry_id: str, fields: dict) -> str | None:
        """None when the entry was processed, else why not."""
        try:
            self._fan_out(fields)
        except ApiError as err:  # the record could not be read back
            return err.message
        except Exception as exc:  # noqa: BLE001 - one bad entry must not stop the others
            log.exception("webhook %s failed", entry_id)
            return f"{type(exc).__name__}: {exc}"
        return None

    def _retry_later(self, entry_id: str, fields: dict, why: str) -> None:
        tried = store.tries(fields) + 1
        if time.time() - store.first_seen(entry_id, fields) > self.max_age:
            log.error("webhook %s given up after %s tries: %s", entry_id, tried, why)
            store.give_up_inbound(self.r, entry_id, fields, why)
            observability.WEBHOOK_INBOUND_RETRIES.labels("given_up").inc()
            return
        wait = self.wait(tried)
        store.defer_inbound(self.r, entry_id, fields, wait)
        log.warning("webhook %s not processed yet (try %s), again in %.1f s: %s", entry_id, tried, wait, why)
        observability.WEBHOOK_INBOUND_RETRIES.labels("deferred").inc()

    def wait(self, attempt: int) -> float:
        """Seconds before try `attempt + 1`: doubling from WEBHOOK_BACKOFF_BASE, at most an hour, jittered."""
        return min(3600.0, self.backoff * 2 ** (attempt - 1)) * random.uniform(1, 1.25)

    def _fan_out(self, fields: dict) -> None:
        account = self.svc.accounts.load(fields["account"])
        if account is None:
            return  # the account was deleted since
        engine = self.svc.engine_for(account)
        mapping = self.svc.events.get(account.integration)
        envelope = {"action": fields["action"], "payload": json.loads(fields["payload"])}
        subs = store.subscriptions_of(self.r, account.tenant)
        for rule in mapping.actions.get(fields["action"], []) if mapping else []:
            if rule.when is not None and not rule.when(envelope):
                continue
            if rule.item is not None:
                raw = rule.item(envelope)
                op = engine.operation(rule.resource, "get", account.version)
                bindings = {"id": None, "version": account.version,
                            "base_url": engine.upstream.base_url_for(account.credentials)}
                unified = {**engine._record(op, raw, bindings),
                           "remote_data": op.remote_data(raw) if op.remote_data else raw}
            else:
                unified = engine.get(account, rule.resource, str(rule.fetch(envelope)), Options())
            delivery_id = hashlib.sha256(f"{fields['key']}:{rule.event}".encode()).hexdigest()[:32]
            body = json.dumps({"id": delivery_id, "event": rule.event, "integrated_account_id": account.id,
                               "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                               "payload": unified}, separators=(",", ":"))
            for sub in subs:
                wanted = json.loads(sub["events"])
                if rule.event in wanted or "*" in wanted:
                    store.store_body(self.r, sub["id"], delivery_id, body)
                    store.enqueue(self.r, sub["id"], delivery_id, body)

    # --- delivery -----------------------------------------------------------------------------
    def deliver_due(self) -> int:
        sent = 0
        for sub_id in store.due_subscriptions(self.r):
            if not store.hold(self.r, sub_id, self.name, self.lock_ms):
                continue
            try:
                sent += self._deliver_head(sub_id)
            finally:
                store.release(self.r, sub_id, self.name)
        return sent

    def _deliver_head(self, sub_id: str) -> int:
        sub = store.subscription(self.r, sub_id)
        if sub is None:
            store.unschedule(self.r, sub_id)
            return 0
        entry = store.next_entry(self.r, sub_id, self.name)
        if entry is None:
            store.schedule(self.r, sub_id, time.time() + 5)  # idle: look again now and then
            return 0
        entry_id, fields = entry
        delivery_id, body = fields["id"], fields["body"]
        state = store.read_log(self.r, sub_id, delivery_id) or {"state": "pending", "attempts": []}
        ts = int(time.time())
        try:
            resp = self.http.post(sub["url"], data=body, timeout=self.timeout, allow_redirects=False, headers={
                "Content-Type": "application/json", "X-Unified-Delivery-Id": delivery_id,
                "X-Unified-Signature": sign(store.subscription_secret(self.svc.fernet, sub), ts, body)})
            ok, outcome = 200 <= resp.status_code < 300, f"HTTP {resp.status_code}"
        except requests.RequestException as exc:
            ok, outcome = False, type(exc).__name__
        state["attempts"].append({"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)), "outcome": outcome})
        if ok:
            state["state"] = "delivered"
            observability.WEBHOOK_DELIVERY_LAG.observe(max(0.0, time.time() - float(fields["first"])))
            store.done(self.r, sub_id, entry_id)
            store.schedule(self.r, sub_id, 0)
        elif time.time() - float(fields["first"]) > self.max_age:
            state["state"] = "dead"
            store.dead_letter(self.r, sub_id, {"id": delivery_id, "body": body})
            store.done(self.r, sub_id, entry_id)
            store.schedule(self.r, sub_id, 0)
        else:
            wait = self.wait(len(state["attempts"]))
            state["state"] = "retrying"
            state["next_attempt_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + wait))
            store.schedule(self.r, sub_id, time.time() + wait)
        store.log(self.r, sub_id, delivery_id, state)
        observability.WEBHOOK_DELIVERIES.labels(state["state"]).inc()
        return int(ok)

    # --- loop -------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        log.info("%s started", self.name)
        while not stop.is_set():
            try:
                self.process_inbound(block_ms=200)
                self.deliver_due()
            except Exception:
                log.exception("worker loop error; continuing")
                time.sleep(1)


def start(app, name: str, threads: int = 1) -> tuple[threading.Event, list[threading.Thread]]:
    """`threads` workers on `app` in daemon threads (greenlets under gevent): (the event that stops them, threads).
    Any number of them, in one process or many, deliver each event once (consumer groups, per-subscription holds)."""
    stop = threading.Event()
    running = [threading.Thread(target=Worker(app, f"{name}-{i}").run, args=(stop,), daemon=True)
               for i in range(threads)]
    for thread in running:
        thread.start()
    return stop, running
