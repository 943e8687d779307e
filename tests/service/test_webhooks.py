"""Real-time events: the sandbox delivers real LiveChat webhooks to the service; workers turn them
into signed unified events for subscribers, through failures, restarts and killed workers."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.conftest import connect_pat, lc_call, new_tenant, running_service, service_overrides
from unified_ticketing.sandbox.process import start_sandbox
from unified_ticketing.worker import Worker


class Receiver:
    """A subscriber endpoint: records deliveries; `status` and `delay` script its answers."""

    def __init__(self):
        self.bodies, self.headers = [], []
        self.status, self.delay = 200, 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay)
                code = receiver.status
                if code == 200:
                    receiver.bodies.append(raw.decode())
                    receiver.headers.append(dict(self.headers))
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def events(self) -> list[dict]:
        return [json.loads(b) for b in self.bodies]

    def wait_for(self, check, timeout: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check(self.events()):
                return self.events()
            time.sleep(0.05)
        raise AssertionError(f"not delivered in time; got {[e['event'] for e in self.events()]}")


@pytest.fixture(scope="module")
def hook_sandbox():
    proc = start_sandbox("--chats", "15", "--seed", "21")
    yield proc
    proc.stop()


@pytest.fixture
def stack(hook_sandbox, redis_server_url):
    """Service (registering its receiver with the sandbox) + a worker thread + a subscriber."""
    hook_sandbox.admin("POST", "reset")
    hook_sandbox.admin("POST", "config", json={"webhook_retry_delays": [0.2, 0.2, 0.2]})
    overrides = service_overrides(hook_sandbox, redis_server_url, WEBHOOKS_REGISTER=True, WEBHOOK_BACKOFF_BASE=0.1,
                                  WEBHOOK_LOCK_SECONDS=1.5)
    with running_service(overrides) as (app, base):
        app.config["PUBLIC_URL"] = base
        client = new_tenant(base, f"hooks-{time.monotonic_ns()}")
        receiver = Receiver()
        sub = client.post("/webhook-subscriptions", json={"url": receiver.url, "events": ["*"]}).json()
        account = connect_pat(client, hook_sandbox)
        stop = threading.Event()
        worker = threading.Thread(target=Worker(app, "test-worker").run, args=(stop,), daemon=True)
        yield {"app": app, "base": base, "client": client, "receiver": receiver, "sub": sub, "account": account,
               "stop": stop, "worker": worker, "sandbox": hook_sandbox}
        stop.set()
        receiver.server.shutdown()
        receiver.server.server_close()


def customer_id(sandbox) -> str:
    return lc_call(sandbox, "list_customers", {"limit": 1}).json()["customers"][0]["id"]


def verify(secret: str, header: str, body: str) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.{body}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def test_chat_message_and_close_reach_the_subscriber_as_unified_events(stack):
    stack["worker"].start()
    sandbox, receiver = stack["sandbox"], stack["receiver"]
    shown = stack["client"].get(f"/integrated-accounts/{stack['account']}").json()
    assert shown["context"]["webhooks"].startswith("registered 5 actions")
    started = sandbox.admin("POST", "customer-messages", json={"customer_id": customer_id(sandbox),
                                                                "text": "Hello, is anyone there?"})
    events = receiver.wait_for(lambda ev: {"ticket:created", "comment:created"} <= {e["event"] for e in ev})
    created = next(e for e in events if e["event"] == "ticket:created")
    assert created["payload"]["id"] == started["chat_id"] and created["payload"]["status"] == "open"
    assert created["integrated_account_id"] == stack["account"]
    comment = next(e for e in events if e["event"] == "comment:created")
    assert comment["payload"]["body"] == "Hello, is anyone there?"
    assert comment["payload"]["author"]["type"] == "contact"
    lc_call(sandbox, "deactivate_chat", {"id": started["chat_id"]})
    events = receiver.wait_for(lambda ev: any(e["event"] == "ticket:updated" for e in ev))
    updated = next(e for e in events if e["event"] == "ticket:updated")
    assert updated["payload"]["id"] == started["chat_id"] and updated["payload"]["status"] == "closed"
    for body, headers in zip(receiver.bodies, receiver.headers, strict=True):
        assert verify(stack["sub"]["secret"], headers["X-Unified-Signature"], body)
        assert headers["X-Unified-Delivery-Id"] == json.loads(body)["id"]
    log = stack["client"].get(f"/webhook-subscriptions/{stack['sub']['id']}/deliveries").json()["result"]
    assert {d["state"] for d in log} == {"delivered"}


def test_forged_malformed_unknown_and_replayed_deliveries_emit_nothing(stack):
    app, base, account = stack["app"], stack["base"], stack["account"]
    svc = app.extensions["unified"]
    secret = svc.fernet.decrypt(svc.redis.hget(f"ut:{{acct:{account}}}:account", "webhook_secret").encode()).decode()
    url = f"{base}/webhooks/livechat/{account}"
    envelope = {"webhook_id": "w1", "secret_key": secret, "action": "incoming_event", "organization_id": "o",
                "additional_data": {}, "payload": {"chat_id": "X", "thread_id": "T", "event": {
                    "id": "T_1", "type": "message", "text": "hi", "author_id": "c", "created_at":
                    "2026-01-01T00:00:00.000000Z", "visibility": "all"}}}
    before = svc.redis.xlen("ut:wh:in")
    assert requests.post(url, json={**envelope, "secret_key": "forged"}, timeout=10).status_code == 401
    assert requests.post(url, data="{not json", headers={"Content-Type": "application/json"},
                         timeout=10).status_code == 400
    assert requests.post(f"{base}/webhooks/livechat/nope", json=envelope, timeout=10).status_code == 404
    assert requests.post(url, json={**envelope, "action": "made_up"}, timeout=10).status_code == 422
    assert svc.redis.xlen("ut:wh:in") == before  # nothing stored
    first = requests.post(url, json=envelope, timeout=10).json()
    again = requests.post(url, json=envelope, timeout=10).json()
    assert first == {"accepted": True, "duplicate": False} and again == {"accepted": False, "duplicate": True}
    stack["worker"].start()
    events = stack["receiver"].wait_for(lambda ev: any(e["event"] == "comment:created" for e in ev))
    time.sleep(0.5)
    assert [e["event"] for e in stack["receiver"].events()] == ["comment:created"]
    assert events[0]["payload"]["id"] == "T:T_1"


def test_subscriber_down_then_back_gets_every_event_in_order(stack):
    receiver, sandbox = stack["receiver"], stack["sandbox"]
    receiver.status = 503
    stack["worker"].start()
    chat = sandbox.admin("POST", "customer-messages", json={"customer_id": customer_id(sandbox), "text": "one"})
    for text in ("two", "three"):
        sandbox.admin("POST", "customer-messages", json={"chat_id": chat["chat_id"], "text": text})
    sub = stack["sub"]["id"]
    client = stack["client"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        log = client.get(f"/webhook-subscriptions/{sub}/deliveries").json()["result"]
        if log and all(d["attempts"] for d in log[:1]) and len(log[0]["attempts"]) >= 2:
            break
        time.sleep(0.1)
    assert log[0]["state"] == "retrying" and all(a["outcome"] == "HTTP 503" for a in log[0]["attempts"])
    receiver.status = 200
    events = receiver.wait_for(lambda ev: sum(e["event"] == "comment:created" for e in ev) == 3)
    comments = [e["payload"]["body"] for e in events if e["event"] == "comment:created"]
    assert comments == ["one", "two", "three"]
    assert events[0]["event"] == "ticket:created"  # per-subscription order kept
    assert len({e["id"] for e in events}) == len(events)


def test_events_survive_a_restart_and_a_killed_worker(stack, redis_server_url):
    """No worker runs while events arrive; then a worker process dies mid-delivery; the next one finishes."""
    receiver, sandbox = stack["receiver"], stack["sandbox"]
    chat = sandbox.admin("POST", "customer-messages", json={"customer_id": customer_id(sandbox), "text": "kept"})
    time.sleep(1.0)  # the sandbox has delivered; the events wait in Redis with no worker running
    receiver.delay = 30  # the first delivery hangs, and the worker handling it gets killed
    env = {**os.environ, "REDIS_URL": redis_server_url, "UNIFIED_SECRET_KEY": "test-secret",
           "UNIFIED_WEBHOOK_LOCK_SECONDS": "1.5", "LIVECHAT_API_URL": sandbox.base_url}
    proc = subprocess.Popen([sys.executable, "-m", "unified_ticketing.cli", "worker", "--threads", "1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sub = stack["sub"]["id"]
    svc = stack["app"].extensions["unified"]
    deadline = time.monotonic() + 30
    while not svc.redis.xpending(f"ut:{{sub:{sub}}}:out", "deliverers")["pending"]:
        assert time.monotonic() < deadline, "the worker never picked the delivery up"
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    receiver.delay = 0
    stack["worker"].start()
    events = receiver.wait_for(lambda ev: {"ticket:created", "comment:created"} <= {e["event"] for e in ev})
    assert any(e["payload"].get("id") == chat["chat_id"] for e in events)
    assert {e["event"] for e in events} == {"ticket:created", "comment:created"}


def test_subscriptions_are_validated_and_private_to_the_tenant(stack):
    client, base = stack["client"], stack["base"]
    assert client.post("/webhook-subscriptions", json={"url": "ftp://x", "events": ["*"]}).status_code == 400
    bad = client.post("/webhook-subscriptions", json={"url": "https://x.example/h", "events": ["ticket:eaten"]})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "events"
    listed = client.get("/webhook-subscriptions").json()["result"]
    assert [s["id"] for s in listed] == [stack["sub"]["id"]] and "secret" not in listed[0]
    other = new_tenant(base, f"other-{time.monotonic_ns()}")
    assert other.get(f"/webhook-subscriptions/{stack['sub']['id']}").status_code == 404
    assert other.delete(f"/webhook-subscriptions/{stack['sub']['id']}").status_code == 404


def test_production_refuses_private_subscriber_urls(hook_sandbox, redis_server_url):
    with running_service(service_overrides(hook_sandbox, redis_server_url, ALLOW_PRIVATE_WEBHOOKS=False)) as (_, base):
        client = new_tenant(base, "ssrf-co")
        for url in ("http://127.0.0.1:9/x", "http://10.0.0.5/x", "http://localhost/x"):
            resp = client.post("/webhook-subscriptions", json={"url": url, "events": ["*"]})
            assert resp.status_code == 400 and resp.json()["error"]["param"] == "url", url


def test_deleting_the_account_unregisters_its_webhooks(stack):
    sandbox = stack["sandbox"]
    creds = sandbox.admin("GET", "credentials")
    hooks = lc_call(sandbox, "list_webhooks", {"owner_client_id": creds["client_id"]}, api="configuration").json()
    assert len(hooks) == 5
    assert stack["client"].delete(f"/integrated-accounts/{stack['account']}").status_code == 204
    assert lc_call(sandbox, "list_webhooks", {"owner_client_id": creds["client_id"]}, api="configuration").json() == []
