"""Personal access token auth, permissions, and the test knobs (rate limit, faults) with their answers."""
from __future__ import annotations

import jsonschema
import pytest

from tests.sandbox_rocketchat.conftest import assert_matches_spec, shared_response_schema

USER_ROUTES = [
    ("GET", "/api/v1/livechat/rooms", "/api/v1/livechat/rooms"),
    ("GET", "/api/v1/livechat/abc/messages", "/api/v1/livechat/messages/{rid}"),
    ("GET", "/api/v1/livechat/visitors.info?visitorId=x", "/api/v1/livechat/visitors.info"),
    ("GET", "/api/v1/livechat/visitors.search?term=", "/api/v1/livechat/visitors.search"),
    ("POST", "/api/v1/livechat/room.closeByUser", "/api/v1/livechat/room.closeByUser"),
    ("POST", "/api/v1/livechat/room.saveInfo", "/api/v1/livechat/room.saveInfo"),
    ("GET", "/api/v1/livechat/users/agent", "/api/v1/livechat/users/{type}"),
    ("GET", "/api/v1/livechat/users/manager/abc", "/api/v1/livechat/users/{type}/{_id}"),
    ("GET", "/api/v1/livechat/department", "/api/v1/livechat/department"),
    ("GET", "/api/v1/livechat/department/abc", "/api/v1/livechat/department/{_id}"),
    ("GET", "/api/v1/livechat/tags", "/api/v1/livechat/tags"),
    ("GET", "/api/v1/livechat/tags/abc", "/api/v1/livechat/tags/{tagId}"),
    ("POST", "/api/v1/livechat/room.forward", "/api/v1/livechat/room.forward"),
]


def _call(rc, method, path, headers):
    return rc.get(path, headers=headers) if method == "GET" else rc.post(path, json={}, headers=headers)


@pytest.mark.parametrize(("method", "path", "spec_path"), USER_ROUTES)
@pytest.mark.parametrize("headers", [{}, {"X-User-Id": "someone"}, "wrong-token", "other-users-token"])
def test_routes_need_a_valid_user_id_and_token(rc, method, path, spec_path, headers):
    creds = rc.proc.admin("GET", "credentials")
    if headers == "wrong-token":
        headers = {"X-User-Id": creds["user_id"], "X-Auth-Token": "x" * 43}
    elif headers == "other-users-token":
        headers = {"X-User-Id": creds["user_id"], "X-Auth-Token": creds["agents"][0]["auth_token"]}
    resp = _call(rc, method, path, headers)
    assert resp.status_code == 401
    assert resp.json() == {"status": "error", "message": "You must be logged in to do this."}
    assert_matches_spec(resp, spec_path, method)


@pytest.mark.parametrize(("method", "path"), [r[:2] for r in USER_ROUTES
                                              if r[0] == "GET" and r[1] != "/api/v1/livechat/rooms"])
def test_a_user_without_omnichannel_permissions_gets_403(rc, method, path):
    restricted = rc.proc.admin("GET", "credentials")["restricted_user"]
    resp = _call(rc, method, path, {"X-User-Id": restricted["user_id"], "X-Auth-Token": restricted["auth_token"]})
    assert resp.status_code == 403
    assert resp.json() == {"success": False,
                           "error": "User does not have the permissions required for this action [error-unauthorized]"}
    # Not every operation lists its 403; all of them answer with the shared permissionError.
    jsonschema.Draft7Validator(shared_response_schema("permissionError")).validate(resp.json())


def test_each_agent_token_signs_in_as_that_agent(rc):
    agent = rc.proc.admin("GET", "credentials")["agents"][0]
    resp = rc.get("/api/v1/livechat/rooms", {"count": 1, "agents[]": agent["user_id"]},
                  headers={"X-User-Id": agent["user_id"], "X-Auth-Token": agent["auth_token"]})
    assert resp.status_code == 200


def test_unknown_api_route_is_a_json_404(rc):
    resp = rc.get("/api/v1/livechat/nothing-here")
    assert resp.status_code == 404 and resp.json()["success"] is False


def test_rate_limit_answers_429_with_rocket_chat_headers(rcw):
    rcw.proc.admin("POST", "config", json={"rate_limit": 1, "rate_burst": 2})
    rcw.proc.admin("POST", "stats/reset")
    responses = [rcw.get("/api/v1/livechat/rooms", {"count": 1}) for _ in range(8)]
    assert responses[0].status_code == responses[1].status_code == 200
    limited = [r for r in responses if r.status_code == 429]
    assert limited and len(limited) <= 6
    for r in responses:
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(r.headers)
        assert r.headers["X-RateLimit-Limit"] == "2"
    for r in limited:
        body = r.json()
        assert body["success"] is False and body["errorType"] == "error-too-many-requests"
        assert body["error"].startswith("Error, too many requests. Please slow down.")
        assert r.headers["X-RateLimit-Remaining"] == "0"
    assert rcw.proc.admin("GET", "stats")["rate_limited"] == len(limited)


def test_no_rate_limit_headers_when_the_limit_is_off(rcw):
    assert "X-RateLimit-Limit" not in rcw.get("/api/v1/livechat/rooms", {"count": 1}).headers


def test_injected_faults_are_500s_in_rocket_chat_shape(rcw):
    rcw.proc.admin("POST", "config", json={"fault_rate": 1, "fault_kinds": ["internal"]})
    resp = rcw.get("/api/v1/livechat/rooms")
    assert resp.status_code == 500 and resp.json() == {"success": False, "error": "Internal server error"}
    assert rcw.proc.admin("GET", "stats")["faults"] == {"internal": 1}


def test_config_rejects_unknown_or_bad_settings(rcw):
    import requests

    resp = requests.post(f"{rcw.base}/_sandbox/config", json={"rate_limit": -1, "nope": 1}, timeout=10)
    assert resp.status_code == 400 and "nope" in resp.json()["error"]


def test_stats_count_calls_per_route(rcw):
    rcw.proc.admin("POST", "stats/reset")
    rcw.get("/api/v1/livechat/rooms")
    rcw.get("/api/v1/livechat/rooms")
    stats = rcw.proc.admin("GET", "stats")
    assert stats["calls"] == {"GET /api/v1/livechat/rooms": 2} and stats["total_calls"] == 2


def test_credentials_name_the_server_and_the_manager(rc):
    creds = rc.proc.admin("GET", "credentials")
    assert creds["server_url"] == rc.base
    assert creds["headers"] == {"X-User-Id": creds["user_id"], "X-Auth-Token": creds["auth_token"]}
