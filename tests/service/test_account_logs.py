"""Per-account logs (issue 18 item 5): each request an account served and the upstream calls it made,
newest first, filtered and cursor-paged; bounded retention; the account's status history; never a
body, a token or a secret."""
import time

import pytest

from tests.conftest import connect_pat, error, new_tenant, running_service, service_overrides


def logs(client, account: str, **params) -> dict:
    resp = client.get(f"/integrated-accounts/{account}/logs", **params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def logs_once(client, account: str, count: int, **params) -> dict:
    """The log once it holds `count` entries (a streamed answer's entry is written when it ends)."""
    deadline = time.monotonic() + 10
    while True:
        page = logs(client, account, limit=100, **params)
        if page["result_count"] >= count or time.monotonic() > deadline:
            return page
        time.sleep(0.05)


@pytest.fixture(scope="module")
def logged(service, sandbox):
    """(client, account, request ids): a tenant whose account served a list, a get of a missing ticket
    and a look at the account, in that order."""
    client = new_tenant(service, "logs-co")
    account = connect_pat(client, sandbox)
    sent = [
        client.request("GET", "/unified/ticketing/tickets", headers={"X-Request-Id": "log-list-1"},
                       params={"integrated_account_id": account, "limit": 2}),
        client.request("GET", "/unified/ticketing/tickets/no-such-chat", headers={"X-Request-Id": "log-get-2"},
                       params={"integrated_account_id": account}),
        client.request("GET", f"/integrated-accounts/{account}", headers={"X-Request-Id": "log-show-3"}),
    ]
    assert [r.status_code for r in sent] == [200, 404, 200]
    assert logs(client, account)["result_count"] == 3  # written as each response left
    return client, account


def test_log_shows_each_request_newest_first_with_its_upstream_calls(logged):
    client, account = logged
    page = logs(client, account)
    show, get, listed = page["result"]
    assert [e["request_id"] for e in page["result"]] == ["log-show-3", "log-get-2", "log-list-1"]
    assert listed["route"] == "/unified/ticketing/tickets" and listed["method"] == "GET"
    assert listed["status"] == 200 and listed["error_type"] is None and listed["duration_ms"] > 0
    assert [(c["method"], c["status"], c["error_type"]) for c in listed["upstream"]] == [("list_archives", 200, None)]
    assert get["route"] == "/unified/ticketing/tickets/{record_id}"
    assert get["status"] == 404 and get["error_type"] == "not_found"
    assert [(c["method"], c["status"]) for c in get["upstream"]] == [("get_chat", 404)]
    assert show["route"] == "/integrated-accounts/{account_id}" and show["upstream"] == []
    assert listed["time"] < get["time"] < show["time"] and listed["time"].endswith("Z")
    assert [h["status"] for h in page["status_history"]] == ["connected"]
    # reading the log is not itself logged
    assert logs(client, account)["result_count"] == 3


def test_a_streamed_export_is_logged_with_every_upstream_call_it_made(service, sandbox):
    client = new_tenant(service, "logs-export")
    account = connect_pat(client, sandbox)
    exported = client.get("/unified/ticketing/export", integrated_account_id=account, with_comments="false")
    assert exported.status_code == 200 and len(exported.text.splitlines()) > 100
    [entry] = logs_once(client, account, 1)["result"]
    assert entry["route"] == "/unified/ticketing/export" and entry["status"] == 200
    pages = [c for c in entry["upstream"] if c["method"] == "list_archives"]
    assert len(pages) > 1 and all(c["status"] == 200 for c in pages)  # the calls made while streaming


def test_proxied_calls_are_logged_by_route_template(service, sandbox):
    client = new_tenant(service, "logs-proxy")
    account = connect_pat(client, sandbox, "3.5")
    path = "/proxy/livechat/v3.5/agent/action/get_chat"
    answered = client.request("POST", path, params={"integrated_account_id": account}, json={"chat_id": "nope"})
    assert answered.status_code >= 400 and isinstance(answered.json()["error"], dict)  # LiveChat's own body
    [entry] = logs(client, account)["result"]
    assert entry["route"] == "/proxy/{integration}/{path}" and entry["status"] == answered.status_code
    assert [c["method"] for c in entry["upstream"]] == ["proxy"]


def test_log_filters_by_status_and_time(logged):
    client, account = logged
    assert [e["request_id"] for e in logs(client, account, status="4xx")["result"]] == ["log-get-2"]
    assert [e["request_id"] for e in logs(client, account, status="404")["result"]] == ["log-get-2"]
    assert logs(client, account, status="500")["result"] == []
    entries = logs(client, account)["result"]
    middle = entries[1]["time"]
    assert [e["request_id"] for e in logs(client, account, since=middle)["result"]] == ["log-show-3", "log-get-2"]
    assert [e["request_id"] for e in logs(client, account, until=middle)["result"]] == ["log-get-2", "log-list-1"]
    assert logs(client, account, since="2999-01-01T00:00:00Z")["result"] == []
    assert error(client.get(f"/integrated-accounts/{account}/logs", status="ok"), 400, "status")
    assert error(client.get(f"/integrated-accounts/{account}/logs", since="yesterday"), 400, "since")
    assert error(client.get(f"/integrated-accounts/{account}/logs", since="2026-02-01T00:00:00Z",
                            until="2026-01-01T00:00:00Z"), 400, "since")


def test_log_pages_with_cursors_both_ways(logged, service, sandbox):
    client, account = logged
    first = logs(client, account, limit=2)
    assert [e["request_id"] for e in first["result"]] == ["log-show-3", "log-get-2"]
    assert first["prev_cursor"] is None and first["next_cursor"]
    second = logs(client, account, limit=2, next_cursor=first["next_cursor"])
    assert [e["request_id"] for e in second["result"]] == ["log-list-1"] and second["next_cursor"] is None
    back = logs(client, account, limit=2, prev_cursor=second["prev_cursor"])
    assert [e["id"] for e in back["result"]] == [e["id"] for e in first["result"]] and back["prev_cursor"] is None
    filtered = logs(client, account, limit=1, status="200")
    rest = logs(client, account, limit=1, next_cursor=filtered["next_cursor"])  # the cursor keeps the filter
    assert [e["request_id"] for e in filtered["result"] + rest["result"]] == ["log-show-3", "log-list-1"]
    assert error(client.get(f"/integrated-accounts/{account}/logs", next_cursor=filtered["next_cursor"],
                            status="200"), 400, "status")
    assert error(client.get(f"/integrated-accounts/{account}/logs", next_cursor=first["next_cursor"][:-2] + "xx"),
                 400, "next_cursor")
    assert error(client.get(f"/integrated-accounts/{account}/logs", prev_cursor=first["next_cursor"]),
                 400, "prev_cursor")
    other = connect_pat(client, sandbox)  # a cursor of one account's log does not page another's
    assert error(client.get(f"/integrated-accounts/{other}/logs", next_cursor=first["next_cursor"]),
                 400, "next_cursor")


def test_log_is_the_tenants_and_its_keys(logged, service):
    client, account = logged
    stranger = new_tenant(service, "logs-stranger")
    assert error(stranger.get(f"/integrated-accounts/{account}/logs"), 404)
    limited = client.post("/admin/api-keys", json={"tenant": "logs-co", "integrated_account_ids": ["elsewhere"]},
                          headers={"Authorization": "Bearer test-admin-token"}).json()["api_key"]
    assert error(client.request("GET", f"/integrated-accounts/{account}/logs", api_key=limited), 404)


def test_log_never_holds_bodies_tokens_or_secrets(fresh_sandbox, redis_server_url):
    """A secret in the query and in a header, a write's body, and credentials the helpdesk rejects: none of
    it is in the log, in Redis or in the answer; the status history tells the rejection and the recovery."""
    with running_service(service_overrides(fresh_sandbox, redis_server_url)) as (app, base):
        client = new_tenant(base, "logs-secrets")
        creds = fresh_sandbox.admin("GET", "credentials")
        account = connect_pat(client, fresh_sandbox)
        query_secret, header_secret, body_secret = "query-secret-5551234", "header-secret-7778889", "body-text-31337"
        sent = client.request("GET", "/unified/ticketing/tickets", headers={"X-Api-Secret": header_secret},
                              params={"integrated_account_id": account, "token": query_secret})
        assert sent.status_code == 400  # an unknown filter, logged all the same
        chat = client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=1).json()["result"][0]
        wrote = client.request("POST", "/unified/ticketing/comments", params={"integrated_account_id": account},
                               json={"ticket_id": chat["id"], "body": body_secret})
        assert wrote.status_code == 201, wrote.text
        fresh_sandbox.admin("POST", "reset", json={"seed": 12345})  # the PAT is no longer the account's
        rejected = client.get("/unified/ticketing/tickets", integrated_account_id=account)
        assert rejected.status_code == 401, rejected.text
        fresh_sandbox.admin("POST", "reset")  # the seeded account again: the same PAT works
        assert client.get("/unified/ticketing/tickets", integrated_account_id=account).status_code == 200
        page = logs(client, account)
        assert [e["status"] for e in page["result"]] == [200, 401, 201, 200, 400]
        assert page["result"][1]["upstream"][-1]["error_type"] == "authentication"
        assert [h["status"] for h in page["status_history"]] == ["recovered", "credentials_rejected", "connected"]

        r = app.extensions["unified"].redis
        stored = repr(r.xrange(f"ut:{{acct:{account}}}:log")) + repr(r.xrange(f"ut:{{acct:{account}}}:status-log"))
        answer = client.get(f"/integrated-accounts/{account}/logs").text
        secrets = {"API key": client.api_key, "PAT": creds["personal_access_token"],
                   "Basic credentials": creds["basic_authorization"].split(" ", 1)[1], "query secret": query_secret,
                   "header secret": header_secret, "comment body": body_secret,
                   "helpdesk error text": rejected.json()["error"]["message"].split(": ", 1)[-1]}
        assert "ut:{acct:" + account in repr(r.keys(f"ut:{{acct:{account}}}:*"))
        assert not [what for what, value in secrets.items() if value in stored or value in answer]


def test_log_retention_is_bounded_by_count_and_age(fresh_sandbox, redis_server_url):
    overrides = service_overrides(fresh_sandbox, redis_server_url, ACCOUNT_LOG_MAX=5, ACCOUNT_LOG_SECONDS=2)
    with running_service(overrides) as (app, base):
        client = new_tenant(base, "logs-retention")
        account = connect_pat(client, fresh_sandbox)
        for i in range(250):
            client.request("GET", f"/integrated-accounts/{account}", headers={"X-Request-Id": f"keep-{i}"})
        assert logs(client, account)["result"][0]["request_id"] == "keep-249"
        stored = app.extensions["unified"].redis.xlen(f"ut:{{acct:{account}}}:log")
        assert 5 <= stored < 250  # trimmed (approximately: whole stream nodes at a time)
        time.sleep(3)  # quiet for longer than the age limit: the log is gone, the account is not
        assert logs(client, account)["result"] == []
        assert client.get(f"/integrated-accounts/{account}").status_code == 200


def test_deleting_an_account_deletes_its_log(service, sandbox):
    client = new_tenant(service, "logs-delete")
    account = connect_pat(client, sandbox)
    client.get(f"/integrated-accounts/{account}")
    assert logs(client, account)["result_count"] == 1
    assert client.delete(f"/integrated-accounts/{account}").status_code == 204
    assert error(client.get(f"/integrated-accounts/{account}/logs"), 404)
