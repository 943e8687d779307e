"""Every 4xx has the documented error body; tenants never see each other's accounts or cursors."""
import base64
import json
import subprocess
import sys
import time

import pytest
import redis
import requests

from tests.conftest import (
    ADMIN_TOKEN,
    ServiceClient,
    connect_pat,
    error,
    new_tenant,
    running_service,
    service_overrides,
)


def assert_error(resp, status: int, param: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["status"] == status and err["type"] and err["message"]
    if param:
        assert err["param"] == param
    return err


@pytest.fixture(scope="module")
def first_page(tenant, account_id):
    return tenant.get("/unified/ticketing/tickets", integrated_account_id=account_id, limit=5).json()


def test_requests_without_a_valid_api_key_are_401(service, account_id):
    anon = ServiceClient(service)
    assert_error(anon.get("/unified/ticketing/tickets", integrated_account_id=account_id), 401)
    assert_error(anon.get("/integrated-accounts", headers={}), 401)
    assert_error(ServiceClient(service, "ut_wrong").get("/integrated-accounts"), 401)


def test_tampered_cursor_is_rejected(tenant, account_id, first_page):
    body, sig = first_page["next_cursor"].rsplit(".", 1)
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["p"] = 5
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=") + "." + sig
    for bad in (forged, "garbage", first_page["next_cursor"][:-2] + "xx"):
        assert_error(tenant.get("/unified/ticketing/tickets", integrated_account_id=account_id, next_cursor=bad),
                     400, "cursor")


def test_cursor_of_another_tenant_or_resource_is_rejected(service, tenant, account_id, sandbox, first_page):
    other = new_tenant(service, "globex")
    other_account = connect_pat(other, sandbox)
    err = assert_error(other.get("/unified/ticketing/tickets", integrated_account_id=other_account,
                                 next_cursor=first_page["next_cursor"]), 400, "cursor")
    assert "another" in err["message"]
    assert_error(tenant.get("/unified/ticketing/contacts", integrated_account_id=account_id,
                            next_cursor=first_page["next_cursor"]), 400, "cursor")


def test_another_tenants_account_is_404_not_403(service, account_id):
    other = new_tenant(service, "initech")
    assert_error(other.get(f"/integrated-accounts/{account_id}"), 404)
    assert_error(other.get("/unified/ticketing/tickets", integrated_account_id=account_id), 404)
    assert_error(other.delete(f"/integrated-accounts/{account_id}"), 404)


def test_expired_cursor_is_rejected(sandbox, redis_server_url):
    with running_service(service_overrides(sandbox, redis_server_url, CURSOR_TTL=1)) as (_, base):
        client = new_tenant(base, "shortlived")
        account = connect_pat(client, sandbox)
        page = client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=2).json()
        time.sleep(2.1)
        err = assert_error(client.get("/unified/ticketing/tickets", integrated_account_id=account,
                                      next_cursor=page["next_cursor"]), 400, "cursor")
        assert "expired" in err["message"]


def test_missing_account_and_unknown_resource(tenant, account_id):
    assert_error(tenant.get("/unified/ticketing/tickets"), 400, "integrated_account_id")
    assert_error(tenant.get("/unified/ticketing/tickets", integrated_account_id="nope"), 404)
    assert_error(tenant.get("/unified/ticketing/widgets", integrated_account_id=account_id), 404)
    assert_error(tenant.get("/no/such/route"), 404)


@pytest.mark.parametrize("resource,record_id", [
    ("tickets", "NOSUCHCHAT"), ("contacts", "00000000-0000-4000-8000-000000000000"),
    ("comments", "NOSUCHTHRD:NOSUCHTHRD_1"), ("attachments", "NOSUCHTHRD:NOSUCHTHRD_1"), ("comments", "garbage"),
    ("teams", "not-a-number"), ("teams", "99999999999999"), ("users", "nobody@example.com"), ("tags", "no-such-tag"),
])
def test_unknown_ids_are_404(tenant, account_id, resource, record_id):
    err = assert_error(tenant.get(f"/unified/ticketing/{resource}/{record_id}", integrated_account_id=account_id), 404)
    assert record_id in err["message"]


def test_account_credentials_are_checked_encrypted_and_never_shown(tenant, sandbox, redis_server_url):
    creds = sandbox.admin("GET", "credentials")
    bad = tenant.post("/integrated-accounts", json={"integration": "livechat", "credentials": {
        "type": "personal_access_token", "account_id": creds["account_id"], "token": "dal:wrong"}})
    assert_error(bad, 422, "credentials")
    account_id = connect_pat(tenant, sandbox)
    shown = tenant.get(f"/integrated-accounts/{account_id}")
    listed = tenant.get("/integrated-accounts")
    for text in (shown.text, listed.text):
        assert creds["personal_access_token"] not in text
    assert account_id in [a["id"] for a in listed.json()["result"]]
    stored = redis.Redis.from_url(redis_server_url).dump(f"ut:{{acct:{account_id}}}:account")
    assert creds["personal_access_token"].encode() not in stored
    assert tenant.delete(f"/integrated-accounts/{account_id}").status_code == 204
    assert_error(tenant.get(f"/integrated-accounts/{account_id}"), 404)


@pytest.mark.parametrize("body,param", [
    ({"integration": "zendesk", "credentials": {"type": "oauth2", "access_token": "x"}}, "integration"),
    ({"integration": "livechat"}, "credentials"),
    ({"integration": "livechat", "credentials": {"type": "password"}}, "credentials.type"),
    ({"integration": "livechat", "credentials": {"type": "personal_access_token", "token": "x"}},
     "credentials.account_id"),
    ({"integration": "livechat", "api_version": "2", "credentials": {"type": "oauth2", "access_token": "x"}},
     "api_version"),
])
def test_account_creation_validates_the_body(tenant, body, param):
    assert_error(tenant.post("/integrated-accounts", json=body), 400, param)


def test_oauth_tokens_can_connect_an_account(tenant, sandbox):
    import hashlib
    import secrets
    from urllib.parse import parse_qs, urlsplit

    import requests

    creds = sandbox.admin("GET", "credentials")
    verifier = secrets.token_urlsafe(40)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    redirect = requests.get(sandbox.base_url + "/", params={
        "response_type": "code", "client_id": creds["client_id"], "redirect_uri": "https://app.example/cb",
        "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"},
        allow_redirects=False, verify=False, timeout=10)
    code = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]
    token = requests.post(sandbox.base_url + "/v2/token", data={
        "grant_type": "authorization_code", "code": code, "client_id": creds["client_id"],
        "client_secret": creds["client_secret"], "redirect_uri": "https://app.example/cb", "code_verifier": verifier},
        verify=False, timeout=10).json()
    resp = tenant.post("/integrated-accounts", json={"integration": "livechat", "credentials": {
        "type": "oauth2", "access_token": token["access_token"], "refresh_token": token["refresh_token"],
        "expires_at": "2030-01-01T00:00:00Z"}})
    assert resp.status_code == 201, resp.text
    assert resp.json()["auth_type"] == "oauth2"
    page = tenant.get("/unified/ticketing/tickets", integrated_account_id=resp.json()["id"], limit=1)
    assert page.status_code == 200 and page.json()["result_count"] == 1


def test_admin_route_creates_api_keys_only_with_the_admin_token(service):
    assert_error(ServiceClient(service, "wrong").post("/admin/api-keys", json={"tenant": "x"}), 401)
    assert_error(ServiceClient(service, ADMIN_TOKEN).post("/admin/api-keys", json={"tenant": "bad name!"}), 400,
                 "tenant")
    assert_error(ServiceClient(service, ADMIN_TOKEN).post("/admin/api-keys", data="nope"), 400, "body")


def test_cli_creates_an_api_key_that_authenticates(service, redis_server_url):
    out = subprocess.run([sys.executable, "-m", "unified_ticketing.cli", "api-keys", "create", "--tenant", "cli-co"],
                         env={"REDIS_URL": redis_server_url, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                         check=True)
    key = out.stdout.strip()
    assert ServiceClient(service, key).get("/integrated-accounts").status_code == 200
    raw = redis.Redis.from_url(redis_server_url)
    assert not any(key.encode() in k for k in raw.keys("ut:apikey:*"))


def test_a_405_says_which_methods_the_route_takes(service):
    resp = requests.put(f"{service}/integrated-accounts", timeout=30)
    error(resp, 405)
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


@pytest.mark.parametrize("limit", ["١٢", "２", "1_0", " 5"])
def test_limit_takes_ascii_digits_only(tenant, account_id, limit):
    error(tenant.get("/unified/ticketing/tickets", integrated_account_id=account_id, limit=limit), 400, "limit")


def test_an_empty_since_is_a_400_not_everything(tenant, account_id):
    error(tenant.get("/unified/ticketing/export", integrated_account_id=account_id, since=""), 400, "since")
