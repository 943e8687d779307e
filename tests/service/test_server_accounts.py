"""Accounts on a helpdesk's own server (Rocket.Chat): credentials checked against the integration
file's auth fields, server URLs validated, and Rocket.Chat's errors, 429s and faults answered honestly."""

import pytest
import requests

from helpdesk_sandboxes.process import start_sandbox
from tests.conftest import FakeServer, ServiceClient, new_tenant, running_service, traverse


@pytest.fixture(scope="module")
def rc():
    proc = start_sandbox("--integration", "rocketchat", "--rooms", "60", "--seed", "21")
    yield proc
    proc.stop()


@pytest.fixture
def rc_fresh(rc):
    rc.admin("POST", "reset")
    rc.admin("POST", "config", json={"rate_limit": 0, "rate_burst": 0, "latency_ms": 0, "fault_rate": 0})
    return rc


def rc_credentials(sandbox, **changes) -> dict:
    creds = sandbox.admin("GET", "credentials")
    body = {"type": "personal_access_token", "server_url": creds["server_url"], "user_id": creds["user_id"],
            "auth_token": creds["auth_token"]}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def overrides(redis_url: str, **extra) -> dict:
    return {"REDIS_URL": redis_url, "SECRET_KEY": "test-secret", "ADMIN_TOKEN": "test-admin-token",
            "UPSTREAM_ENV": {}, "UPSTREAM_VERIFY_TLS": False, **extra}


@pytest.fixture(scope="module")
def rc_service(redis_server_url):
    with running_service(overrides(redis_server_url, RATE_LIMIT_WAIT=0.3)) as (_, base):
        yield base


def connect(client: ServiceClient, credentials: dict):
    return client.post("/integrated-accounts", json={"integration": "rocketchat", "credentials": credentials})


@pytest.mark.parametrize("changes,param", [
    ({"auth_token": None}, "credentials.auth_token"),
    ({"server_url": "http://127.0.0.1:9\\@chat.example.com"}, "credentials.server_url"),  # urllib3 reads another host
    ({"server_url": "https://user:secret@chat.example.com"}, "credentials.server_url"),
    ({"account_id": "x"}, "credentials.account_id"),  # a LiveChat field: not Rocket.Chat's
    ({"server_url": "ftp://chat.example.com"}, "credentials.server_url"),
    ({"server_url": "chat.example.com"}, "credentials.server_url"),
    ({"type": "oauth2"}, "credentials.type"),
])
def test_credentials_are_checked_against_the_integration_file(rc_service, rc_fresh, changes, param):
    client = new_tenant(rc_service, "rc-creds")
    resp = connect(client, rc_credentials(rc_fresh, **changes))
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["param"] == param
    assert rc_fresh.admin("GET", "stats")["total_calls"] == 0  # refused before any upstream call


def test_a_wrong_token_is_refused_when_connecting(rc_service, rc_fresh):
    client = new_tenant(rc_service, "rc-wrong")
    resp = connect(client, rc_credentials(rc_fresh, auth_token="not-the-token"))
    assert resp.status_code == 422
    assert resp.json()["error"]["type"] == "invalid_credentials"
    assert "logged in" in resp.json()["error"]["message"]


def test_a_user_without_omnichannel_permissions_is_refused(rc_service, rc_fresh):
    restricted = rc_fresh.admin("GET", "credentials")["restricted_user"]
    client = new_tenant(rc_service, "rc-restricted")
    resp = connect(client, rc_credentials(rc_fresh, user_id=restricted["user_id"],
                                          auth_token=restricted["auth_token"]))
    assert resp.status_code == 422 and "permissions" in resp.json()["error"]["message"]


def test_production_refuses_a_private_server_url(rc, redis_server_url):
    with running_service(overrides(redis_server_url, ALLOW_PRIVATE_UPSTREAMS=False)) as (_, base):
        client = new_tenant(base, "rc-prod")
        resp = connect(client, rc_credentials(rc))
        assert resp.status_code == 400
        error = resp.json()["error"]
        assert error["param"] == "credentials.server_url" and "private address" in error["message"]


def test_each_account_reads_its_own_server(rc_service, rc_fresh, redis_server_url):
    other = start_sandbox("--integration", "rocketchat", "--rooms", "15", "--seed", "99")
    try:
        client = new_tenant(rc_service, "rc-two-servers")
        first = connect(client, rc_credentials(rc_fresh)).json()["id"]
        second = connect(client, rc_credentials(other)).json()["id"]
        ids = [{t["id"] for p in traverse(client, "tickets", integrated_account_id=a, limit=100) for t in p}
               for a in (first, second)]
        assert (len(ids[0]), len(ids[1])) == (60, 15) and not ids[0] & ids[1]
        ticket = client.get("/unified/ticketing/tickets", integrated_account_id=second, limit=1).json()["result"][0]
        assert ticket["ticket_url"].startswith(other.base_url)
    finally:
        other.stop()


def test_rate_limit_answers_429_with_retry_after_from_the_reset_header(rc_service, rc_fresh):
    client = new_tenant(rc_service, "rc-limits")
    account = connect(client, rc_credentials(rc_fresh)).json()["id"]
    rc_fresh.admin("POST", "config", json={"rate_limit": 0.5, "rate_burst": 1})
    answers = [client.get("/unified/ticketing/teams", integrated_account_id=account) for _ in range(4)]
    limited = [r for r in answers if r.status_code == 429]
    assert limited and all(r.status_code in (200, 429) for r in answers)
    for resp in limited:
        assert 1 <= int(resp.headers["Retry-After"]) <= 3  # the bucket refills one call in 2 s
        # Rocket.Chat's own 429, or ours while the cooldown it set lasts
        assert resp.json()["error"]["type"] in ("upstream_error-too-many-requests", "rate_limited")
    assert rc_fresh.admin("GET", "stats")["rate_limited"] >= 1


def test_reads_under_faults_are_complete_or_honest(rc_service, rc_fresh):
    client = new_tenant(rc_service, "rc-faults")
    account = connect(client, rc_credentials(rc_fresh)).json()["id"]
    clean = [t["id"] for p in traverse(client, "tickets", integrated_account_id=account, limit=7) for t in p]
    rc_fresh.admin("POST", "config", json={"fault_rate": 0.2, "fault_kinds": ["internal"]})
    faulty = [t["id"] for p in traverse(client, "tickets", integrated_account_id=account, limit=7) for t in p]
    assert faulty == clean and len(clean) == 60
    assert sum(rc_fresh.admin("GET", "stats")["faults"].values()) > 0  # retried, not lucky
    rc_fresh.admin("POST", "config", json={"fault_rate": 1.0})
    resp = client.get("/unified/ticketing/tickets", integrated_account_id=account)
    assert resp.status_code == 502 and "Rocket.Chat" in resp.json()["error"]["message"]


def test_routes_rocket_chat_lacks_say_so(rc_service, rc_fresh):
    client = new_tenant(rc_service, "rc-unsupported")
    account = connect(client, rc_credentials(rc_fresh)).json()["id"]
    hook = client.post(f"/webhooks/rocketchat/{account}", json={"type": "LivechatSessionStart"})
    assert hook.status_code == 401  # no receiver registered for this account: no secret matches
    oauth = client.get("/connect/rocketchat", redirect_uri="https://app.example.com/back")
    assert oauth.status_code == 400 and "OAuth" in oauth.json()["error"]["message"]
    caps = client.get("/integrations/rocketchat/capabilities").json()
    assert caps["webhooks"] is True and caps["oauth"] is False
    assert caps["server_url_field"] == "server_url"
    assert caps["auth"]["personal_access_token"]["fields"] == ["server_url", "user_id", "auth_token"]


def test_proxy_forwards_to_the_accounts_own_server(rc_service, rc_fresh):
    client = new_tenant(rc_service, "rc-proxy")
    account = connect(client, rc_credentials(rc_fresh)).json()["id"]
    rooms = client.get("/proxy/rocketchat/api/v1/livechat/rooms", integrated_account_id=account, count=3)
    assert rooms.status_code == 200 and rooms.json()["count"] == 3 and rooms.json()["total"] == 60
    rc_fresh.admin("POST", "stats/reset")
    refused = client.get("/proxy/rocketchat/api/v1/users.list", integrated_account_id=account)
    assert refused.status_code == 403 and refused.json()["error"]["param"] == "path"
    missing = client.get("/proxy/rocketchat/api/v1/livechat/visitors.info", integrated_account_id=account)
    assert missing.status_code == 400 and missing.json()["success"] is False  # Rocket.Chat's own answer, verbatim
    assert rc_fresh.admin("GET", "stats")["total_calls"] == 1  # the refused path never left the service


@pytest.mark.parametrize("token_change", [lambda t: " " + t, lambda t: t + "\n", lambda t: t + "é"])
def test_a_token_pasted_with_extra_characters_is_a_clear_422(rc_service, rc_fresh, token_change):
    client = new_tenant(rc_service, "rc-paste")
    token = rc_fresh.admin("GET", "credentials")["auth_token"]
    resp = connect(client, rc_credentials(rc_fresh, auth_token=token_change(token)))
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["type"] == "invalid_credentials" and "copied" in resp.json()["error"]["message"]


def test_a_server_url_with_a_wrong_path_says_to_check_it(rc_service, rc_fresh):
    client = new_tenant(rc_service, "rc-path")
    resp = connect(client, rc_credentials(rc_fresh, server_url=rc_fresh.base_url + "/chat"))
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["param"] == "credentials.server_url" and "base URL" in error["message"]
    trailing = connect(client, rc_credentials(rc_fresh, server_url=rc_fresh.base_url + "/"))
    assert trailing.status_code == 201


def test_contact_fields_rocket_chat_cannot_keep_are_refused(rc_service, rc_fresh):
    client = new_tenant(rc_service, "rc-contact")
    account = connect(client, rc_credentials(rc_fresh)).json()["id"]
    resp = client.post("/unified/ticketing/contacts", params={"integrated_account_id": account},
                       json={"name": "Ann", "avatar_url": "https://img.example.com/a.png"})
    assert resp.status_code == 422 and resp.json()["error"]["param"] == "avatar_url"
    made = client.post("/unified/ticketing/contacts", params={"integrated_account_id": account},
                       json={"name": "Ann", "email_addresses": [{"email": "ann@example.com"}],
                             "custom_fields": {"plan": "pro"}}, headers={"Idempotency-Key": "ann-1"})
    assert made.status_code == 201, made.text
    assert made.json()["email_addresses"] == [{"email": "ann@example.com", "type": "primary"}]
    assert made.json()["custom_fields"] == {"plan": "pro"}


def test_a_revoked_token_shows_on_the_account_until_it_works_again(rc_service, rc_fresh):
    client = new_tenant(rc_service, "rc-revoked")
    account = connect(client, rc_credentials(rc_fresh)).json()["id"]
    rc_fresh.admin("POST", "reset", json={"seed": 77})  # another workspace state: the token is unknown there
    try:
        resp = client.get("/unified/ticketing/teams", integrated_account_id=account)
        assert resp.status_code == 401 and "reconnect" in resp.json()["error"]["message"]
        assert client.get(f"/integrated-accounts/{account}").json()["status"] == "credentials_rejected"
    finally:
        rc_fresh.admin("POST", "reset", json={"seed": 21})
    assert client.get("/unified/ticketing/teams", integrated_account_id=account).status_code == 200
    assert client.get(f"/integrated-accounts/{account}").json()["status"] == "active"


def test_redirects_are_never_followed(rc_service, rc_fresh):
    inside = FakeServer(200, {}, b'{"rooms": [], "count": 0, "offset": 0, "total": 0, "success": true}')
    bouncer = FakeServer(302, {"Location": inside.url + "/latest/meta-data/"})
    try:
        client = new_tenant(rc_service, "rc-redirect")
        resp = connect(client, rc_credentials(rc_fresh, server_url=bouncer.url))
        assert resp.status_code == 502 and "not followed" in resp.json()["error"]["message"]
        assert inside.hits == 0 and bouncer.hits >= 1
    finally:
        inside.close()
        bouncer.close()


def test_a_servers_absurd_rate_limit_reset_is_capped_and_stays_its_own(rc_service, rc_fresh):
    throttler = FakeServer(429, {"X-RateLimit-Reset": "9999999999999"},
                           b'{"success": false, "error": "slow down", "errorType": "error-too-many-requests"}')
    try:
        client = new_tenant(rc_service, "rc-throttled")
        resp = connect(client, rc_credentials(rc_fresh, server_url=throttler.url))
        assert resp.status_code == 429 and int(resp.headers["Retry-After"]) <= 300
        # another server is not held back by that one's cooldown
        assert connect(client, rc_credentials(rc_fresh)).status_code == 201
    finally:
        throttler.close()


def test_the_proxy_refuses_dot_segments(rc_service, rc_fresh):
    client = new_tenant(rc_service, "rc-dots")
    account = connect(client, rc_credentials(rc_fresh)).json()["id"]
    rc_fresh.admin("POST", "stats/reset")
    for path in ("api/v1/livechat/%2e%2e/users.getPersonalAccessTokens", "api/v1/livechat/%2e/rooms"):
        resp = client.get(f"/proxy/rocketchat/{path}", integrated_account_id=account)
        assert resp.status_code == 403 and resp.json()["error"]["param"] == "path", path
    assert client.get("/unified/ticketing/teams/%2e%2e", integrated_account_id=account).status_code == 404
    assert rc_fresh.admin("GET", "stats")["total_calls"] == 0


# --- issue 14: Rocket.Chat as its server behaves ------------------------------------------------------------
def test_an_admin_managers_token_connects_and_an_agents_is_refused_naming_the_permission(rc_service, rc_fresh):
    client = new_tenant(rc_service, "rc-agent-token")
    manager = connect(client, rc_credentials(rc_fresh))  # the sandbox's manager also has the admin role
    assert manager.status_code == 201, manager.text
    agent = rc_fresh.admin("GET", "credentials")["agents"][0]
    resp = connect(client, rc_credentials(rc_fresh, user_id=agent["user_id"], auth_token=agent["auth_token"]))
    # livechat/rooms lets an agent see only their own rooms: the account is refused, not half-connected
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["type"] == "invalid_credentials" and error["param"] == "credentials.user_id"
    assert "view-livechat-rooms" in error["message"] and "manager" in error["message"]
    assert [a["id"] for a in client.get("/integrated-accounts").json()["result"]] == [manager.json()["id"]]


def test_tags_say_they_need_enterprise_and_a_community_workspace_answers_501(rc_service, rc_fresh):
    client = new_tenant(rc_service, "rc-community")
    account = connect(client, rc_credentials(rc_fresh)).json()["id"]
    tags = client.get("/integrations/rocketchat/capabilities").json()["api_versions"]["1"]["tags"]
    assert set(tags["requires"]) == {"list", "get"} and "Enterprise" in tags["requires"]["list"]
    assert client.get("/unified/ticketing/tags", integrated_account_id=account).status_code == 200
    rc_fresh.admin("PATCH", "config", json={"edition": "community"})
    for path in ("tags", "tags/vip"):
        resp = client.get(f"/unified/ticketing/{path}", integrated_account_id=account)
        assert resp.status_code == 501, resp.text
        assert "Enterprise" in resp.json()["error"]["message"]
    assert client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=1).status_code == 200


def test_a_reply_whose_message_id_exists_returns_that_message_and_sends_nothing(rc_service, rc_fresh):
    from types import SimpleNamespace

    from unified_ticketing.engine.writes import write_id

    client = new_tenant(rc_service, "rc-repeat")
    account = connect(client, rc_credentials(rc_fresh)).json()["id"]
    creds = rc_fresh.admin("GET", "credentials")
    rooms = requests.get(creds["server_url"] + "/api/v1/livechat/rooms", params={"open": "true", "count": 1},
                         headers=creds["headers"], timeout=30).json()["rooms"]
    mid = write_id(SimpleNamespace(id=account), "reply-1")  # the id this write sends as the message's _id
    # the message got there before (a write whose answer was lost, and whose replay record is gone)
    first = requests.post(creds["server_url"] + "/api/v1/chat.sendMessage", headers=creds["headers"], timeout=30,
                          json={"message": {"_id": mid, "rid": rooms[0]["_id"], "msg": "Sent once"}})
    assert first.json()["message"]["_id"] == mid
    before = rc_fresh.admin("GET", "stats")["calls"].get("POST /api/v1/chat.sendMessage", 0)
    resp = client.post("/unified/ticketing/comments", params={"integrated_account_id": account},
                       json={"ticket_id": rooms[0]["_id"], "body": "Sent once"}, headers={"Idempotency-Key": "reply-1"})
    assert resp.status_code == 201, resp.text
    assert resp.json()["id"] == mid and resp.json()["body"] == "Sent once"
    listed = requests.get(f"{creds['server_url']}/api/v1/livechat/{rooms[0]['_id']}/messages",
                          params={"count": 100}, headers=creds["headers"], timeout=30).json()["messages"]
    assert [m["_id"] for m in listed].count(mid) == 1
    assert rc_fresh.admin("GET", "stats")["calls"]["POST /api/v1/chat.sendMessage"] == before + 1


def test_contacts_offer_no_created_at_filter_the_list_cannot_serve(rc_service, rc_fresh):
    client = new_tenant(rc_service, "rc-contacts")
    account = connect(client, rc_credentials(rc_fresh)).json()["id"]
    caps = client.get("/integrations/rocketchat/capabilities").json()["api_versions"]["1"]["contacts"]
    assert {f["name"] for f in caps["filters"]} == {"email", "name"}  # visitors.search has no `ts`
    resp = client.get("/unified/ticketing/contacts", integrated_account_id=account,
                      **{"created_at[gte]": "2024-01-01T00:00:00Z"})
    assert resp.status_code == 400 and resp.json()["error"]["param"].startswith("created_at")
    listed = client.get("/unified/ticketing/contacts", integrated_account_id=account, limit=3).json()["result"]
    single = client.get(f"/unified/ticketing/contacts/{listed[0]['id']}", integrated_account_id=account).json()
    assert listed[0]["created_at"] is None and single["created_at"]  # only visitors.info has the date
    assert single["ticket_ids"] == listed[0]["ticket_ids"] and single["last_activity_at"]  # it carries lastChat


def test_open_tickets_include_queued_and_on_hold_rooms(rc_service, rc_fresh):
    client = new_tenant(rc_service, "rc-open")
    account = connect(client, rc_credentials(rc_fresh)).json()["id"]
    creds = rc_fresh.admin("GET", "credentials")
    rooms = requests.get(creds["server_url"] + "/api/v1/livechat/rooms", params={"count": 100},
                         headers=creds["headers"], timeout=30).json()["rooms"]
    expected = {r["_id"] for r in rooms if r.get("open")}
    assert any("servedBy" not in r for r in rooms if r.get("open")) and any(r.get("onHold") for r in rooms)
    found = {t["id"] for page in traverse(client, "tickets", integrated_account_id=account, status="open")
             for t in page}
    assert found == expected
