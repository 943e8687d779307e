"""Real-time events: the sandbox delivers real LiveChat webhooks to the service; workers turn them
into signed unified events for subscribers, through failures, restarts and killed workers.
LiveChat's webhooks belong to the app's client id: one receiver, deliveries routed by license."""
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
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from helpdesk_sandboxes.process import start_sandbox
from tests.conftest import error, lc_call, new_tenant, running_service, service_overrides
from unified_ticketing.api import webhook_registration as registration
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


SECRET = "the-apps-webhook-secret"


@pytest.fixture(scope="module")
def hook_sandbox():
    """Three licenses: the first is the app developer's organization (it owns the client ids)."""
    proc = start_sandbox("--chats", "15", "--seed", "21", "--licenses", "3")
    yield proc
    proc.stop()


def app_env(sandbox) -> dict:
    """The service's environment: the app's client, its webhook secret, its developer's PAT."""
    creds = sandbox.admin("GET", "credentials")
    return {"LIVECHAT_API_URL": sandbox.base_url, "LIVECHAT_ACCOUNTS_URL": sandbox.base_url,
            "LIVECHAT_CLIENT_ID": creds["client_id"], "LIVECHAT_CLIENT_SECRET": creds["client_secret"],
            "LIVECHAT_WEBHOOK_SECRET": SECRET, "LIVECHAT_DEVELOPER_ACCOUNT_ID": creds["account_id"],
            "LIVECHAT_DEVELOPER_PAT": creds["personal_access_token"]}


def connect_oauth(client, login_hint: str | None = None, scope: str | None = None) -> str:
    """The whole browser flow (our /connect, LiveChat's authorize as the agent `login_hint`, our callback)."""
    first = client.request("GET", "/connect/livechat", params={"redirect_uri": "https://app.example/done"},
                           allow_redirects=False)
    assert first.status_code == 302, first.text
    extra = {k: v for k, v in (("login_hint", login_hint), ("scope", scope)) if v}
    authorize = first.headers["Location"] + ("&" + urlencode(extra) if extra else "")
    callback = requests.get(authorize, allow_redirects=False, verify=False, timeout=30).headers["Location"]
    done = requests.get(callback, allow_redirects=False, timeout=30)
    assert done.status_code == 302, done.text
    return parse_qs(urlsplit(done.headers["Location"]).query)["integrated_account_id"][0]


class Stack:
    """The service (its app registered with the sandbox), a worker thread, and tenants with subscribers."""

    def __init__(self, app, base: str, sandbox):
        self.app, self.base, self.sandbox = app, base, sandbox
        self.creds = sandbox.admin("GET", "credentials")
        self.receivers, self.accounts = [], []
        self.stop = threading.Event()
        self.worker = threading.Thread(target=Worker(app, "test-worker").run, args=(self.stop,), daemon=True)

    def tenant(self, license_index: int = 0):
        """(client, subscription, receiver, account id) of a new tenant connected by OAuth to a license."""
        client = new_tenant(self.base, f"hooks-{time.monotonic_ns()}")
        receiver = Receiver()
        self.receivers.append(receiver)
        sub = client.post("/webhook-subscriptions", json={"url": receiver.url, "events": ["*"]}).json()
        account = connect_oauth(client, self.creds["licenses"][license_index]["agent_id"])
        self.accounts.append((client, account))
        return client, sub, receiver, account

    def close(self):
        self.stop.set()
        for client, account in self.accounts:
            client.delete(f"/integrated-accounts/{account}")  # leave no account on the licenses' routes
        for receiver in self.receivers:
            receiver.server.shutdown()
            receiver.server.server_close()


@pytest.fixture
def stack(hook_sandbox, redis_server_url):
    """Service with the app's webhooks registered (the operator command's code) + one tenant on license 1."""
    hook_sandbox.admin("POST", "reset")
    hook_sandbox.admin("POST", "config", json={"webhook_retry_delays": [0.2, 0.2, 0.2]})
    overrides = service_overrides(hook_sandbox, redis_server_url, WEBHOOKS_REGISTER=True, WEBHOOK_BACKOFF_BASE=0.1,
                                  WEBHOOK_LOCK_SECONDS=1.5, UPSTREAM_ENV=app_env(hook_sandbox))
    with running_service(overrides) as (app, base):
        app.config["PUBLIC_URL"] = base
        svc = app.extensions["unified"]
        registration.Registrar.of(app).register(svc.engines["livechat"], svc.events["livechat"])
        stack = Stack(app, base, hook_sandbox)
        client, sub, receiver, account = stack.tenant()
        yield {"app": app, "base": base, "client": client, "receiver": receiver, "sub": sub, "account": account,
               "stop": stack.stop, "worker": stack.worker, "sandbox": hook_sandbox, "stack": stack}
        stack.close()


def customer_id(sandbox, auth: str | None = None) -> str:
    return lc_call(sandbox, "list_customers", {"limit": 1}, auth=auth).json()["customers"][0]["id"]


def start_chat(sandbox, lic: dict) -> str:
    """A chat started on a license by its owner (the Agent Chat API); its id."""
    auth = lic["basic_authorization"]
    resp = lc_call(sandbox, "start_chat", {"chat": {"users": [{"id": customer_id(sandbox, auth), "type": "customer"}]}},
                   auth=auth)
    assert resp.status_code == 200, resp.text
    return resp.json()["chat_id"]


def verify(secret: str, header: str, body: str) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.{body}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def created_ids(receiver: Receiver) -> set[str]:
    return {e["payload"]["id"] for e in receiver.events() if e["event"] == "ticket:created"}


def test_chat_message_and_close_reach_the_subscriber_as_unified_events(stack):
    stack["worker"].start()
    sandbox, receiver = stack["sandbox"], stack["receiver"]
    shown = stack["client"].get(f"/integrated-accounts/{stack['account']}").json()
    license_id = stack["stack"].creds["organization_id"]
    assert shown["context"]["license"] == license_id
    assert shown["context"]["webhooks"] == f"enabled for license {license_id}: events arrive at " \
        f"{stack['base']}/webhooks/livechat"
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


def test_two_tenants_on_two_licenses_each_receive_only_their_own_chats(stack):
    """Tenant A's subscribers never see tenant B's chats, and the other way round."""
    _, _, other_receiver, other_account = stack["stack"].tenant(license_index=1)
    stack["worker"].start()
    lic = stack["stack"].creds["licenses"]
    mine, theirs = start_chat(stack["sandbox"], lic[0]), start_chat(stack["sandbox"], lic[1])
    stack["receiver"].wait_for(lambda ev: mine in {e["payload"].get("id") for e in ev})
    other_receiver.wait_for(lambda ev: theirs in {e["payload"].get("id") for e in ev})
    time.sleep(1.0)  # anything misrouted has arrived by now
    assert created_ids(stack["receiver"]) == {mine} and created_ids(other_receiver) == {theirs}
    assert {e["integrated_account_id"] for e in stack["receiver"].events()} == {stack["account"]}
    assert {e["integrated_account_id"] for e in other_receiver.events()} == {other_account}


def test_two_tenants_on_one_license_both_receive_its_chats(stack):
    one = stack["stack"].tenant(license_index=2)
    two = stack["stack"].tenant(license_index=2)
    stack["worker"].start()
    chat = start_chat(stack["sandbox"], stack["stack"].creds["licenses"][2])
    for _, _, receiver, account in (one, two):
        events = receiver.wait_for(lambda ev: chat in {e["payload"].get("id") for e in ev})
        assert {e["integrated_account_id"] for e in events} == {account}
    time.sleep(0.5)
    assert created_ids(stack["receiver"]) == set()  # the tenant on license 1 gets none of it


def delivery(organization_id: str, secret: str = SECRET, **changes) -> dict:
    return {"webhook_id": "w1", "secret_key": secret, "action": "incoming_event", "organization_id": organization_id,
            "additional_data": {}, "payload": {"chat_id": "X", "thread_id": "T", "event": {
                "id": "T_1", "type": "message", "text": "hi", "author_id": "c", "created_at":
                "2026-01-01T00:00:00.000000Z", "visibility": "all"}}, **changes}


def test_forged_malformed_unknown_and_replayed_deliveries_emit_nothing(stack):
    app, base, account = stack["app"], stack["base"], stack["account"]
    svc = app.extensions["unified"]
    url = f"{base}/webhooks/livechat"
    envelope = delivery(stack["stack"].creds["organization_id"])
    before = svc.redis.xlen("ut:wh:in")
    forged = requests.post(url, json={**envelope, "secret_key": "forged"}, timeout=10)
    assert forged.status_code == 401 and forged.json()["error"]["type"] == "unauthorized"
    assert requests.post(url, json={k: v for k, v in envelope.items() if k != "secret_key"},
                         timeout=10).status_code == 401
    assert requests.post(url, data="{not json", headers={"Content-Type": "application/json"},
                         timeout=10).status_code == 400
    per_account = requests.post(f"{url}/{account}", json=envelope, timeout=10)
    assert per_account.status_code == 404 and "/webhooks/livechat" in per_account.json()["error"]["message"]
    assert requests.post(url, json={**envelope, "action": "made_up"}, timeout=10).status_code == 422
    assert requests.post(url, json={**envelope, "action": ["incoming_event"]}, timeout=10).status_code == 422
    assert svc.redis.xlen("ut:wh:in") == before  # nothing stored
    first = requests.post(url, json=envelope, timeout=10).json()
    again = requests.post(url, json=envelope, timeout=10).json()
    assert first == {"accepted": True, "duplicate": False, "accounts": 1}
    assert again == {"accepted": False, "duplicate": True, "accounts": 1}
    stack["worker"].start()
    events = stack["receiver"].wait_for(lambda ev: any(e["event"] == "comment:created" for e in ev))
    time.sleep(0.5)
    assert [e["event"] for e in stack["receiver"].events()] == ["comment:created"]
    assert events[0]["payload"]["id"] == "T:T_1"


def unknown_license_count(base: str) -> float:
    text = requests.get(f"{base}/metrics", timeout=10).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "unified_webhooks_received_total" and s.labels.get("outcome") == "unknown_license"
               and s.labels.get("integration") == "livechat")


def test_a_delivery_for_an_unknown_organization_is_acknowledged_dropped_and_counted(stack):
    svc = stack["app"].extensions["unified"]
    before, counted = svc.redis.xlen("ut:wh:in"), unknown_license_count(stack["base"])
    resp = requests.post(f"{stack['base']}/webhooks/livechat", json=delivery("0b5e55ed-0000-4000-8000-000000000000"),
                         timeout=10)
    assert resp.status_code == 200  # acknowledged: LiveChat does not retry it
    assert resp.json() == {"accepted": False, "duplicate": False, "accounts": 0}
    assert svc.redis.xlen("ut:wh:in") == before
    assert unknown_license_count(stack["base"]) == counted + 1


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
    try:
        while not svc.redis.xpending(f"ut:{{sub:{sub}}}:out", "deliverers")["pending"]:
            assert time.monotonic() < deadline, "the worker never picked the delivery up"
            time.sleep(0.05)
        time.sleep(0.3)
    finally:  # killed mid-delivery, or left by a failed check: never left running
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


def license_state(stack, index: int) -> bool:
    lic = stack["stack"].creds["licenses"][index]
    resp = lc_call(stack["sandbox"], "get_license_webhooks_state", {"owner_client_id": stack["stack"].creds[
        "client_id"]}, auth=lic["basic_authorization"], api="configuration")
    return resp.json()["license_webhooks_enabled"]


def test_a_license_is_disabled_only_when_its_last_account_goes(stack):
    one = stack["stack"].tenant(license_index=1)
    two = stack["stack"].tenant(license_index=1)
    assert license_state(stack, 1) is True  # connecting enabled the app's webhooks on the license
    hooks = lc_call(stack["sandbox"], "list_webhooks", {"owner_client_id": stack["stack"].creds["client_id"]},
                    api="configuration").json()
    assert sorted(h["action"] for h in hooks) == ["chat_deactivated", "event_deleted", "incoming_chat",
                                                  "incoming_event", "thread_tagged"]  # one for every account
    assert one[0].delete(f"/integrated-accounts/{one[3]}").status_code == 204
    assert license_state(stack, 1) is True  # the other account on the license still gets its events
    assert two[0].delete(f"/integrated-accounts/{two[3]}").status_code == 204
    assert license_state(stack, 1) is False
    assert license_state(stack, 0) is True  # the first tenant's license is left alone
    assert len(lc_call(stack["sandbox"], "list_webhooks", {"owner_client_id": stack["stack"].creds["client_id"]},
                       api="configuration").json()) == 5


def test_an_account_that_cannot_enable_webhooks_says_why_and_how_to_fix_it(stack):
    client = new_tenant(stack["base"], f"narrow-{time.monotonic_ns()}")
    account = connect_oauth(client, stack["stack"].creds["licenses"][2]["agent_id"],
                            scope="chats--all:rw customers:ro agents--all:ro accounts--my:ro")
    stack["stack"].accounts.append((client, account))
    note = client.get(f"/integrated-accounts/{account}").json()["context"]["webhooks"]
    assert note.startswith("not enabled for license") and "webhooks.state:rw" in note
    assert f"unified-ticketing webhooks sync {account}" in note
    assert license_state(stack, 2) is False


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "unified_ticketing.cli", "webhooks", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_operator_command_registers_once_per_client_id(hook_sandbox, redis_server_url):
    hook_sandbox.admin("POST", "reset")
    creds = hook_sandbox.admin("GET", "credentials")
    env = {**os.environ, **app_env(hook_sandbox), "REDIS_URL": redis_server_url, "UNIFIED_SECRET_KEY": "test-secret",
           "UNIFIED_PUBLIC_URL": "https://hooks.example.com"}
    missing = cli({k: v for k, v in env.items() if k != "LIVECHAT_DEVELOPER_PAT"}, "register")
    assert missing.returncode == 1 and "LIVECHAT_DEVELOPER_PAT" in missing.stderr
    for _ in range(2):  # again: the older registrations are replaced, never piled up
        done = cli(env, "register", "--integration", "livechat")
        assert done.returncode == 0, done.stderr
        assert "registered 5 actions" in done.stdout and "https://hooks.example.com/webhooks/livechat" in done.stdout
    hooks = lc_call(hook_sandbox, "list_webhooks", {"owner_client_id": creds["client_id"]}, api="configuration").json()
    assert sorted(h["action"] for h in hooks) == ["chat_deactivated", "event_deleted", "incoming_chat",
                                                  "incoming_event", "thread_tagged"]
    assert {h["url"] for h in hooks} == {"https://hooks.example.com/webhooks/livechat"}
    listed = cli(env, "list")
    assert listed.returncode == 0 and listed.stdout.count("(this service)") == 5
    assert cli(env, "register", "--integration", "rocketchat").returncode == 2  # registered per account there
    gone = cli(env, "unregister")
    assert gone.returncode == 0 and "unregistered 5" in gone.stdout
    assert lc_call(hook_sandbox, "list_webhooks", {"owner_client_id": creds["client_id"]},
                   api="configuration").json() == []


def test_the_operator_command_reports_livechats_per_action_limit(hook_sandbox, redis_server_url):
    hook_sandbox.admin("POST", "reset")
    creds = hook_sandbox.admin("GET", "credentials")
    for i in range(3):  # another deployment of the same app already uses the three incoming_chat webhooks
        lc_call(hook_sandbox, "register_webhook", {"action": "incoming_chat", "secret_key": "s", "type": "license",
                                                   "url": f"https://other{i}.example.com/h",
                                                   "owner_client_id": creds["client_id"]}, api="configuration")
    env = {**os.environ, **app_env(hook_sandbox), "REDIS_URL": redis_server_url, "UNIFIED_SECRET_KEY": "test-secret",
           "UNIFIED_PUBLIC_URL": "https://hooks.example.com"}
    done = cli(env, "register")
    assert done.returncode == 1 and "limit_reached" in done.stderr


def test_webhooks_sync_enables_an_accounts_license_again(stack, redis_server_url):
    creds = stack["stack"].creds
    assert lc_call(stack["sandbox"], "disable_license_webhooks", {"owner_client_id": creds["client_id"]},
                   api="configuration").status_code == 200  # someone turned them off on the license
    assert license_state(stack, 0) is False
    env = {**os.environ, **app_env(stack["sandbox"]), "REDIS_URL": redis_server_url,
           "UNIFIED_SECRET_KEY": "test-secret", "UNIFIED_PUBLIC_URL": stack["base"]}
    done = cli(env, "sync", stack["account"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"enabled for license {creds['organization_id']}")
    assert license_state(stack, 0) is True


def test_registering_routes_accounts_connected_before_it(stack, redis_server_url):
    """An account stored before deliveries were routed by license gets its chats once the operator registers."""
    svc = stack["app"].extensions["unified"]
    license_id = stack["stack"].creds["organization_id"]
    svc.redis.delete(f"ut:wh:license:{{livechat:{license_id}}}")  # as an older version of the service left it
    stack["worker"].start()
    dropped = start_chat(stack["sandbox"], stack["stack"].creds["licenses"][0])
    env = {**os.environ, **app_env(stack["sandbox"]), "REDIS_URL": redis_server_url,
           "UNIFIED_SECRET_KEY": "test-secret", "UNIFIED_PUBLIC_URL": stack["base"]}
    done = cli(env, "register")
    assert done.returncode == 0 and "replaced 5 older registrations" in done.stdout, done.stderr
    routed = start_chat(stack["sandbox"], stack["stack"].creds["licenses"][0])
    stack["receiver"].wait_for(lambda ev: routed in {e["payload"].get("id") for e in ev})
    assert created_ids(stack["receiver"]) == {routed} and dropped != routed


def test_each_receiver_says_where_its_webhooks_go_and_what_is_missing(service):
    """`service` has no LIVECHAT_WEBHOOK_SECRET; Rocket.Chat's webhooks are per account."""
    unconfigured = error(requests.post(f"{service}/webhooks/livechat", json=delivery("x"), timeout=10), 503)
    assert "LIVECHAT_WEBHOOK_SECRET" in unconfigured["message"]
    per_account = error(requests.post(f"{service}/webhooks/rocketchat", json={"type": "Message"}, timeout=10), 404)
    assert "/webhooks/rocketchat/<account id>" in per_account["message"]
    assert error(requests.post(f"{service}/webhooks/nope", json={}, timeout=10), 404)
