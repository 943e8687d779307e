"""LiveChat's error body `{"error": {"type", "message"}}` for each error a client can run into."""
from __future__ import annotations

import base64
import io

import pytest

from tests.conftest import lc_call

from .chat_api_helpers import Api, error_of, session

MB = 1024 * 1024


@pytest.fixture
def api(fresh_sandbox):
    with Api(fresh_sandbox) as client:
        yield client


@pytest.fixture(scope="module")
def ro_api(sandbox):
    with Api(sandbox) as client:
        yield client


def _some_chat(api, active: bool | None = None) -> dict:
    for s in api.ok("list_chats", {"limit": 100})["chats_summary"]:
        if active is None or s["last_thread_summary"]["active"] == active:
            return s
    raise AssertionError("no such chat in the seed")


def _active_chat(api) -> dict:
    """A chat this test just started, so it is active whatever the seed holds."""
    customer = api.ok("list_customers", {"limit": 1})["customers"][0]["id"]
    started = api.ok("start_chat", {"chat": {"users": [{"id": customer, "type": "customer"}]}})
    return api.ok("get_chat", {"chat_id": started["chat_id"]})


# --- authentication ----------------------------------------------------------------------------------
def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("auth", [
    None,
    "Bearer dal:not-a-token",
    "Bearer ",
    "Basic !!!not-base64!!!",
    "Basic " + base64.b64encode(b"no-colon-here").decode(),
    "Token abc",
], ids=["no-header", "bad-bearer", "empty-bearer", "garbled-basic", "basic-without-pat", "unknown-scheme"])
def test_authentication_errors(sandbox, auth):
    headers = {} if auth is None else {"Authorization": auth}
    with session() as s:
        resp = s.post(f"{sandbox.base_url}/v3.5/agent/action/list_chats", json={}, headers=headers, verify=False,
                      timeout=30)
    assert resp.status_code == 401
    assert error_of(resp)["type"] == "authentication"


def test_basic_with_a_wrong_token_or_account_is_rejected(ro_api, credentials):
    account, pat = credentials["account_id"], credentials["personal_access_token"]
    for auth in (_basic(f"{account}:{pat}x"), _basic(f"00000000-0000-4000-8000-000000000000:{pat}"),
                 f"Bearer {pat}"):
        status, err = ro_api.error("list_chats", {}, auth=auth)
        assert (status, err["type"]) == (401, "authentication"), auth
    assert ro_api.ok("list_chats", {"limit": 1}, auth=_basic(f"{account}:{pat}"))["chats_summary"]


def test_authentication_is_checked_on_the_configuration_api_and_v36(ro_api):
    for api, version in (("configuration", "3.5"), ("agent", "3.6"), ("configuration", "3.6")):
        method = "list_agents" if api == "configuration" else "list_chats"
        status, err = ro_api.error(method, {}, api=api, version=version, auth="Bearer nope")
        assert (status, err["type"]) == (401, "authentication")


# --- authorization -------------------------------------------------------------------------------------
def test_a_read_only_token_may_read_but_not_write(fresh_sandbox, api):
    ro = fresh_sandbox.admin("POST", "personal-access-tokens", json={"scopes": ["chats--all:ro"]})
    auth = ro["basic_authorization"]
    assert api.ok("list_chats", {"limit": 1}, auth=auth)["chats_summary"]  # the token itself is valid
    before = api.ok("list_customers", {"limit": 1})["total_customers"]
    status, err = api.error("create_customer", {"name": "Denied Dana"}, auth=auth)
    assert (status, err["type"]) == (403, "authorization")
    assert "customers:rw" in err["message"] or "customers:rw" in str(err.get("data"))
    assert api.ok("list_customers", {"limit": 1})["total_customers"] == before
    chat = _active_chat(api)
    for method, body in (("send_event", {"chat_id": chat["id"], "event": {"type": "message", "text": "x"}}),
                         ("deactivate_chat", {"id": chat["id"]}),
                         ("get_customer", {"id": chat["users"][0]["id"]})):
        status, err = api.error(method, body, auth=auth)
        assert (status, err["type"]) == (403, "authorization"), method
    # Nothing was written: the chat is still active and has no new event.
    after = api.ok("get_chat", {"chat_id": chat["id"]})
    assert after["thread"]["active"] is True
    assert after["thread"]["events"] == chat["thread"]["events"]


def test_configuration_scopes_are_enforced(fresh_sandbox, api):
    tags_ro = fresh_sandbox.admin("POST", "personal-access-tokens", json={"scopes": ["tags--all:ro"]})
    auth = tags_ro["basic_authorization"]
    assert api.ok("list_tags", api="configuration", auth=auth)
    status, err = api.error("create_tag", {"name": "nope", "group_ids": [0]}, api="configuration", auth=auth)
    assert (status, err["type"]) == (403, "authorization")
    status, err = api.error("list_agents", {}, api="configuration", auth=auth)
    assert (status, err["type"]) == (403, "authorization")
    assert "nope" not in {t["name"] for t in api.ok("list_tags", api="configuration")}


# --- validation ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "body"), [
    ("list_archives", {"limit": 101}),
    ("list_chats", {"sort_order": "sideways"}),
    ("list_chats", {"filters": {"group_ids": "1"}}),
    ("get_chat", {}),
    ("get_chat", {"chat_id": 12345}),
    ("list_threads", {}),
    ("get_customer", {}),
    ("list_customers", {"sort_by": "shoe_size"}),
    ("list_customers", {"filters": {"email": "a@b.example"}}),
], ids=lambda v: v if isinstance(v, str) else str(v)[:30])
def test_validation_errors_on_reads(ro_api, method, body):
    status, err = ro_api.error(method, body)
    assert (status, err["type"]) == (400, "validation")


def test_validation_errors_on_writes(api):
    chat = _active_chat(api)
    customer = chat["users"][0]["id"]
    cases = [
        ("start_chat", {"chat": {"users": []}}),
        ("start_chat", {"chat": {"users": [{"id": customer, "type": "customer"}]}, "active": "yes"}),
        ("send_event", {"event": {"type": "message", "text": "no chat id"}}),
        ("send_event", {"chat_id": chat["id"]}),
        ("send_event", {"chat_id": chat["id"], "event": {"type": "message"}}),
        ("send_event", {"chat_id": chat["id"], "event": {"type": "hologram", "text": "x"}}),
        ("send_event", {"chat_id": chat["id"], "event": {"type": "message", "text": "x", "visibility": "me"}}),
        ("send_event", {"chat_id": chat["id"], "event": {"type": "file", "url": "https://evil.example/x.png"}}),
        ("transfer_chat", {"id": chat["id"], "target": {"type": "planet", "ids": [1]}}),
        ("transfer_chat", {"id": chat["id"], "target": {"type": "group", "ids": []}}),
        ("create_customer", {"email": "not-an-email"}),
        ("create_customer", {"session_fields": {"plan": "gold"}}),
        ("update_customer", {"id": customer}),
        ("update_customer", {"id": customer, "email": "still not an email"}),
        ("tag_thread", {}),
        ("tag_thread", {"chat_id": chat["id"], "thread_id": chat["thread"]["id"], "tag": "never-created"}),
        ("upload_file", {}),
        ("resume_chat", {}),
    ]
    for method, body in cases:
        status, err = api.error(method, body)
        assert (status, err["type"]) == (400, "validation"), (method, body)
    after = api.ok("get_chat", {"chat_id": chat["id"]})
    assert after["thread"]["events"] == chat["thread"]["events"] and after["thread"]["tags"] == []
    assert after["access"] == chat["access"]


def test_body_that_is_not_a_json_object_is_a_validation_error(ro_api):
    for data in (b"[1, 2]", b"{not json", b'"text"'):
        resp = ro_api.session.post(f"{ro_api.base}/v3.5/agent/action/list_chats", data=data, verify=False,
                                   headers={"Authorization": ro_api.auth, "Content-Type": "application/json"})
        assert resp.status_code == 400 and error_of(resp)["type"] == "validation", data


# --- not_found -----------------------------------------------------------------------------------------
def test_not_found_errors(ro_api):
    chat = _some_chat(ro_api)
    cases = [
        ("get_chat", {"chat_id": "ZZZZZZZZZZ"}, "agent", "3.5"),
        ("get_chat", {"chat_id": chat["id"], "thread_id": "ZZZZZZZZZZ"}, "agent", "3.5"),
        ("list_threads", {"chat_id": "ZZZZZZZZZZ"}, "agent", "3.5"),
        ("get_customer", {"id": "00000000-0000-4000-8000-000000000000"}, "agent", "3.5"),
        ("no_such_method", {}, "agent", "3.5"),
        ("no_such_method", {}, "configuration", "3.5"),
        ("list_customers", {}, "agent", "3.6"),
        ("create_customer", {"name": "x"}, "agent", "3.6"),
    ]
    for method, body, api, version in cases:
        status, err = ro_api.error(method, body, api=api, version=version)
        assert (status, err["type"]) == (404, "not_found"), (method, body, version)


def test_a_thread_of_another_chat_is_not_found(ro_api):
    a, b = ro_api.ok("list_chats", {"limit": 2})["chats_summary"]
    status, err = ro_api.error("get_chat", {"chat_id": a["id"], "thread_id": b["last_thread_summary"]["id"]})
    assert (status, err["type"]) == (404, "not_found")


def test_unsupported_version(ro_api):
    status, err = ro_api.error("list_chats", {}, version="3.1")
    assert (status, err["type"]) == (400, "unsupported_version")


# --- chat_inactive -------------------------------------------------------------------------------------
def test_sending_to_an_inactive_chat(api):
    chat = _some_chat(api, active=False)
    status, err = api.error("send_event", {"chat_id": chat["id"], "event": {"type": "message", "text": "hi"}})
    assert (status, err["type"]) == (422, "chat_inactive")
    thread = api.ok("get_chat", {"chat_id": chat["id"]})["thread"]
    assert all(ev.get("text") != "hi" for ev in thread["events"])


def test_deactivating_twice_and_transferring_an_inactive_chat(api):
    chat = _active_chat(api)
    assert api.ok("deactivate_chat", {"id": chat["id"]}) == {}
    status, err = api.error("deactivate_chat", {"id": chat["id"]})
    assert (status, err["type"]) == (422, "chat_inactive")
    status, err = api.error("transfer_chat", {"id": chat["id"], "target": {"type": "group", "ids": [1]}})
    assert (status, err["type"]) == (422, "chat_inactive")
    status, err = api.error("send_event", {"chat_id": chat["id"], "event": {"type": "message", "text": "late"}})
    assert (status, err["type"]) == (422, "chat_inactive")


# --- entity_too_large ------------------------------------------------------------------------------------
def _upload(api: Api, data: bytes, name: str = "blob.bin"):
    return api.session.post(f"{api.base}/v3.5/agent/action/upload_file", headers={"Authorization": api.auth},
                            files={"file": (name, io.BytesIO(data), "application/octet-stream")}, verify=False,
                            timeout=60)


def test_upload_over_10_mb_is_entity_too_large(api):
    resp = _upload(api, b"\0" * (10 * MB + 1))
    assert resp.status_code == 413 and error_of(resp)["type"] == "entity_too_large"
    resp = _upload(api, b"\1" * (10 * MB))  # exactly the limit is fine
    assert resp.status_code == 200 and resp.json()["url"].endswith("/blob.bin")


# --- errors with HTTP 200 --------------------------------------------------------------------------------
def test_error_status_200_mode_keeps_the_error_body(fresh_sandbox, api):
    assert fresh_sandbox.admin("POST", "config", json={"error_status": "200"})["error_status"] == "200"
    chat = _some_chat(api, active=False)
    ro = fresh_sandbox.admin("POST", "personal-access-tokens", json={"scopes": ["chats--all:ro"]})
    cases = [
        ("list_chats", {}, "Bearer nope", "authentication"),
        ("create_customer", {"name": "x"}, ro["basic_authorization"], "authorization"),
        ("list_archives", {"limit": 101}, None, "validation"),
        ("get_chat", {"chat_id": "ZZZZZZZZZZ"}, None, "not_found"),
        ("send_event", {"chat_id": chat["id"], "event": {"type": "message", "text": "x"}}, None, "chat_inactive"),
    ]
    for method, body, auth, kind in cases:
        status, err = api.error(method, body, auth=auth)
        assert (status, err["type"]) == (200, kind), method
    resp = _upload(api, b"\0" * (10 * MB + 1))
    assert resp.status_code == 200 and error_of(resp)["type"] == "entity_too_large"
    assert "chats_summary" in api.ok("list_chats", {"limit": 1})  # successes are unchanged
    fresh_sandbox.admin("POST", "config", json={"error_status": "http"})
    assert api.error("get_chat", {"chat_id": "ZZZZZZZZZZ"})[0] == 404


def test_lc_call_helper_sees_errors_too(sandbox):
    resp = lc_call(sandbox, "get_chat", {"chat_id": "ZZZZZZZZZZ"})
    assert resp.status_code == 404 and error_of(resp)["type"] == "not_found"
