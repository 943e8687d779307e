"""Rocket.Chat's Omnichannel webhooks: the service registers its receiver through the workspace's
settings, the sandbox delivers real sendToCRM payloads, workers turn them into unified events."""
from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from helpdesk_sandboxes.process import start_sandbox
from tests.conftest import connect_rocketchat, new_tenant, running_service
from tests.service.test_events_listen import visitor_writes
from tests.service.test_webhooks import Receiver, verify
from unified_ticketing.state import webhooks as store
from unified_ticketing.worker import Worker


@pytest.fixture(scope="module")
def rc_hooks():
    proc = start_sandbox("--integration", "rocketchat", "--rooms", "12", "--seed", "31")
    yield proc
    proc.stop()


def rc_api(sandbox, method: str, path: str, **kwargs):
    headers = sandbox.admin("GET", "credentials")["headers"]
    return requests.request(method, f"{sandbox.base_url}/api/v1/{path}", headers=headers, timeout=10, **kwargs)


@pytest.fixture
def stack(rc_hooks, redis_server_url):
    rc_hooks.admin("POST", "reset")
    rc_hooks.admin("POST", "config", json={"webhook_retry_delays": [0.2, 0.2, 0.2]})
    overrides = {"REDIS_URL": redis_server_url, "SECRET_KEY": "test-secret", "ADMIN_TOKEN": "test-admin-token",
                 "UPSTREAM_ENV": {}, "UPSTREAM_VERIFY_TLS": False, "WEBHOOKS_REGISTER": True,
                 "WEBHOOK_BACKOFF_BASE": 0.1}
    with running_service(overrides) as (app, base):
        app.config["PUBLIC_URL"] = base
        client = new_tenant(base, f"rc-hooks-{time.monotonic_ns()}")
        receiver = Receiver()
        sub = client.post("/webhook-subscriptions", json={"url": receiver.url, "events": ["*"]}).json()
        stop = threading.Event()
        worker = threading.Thread(target=Worker(app, "rc-worker").run, args=(stop,), daemon=True)
        worker.start()
        yield {"app": app, "base": base, "client": client, "receiver": receiver, "sub": sub, "sandbox": rc_hooks,
               "stop": stop, "worker": worker}
        stop.set()
        for account in client.get("/integrated-accounts").json()["result"]:  # no webhook left for a later test
            client.delete(f"/integrated-accounts/{account['id']}")
        receiver.server.shutdown()
        receiver.server.server_close()


def new_visitor(sandbox, token: str) -> dict:
    resp = requests.post(f"{sandbox.base_url}/api/v1/livechat/visitor", timeout=10,
                         json={"visitor": {"token": token, "name": "Webhook Visitor"}})
    assert resp.status_code == 200, resp.text
    return resp.json()["visitor"]


def test_room_messages_and_close_reach_the_subscriber_as_unified_events(stack):
    sandbox, receiver, client = stack["sandbox"], stack["receiver"], stack["client"]
    account = connect_rocketchat(client, sandbox)
    shown = client.get(f"/integrated-accounts/{account}").json()
    assert shown["context"]["webhooks"].startswith("registered 6 actions")
    assert rc_api(sandbox, "GET", "settings/Livechat_webhookUrl").json()["value"] == \
        f"{stack['base']}/webhooks/rocketchat/{account}"

    new_visitor(sandbox, "visitor-token-1")
    room = requests.get(f"{sandbox.base_url}/api/v1/livechat/room", params={"token": "visitor-token-1"},
                        timeout=10).json()["room"]
    sent = requests.post(f"{sandbox.base_url}/api/v1/livechat/message", timeout=10,
                         json={"token": "visitor-token-1", "rid": room["_id"], "msg": "Is anyone there?"})
    assert sent.status_code == 200
    events = receiver.wait_for(lambda ev: {"ticket:created", "comment:created"} <= {e["event"] for e in ev})
    created = next(e for e in events if e["event"] == "ticket:created")
    assert created["payload"]["id"] == room["_id"] and created["payload"]["status"] == "open"
    assert created["integrated_account_id"] == account
    comment = next(e for e in events if e["event"] == "comment:created")
    assert (comment["payload"]["body"], comment["payload"]["author"]["type"]) == ("Is anyone there?", "contact")

    reply = client.post("/unified/ticketing/comments", json={"ticket_id": room["_id"], "body": "Yes, hello!"},
                        params={"integrated_account_id": account})
    assert reply.status_code == 201
    closed = client.request("PATCH", f"/unified/ticketing/tickets/{room['_id']}",
                            params={"integrated_account_id": account}, json={"status": "closed"})
    assert closed.status_code == 200
    events = receiver.wait_for(lambda ev: any(e["event"] == "ticket:updated" and e["payload"]["status"] == "closed"
                                              for e in ev))
    tagged = client.request("PATCH", f"/unified/ticketing/tickets/{room['_id']}",
                            params={"integrated_account_id": account}, json={"tags": ["resolved"]})
    assert tagged.status_code == 200  # a closed room's edit: Rocket.Chat's LivechatEdit, mapped too
    events = receiver.wait_for(lambda ev: any(e["event"] == "ticket:updated" and e["payload"]["tags"] for e in ev))
    replies = [e["payload"] for e in events if e["event"] == "comment:created" and e["payload"]["author"]
               and e["payload"]["author"]["type"] == "user"]
    assert [r["id"] for r in replies] == [reply.json()["id"]]
    for body, headers in zip(receiver.bodies, receiver.headers, strict=True):
        assert verify(stack["sub"]["secret"], headers["X-Unified-Signature"], body)
    assert len({json.loads(b)["id"] for b in receiver.bodies}) == len(receiver.bodies)


def test_a_wrong_token_or_an_unmapped_type_stores_nothing(stack):
    sandbox, base, client = stack["sandbox"], stack["base"], stack["client"]
    account = connect_rocketchat(client, sandbox)
    url = f"{base}/webhooks/rocketchat/{account}"
    svc = stack["app"].extensions["unified"]
    before = svc.redis.xlen("ut:wh:in")
    body = {"type": "Message", "_id": "r1", "messages": [{"_id": "m1", "msg": "hi"}]}
    assert requests.post(url, json=body, headers={"X-RocketChat-Livechat-Token": "forged"},
                         timeout=10).status_code == 401
    assert requests.post(url, json=body, timeout=10).status_code == 401  # no token at all
    secret = svc.fernet.decrypt(svc.redis.hget(f"ut:{{acct:{account}}}:account", "webhook_secret").encode()).decode()
    unmapped = requests.post(url, json={**body, "type": "LivechatOfflineMessage"},
                             headers={"X-RocketChat-Livechat-Token": secret}, timeout=10)
    assert unmapped.status_code == 422
    assert svc.redis.xlen("ut:wh:in") == before


def test_a_forged_header_token_is_refused_before_the_body_is_read(stack):
    """Rocket.Chat sends its token in a header, so a forged delivery is refused from its headers alone (issue
    19 item 2): announce 4 MB (within the webhook limit), send a few bytes, get the 401 at once."""
    from tests.service.test_body_limits import raw_post

    account = connect_rocketchat(stack["client"], stack["sandbox"])
    started = time.monotonic()
    answer = raw_post(stack["base"], f"/webhooks/rocketchat/{account}", 4 << 20, b'{"type": "Message"',
                      extra_headers="X-RocketChat-Livechat-Token: forged\r\n")
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert time.monotonic() - started < 5


def test_a_workspace_webhook_of_someone_else_is_never_replaced(stack):
    sandbox, client = stack["sandbox"], stack["client"]
    assert rc_api(sandbox, "POST", "settings/Livechat_webhookUrl",
                  json={"value": "https://crm.example.com/hook"}).status_code == 200
    account = connect_rocketchat(client, sandbox)
    note = client.get(f"/integrated-accounts/{account}").json()["context"]["webhooks"]
    assert note.startswith("not registered") and "crm.example.com" in note
    assert rc_api(sandbox, "GET", "settings/Livechat_webhookUrl").json()["value"] == "https://crm.example.com/hook"


def test_deleting_the_account_clears_the_workspace_webhook(stack):
    sandbox, client = stack["sandbox"], stack["client"]
    account = connect_rocketchat(client, sandbox)
    assert rc_api(sandbox, "GET", "settings/Livechat_webhookUrl").json()["value"].endswith(account)
    assert client.delete(f"/integrated-accounts/{account}").status_code == 204
    assert rc_api(sandbox, "GET", "settings/Livechat_webhookUrl").json()["value"] == ""


def test_deleting_an_older_account_leaves_the_newer_ones_webhook(stack):
    sandbox, client = stack["sandbox"], stack["client"]
    older = connect_rocketchat(client, sandbox)
    newer = connect_rocketchat(client, sandbox)
    assert rc_api(sandbox, "GET", "settings/Livechat_webhookUrl").json()["value"].endswith(newer)
    assert client.delete(f"/integrated-accounts/{older}").status_code == 204
    assert rc_api(sandbox, "GET", "settings/Livechat_webhookUrl").json()["value"].endswith(newer)


def inbound_of(r, account: str) -> list[dict]:
    return [fields for _, fields in r.xrange(store.INBOUND) if fields["account"] == account]


def test_a_helpdesk_that_cannot_be_reached_holds_up_no_other_accounts_events(stack):
    """Workspace B's webhooks arrive, then B goes down: its entries are put aside with backoff (tried again,
    then given up after the maximum age and kept), and workspace A's events are delivered meanwhile."""
    app, client, receiver = stack["app"], stack["client"], stack["receiver"]
    r = app.extensions["unified"].redis
    stack["stop"].set()  # no worker while the webhooks arrive
    stack["worker"].join(timeout=30)
    doomed = start_sandbox("--integration", "rocketchat", "--rooms", "2", "--seed", "32")
    try:
        b = connect_rocketchat(client, doomed)
        visitor_writes(doomed, "doomed-visitor", "Hello from B")
        deadline = time.monotonic() + 30
        while not inbound_of(r, b):
            assert time.monotonic() < deadline, "workspace B never delivered its webhook"
            time.sleep(0.05)
    finally:
        doomed.stop()
    app.config["WEBHOOK_MAX_AGE"] = 8.0
    stop = threading.Event()
    try:
        threading.Thread(target=Worker(app, "rc-worker-2").run, args=(stop,), daemon=True).start()
        deadline = time.monotonic() + 30
        while not [fields for fields, _ in store.deferred_inbound(r) if fields["account"] == b]:
            assert time.monotonic() < deadline, "workspace B's webhooks were never put aside"
            time.sleep(0.05)

        a = connect_rocketchat(client, stack["sandbox"])
        room_a = visitor_writes(stack["sandbox"], "live-visitor", "Hello from A")
        events = receiver.wait_for(lambda ev: {"ticket:created", "comment:created"} <= {e["event"] for e in ev})
        assert not [f for _, f in r.xrange(store.FAILED) if f["account"] == b]  # B is still being tried
        assert {e["integrated_account_id"] for e in events} == {a}
        assert room_a in {e["payload"]["id"] for e in events if e["event"] == "ticket:created"}

        deadline = time.monotonic() + 60
        while not (given_up := [f for _, f in r.xrange(store.FAILED) if f["account"] == b]):
            assert time.monotonic() < deadline, "workspace B's webhooks were never given up on"
            time.sleep(0.1)
        assert int(given_up[0]["tries"]) >= 2 and "could not be reached" in given_up[0]["reason"]
        assert {e["integrated_account_id"] for e in receiver.events()} == {a}
    finally:
        stop.set()
        app.config["WEBHOOK_MAX_AGE"] = 24 * 3600.0


def test_a_webhook_put_aside_comes_back_whole_when_it_is_due(redis_server_url):
    """What the worker defers returns to the stream field for field (any text, quotes and emoji included),
    with its tries counted and its first arrival kept; before it is due it stays aside."""
    import redis

    r = redis.Redis.from_url(redis_server_url, db=9, decode_responses=True)  # a database of its own
    r.flushdb()
    store.ensure_groups(r)
    payload = json.dumps({"msg": 'Grüße "quoted" \\ 👋', "n": 12345678901234567890})
    r.xadd(store.INBOUND, {"account": "acct-1", "action": "Message", "payload": payload, "key": "k1"})
    (entry_id, fields), = store.read_inbound(r, "c1", block_ms=10)
    assert store.defer_inbound(r, entry_id, fields, wait=0.5) == 1
    assert store.read_inbound(r, "c1", block_ms=10, claim_idle_ms=0) == []  # acked and not yet due
    time.sleep(0.6)
    (again_id, again), = store.read_inbound(r, "c1", block_ms=10)
    assert again_id != entry_id
    assert again == {**fields, "tries": "1", "first": str(int(entry_id.split("-")[0]) / 1000)}
    assert json.loads(again["payload"]) == json.loads(payload)
    assert store.defer_inbound(r, again_id, again, wait=60) == 2
    assert store.first_seen(again_id, again) == store.first_seen(entry_id, fields)
    r.flushdb()
