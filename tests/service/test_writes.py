"""Unified writes over HTTP against a writable sandbox: each route's change shows through the read
API and in the sandbox's own state."""
from __future__ import annotations

import os

import pytest

from tests.conftest import connect_pat, error, lc_call, sandbox_all

AGENT = "li.wei@helpdesk.example"


@pytest.fixture
def sb(fresh_sandbox):
    return fresh_sandbox


@pytest.fixture
def api(writer):
    client, account = writer

    class Api:
        def post(self, resource, key=None, account_id=account, **kwargs):
            headers = {"Idempotency-Key": key} if key else {}
            return client.request("POST", f"/unified/ticketing/{resource}",
                                  params={"integrated_account_id": account_id}, headers=headers, **kwargs)

        def patch(self, resource, record_id, body):
            return client.request("PATCH", f"/unified/ticketing/{resource}/{record_id}",
                                  params={"integrated_account_id": account}, json=body)

        def get(self, path, **params):
            resp = client.get(f"/unified/ticketing/{path}", integrated_account_id=account, **params)
            assert resp.status_code == 200, resp.text
            return resp.json()

    return Api()


def chats(sb) -> list[dict]:
    return sandbox_all(sb, "list_chats", "chats_summary", {"limit": 100})


def open_chat(sb) -> str:
    return next(c["id"] for c in chats(sb) if c["last_thread_summary"]["active"])


def closed_chat(sb) -> str:
    return next(c["id"] for c in chats(sb) if not c["last_thread_summary"]["active"])


def chat(sb, chat_id: str) -> dict:
    return lc_call(sb, "get_chat", {"chat_id": chat_id}).json()


def threads(sb, chat_id: str) -> list[dict]:
    return sandbox_all(sb, "list_threads", "threads", {"chat_id": chat_id, "sort_order": "asc", "limit": 100})


def calls(sb) -> dict:
    return sb.admin("GET", "stats")["calls"]


# --- comments ----------------------------------------------------------------------------------
def test_comment_on_an_open_ticket_is_a_message_in_the_conversation(api, sb):
    ticket = open_chat(sb)
    resp = api.post("comments", key="reply-1", json={"ticket_id": ticket, "body": "We shipped the fix today."})
    assert resp.status_code == 201, resp.text
    comment = resp.json()
    assert (comment["ticket_id"], comment["type"], comment["body"], comment["is_private"]) == (
        ticket, "message", "We shipped the fix today.", False)
    assert comment["author"]["type"] == "user"

    listed = api.get("comments", ticket_id=ticket, limit=100)["result"]
    assert listed[-1] == comment
    event = chat(sb, ticket)["thread"]["events"][-1]
    assert comment["id"].endswith(":" + event["id"])
    assert (event["type"], event["text"], event["visibility"], event["custom_id"]) == (
        "message", "We shipped the fix today.", "all", "reply-1")


def test_reply_on_a_closed_ticket_reopens_it_with_the_message(api, sb):
    ticket = closed_chat(sb)
    before = threads(sb, ticket)
    assert api.get(f"tickets/{ticket}")["status"] == "closed"
    resp = api.post("comments", json={"ticket_id": ticket, "body": "Following up on this"})
    assert resp.status_code == 201, resp.text

    after = threads(sb, ticket)
    assert len(after) == len(before) + 1
    latest = after[-1]
    assert latest["active"] is True
    assert [e["text"] for e in latest["events"] if e["type"] == "message"] == ["Following up on this"]
    assert resp.json()["id"] == f"{latest['id']}:{latest['events'][-1]['id']}"
    assert api.get(f"tickets/{ticket}")["status"] == "open"


# --- tickets -----------------------------------------------------------------------------------
def test_create_ticket_starts_a_conversation_with_tags_and_assignee(api, sb):
    customer = lc_call(sb, "list_customers", {"limit": 1}).json()["customers"][0]
    resp = api.post("tickets", key="new-ticket-1", json={
        "contact_id": customer["id"], "body": "Your invoice for October is attached below.",
        "tags": ["billing", "vip"], "assignee_ids": [AGENT]})
    assert resp.status_code == 201, resp.text
    ticket = resp.json()
    assert ticket["status"] == "open"
    assert ticket["contact"]["id"] == customer["id"]
    assert ticket["description"] == "Your invoice for October is attached below."
    assert [t["name"] for t in ticket["tags"]] == ["billing", "vip"]
    assert [a["id"] for a in ticket["assignees"]] == [AGENT]

    got = api.get(f"tickets/{ticket['id']}")
    assert {k: v for k, v in got.items() if k != "remote_data"} == {k: v for k, v in ticket.items()
                                                                      if k != "remote_data"}
    assert api.get("tickets", limit=1)["result"][0]["id"] == ticket["id"]
    thread = chat(sb, ticket["id"])["thread"]
    assert thread["tags"] == ["billing", "vip"] and AGENT in thread["user_ids"]
    assert thread["events"][0]["custom_id"] == "new-ticket-1"


def test_create_ticket_with_an_unknown_tag_is_a_422_and_writes_nothing(api, sb):
    customer = lc_call(sb, "list_customers", {"limit": 1}).json()["customers"][0]
    sb.admin("POST", "stats/reset")
    body = {"contact_id": customer["id"], "body": "Hi", "tags": ["billing", "escalated"]}
    err = error(api.post("tickets", json=body), 422, "tags")
    assert "escalated" in err["message"] and "create_missing_tags" in err["message"]
    assert set(calls(sb)) == {"list_tags"}


def test_create_missing_tags_creates_them_in_the_helpdesk(api, sb):
    customer = lc_call(sb, "list_customers", {"limit": 1}).json()["customers"][0]
    resp = api.post("tickets", json={"contact_id": customer["id"], "body": "Hi", "tags": ["escalated"],
                                     "create_missing_tags": True})
    assert resp.status_code == 201, resp.text
    assert [t["name"] for t in resp.json()["tags"]] == ["escalated"]
    tags = lc_call(sb, "list_tags", {}, api="configuration").json()
    assert "escalated" in [t["name"] for t in tags]


def test_patching_tags_sets_the_tags_of_the_latest_thread(api, sb):
    ticket = next(c["id"] for c in chats(sb) if c["last_thread_summary"]["tags"])
    old = chat(sb, ticket)["thread"]["tags"]
    want = ["urgent"] + [t for t in ["support", "sales"] if t not in old][:1]
    resp = api.patch("tickets", ticket, {"tags": want})
    assert resp.status_code == 200, resp.text
    assert [t["name"] for t in resp.json()["tags"]] == want
    assert sorted(chat(sb, ticket)["thread"]["tags"]) == sorted(want)
    assert api.get(f"tickets/{ticket}")["tags"] == resp.json()["tags"]

    assert api.patch("tickets", ticket, {"tags": []}).json()["tags"] == []
    assert chat(sb, ticket)["thread"]["tags"] == []


def test_patching_an_unknown_tag_is_a_422_naming_it(api, sb):
    ticket = open_chat(sb)
    err = error(api.patch("tickets", ticket, {"tags": ["no-such-tag"]}), 422, "tags")
    assert "no-such-tag" in err["message"]


def test_assigning_transfers_an_open_ticket_and_a_closed_one_is_a_409(api, sb):
    ticket = open_chat(sb)
    resp = api.patch("tickets", ticket, {"assignee_ids": [AGENT]})
    assert resp.status_code == 200, resp.text
    assert [a["id"] for a in resp.json()["assignees"]] == [AGENT]
    agents = {u["id"] for u in chat(sb, ticket)["users"] if u["type"] == "agent"}
    assert [u for u in chat(sb, ticket)["thread"]["user_ids"] if u in agents] == [AGENT]

    closed = closed_chat(sb)
    err = error(api.patch("tickets", closed, {"assignee_ids": [AGENT]}), 409, "assignee_ids")
    assert "status: open" in err["message"]
    reopened = api.patch("tickets", closed, {"status": "open", "assignee_ids": [AGENT]})
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["status"] == "open" and [a["id"] for a in reopened.json()["assignees"]] == [AGENT]


def test_reopening_keeps_the_tickets_tags(api, sb):
    ticket = next(c["id"] for c in chats(sb)
                  if not c["last_thread_summary"]["active"] and c["last_thread_summary"]["tags"])
    tags = chat(sb, ticket)["thread"]["tags"]
    resp = api.patch("tickets", ticket, {"status": "open"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "open"
    assert [t["name"] for t in resp.json()["tags"]] == tags
    assert chat(sb, ticket)["thread"]["active"] is True


# --- contacts ----------------------------------------------------------------------------------
def test_create_contact_is_a_customer_in_the_helpdesk(api, sb):
    resp = api.post("contacts", json={"name": "Ada Quinn", "email_addresses": [{"email": "ada@quinn.example"}],
                                      "avatar_url": "https://cdn.example/ada.png",
                                      "custom_fields": {"plan": "enterprise"}})
    assert resp.status_code == 201, resp.text
    contact = resp.json()
    assert (contact["name"], contact["email_addresses"], contact["avatar_url"], contact["custom_fields"]) == (
        "Ada Quinn", [{"email": "ada@quinn.example", "type": "primary"}], "https://cdn.example/ada.png",
        {"plan": "enterprise"})
    assert api.get(f"contacts/{contact['id']}") == contact
    assert contact["id"] in [c["id"] for c in api.get("contacts", email="ada@quinn.example")["result"]]
    customer = lc_call(sb, "get_customer", {"id": contact["id"]}).json()
    assert (customer["name"], customer["email"], customer["session_fields"]) == (
        "Ada Quinn", "ada@quinn.example", [{"plan": "enterprise"}])


def test_create_contact_on_a_v36_account_is_a_clear_422(writer, sb):
    client, _ = writer
    v36 = connect_pat(client, sb, api_version="3.6")
    sb.admin("POST", "stats/reset")
    resp = client.request("POST", "/unified/ticketing/contacts", params={"integrated_account_id": v36},
                          json={"name": "Ada Quinn"})
    err = error(resp, 422)
    assert "3.6" in err["message"] and "api_version 3.5" in err["message"]
    assert calls(sb) == {}


def test_update_contact_merges_custom_fields(api, sb):
    customer = next(c for c in lc_call(sb, "list_customers", {"limit": 50}).json()["customers"]
                    if len(c["session_fields"]) >= 2)
    fields = {k: v for f in customer["session_fields"] for k, v in f.items()}
    dropped, kept = list(fields)[:2]
    resp = api.patch("contacts", customer["id"], {
        "name": "Renamed Person", "email_addresses": [{"email": "renamed@person.example"}],
        "custom_fields": {dropped: None, "tier": "gold"}})
    assert resp.status_code == 200, resp.text
    contact = resp.json()
    expected = {k: v for k, v in fields.items() if k != dropped} | {"tier": "gold"}
    assert contact["custom_fields"] == expected and kept in contact["custom_fields"]
    assert contact["name"] == "Renamed Person"
    assert contact["email_addresses"] == [{"email": "renamed@person.example", "type": "primary"}]
    assert api.get(f"contacts/{customer['id']}") == contact
    stored = lc_call(sb, "get_customer", {"id": customer["id"]}).json()
    assert (stored["name"], stored["email"]) == ("Renamed Person", "renamed@person.example")
    assert {k: v for f in stored["session_fields"] for k, v in f.items()} == expected


def test_updating_an_unknown_contact_is_a_404(api, sb):
    missing = "00000000-0000-4000-8000-000000000000"
    assert missing in error(api.patch("contacts", missing, {"name": "X"}), 404)["message"]
    assert missing in error(api.patch("contacts", missing, {"custom_fields": {"a": "b"}}), 404)["message"]


# --- attachments -------------------------------------------------------------------------------
def test_attachment_is_a_file_event_and_downloads_back(api, sb, writer):
    ticket = open_chat(sb)
    content = os.urandom(300_000)
    resp = api.post("attachments", files={"file": ("report q3.pdf", content, "application/pdf")},
                    data={"ticket_id": ticket, "comment": "The report you asked for"})
    assert resp.status_code == 201, resp.text
    attachment = resp.json()
    assert (attachment["file_name"], attachment["content_type"], attachment["file_size"], attachment["ticket_id"]) == (
        "report_q3.pdf", "application/pdf", len(content), ticket)  # LiveChat keeps a safe file name

    assert api.get("attachments", ticket_id=ticket, limit=100)["result"][-1] == attachment
    comments = api.get("comments", ticket_id=ticket, limit=100)["result"]
    assert [(c["type"], c["body"]) for c in comments[-2:]] == [("message", "The report you asked for"),
                                                               ("file", "report_q3.pdf")]
    event = chat(sb, ticket)["thread"]["events"][-1]
    assert event["type"] == "file" and event["size"] == len(content)

    client, account = writer
    download = client.get(f"/unified/ticketing/attachments/{attachment['id']}/download", integrated_account_id=account)
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["Content-Type"] == "application/pdf"
    assert 'filename="report_q3.pdf"' in download.headers["Content-Disposition"]


def test_attachment_on_a_closed_ticket_reopens_it(api, sb):
    ticket = closed_chat(sb)
    resp = api.post("attachments", files={"file": ("log.txt", b"line 1\n", "text/plain")}, data={"ticket_id": ticket})
    assert resp.status_code == 201, resp.text
    latest = threads(sb, ticket)[-1]
    assert latest["active"] is True and [e["type"] for e in latest["events"]] == ["file"]
    assert resp.json()["id"] == f"{latest['id']}:{latest['events'][0]['id']}"


def test_a_file_over_10_mb_is_a_413_before_any_upload(api, sb):
    sb.admin("POST", "stats/reset")
    resp = api.post("attachments", files={"file": ("big.bin", b"\0" * (10 * 1024 * 1024 + 1))},
                    data={"ticket_id": open_chat(sb)})
    err = error(resp, 413, "file")
    assert "10 MB" in err["message"] and "LiveChat" in err["message"]
    assert "upload_file" not in calls(sb)
