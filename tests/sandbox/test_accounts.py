"""The accounts host: OAuth authorization code + PKCE, token refresh and rotation, expiry, revocation, scopes."""
from __future__ import annotations

import base64
import hashlib
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.conftest import lc_call

REDIRECT_URI = "https://app.example.com/oauth/callback"


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def authorize(sb, client_id: str, scope: str | None = None, state: str = "st-42",
              verifier: str | None = None) -> tuple[str, str, dict]:
    """Run the authorize step; returns (code, verifier, the redirect's query parameters)."""
    verifier = verifier or secrets.token_urlsafe(48)
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI, "state": state,
              "code_challenge": _challenge(verifier), "code_challenge_method": "S256"}
    if scope is not None:
        params["scope"] = scope
    resp = requests.get(f"{sb.base_url}/", params=params, allow_redirects=False, verify=False, timeout=30)
    assert resp.status_code == 302, resp.text
    location = urlsplit(resp.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    return query.get("code", ""), verifier, query


def token_request(sb, form: dict) -> requests.Response:
    return requests.post(f"{sb.base_url}/v2/token", data=form, verify=False, timeout=30)


def exchange(sb, client_id: str, client_secret: str, code: str, verifier: str) -> requests.Response:
    return token_request(sb, {"grant_type": "authorization_code", "code": code, "client_id": client_id,
                              "client_secret": client_secret, "redirect_uri": REDIRECT_URI,
                              "code_verifier": verifier})


def refresh(sb, client_id: str, client_secret: str, refresh_token: str) -> requests.Response:
    return token_request(sb, {"grant_type": "refresh_token", "refresh_token": refresh_token,
                              "client_id": client_id, "client_secret": client_secret})


def client(creds: dict, kind: str) -> tuple[str, str]:
    if kind == "pkce":
        return creds["client_id"], creds["client_secret"]
    return creds["server_client_id"], creds["server_client_secret"]


def grant(sb, creds: dict, kind: str = "pkce", scope: str | None = None) -> dict:
    client_id, secret = client(creds, kind)
    code, verifier, _ = authorize(sb, client_id, scope=scope)
    resp = exchange(sb, client_id, secret, code, verifier)
    assert resp.status_code == 200, resp.text
    return resp.json()


def bearer(token: dict | str) -> str:
    return "Bearer " + (token if isinstance(token, str) else token["access_token"])


@pytest.fixture
def creds(fresh_sandbox):
    return fresh_sandbox.admin("GET", "credentials")


# --- authorization code grant ------------------------------------------------------------------------------
def test_authorize_redirects_back_with_code_and_state(fresh_sandbox, creds):
    code, _, query = authorize(fresh_sandbox, creds["client_id"], state="opaque/state=1&x")
    assert code
    assert query["state"] == "opaque/state=1&x"
    assert "error" not in query


def test_authorize_rejects_unknown_client_without_redirecting(fresh_sandbox):
    resp = requests.get(f"{fresh_sandbox.base_url}/", params={
        "response_type": "code", "client_id": "nope", "redirect_uri": REDIRECT_URI, "state": "s"},
        allow_redirects=False, verify=False, timeout=30)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_client"


def test_authorize_with_unknown_scope_redirects_with_invalid_scope(fresh_sandbox, creds):
    _, _, query = authorize(fresh_sandbox, creds["client_id"], scope="chats--all:ro no-such-scope")
    assert query == {"error": "invalid_scope", "state": "st-42"}


def test_code_exchange_returns_documented_token(fresh_sandbox, creds):
    token = grant(fresh_sandbox, creds)
    assert set(token) == {"access_token", "refresh_token", "expires_in", "account_id", "organization_id",
                          "scope", "token_type"}
    assert token["access_token"].startswith("dal:")
    assert token["refresh_token"] and token["refresh_token"] != token["access_token"]
    assert token["expires_in"] == 28800
    assert token["token_type"] == "Bearer"
    assert token["account_id"] == creds["account_id"]
    assert token["organization_id"] == creds["organization_id"]
    assert set(token["scope"].split(",")) == set(creds["scopes"])


def test_access_token_works_as_bearer_on_agent_and_configuration_api(fresh_sandbox, creds):
    token = grant(fresh_sandbox, creds)
    resp = lc_call(fresh_sandbox, "list_archives", {"limit": 2}, auth=bearer(token))
    assert resp.status_code == 200
    assert len(resp.json()["chats"]) == 2
    resp = lc_call(fresh_sandbox, "list_agents", {}, auth=bearer(token), version="3.6", api="configuration")
    assert resp.status_code == 200
    assert creds["agent_id"] in [a["id"] for a in resp.json()]


def test_wrong_code_verifier_is_invalid_grant(fresh_sandbox, creds):
    code, verifier, _ = authorize(fresh_sandbox, creds["client_id"])
    resp = exchange(fresh_sandbox, creds["client_id"], creds["client_secret"], code, verifier + "x")
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_grant"


def test_missing_code_verifier_is_invalid_grant(fresh_sandbox, creds):
    code, _, _ = authorize(fresh_sandbox, creds["client_id"])
    resp = token_request(fresh_sandbox, {"grant_type": "authorization_code", "code": code,
                                         "client_id": creds["client_id"], "client_secret": creds["client_secret"],
                                         "redirect_uri": REDIRECT_URI})
    assert resp.json()["error"] == "invalid_grant"


def test_code_is_single_use(fresh_sandbox, creds):
    code, verifier, _ = authorize(fresh_sandbox, creds["client_id"])
    first = exchange(fresh_sandbox, creds["client_id"], creds["client_secret"], code, verifier)
    assert first.status_code == 200
    again = exchange(fresh_sandbox, creds["client_id"], creds["client_secret"], code, verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_code_bound_to_redirect_uri_and_client(fresh_sandbox, creds):
    code, verifier, _ = authorize(fresh_sandbox, creds["client_id"])
    resp = token_request(fresh_sandbox, {"grant_type": "authorization_code", "code": code,
                                         "client_id": creds["client_id"], "client_secret": creds["client_secret"],
                                         "redirect_uri": "https://evil.example.com/cb", "code_verifier": verifier})
    assert resp.json()["error"] == "invalid_grant"
    code, verifier, _ = authorize(fresh_sandbox, creds["client_id"])
    resp = exchange(fresh_sandbox, creds["server_client_id"], creds["server_client_secret"], code, verifier)
    assert resp.json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_invalid_client(fresh_sandbox, creds):
    code, verifier, _ = authorize(fresh_sandbox, creds["client_id"])
    resp = exchange(fresh_sandbox, creds["client_id"], "not-the-secret", code, verifier)
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_client"


def test_unknown_grant_type_is_rejected(fresh_sandbox, creds):
    resp = token_request(fresh_sandbox, {"grant_type": "password", "client_id": creds["client_id"],
                                         "client_secret": creds["client_secret"]})
    assert resp.status_code == 400
    assert resp.json()["error"] == "unsupported_grant_type"


# --- token info and revocation -----------------------------------------------------------------------------
def test_token_info_describes_the_bearer_token(fresh_sandbox, creds):
    token = grant(fresh_sandbox, creds)
    resp = requests.get(f"{fresh_sandbox.base_url}/v2/info", headers={"Authorization": bearer(token)},
                        verify=False, timeout=30)
    assert resp.status_code == 200
    info = resp.json()
    assert set(info) == {"access_token", "account_id", "client_id", "expires_in", "organization_id", "scope",
                         "token_type"}
    assert info["access_token"] == token["access_token"]
    assert info["client_id"] == creds["client_id"]
    assert info["account_id"] == creds["account_id"]
    assert info["organization_id"] == creds["organization_id"]
    assert info["scope"] == token["scope"]
    assert info["token_type"] == "Bearer"
    assert 0 < info["expires_in"] <= 28800


def test_token_info_rejects_unknown_token(fresh_sandbox):
    resp = requests.get(f"{fresh_sandbox.base_url}/v2/info", headers={"Authorization": "Bearer dal:nope"},
                        verify=False, timeout=30)
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_token"


def test_revoke_kills_access_token_and_its_refresh_token(fresh_sandbox, creds):
    token = grant(fresh_sandbox, creds)
    other = grant(fresh_sandbox, creds)
    resp = requests.delete(f"{fresh_sandbox.base_url}/v2/token", headers={"Authorization": bearer(token)},
                           verify=False, timeout=30)
    assert resp.status_code in (200, 204)
    gone = lc_call(fresh_sandbox, "list_archives", {"limit": 1}, auth=bearer(token))
    assert gone.status_code == 401
    assert gone.json()["error"]["type"] == "authentication"
    info = requests.get(f"{fresh_sandbox.base_url}/v2/info", headers={"Authorization": bearer(token)},
                        verify=False, timeout=30)
    assert info.status_code == 401
    again = refresh(fresh_sandbox, creds["client_id"], creds["client_secret"], token["refresh_token"])
    assert again.json()["error"] == "invalid_grant"
    # other tokens of the same client and account live on
    assert lc_call(fresh_sandbox, "list_archives", {"limit": 1}, auth=bearer(other)).status_code == 200
    assert fresh_sandbox.admin("GET", "stats")["token_revocations"] == 1


def test_revoke_by_refresh_token_code(fresh_sandbox, creds):
    token = grant(fresh_sandbox, creds)
    resp = requests.delete(f"{fresh_sandbox.base_url}/v2/token", params={"code": token["refresh_token"]},
                           verify=False, timeout=30)
    assert resp.status_code in (200, 204)
    again = refresh(fresh_sandbox, creds["client_id"], creds["client_secret"], token["refresh_token"])
    assert again.json()["error"] == "invalid_grant"


def test_revoke_without_a_token_is_refused(fresh_sandbox):
    resp = requests.delete(f"{fresh_sandbox.base_url}/v2/token", headers={"Authorization": "Bearer dal:nope"},
                           verify=False, timeout=30)
    assert resp.status_code == 401


# --- expiry and refresh ------------------------------------------------------------------------------------
def _wait_until_rejected(sb, auth: str, limit: float = 15.0) -> requests.Response:
    deadline = time.monotonic() + limit
    while True:
        resp = lc_call(sb, "list_archives", {"limit": 1}, auth=auth)
        if resp.status_code != 200 or time.monotonic() > deadline:
            return resp
        time.sleep(0.2)


def test_access_token_expires_after_token_ttl(fresh_sandbox, creds):
    fresh_sandbox.admin("POST", "config", json={"token_ttl": 1})
    token = grant(fresh_sandbox, creds)
    assert token["expires_in"] == 1
    resp = _wait_until_rejected(fresh_sandbox, bearer(token))
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "authentication"
    info = requests.get(f"{fresh_sandbox.base_url}/v2/info", headers={"Authorization": bearer(token)},
                        verify=False, timeout=30)
    assert info.status_code == 401
    # a token minted under the normal lifetime still works
    fresh_sandbox.admin("POST", "config", json={"token_ttl": 28800})
    fresh = refresh(fresh_sandbox, creds["client_id"], creds["client_secret"], token["refresh_token"])
    assert fresh.status_code == 200
    assert fresh.json()["expires_in"] == 28800
    assert lc_call(fresh_sandbox, "list_archives", {"limit": 1}, auth=bearer(fresh.json())).status_code == 200


def test_pkce_client_refresh_tokens_rotate(fresh_sandbox, creds):
    fresh_sandbox.admin("POST", "config", json={"token_ttl": 1})
    first = grant(fresh_sandbox, creds, "pkce")
    _wait_until_rejected(fresh_sandbox, bearer(first))
    fresh_sandbox.admin("POST", "config", json={"token_ttl": 28800})
    resp = refresh(fresh_sandbox, creds["client_id"], creds["client_secret"], first["refresh_token"])
    assert resp.status_code == 200
    second = resp.json()
    assert second["access_token"].startswith("dal:") and second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["token_type"] == "Bearer" and second["expires_in"] == 28800
    assert second["account_id"] == first["account_id"] and second["scope"] == first["scope"]
    assert lc_call(fresh_sandbox, "list_archives", {"limit": 1}, auth=bearer(second)).status_code == 200
    # the used refresh token is dead, the new one works (and rotates again)
    reused = refresh(fresh_sandbox, creds["client_id"], creds["client_secret"], first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    third = refresh(fresh_sandbox, creds["client_id"], creds["client_secret"], second["refresh_token"])
    assert third.status_code == 200
    assert third.json()["refresh_token"] not in (first["refresh_token"], second["refresh_token"])
    stats = fresh_sandbox.admin("GET", "stats")
    assert stats["token_grants"] == {"authorization_code": 1, "refresh_token": 2}
    assert stats["token_refreshes"] == 2


def test_server_client_refresh_token_does_not_rotate(fresh_sandbox, creds):
    client_id, secret = client(creds, "server")
    first = grant(fresh_sandbox, creds, "server")
    a = refresh(fresh_sandbox, client_id, secret, first["refresh_token"])
    b = refresh(fresh_sandbox, client_id, secret, first["refresh_token"])
    assert a.status_code == b.status_code == 200
    assert a.json()["refresh_token"] == b.json()["refresh_token"] == first["refresh_token"]
    assert len({first["access_token"], a.json()["access_token"], b.json()["access_token"]}) == 3
    for tok in (first, a.json(), b.json()):
        assert lc_call(fresh_sandbox, "list_archives", {"limit": 1}, auth=bearer(tok)).status_code == 200
    stats = fresh_sandbox.admin("GET", "stats")
    assert stats["token_grants"] == {"authorization_code": 1, "refresh_token": 2}
    assert stats["token_refreshes"] == 2


def test_refresh_token_of_another_client_is_invalid_grant(fresh_sandbox, creds):
    token = grant(fresh_sandbox, creds, "pkce")
    resp = refresh(fresh_sandbox, creds["server_client_id"], creds["server_client_secret"], token["refresh_token"])
    assert resp.json()["error"] == "invalid_grant"
    resp = refresh(fresh_sandbox, creds["client_id"], creds["client_secret"], "dal:made-up")
    assert resp.json()["error"] == "invalid_grant"


def test_at_most_25_live_access_tokens_per_client(fresh_sandbox, creds):
    client_id, secret = client(creds, "server")
    first = grant(fresh_sandbox, creds, "server")
    later = [refresh(fresh_sandbox, client_id, secret, first["refresh_token"]).json() for _ in range(25)]
    assert lc_call(fresh_sandbox, "list_archives", {"limit": 1}, auth=bearer(first)).json()["error"]["type"] == \
        "authentication"
    assert lc_call(fresh_sandbox, "list_archives", {"limit": 1}, auth=bearer(later[0])).status_code == 200


# --- scopes ------------------------------------------------------------------------------------------------
def test_read_only_oauth_scope_can_read_but_not_write(fresh_sandbox, creds):
    token = grant(fresh_sandbox, creds, scope="chats--all:ro")
    assert token["scope"] == "chats--all:ro"
    auth = bearer(token)
    archives = lc_call(fresh_sandbox, "list_archives", {"limit": 1}, auth=auth)
    assert archives.status_code == 200
    chat_id = archives.json()["chats"][0]["id"]
    resp = lc_call(fresh_sandbox, "send_event", {"chat_id": chat_id, "event": {"type": "message", "text": "hi"}},
                   auth=auth)
    assert resp.status_code == 403
    assert resp.json()["error"]["type"] == "authorization"
    resp = lc_call(fresh_sandbox, "create_customer", {"name": "Nobody"}, auth=auth)
    assert resp.status_code == 403
    assert resp.json()["error"]["type"] == "authorization"
    # nothing was written
    after = lc_call(fresh_sandbox, "get_chat", {"chat_id": chat_id}, auth=auth).json()
    assert all(ev.get("text") != "hi" for ev in after["thread"]["events"])


def test_limited_personal_access_token_scopes(fresh_sandbox):
    pat = fresh_sandbox.admin("POST", "personal-access-tokens", json={"scopes": ["chats--all:ro", "customers:ro"]})
    auth = pat["basic_authorization"]
    assert lc_call(fresh_sandbox, "list_archives", {"limit": 1}, auth=auth).status_code == 200
    assert lc_call(fresh_sandbox, "list_customers", {"limit": 1}, auth=auth).status_code == 200
    chat_id = lc_call(fresh_sandbox, "list_chats", {"limit": 1}, auth=auth).json()["chats_summary"][0]["id"]
    for method, body in (("send_event", {"chat_id": chat_id, "event": {"type": "message", "text": "hi"}}),
                         ("create_customer", {"name": "Nobody"}), ("deactivate_chat", {"id": chat_id})):
        resp = lc_call(fresh_sandbox, method, body, auth=auth)
        assert resp.status_code == 403, method
        assert resp.json()["error"]["type"] == "authorization", method
    resp = lc_call(fresh_sandbox, "list_agents", {}, auth=auth, api="configuration")
    assert resp.json()["error"]["type"] == "authorization"


def test_bad_credentials_are_authentication_errors(fresh_sandbox, creds):
    wrong_pat = "Basic " + base64.b64encode(f"{creds['account_id']}:dal:wrong".encode()).decode()
    for auth in ("Bearer dal:unknown", wrong_pat, "Token abc", "Basic !!!not-base64"):
        resp = lc_call(fresh_sandbox, "list_archives", {"limit": 1}, auth=auth)
        assert resp.status_code == 401, auth
        assert resp.json()["error"]["type"] == "authentication", auth
    resp = requests.post(f"{fresh_sandbox.base_url}/v3.5/agent/action/list_archives", json={}, verify=False,
                         timeout=30)
    assert resp.json()["error"]["type"] == "authentication"


# --- who the credentials belong to -------------------------------------------------------------------
def account_me(sb, auth: str) -> requests.Response:
    return requests.get(f"{sb.base_url}/v2/accounts/me", headers={"Authorization": auth}, verify=False, timeout=30)


def test_accounts_me_names_the_agent_and_organization_for_a_pat_and_an_oauth_token(fresh_sandbox, creds):
    narrow_pat = fresh_sandbox.admin("POST", "personal-access-tokens", json={"scopes": ["chats--all:ro"]})
    for auth in (creds["basic_authorization"], bearer(grant(fresh_sandbox, creds)), narrow_pat["basic_authorization"]):
        resp = account_me(fresh_sandbox, auth)
        assert resp.status_code == 200, resp.text
        me = resp.json()
        assert (me["email"], me["account_id"], me["default_organization_id"]) == (
            creds["agent_id"], creds["account_id"], creds["organization_id"])
    agents = lc_call(fresh_sandbox, "list_agents", {}, api="configuration").json()
    colleague = next(a["id"] for a in agents if a["id"] != creds["agent_id"])
    theirs = fresh_sandbox.admin("POST", "personal-access-tokens", json={"agent_id": colleague})
    assert account_me(fresh_sandbox, theirs["basic_authorization"]).json()["email"] == colleague


def test_accounts_me_refuses_bad_credentials_and_a_token_without_accounts_scope(fresh_sandbox, creds):
    resp = account_me(fresh_sandbox, "Bearer dal:unknown")
    assert resp.status_code == 401 and resp.json()["error"] == "unauthorized"
    narrow = grant(fresh_sandbox, creds, scope="chats--all:ro")
    resp = account_me(fresh_sandbox, bearer(narrow))
    assert resp.status_code == 403 and resp.json()["error"] == "access_denied"


# --- data centers ----------------------------------------------------------------------------------------
def region_call(sb, auth: str, region: str | None) -> requests.Response:
    headers = {"Authorization": auth, **({"X-Region": region} if region else {})}
    return requests.post(f"{sb.base_url}/v3.6/agent/action/list_chats", json={"limit": 1}, headers=headers,
                         verify=False, timeout=30)


def test_a_fra_license_answers_only_calls_that_name_its_region(fresh_sandbox):
    creds = fresh_sandbox.admin("POST", "reset", json={"region": "fra"})
    try:
        assert creds["region"] == "fra" and creds["personal_access_token"].startswith("fra:")
        token = grant(fresh_sandbox, creds)
        assert token["access_token"].startswith("fra:")
        assert ":" not in token["refresh_token"]  # refresh tokens carry no region prefix
        for auth in (creds["basic_authorization"], bearer(token)):
            for region in (None, "dal"):
                resp = region_call(fresh_sandbox, auth, region)
                assert resp.status_code == 421, resp.text
                assert resp.json()["error"] == {"type": "misdirected_request", "message": "Wrong region",
                                                "data": {"region": "fra"}}
            assert region_call(fresh_sandbox, auth, "fra").status_code == 200
    finally:
        fresh_sandbox.admin("POST", "reset")
    creds = fresh_sandbox.admin("GET", "credentials")
    assert creds["personal_access_token"].startswith("dal:")
    assert region_call(fresh_sandbox, creds["basic_authorization"], None).status_code == 200
    assert region_call(fresh_sandbox, creds["basic_authorization"], "dal").status_code == 200
    wrong = region_call(fresh_sandbox, creds["basic_authorization"], "fra")
    assert wrong.status_code == 421 and wrong.json()["error"]["data"] == {"region": "dal"}
