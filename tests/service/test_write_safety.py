"""Write safety: bodies validated before any upstream call, Idempotency-Key (stored responses, one
upstream write for parallel repeats), writes whose answer was lost, and honest upstream errors."""
from __future__ import annotations

import pytest

from tests.conftest import error, lc_call, new_tenant, running_service, service_overrides


@pytest.fixture
def sb(fresh_sandbox):
    fresh_sandbox.admin("POST", "stats/reset")
    return fresh_sandbox


@pytest.fixture
def counted(writable_sandbox):
    """The writable sandbox with its call counts at zero (for tests that expect no upstream call)."""
    writable_sandbox.admin("POST", "stats/reset")
    return writable_sandbox


def open_chat(sb) -> str:
    chats = lc_call(sb, "list_chats", {"limit": 100}).json()["chats_summary"]
    return next(c["id"] for c in chats if c["last_thread_summary"]["active"])


def events_with(sb, chat_id: str, custom_id: str) -> list[dict]:
    return [e for e in lc_call(sb, "get_chat", {"chat_id": chat_id}).json()["thread"]["events"]
            if e.get("custom_id") == custom_id]


def post(client, account: str, path: str, key: str | None = None, **kwargs):
    headers = {"Idempotency-Key": key} if key else {}
    return client.request("POST", path, params={"integrated_account_id": account}, headers=headers, **kwargs)


def send_events(sb) -> int:
    return sb.admin("GET", "stats")["calls"].get("send_event", 0)


# --- validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("method,path,body,param", [
    ("POST", "comments", {"body": "hi"}, "ticket_id"),
    ("POST", "comments", {"ticket_id": "X", "body": "   "}, "body"),
    ("POST", "comments", {"ticket_id": "X", "body": "hi", "is_private": "yes"}, "is_private"),
    ("POST", "comments", {"ticket_id": "X", "body": "hi", "visibility": "agents"}, "visibility"),
    ("POST", "tickets", {"contact_id": "C", "body": "hi", "tags": ["a", "a"]}, "tags"),
    ("POST", "tickets", {"contact_id": "C", "body": "hi", "assignee_ids": "a@b.example"}, "assignee_ids"),
    ("POST", "tickets", {"body": "hi"}, "contact_id"),
    ("PATCH", "tickets/X", {}, "body"),
    ("PATCH", "tickets/X", {"status": "pending"}, "status"),
    ("PATCH", "tickets/X", {"assignee_ids": []}, "assignee_ids"),
    ("POST", "contacts", {"email_addresses": [{"email": "not-an-email"}]}, "email_addresses.0.email"),
    ("POST", "contacts", {"custom_fields": {"plan": 3}}, "custom_fields.plan.value"),
    ("POST", "contacts", {"avatar_url": "ftp://x.example/a.png"}, "avatar_url"),
    ("PATCH", "contacts/X", {}, "body"),
    ("POST", "comments", ["not", "an", "object"], "body"),
])
def test_bodies_are_validated_before_any_upstream_call(writer, counted, method, path, body, param):
    client, account = writer
    resp = client.request(method, f"/unified/ticketing/{path}", params={"integrated_account_id": account}, json=body)
    error(resp, 400, param)
    assert counted.admin("GET", "stats")["total_calls"] == 0


@pytest.mark.parametrize("data,files,param", [
    ({"ticket_id": "X"}, None, "file"),
    ({}, {"file": ("a.txt", b"x")}, "ticket_id"),
    ({"ticket_id": "X", "colour": "red"}, {"file": ("a.txt", b"x")}, "colour"),
])
def test_attachment_forms_are_validated_before_any_upstream_call(writer, counted, data, files, param):
    client, account = writer
    resp = client.request("POST", "/unified/ticketing/attachments", params={"integrated_account_id": account},
                          data=data, files=files or {"other": ("", b"")})
    error(resp, 400, param)
    assert counted.admin("GET", "stats")["total_calls"] == 0


def test_an_idempotency_key_must_be_printable(writer, counted):
    client, account = writer
    resp = post(client, account, "/unified/ticketing/comments", key="x" * 256, json={"ticket_id": "X", "body": "hi"})
    error(resp, 400, "Idempotency-Key")


# --- idempotency ---------------------------------------------------------------------------------
def test_a_repeat_answers_the_stored_response_without_calling_the_upstream(writer, sb):
    client, account = writer
    ticket = open_chat(sb)
    body = {"ticket_id": ticket, "body": "a"}
    first = post(client, account, "/unified/ticketing/comments", key="repeat-1", json=body)
    assert first.status_code == 201, first.text
    sb.admin("POST", "stats/reset")
    again = post(client, account, "/unified/ticketing/comments", key="repeat-1", json=body)
    assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (201, first.json(), "true")
    assert sb.admin("GET", "stats")["total_calls"] == 0

    without_key = [post(client, account, "/unified/ticketing/comments", json={"ticket_id": ticket, "body": "b"})
                   for _ in range(2)]
    assert [r.status_code for r in without_key] == [201, 201]
    assert without_key[0].json()["id"] != without_key[1].json()["id"]


def test_the_same_key_with_another_body_is_a_422(writer, sb):
    client, account = writer
    ticket = open_chat(sb)
    assert post(client, account, "/unified/ticketing/comments", key="k-body",
                json={"ticket_id": ticket, "body": "a"}).status_code == 201
    err = error(post(client, account, "/unified/ticketing/comments", key="k-body",
                     json={"ticket_id": ticket, "body": "b"}), 422, "Idempotency-Key")
    assert "different" in err["message"]
    assert send_events(sb) == 1


def test_a_final_error_is_stored_and_replayed_too(writer, sb):
    client, account = writer
    customer = lc_call(sb, "list_customers", {"limit": 1}).json()["customers"][0]
    body = {"contact_id": customer["id"], "body": "hi", "tags": ["nope"]}
    first = post(client, account, "/unified/ticketing/tickets", key="k-err", json=body)
    error(first, 422, "tags")
    sb.admin("POST", "stats/reset")
    again = post(client, account, "/unified/ticketing/tickets", key="k-err", json=body)
    assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (422, first.json(), "true")
    assert sb.admin("GET", "stats")["total_calls"] == 0


# --- unknown outcomes ----------------------------------------------------------------------------
@pytest.fixture
def impatient_service(sb, redis_server_url):
    """The service with a 0.3 s upstream timeout, so a slow sandbox loses the answers of writes it applies."""
    with running_service(service_overrides(sb, redis_server_url, UPSTREAM_TIMEOUT=0.3)) as (_, base):
        yield base


def test_a_write_whose_answer_was_lost_is_reconciled_not_repeated(impatient_service, sb):
    from tests.conftest import connect_pat

    client = new_tenant(impatient_service, "impatient")
    account = connect_pat(client, sb)
    ticket = open_chat(sb)
    body = {"ticket_id": ticket, "body": "Did this arrive?"}
    sb.admin("POST", "stats/reset")
    # applied after the service stopped waiting (to send_event only: the chat lookup before it is a read)
    sb.admin("POST", "config", json={"latency_ms": 800, "fault_methods": ["send_event"]})
    lost = post(client, account, "/unified/ticketing/comments", key="lost-1", json=body)
    err = error(lost, 504)
    assert err["type"] == "write_outcome_unknown"
    assert "send_event" in err["message"] and "same Idempotency-Key" in err["message"]

    for _ in range(50):  # the sandbox finishes the write it was still holding
        if events_with(sb, ticket, "lost-1"):
            break
    sb.admin("POST", "config", json={"latency_ms": 0})
    (event,) = events_with(sb, ticket, "lost-1")

    retry = post(client, account, "/unified/ticketing/comments", key="lost-1", json=body)
    assert retry.status_code == 201, retry.text
    assert retry.json()["id"].endswith(":" + event["id"])
    assert send_events(sb) == 1
    assert len(events_with(sb, ticket, "lost-1")) == 1


def test_a_write_that_failed_upstream_is_looked_for_then_sent_once_on_retry(writer, sb):
    client, account = writer
    ticket = open_chat(sb)
    sb.admin("POST", "config", json={"fault_rate": 1, "fault_kinds": ["internal"], "fault_methods": ["send_event"]})
    failed = post(client, account, "/unified/ticketing/comments", key="fault-1",
                  json={"ticket_id": ticket, "body": "Second try"})
    sb.admin("POST", "config", json={"fault_rate": 0})
    assert error(failed, 504)["type"] == "write_outcome_unknown"  # an internal error may follow a write
    assert events_with(sb, ticket, "fault-1") == []
    retry = post(client, account, "/unified/ticketing/comments", key="fault-1",
                 json={"ticket_id": ticket, "body": "Second try"})
    assert retry.status_code == 201, retry.text
    assert len(events_with(sb, ticket, "fault-1")) == 1


# --- upstream errors -----------------------------------------------------------------------------
def test_a_missing_scope_is_a_403_naming_it(writable_service, sb):
    read_only = sb.admin("POST", "personal-access-tokens", json={"scopes": ["chats--all:ro", "customers:ro"]})
    client = new_tenant(writable_service, "read-only")
    resp = client.post("/integrated-accounts", json={"integration": "livechat", "credentials": {
        "type": "personal_access_token", "account_id": read_only["account_id"],
        "token": read_only["personal_access_token"]}})
    assert resp.status_code == 201, resp.text
    err = error(post(client, resp.json()["id"], "/unified/ticketing/comments",
                     json={"ticket_id": open_chat(sb), "body": "hi"}), 403)
    assert "chats--all:rw" in err["message"] and "send_event" in err["message"]
