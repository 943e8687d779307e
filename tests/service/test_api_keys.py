"""API keys have a lifecycle (issue 19 item 9): list, revoke (at once, on every server), rotate with an
overlap, expiry, read-only keys and keys limited to chosen integrated accounts; admin routes and the CLI."""
import json
import subprocess
import sys
import time

import requests

from tests.conftest import ADMIN_TOKEN, ServiceClient, connect_pat, error, running_service, service_overrides

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def admin(base: str, method: str, path: str, **kwargs):
    return requests.request(method, base + path, headers=ADMIN, timeout=30, **kwargs)


def issue(base: str, tenant: str, **options) -> dict:
    resp = admin(base, "POST", "/admin/api-keys", json={"tenant": tenant, **options})
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_a_read_only_key_reads_and_cannot_write(service, sandbox):
    full = ServiceClient(service, issue(service, "ro-co")["api_key"])
    account = connect_pat(full, sandbox)
    key = issue(service, "ro-co", scope="read")
    assert key["scope"] == "read"
    reader = ServiceClient(service, key["api_key"])
    page = reader.get("/unified/ticketing/tickets", integrated_account_id=account, limit=1)
    assert page.status_code == 200 and page.json()["result_count"] == 1
    ticket = page.json()["result"][0]["id"]
    err = error(reader.post(f"/unified/ticketing/comments?integrated_account_id={account}",
                            json={"ticket_id": ticket, "body": "nope"}), 403)
    assert err["type"] == "read_only_key"
    error(reader.delete(f"/integrated-accounts/{account}"), 403)
    assert full.get(f"/integrated-accounts/{account}").status_code == 200  # nothing was deleted


def test_a_key_limited_to_an_account_sees_only_that_account(service, sandbox):
    full = ServiceClient(service, issue(service, "limited-co")["api_key"])
    mine, other = connect_pat(full, sandbox), connect_pat(full, sandbox)
    limited = ServiceClient(service, issue(service, "limited-co", integrated_account_ids=[mine])["api_key"])
    assert [a["id"] for a in limited.get("/integrated-accounts").json()["result"]] == [mine]
    assert limited.get("/unified/ticketing/tickets", integrated_account_id=mine, limit=1).status_code == 200
    error(limited.get("/unified/ticketing/tickets", integrated_account_id=other, limit=1), 404)
    error(limited.get(f"/integrated-accounts/{other}"), 404)
    err = error(limited.post("/integrated-accounts", json={"integration": "livechat", "credentials": {}}), 403)
    assert err["type"] == "key_limited_to_accounts"
    # subscriptions receive every account's events: not for a key limited to some
    error(limited.post("/webhook-subscriptions", json={"url": "https://hooks.example.com/x", "events": ["*"]}), 403)
    error(limited.get("/webhook-subscriptions"), 403)


def test_revoking_a_key_ends_it_at_once_on_every_server(service, sandbox, redis_server_url):
    key = issue(service, "revoke-co")
    with running_service(service_overrides(sandbox, redis_server_url)) as (_, second):
        for base in (service, second):
            assert ServiceClient(base, key["api_key"]).get("/integrated-accounts").status_code == 200
        assert admin(service, "DELETE", f"/admin/api-keys/{key['id']}").status_code == 204
        for base in (service, second):
            err = error(ServiceClient(base, key["api_key"]).get("/integrated-accounts"), 401)
            assert "revoked" in err["message"]
    error(admin(service, "DELETE", f"/admin/api-keys/{key['id']}"), 404)


def test_listing_shows_what_a_key_is_never_the_key(service):
    key = issue(service, "list-co", scope="read", expires_in=3600)
    ServiceClient(service, key["api_key"]).get("/integrated-accounts")
    listed = admin(service, "GET", "/admin/api-keys", params={"tenant": "list-co"}).json()["result"]
    entry = next(k for k in listed if k["id"] == key["id"])
    assert entry["prefix"] == key["api_key"][:10] and entry["scope"] == "read"
    assert entry["last_used_at"] and entry["expires_at"] and entry["created_at"]
    assert key["api_key"] not in json.dumps(listed)
    error(admin(service, "GET", "/admin/api-keys"), 400, "tenant")


def test_rotation_keeps_the_old_key_for_the_overlap_then_ends_it(service):
    old = issue(service, "rotate-co", scope="read")
    resp = admin(service, "POST", f"/admin/api-keys/{old['id']}/rotate", json={"overlap_seconds": 1})
    assert resp.status_code == 201, resp.text
    new = resp.json()
    assert new["replaces"] == old["id"] and new["scope"] == "read" and new["api_key"] != old["api_key"]
    for key in (old, new):
        assert ServiceClient(service, key["api_key"]).get("/integrated-accounts").status_code == 200
    time.sleep(2.2)
    error(ServiceClient(service, old["api_key"]).get("/integrated-accounts"), 401)
    assert ServiceClient(service, new["api_key"]).get("/integrated-accounts").status_code == 200
    now = issue(service, "rotate-co")
    admin(service, "POST", f"/admin/api-keys/{now['id']}/rotate", json={"overlap_seconds": 0})
    error(ServiceClient(service, now["api_key"]).get("/integrated-accounts"), 401)


def test_a_key_with_an_expiry_stops_working_then(service):
    key = issue(service, "expiry-co", expires_in=1)
    assert ServiceClient(service, key["api_key"]).get("/integrated-accounts").status_code == 200
    time.sleep(2.2)
    error(ServiceClient(service, key["api_key"]).get("/integrated-accounts"), 401)


def test_admin_routes_refuse_a_non_ascii_token_without_a_500(service):
    for token in ("tökén", "\u202e", "a" * 5000):
        resp = requests.post(f"{service}/admin/api-keys", json={"tenant": "x"}, timeout=30,
                             headers={"Authorization": f"Bearer {token}".encode()})
        error(resp, 401)


def test_cli_manages_keys(service, redis_server_url):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "unified_ticketing.cli", "api-keys", *args],
                              env={"REDIS_URL": redis_server_url, "PATH": "/usr/bin:/bin"}, capture_output=True,
                              text=True, timeout=60)

    key = cli("create", "--tenant", "cli-keys", "--read-only").stdout.strip()
    client = ServiceClient(service, key)
    assert client.get("/integrated-accounts").status_code == 200
    error(client.post("/integrated-accounts", json={}), 403)
    listed = [json.loads(line) for line in cli("list", "--tenant", "cli-keys").stdout.splitlines()]
    assert [k["scope"] for k in listed] == ["read"]
    rotated = json.loads(cli("rotate", listed[0]["id"], "--overlap", "0").stdout)
    error(client.get("/integrated-accounts"), 401)
    assert ServiceClient(service, rotated["api_key"]).get("/integrated-accounts").status_code == 200
    assert cli("revoke", rotated["id"]).returncode == 0
    error(ServiceClient(service, rotated["api_key"]).get("/integrated-accounts"), 401)
    assert cli("revoke", rotated["id"]).returncode == 1


def test_the_oauth_connect_routes_need_a_key_that_may_add_accounts(service, sandbox):
    """/connect is a GET that ends in a new account, and a link token hands that power on: neither for a
    read-only key nor for one limited to some accounts."""
    full = ServiceClient(service, issue(service, "connect-keys")["api_key"])
    account = connect_pat(full, sandbox)
    for options, kind in (({"scope": "read"}, "read_only_key"),
                          ({"integrated_account_ids": [account]}, "key_limited_to_accounts")):
        client = ServiceClient(service, issue(service, "connect-keys", **options)["api_key"])
        started = client.request("GET", "/connect/livechat", params={"redirect_uri": "https://app.example/done"},
                                 allow_redirects=False)
        assert error(started, 403)["type"] == kind
        assert error(client.post("/link-tokens", json={"integration": "livechat"}), 403)["type"] == kind
