"""Test knobs (rate limit, faults, latency, error status mode) and call statistics, through the admin API."""
from __future__ import annotations

import time

import pytest
import requests

from tests.conftest import lc_call


@pytest.fixture
def auth(fresh_sandbox):
    return fresh_sandbox.admin("GET", "credentials")["basic_authorization"]


def call(sb, auth: str, method: str = "list_archives", body: dict | None = None, **kw) -> requests.Response:
    return lc_call(sb, method, {"limit": 1} if body is None and method == "list_archives" else body, auth=auth, **kw)


def config(sb, **changes) -> dict:
    return sb.admin("POST", "config", json=changes)


# --- rate limit --------------------------------------------------------------------------------------------
def test_rate_limit_answers_429_with_retry_after(fresh_sandbox, auth):
    config(fresh_sandbox, rate_limit=1, rate_burst=2)
    fresh_sandbox.admin("POST", "stats/reset")
    responses = [call(fresh_sandbox, auth) for _ in range(8)]
    limited = [r for r in responses if r.status_code == 429]
    ok = [r for r in responses if r.status_code == 200]
    assert limited, "a burst well over the bucket must be limited"
    assert 2 <= len(ok) < 8
    assert responses[0].status_code == responses[1].status_code == 200  # the burst allowance
    for r in limited:
        assert r.json()["error"]["type"] == "too_many_requests"
        assert int(r.headers["Retry-After"]) >= 1
    stats = fresh_sandbox.admin("GET", "stats")
    assert stats["rate_limited"] == len(limited)
    assert stats["errors"]["too_many_requests"] == len(limited)
    assert stats["calls"]["list_archives"] == 8
    # waiting as long as Retry-After says lets the next call through
    time.sleep(int(limited[-1].headers["Retry-After"]))
    assert call(fresh_sandbox, auth).status_code == 200


def test_rate_limit_is_shared_by_every_token_on_the_license(fresh_sandbox, auth):
    other = fresh_sandbox.admin("POST", "personal-access-tokens", json={})["basic_authorization"]
    config(fresh_sandbox, rate_limit=0.5, rate_burst=2)
    assert call(fresh_sandbox, auth).status_code == 200
    assert call(fresh_sandbox, auth).status_code == 200
    resp = call(fresh_sandbox, other)
    assert resp.status_code == 429
    assert resp.json()["error"]["type"] == "too_many_requests"
    assert int(resp.headers["Retry-After"]) >= 2  # half a request per second: a token takes about 2 s


def test_rate_limit_zero_turns_it_off(fresh_sandbox, auth):
    config(fresh_sandbox, rate_limit=1, rate_burst=1)
    call(fresh_sandbox, auth)
    config(fresh_sandbox, rate_limit=0)
    assert all(call(fresh_sandbox, auth).status_code == 200 for _ in range(5))


def test_rate_limited_error_can_come_with_http_200(fresh_sandbox, auth):
    config(fresh_sandbox, rate_limit=0.5, rate_burst=1, error_status="200")
    call(fresh_sandbox, auth)
    resp = call(fresh_sandbox, auth)
    assert resp.status_code == 200
    assert resp.json()["error"]["type"] == "too_many_requests"


# --- faults ------------------------------------------------------------------------------------------------
def test_internal_fault(fresh_sandbox, auth):
    config(fresh_sandbox, fault_rate=1, fault_kinds=["internal"])
    resp = call(fresh_sandbox, auth)
    assert resp.status_code == 500
    assert resp.json()["error"]["type"] == "internal"
    resp = call(fresh_sandbox, auth, "list_agents", {}, api="configuration")
    assert resp.status_code == 500
    assert fresh_sandbox.admin("GET", "stats")["faults"] == {"internal": 2}


def test_error_200_fault_is_an_error_body_with_http_200(fresh_sandbox, auth):
    config(fresh_sandbox, fault_rate=1, fault_kinds=["error_200"])
    resp = call(fresh_sandbox, auth)
    assert resp.status_code == 200
    assert resp.json()["error"]["type"] == "internal"
    assert "chats" not in resp.json()


def test_timeout_fault(fresh_sandbox, auth):
    config(fresh_sandbox, fault_rate=1, fault_kinds=["timeout"], timeout_seconds=0.1)
    resp = call(fresh_sandbox, auth)
    assert resp.status_code == 504
    assert resp.json()["error"]["type"] == "request_timeout"
    assert fresh_sandbox.admin("GET", "stats")["faults"] == {"timeout": 1}


def test_faults_do_not_apply_writes(fresh_sandbox, auth):
    chat_id = call(fresh_sandbox, auth, "list_chats", {"limit": 1}).json()["chats_summary"][0]["id"]
    config(fresh_sandbox, fault_rate=1, fault_kinds=["internal", "error_200"])
    for _ in range(4):
        resp = call(fresh_sandbox, auth, "send_event", {"chat_id": chat_id, "event": {"type": "message",
                                                                                      "text": "lost"}})
        assert resp.json()["error"]["type"] == "internal"
    config(fresh_sandbox, fault_rate=0)
    thread = call(fresh_sandbox, auth, "get_chat", {"chat_id": chat_id}).json()["thread"]
    assert all(ev.get("text") != "lost" for ev in thread["events"])


def test_fault_rate_zero_means_no_faults(fresh_sandbox, auth):
    config(fresh_sandbox, fault_rate=0, fault_kinds=["internal"])
    assert all(call(fresh_sandbox, auth).status_code == 200 for _ in range(5))
    assert fresh_sandbox.admin("GET", "stats")["faults"] == {}


def test_authentication_is_checked_before_faults(fresh_sandbox):
    config(fresh_sandbox, fault_rate=1, fault_kinds=["internal"])
    resp = call(fresh_sandbox, "Bearer dal:unknown")
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "authentication"


def test_error_status_200_mode(fresh_sandbox, auth):
    config(fresh_sandbox, error_status="200")
    resp = call(fresh_sandbox, auth, "get_chat", {"chat_id": "NOSUCHCHAT"})
    assert resp.status_code == 200
    assert resp.json()["error"]["type"] == "not_found"
    config(fresh_sandbox, error_status="http")
    assert call(fresh_sandbox, auth, "get_chat", {"chat_id": "NOSUCHCHAT"}).status_code == 404


def test_latency_knob_is_accepted_and_calls_still_answer(fresh_sandbox, auth):
    assert config(fresh_sandbox, latency_ms=30)["latency_ms"] == 30
    resp = call(fresh_sandbox, auth)
    assert resp.status_code == 200
    assert len(resp.json()["chats"]) == 1
    assert fresh_sandbox.admin("GET", "config")["latency_ms"] == 30


# --- the config endpoint -----------------------------------------------------------------------------------
def _post_config(sb, body) -> requests.Response:
    return requests.post(f"{sb.base_url}/_sandbox/config", json=body, verify=False, timeout=30)


def test_config_reports_every_knob(fresh_sandbox):
    knobs = fresh_sandbox.admin("GET", "config")
    assert set(knobs) == {"rate_limit", "rate_burst", "latency_ms", "fault_rate", "fault_kinds", "timeout_seconds",
                          "error_status", "token_ttl", "webhook_retry_delays", "webhook_timeout", "fault_methods",
                          "repeat_page_id"}
    assert knobs["webhook_retry_delays"] == [0.2, 0.2, 0.2]


def test_unknown_config_key_is_400_and_changes_nothing(fresh_sandbox):
    before = fresh_sandbox.admin("GET", "config")
    resp = _post_config(fresh_sandbox, {"latency_ms": 500, "no_such_knob": 1})
    assert resp.status_code == 400
    assert "no_such_knob" in resp.json()["error"]
    assert fresh_sandbox.admin("GET", "config") == before


@pytest.mark.parametrize("body", [
    {"rate_limit": "fast"}, {"rate_limit": -1}, {"rate_burst": 1.5}, {"fault_rate": 2},
    {"fault_kinds": ["explode"]}, {"fault_kinds": "internal"}, {"error_status": "500"}, {"token_ttl": 0},
    {"webhook_retry_delays": [1, "soon"]}, {"latency_ms": True}, [1, 2],
])
def test_invalid_config_values_are_400(fresh_sandbox, auth, body):
    before = fresh_sandbox.admin("GET", "config")
    resp = _post_config(fresh_sandbox, body)
    assert resp.status_code == 400
    assert fresh_sandbox.admin("GET", "config") == before
    assert call(fresh_sandbox, auth).status_code == 200


def test_reset_restores_startup_knobs(fresh_sandbox):
    config(fresh_sandbox, fault_rate=1, fault_kinds=["timeout"], timeout_seconds=0.1, latency_ms=5)
    fresh_sandbox.admin("POST", "reset")
    knobs = fresh_sandbox.admin("GET", "config")
    assert knobs["fault_rate"] == 0 and knobs["latency_ms"] == 0
    assert knobs["fault_kinds"] == ["internal", "timeout", "error_200"]
    assert knobs["timeout_seconds"] == 15.0


# --- statistics --------------------------------------------------------------------------------------------
def test_stats_count_calls_per_method_and_path(fresh_sandbox, auth):
    fresh_sandbox.admin("POST", "stats/reset")
    for _ in range(3):
        call(fresh_sandbox, auth)
    call(fresh_sandbox, auth, "list_chats", {"limit": 1}, version="3.6")
    call(fresh_sandbox, auth, "list_agents", {}, api="configuration")
    call(fresh_sandbox, auth, "get_chat", {"chat_id": "NOSUCHCHAT"})
    stats = fresh_sandbox.admin("GET", "stats")
    assert stats["calls"] == {"list_archives": 3, "list_chats": 1, "list_agents": 1, "get_chat": 1}
    assert stats["calls_by_path"] == {"v3.5/agent/list_archives": 3, "v3.6/agent/list_chats": 1,
                                      "v3.5/configuration/list_agents": 1, "v3.5/agent/get_chat": 1}
    assert stats["total_calls"] == 6
    assert stats["errors"] == {"not_found": 1}


def test_stats_reset_zeroes_counters(fresh_sandbox, auth):
    config(fresh_sandbox, rate_limit=0.5, rate_burst=1)
    call(fresh_sandbox, auth)
    call(fresh_sandbox, auth)
    config(fresh_sandbox, rate_limit=0, fault_rate=1, fault_kinds=["internal"])
    call(fresh_sandbox, auth)
    stats = fresh_sandbox.admin("GET", "stats")
    assert stats["total_calls"] == 3 and stats["rate_limited"] == 1 and stats["faults"] == {"internal": 1}
    zeroed = fresh_sandbox.admin("POST", "stats/reset")
    assert zeroed == fresh_sandbox.admin("GET", "stats")
    assert zeroed["calls"] == {} and zeroed["calls_by_path"] == {} and zeroed["total_calls"] == 0
    assert zeroed["errors"] == {} and zeroed["faults"] == {} and zeroed["rate_limited"] == 0
    assert zeroed["token_grants"] == {} and zeroed["token_refreshes"] == 0 and zeroed["token_revocations"] == 0
    assert zeroed["webhook_deliveries"] == {}


def test_admin_api_is_not_counted(fresh_sandbox):
    fresh_sandbox.admin("POST", "stats/reset")
    for _ in range(3):
        fresh_sandbox.admin("GET", "credentials")
        fresh_sandbox.admin("GET", "config")
    assert fresh_sandbox.admin("GET", "stats")["total_calls"] == 0
