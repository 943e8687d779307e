"""License webhooks: registration, enabling, the delivery envelope and payloads, and the retry policy."""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import lc_call as _lc_call

_AUTH: dict[str, str] = {}


def lc_call(sb, method: str, body: dict | None = None, auth: str | None = None, **kw):
    """`conftest.lc_call` with the seeded PAT looked up once per sandbox (a reset keeps it: same seed)."""
    if auth is None:
        auth = _AUTH.get(sb.base_url) or _AUTH.setdefault(
            sb.base_url, sb.admin("GET", "credentials")["basic_authorization"])
    return _lc_call(sb, method, body, auth=auth, **kw)

SECRET = "sandbox-webhook-secret"


class Receiver:
    """A local HTTP endpoint that records every JSON body posted to it and answers from a status script."""

    def __init__(self):
        self.bodies: list[dict] = []
        self.statuses: list[int] = []  # answered in order; 200 once the script runs out
        self.always: int | None = None
        self.hold: threading.Event | None = None  # when set, requests wait for it before answering
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.bodies.append(json.loads(raw))
                    if receiver.always is not None:
                        status = receiver.always
                    else:
                        status = receiver.statuses.pop(0) if receiver.statuses else 200
                    hold = receiver.hold
                if hold is not None:
                    hold.wait(10)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/livechat"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def received(self, action: str | None = None) -> list[dict]:
        with self.lock:
            return [b for b in self.bodies if action is None or b.get("action") == action]

    def wait_for(self, count: int, action: str | None = None, limit: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + limit
        while len(self.received(action)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received(action)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def creds(fresh_sandbox):
    return fresh_sandbox.admin("GET", "credentials")


def config_call(sb, method: str, body: dict | None = None):
    return lc_call(sb, method, body, api="configuration")


def register(sb, creds, action: str, url: str, **extra) -> str:
    resp = config_call(sb, "register_webhook", {"action": action, "secret_key": SECRET, "url": url,
                                                "owner_client_id": creds["client_id"], "type": "license", **extra})
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def enable(sb, creds) -> None:
    resp = config_call(sb, "enable_license_webhooks", {"owner_client_id": creds["client_id"]})
    assert resp.status_code == 200, resp.text


def a_customer(sb) -> str:
    return lc_call(sb, "list_customers", {"limit": 1}).json()["customers"][0]["id"]


def start_chat(sb, customer_id: str, text: str | None = None) -> dict:
    chat = {"users": [{"id": customer_id, "type": "customer"}]}
    if text:
        chat["thread"] = {"events": [{"type": "message", "text": text, "visibility": "all"}]}
    resp = lc_call(sb, "start_chat", {"chat": chat})
    assert resp.status_code == 200, resp.text
    return resp.json()


def a_tag(sb) -> str:
    return config_call(sb, "list_tags").json()[0]["name"]


def wait_stats(sb, expected: dict, limit: float = 10.0) -> dict:
    """Poll the delivery statistics until they equal `expected` (or the time runs out); return the last."""
    deadline = time.monotonic() + limit
    while True:
        stats = sb.admin("GET", "stats")["webhook_deliveries"]
        if stats == expected or time.monotonic() > deadline:
            return stats
        time.sleep(0.05)


def sentinel(sb, creds, url: str, action: str = "incoming_chat") -> str:
    """A webhook of another, enabled client: deliveries are sent one at a time in the order they were
    queued, so once the sentinel's delivery for an action arrives, any delivery queued before it has too."""
    resp = config_call(sb, "register_webhook", {"action": action, "secret_key": SECRET, "url": url,
                                                "owner_client_id": creds["server_client_id"], "type": "license"})
    assert resp.status_code == 200, resp.text
    assert config_call(sb, "enable_license_webhooks", {"owner_client_id": creds["server_client_id"]}).status_code \
        == 200
    return resp.json()["id"]


def by_hook(receiver: Receiver, hook_id: str) -> list[dict]:
    return [b for b in receiver.received() if b["webhook_id"] == hook_id]


def wait_hook(receiver: Receiver, hook_id: str, count: int, limit: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + limit
    while len(by_hook(receiver, hook_id)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return by_hook(receiver, hook_id)


def assert_envelope(body: dict, creds: dict, hook_id: str, action: str) -> dict:
    assert set(body) == {"webhook_id", "secret_key", "action", "organization_id", "payload", "additional_data"}
    assert body["webhook_id"] == hook_id
    assert body["secret_key"] == SECRET
    assert body["action"] == action
    assert body["organization_id"] == creds["organization_id"]
    assert isinstance(body["additional_data"], dict)
    return body["payload"]


# --- deliveries and payloads -------------------------------------------------------------------------------
def test_chat_lifecycle_is_delivered_with_documented_envelope(fresh_sandbox, creds, receiver):
    sb = fresh_sandbox
    hooks = {a: register(sb, creds, a, receiver.url)
             for a in ("incoming_chat", "incoming_event", "chat_deactivated", "thread_tagged")}
    enable(sb, creds)
    customer_id = a_customer(sb)

    started = start_chat(sb, customer_id)
    [body] = receiver.wait_for(1, "incoming_chat")
    chat = assert_envelope(body, creds, hooks["incoming_chat"], "incoming_chat")["chat"]
    assert set(body["payload"]) <= {"chat", "transferred_from"}
    assert chat["id"] == started["chat_id"]
    assert chat["thread"]["id"] == started["thread_id"]
    assert chat["thread"]["active"] is True
    assert {"id": customer_id, "type": "customer"}.items() <= chat["users"][0].items()
    assert creds["agent_id"] in [u["id"] for u in chat["users"] if u["type"] == "agent"]
    assert {"properties", "access"} <= set(chat)

    sent = lc_call(sb, "send_event", {"chat_id": started["chat_id"],
                                      "event": {"type": "message", "text": "Hello from the agent",
                                                "visibility": "all"}}).json()
    [body] = receiver.wait_for(1, "incoming_event")
    payload = assert_envelope(body, creds, hooks["incoming_event"], "incoming_event")
    assert set(payload) == {"chat_id", "thread_id", "event"}
    assert payload["chat_id"] == started["chat_id"] and payload["thread_id"] == started["thread_id"]
    event = payload["event"]
    assert event["id"] == sent["event_id"]
    assert event["type"] == "message" and event["text"] == "Hello from the agent"
    assert event["author_id"] == creds["agent_id"] and event["visibility"] == "all"
    assert event["created_at"].endswith("Z")

    tag = a_tag(sb)
    assert lc_call(sb, "tag_thread", {"chat_id": started["chat_id"], "thread_id": started["thread_id"],
                                      "tag": tag}).status_code == 200
    [body] = receiver.wait_for(1, "thread_tagged")
    payload = assert_envelope(body, creds, hooks["thread_tagged"], "thread_tagged")
    assert payload == {"chat_id": started["chat_id"], "thread_id": started["thread_id"], "tag": tag}

    assert lc_call(sb, "deactivate_chat", {"id": started["chat_id"]}).status_code == 200
    [body] = receiver.wait_for(1, "chat_deactivated")
    payload = assert_envelope(body, creds, hooks["chat_deactivated"], "chat_deactivated")
    assert payload == {"chat_id": started["chat_id"], "thread_id": started["thread_id"],
                       "user_id": creds["agent_id"]}

    assert wait_stats(sb, {"delivered": 4}) == {"delivered": 4}
    assert len(receiver.received()) == 4


def test_incoming_chat_carries_the_initial_events(fresh_sandbox, creds, receiver):
    register(fresh_sandbox, creds, "incoming_chat", receiver.url)
    enable(fresh_sandbox, creds)
    started = start_chat(fresh_sandbox, a_customer(fresh_sandbox), text="Opening line")
    [body] = receiver.wait_for(1, "incoming_chat")
    events = body["payload"]["chat"]["thread"]["events"]
    assert [e["id"] for e in events] == started["event_ids"]
    assert events[0]["text"] == "Opening line"


def test_payload_is_a_snapshot_of_when_it_happened(fresh_sandbox, creds, receiver):
    receiver.always = 500  # keep the first delivery retrying while the chat changes
    fresh_sandbox.admin("POST", "config", json={"webhook_retry_delays": [0.5]})
    register(fresh_sandbox, creds, "incoming_chat", receiver.url)
    enable(fresh_sandbox, creds)
    started = start_chat(fresh_sandbox, a_customer(fresh_sandbox))
    receiver.wait_for(1)
    lc_call(fresh_sandbox, "send_event", {"chat_id": started["chat_id"],
                                          "event": {"type": "message", "text": "later"}})
    lc_call(fresh_sandbox, "deactivate_chat", {"id": started["chat_id"]})
    bodies = receiver.wait_for(2)
    assert len(bodies) == 2
    assert bodies[0] == bodies[1]
    assert bodies[1]["payload"]["chat"]["thread"]["active"] is True
    assert bodies[1]["payload"]["chat"]["thread"]["events"] == []


def test_customer_message_is_delivered(fresh_sandbox, creds, receiver):
    sb = fresh_sandbox
    register(sb, creds, "incoming_event", receiver.url)
    register(sb, creds, "incoming_chat", receiver.url)
    enable(sb, creds)
    started = start_chat(sb, a_customer(sb))
    receiver.wait_for(1, "incoming_chat")
    wrote = sb.admin("POST", "customer-messages", json={"chat_id": started["chat_id"], "text": "Where is my order?"})
    [body] = receiver.wait_for(1, "incoming_event")
    payload = body["payload"]
    assert payload["chat_id"] == started["chat_id"] and payload["thread_id"] == started["thread_id"]
    assert payload["event"]["id"] == wrote["event_id"]
    assert payload["event"]["text"] == "Where is my order?"
    chat = lc_call(sb, "get_chat", {"chat_id": started["chat_id"]}).json()
    customer_id = next(u["id"] for u in chat["users"] if u["type"] == "customer")
    assert payload["event"]["author_id"] == customer_id


def test_customer_writing_into_an_archived_chat_starts_a_new_thread(fresh_sandbox, creds, receiver):
    sb = fresh_sandbox
    register(sb, creds, "incoming_chat", receiver.url)
    register(sb, creds, "incoming_event", receiver.url)
    enable(sb, creds)
    inactive = lc_call(sb, "list_chats", {"filters": {"include_active": False}, "limit": 1}).json()
    chat_id = inactive["chats_summary"][0]["id"]
    old_thread = inactive["chats_summary"][0]["last_thread_summary"]["id"]
    wrote = sb.admin("POST", "customer-messages", json={"chat_id": chat_id, "text": "Me again"})
    assert wrote["thread_id"] != old_thread
    [chat_body] = receiver.wait_for(1, "incoming_chat")
    assert chat_body["payload"]["chat"]["id"] == chat_id
    assert chat_body["payload"]["chat"]["thread"]["id"] == wrote["thread_id"]
    [event_body] = receiver.wait_for(1, "incoming_event")
    assert event_body["payload"]["thread_id"] == wrote["thread_id"]
    assert event_body["payload"]["event"]["text"] == "Me again"


def test_author_type_filter(fresh_sandbox, creds, receiver):
    sb = fresh_sandbox
    filtered = register(sb, creds, "incoming_event", receiver.url, filters={"author_type": "customer"})
    everything = register(sb, creds, "incoming_event", receiver.url)
    enable(sb, creds)
    started = start_chat(sb, a_customer(sb))
    lc_call(sb, "send_event", {"chat_id": started["chat_id"], "event": {"type": "message", "text": "agent"}})
    sb.admin("POST", "customer-messages", json={"chat_id": started["chat_id"], "text": "customer"})
    assert [b["payload"]["event"]["text"] for b in wait_hook(receiver, everything, 2)] == ["agent", "customer"]
    assert [b["payload"]["event"]["text"] for b in by_hook(receiver, filtered)] == ["customer"]


def test_additional_data_on_request(fresh_sandbox, creds, receiver):
    sb = fresh_sandbox
    register(sb, creds, "chat_deactivated", receiver.url,
             additional_data=["chat_properties", "chat_presence_user_ids"])
    plain = register(sb, creds, "thread_tagged", receiver.url)
    enable(sb, creds)
    started = start_chat(sb, a_customer(sb))
    lc_call(sb, "tag_thread", {"chat_id": started["chat_id"], "thread_id": started["thread_id"], "tag": a_tag(sb)})
    lc_call(sb, "deactivate_chat", {"id": started["chat_id"]})
    [body] = receiver.wait_for(1, "chat_deactivated")
    assert set(body["additional_data"]) == {"chat_properties", "chat_presence_user_ids"}
    assert isinstance(body["additional_data"]["chat_properties"], dict)
    assert isinstance(body["additional_data"]["chat_presence_user_ids"], list)
    [tagged] = receiver.wait_for(1, "thread_tagged")
    assert tagged["webhook_id"] == plain
    assert tagged["additional_data"] == {}


# --- registration and enabling -----------------------------------------------------------------------------
def test_nothing_is_delivered_before_enable_license_webhooks(fresh_sandbox, creds, receiver):
    sb = fresh_sandbox
    mine = register(sb, creds, "incoming_chat", receiver.url)
    state = config_call(sb, "get_license_webhooks_state", {"owner_client_id": creds["client_id"]}).json()
    assert state == {"license_webhooks_enabled": False}
    other = sentinel(sb, creds, receiver.url)
    customer_id = a_customer(sb)
    first = start_chat(sb, customer_id)
    assert wait_hook(receiver, other, 1)[0]["payload"]["chat"]["id"] == first["chat_id"]
    assert by_hook(receiver, mine) == []

    enable(sb, creds)
    assert config_call(sb, "get_license_webhooks_state", {"owner_client_id": creds["client_id"]}).json() == \
        {"license_webhooks_enabled": True}
    second = start_chat(sb, customer_id)
    [body] = wait_hook(receiver, mine, 1)
    assert body["payload"]["chat"]["id"] == second["chat_id"]
    wait_hook(receiver, other, 2)
    assert len(by_hook(receiver, mine)) == 1  # the chat started before enabling is never sent


def test_nothing_is_delivered_after_unregister_or_disable(fresh_sandbox, creds, receiver):
    sb = fresh_sandbox
    hook = register(sb, creds, "incoming_chat", receiver.url)
    enable(sb, creds)
    listed = config_call(sb, "list_webhooks", {"owner_client_id": creds["client_id"]}).json()
    assert [(h["id"], h["action"], h["url"], h["owner_client_id"]) for h in listed] == \
        [(hook, "incoming_chat", receiver.url, creds["client_id"])]
    assert "secret_key" not in listed[0]  # the documented answer holds no secret
    other = sentinel(sb, creds, receiver.url)
    customer_id = a_customer(sb)
    start_chat(sb, customer_id)
    assert len(wait_hook(receiver, hook, 1)) == 1

    resp = config_call(sb, "unregister_webhook", {"id": hook, "owner_client_id": creds["client_id"]})
    assert resp.status_code == 200
    assert config_call(sb, "list_webhooks", {"owner_client_id": creds["client_id"]}).json() == []
    again = config_call(sb, "unregister_webhook", {"id": hook, "owner_client_id": creds["client_id"]})
    assert again.json()["error"]["type"] == "not_found"
    start_chat(sb, customer_id)
    wait_hook(receiver, other, 2)
    assert len(by_hook(receiver, hook)) == 1

    second = register(sb, creds, "incoming_chat", receiver.url)
    assert config_call(sb, "disable_license_webhooks", {"owner_client_id": creds["client_id"]}).status_code == 200
    start_chat(sb, customer_id)
    wait_hook(receiver, other, 3)
    assert by_hook(receiver, second) == []


def test_enabling_for_another_client_does_not_enable_mine(fresh_sandbox, creds, receiver):
    sb = fresh_sandbox
    mine = register(sb, creds, "incoming_chat", receiver.url)
    other = sentinel(sb, creds, receiver.url)  # enables the server client only
    start_chat(sb, a_customer(sb))
    wait_hook(receiver, other, 1)
    assert by_hook(receiver, mine) == []


def test_register_webhook_validation(fresh_sandbox, creds, receiver):
    sb = fresh_sandbox
    base = {"action": "incoming_chat", "secret_key": SECRET, "url": receiver.url,
            "owner_client_id": creds["client_id"], "type": "license"}
    for change in ({"action": "no_such_action"}, {"url": "ftp://example.com"}, {"secret_key": ""},
                   {"owner_client_id": None}, {"owner_client_id": "unknown-client"}, {"type": "personal"}):
        resp = config_call(sb, "register_webhook", {**base, **change})
        assert resp.status_code == 400, change
        assert resp.json()["error"]["type"] == "validation", change
    assert config_call(sb, "list_webhooks", {"owner_client_id": creds["client_id"]}).json() == []


def test_webhook_methods_need_webhook_scopes(fresh_sandbox, creds, receiver):
    pat = fresh_sandbox.admin("POST", "personal-access-tokens", json={"scopes": ["chats--all:rw"]})
    resp = lc_call(fresh_sandbox, "register_webhook", {
        "action": "incoming_chat", "secret_key": SECRET, "url": receiver.url,
        "owner_client_id": creds["client_id"], "type": "license"}, auth=pat["basic_authorization"],
        api="configuration")
    assert resp.status_code == 403
    assert resp.json()["error"]["type"] == "authorization"


# --- retries -----------------------------------------------------------------------------------------------
def test_failed_delivery_is_retried_until_it_succeeds(fresh_sandbox, creds, receiver):
    receiver.statuses = [500, 500]
    hook = register(fresh_sandbox, creds, "incoming_chat", receiver.url)
    enable(fresh_sandbox, creds)
    started = start_chat(fresh_sandbox, a_customer(fresh_sandbox))
    bodies = receiver.wait_for(3)
    assert len(bodies) == 3
    assert all(b["webhook_id"] == hook and b["payload"]["chat"]["id"] == started["chat_id"] for b in bodies)
    assert bodies[0] == bodies[1] == bodies[2]
    expected = {"failed_attempt": 2, "delivered": 1}
    assert wait_stats(fresh_sandbox, expected) == expected
    assert len(receiver.received()) == 3


def test_delivery_that_keeps_failing_is_dropped_after_three_retries(fresh_sandbox, creds, receiver):
    receiver.always = 503
    register(fresh_sandbox, creds, "incoming_chat", receiver.url)
    enable(fresh_sandbox, creds)
    start_chat(fresh_sandbox, a_customer(fresh_sandbox))
    assert len(receiver.wait_for(4)) == 4
    expected = {"failed_attempt": 4, "dropped": 1}
    assert wait_stats(fresh_sandbox, expected) == expected
    assert len(receiver.received()) == 4


def test_unreachable_receiver_is_dropped(fresh_sandbox, creds):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the socket is closed
    register(fresh_sandbox, creds, "incoming_chat", f"http://127.0.0.1:{port}/gone")
    enable(fresh_sandbox, creds)
    start_chat(fresh_sandbox, a_customer(fresh_sandbox))
    expected = {"failed_attempt": 4, "dropped": 1}
    assert wait_stats(fresh_sandbox, expected) == expected


def test_reset_forgets_a_delivery_in_flight(fresh_sandbox, creds, receiver):
    receiver.always = 500
    hold = receiver.hold = threading.Event()
    register(fresh_sandbox, creds, "incoming_chat", receiver.url)
    enable(fresh_sandbox, creds)
    start_chat(fresh_sandbox, a_customer(fresh_sandbox))
    receiver.wait_for(1)  # the sandbox now waits for the receiver's answer
    fresh_sandbox.admin("POST", "reset")
    fresh_sandbox.admin("POST", "config", json={"webhook_retry_delays": [0.2, 0.2, 0.2]})
    with receiver.lock:
        receiver.always, receiver.hold = None, None
    hold.set()  # the delivery in flight fails now: after the reset it must neither count nor be retried
    after = sentinel(fresh_sandbox, creds, receiver.url)  # the same seed gives the same clients
    start_chat(fresh_sandbox, a_customer(fresh_sandbox))
    wait_hook(receiver, after, 1)
    assert wait_stats(fresh_sandbox, {"delivered": 1}) == {"delivered": 1}
    assert len(receiver.received()) == 2


# --- per client id, per license ------------------------------------------------------------------------------
def test_a_client_id_registers_at_most_three_webhooks_per_action(fresh_sandbox, creds, receiver):
    sb = fresh_sandbox
    for _ in range(3):
        register(sb, creds, "incoming_chat", receiver.url)
    fourth = config_call(sb, "register_webhook", {"action": "incoming_chat", "secret_key": SECRET, "type": "license",
                                                  "url": receiver.url, "owner_client_id": creds["client_id"]})
    assert fourth.status_code == 422 and fourth.json()["error"]["type"] == "limit_reached"
    register(sb, creds, "incoming_event", receiver.url)  # the limit is per action ...
    sentinel(sb, creds, receiver.url)  # ... and per client id
    listed = config_call(sb, "list_webhooks", {"owner_client_id": creds["client_id"]}).json()
    assert sorted(h["action"] for h in listed) == ["incoming_chat"] * 3 + ["incoming_event"]


def test_enabling_needs_the_webhooks_state_scope(fresh_sandbox, creds):
    only_config = fresh_sandbox.admin("POST", "personal-access-tokens", json={"scopes": ["webhooks.configuration:rw"]})
    resp = lc_call(fresh_sandbox, "enable_license_webhooks", {"owner_client_id": creds["client_id"]},
                   auth=only_config["basic_authorization"], api="configuration")
    assert resp.status_code == 403 and resp.json()["error"]["type"] == "authorization"
    state_only = fresh_sandbox.admin("POST", "personal-access-tokens", json={"scopes": ["webhooks.state:rw"]})
    assert lc_call(fresh_sandbox, "enable_license_webhooks", {"owner_client_id": creds["client_id"]},
                   auth=state_only["basic_authorization"], api="configuration").status_code == 200
    refused = lc_call(fresh_sandbox, "register_webhook", {
        "action": "incoming_chat", "secret_key": SECRET, "url": "https://x.example/h", "type": "license",
        "owner_client_id": creds["client_id"]}, auth=state_only["basic_authorization"], api="configuration")
    assert refused.status_code == 403


@pytest.fixture(scope="module")
def licenses_sandbox():
    from helpdesk_sandboxes.process import start_sandbox

    proc = start_sandbox("--chats", "6", "--seed", "23", "--licenses", "3")
    yield proc
    proc.stop()


@pytest.fixture
def licensed(licenses_sandbox):
    licenses_sandbox.admin("POST", "reset")
    licenses_sandbox.admin("POST", "config", json={"webhook_retry_delays": [0.2, 0.2, 0.2]})
    return licenses_sandbox, licenses_sandbox.admin("GET", "credentials")


def test_licenses_are_separate_organizations(licensed):
    sb, creds = licensed
    first, second, third = creds["licenses"]
    assert first["organization_id"] == creds["organization_id"] and first["account_id"] == creds["account_id"]
    assert len({lic["organization_id"] for lic in creds["licenses"]}) == 3
    chats = [{c["id"] for c in lc_call(sb, "list_chats", {}, auth=lic["basic_authorization"]).json()["chats_summary"]}
             for lic in (first, second, third)]
    assert all(chats) and not chats[0] & chats[1] and not chats[1] & chats[2]
    agents = [a["id"] for a in lc_call(sb, "list_agents", {}, auth=second["basic_authorization"],
                                       api="configuration").json()]
    assert second["agent_id"] in agents and creds["agent_id"] not in agents


def test_another_organization_cannot_manage_the_apps_webhooks(licensed, receiver):
    sb, creds = licensed
    customer = creds["licenses"][1]["basic_authorization"]
    body = {"action": "incoming_chat", "secret_key": SECRET, "url": receiver.url, "type": "license",
            "owner_client_id": creds["client_id"]}
    for method, payload in (("register_webhook", body), ("list_webhooks", {"owner_client_id": creds["client_id"]})):
        resp = lc_call(sb, method, payload, auth=customer, api="configuration")
        assert resp.status_code == 403 and resp.json()["error"]["type"] == "authorization", method
    hook = register(sb, creds, "incoming_chat", receiver.url)
    gone = lc_call(sb, "unregister_webhook", {"id": hook, "owner_client_id": creds["client_id"]}, auth=customer,
                   api="configuration")
    assert gone.status_code == 403
    assert [h["id"] for h in config_call(sb, "list_webhooks", {"owner_client_id": creds["client_id"]}).json()] == [hook]


def test_deliveries_go_only_to_licenses_that_enabled_the_client_and_name_their_organization(licensed, receiver):
    sb, creds = licensed
    _, second, third = creds["licenses"]
    hook = register(sb, creds, "incoming_chat", receiver.url)
    for lic in (second, third):
        assert lc_call(sb, "enable_license_webhooks", {"owner_client_id": creds["client_id"]},
                       auth=lic["basic_authorization"], api="configuration").status_code == 200
    state = lc_call(sb, "get_license_webhooks_state", {"owner_client_id": creds["client_id"]},
                    auth=creds["basic_authorization"], api="configuration").json()
    assert state == {"license_webhooks_enabled": False}  # the developer's own license did not enable them
    started = {}
    for lic in (creds["licenses"][0], second, third):
        customer = lc_call(sb, "list_customers", {"limit": 1}, auth=lic["basic_authorization"]).json()
        chat = lc_call(sb, "start_chat", {"chat": {"users": [{"id": customer["customers"][0]["id"],
                                                               "type": "customer"}]}},
                       auth=lic["basic_authorization"]).json()
        started[lic["organization_id"]] = chat["chat_id"]
    bodies = wait_hook(receiver, hook, 2)
    time.sleep(0.3)
    got = {b["organization_id"]: b["payload"]["chat"]["id"] for b in by_hook(receiver, hook)}
    assert got == {second["organization_id"]: started[second["organization_id"]],
                   third["organization_id"]: started[third["organization_id"]]}
    assert len(bodies) == 2


def test_oauth_tokens_name_the_license_of_the_account_that_authorized(licensed):
    from urllib.parse import parse_qs, urlsplit

    import requests

    sb, creds = licensed
    second = creds["licenses"][1]
    redirect = requests.get(sb.base_url + "/", params={
        "response_type": "code", "client_id": creds["client_id"], "redirect_uri": "https://x.example/cb",
        "login_hint": second["agent_id"]}, allow_redirects=False, timeout=10)
    code = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]
    token = requests.post(sb.base_url + "/v2/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "client_id": creds["client_id"],
        "client_secret": creds["client_secret"], "redirect_uri": "https://x.example/cb"}).json()
    assert token["organization_id"] == second["organization_id"]
    bearer = f"Bearer {token['access_token']}"
    assert lc_call(sb, "enable_license_webhooks", {}, auth=bearer, api="configuration").status_code == 200
    assert lc_call(sb, "get_license_webhooks_state", {}, auth=bearer, api="configuration").json() == \
        {"license_webhooks_enabled": True}
