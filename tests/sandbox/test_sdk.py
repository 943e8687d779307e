"""The official LiveChat Python SDK (lc-sdk-python) pointed at the sandbox: every method the adapter uses."""
from __future__ import annotations

import io
import uuid

import pytest
from livechat.agent.web.base import AgentWeb
from livechat.configuration.base import ConfigurationApi

from .chat_api_helpers import TIMESTAMP, Api, error_of

CHAT_KEYS = {"id", "thread", "users", "properties", "access", "is_followed"}
THREAD_KEYS = {"id", "active", "user_ids", "events", "properties", "access", "tags", "created_at"}
SUMMARY_KEYS = {"id", "users", "last_thread_summary", "last_event_per_type", "properties", "access", "is_followed"}
CUSTOMER_KEYS = {"id", "type", "session_fields", "statistics", "created_at"}


@pytest.fixture
def clients():
    """`clients(sandbox, kind="agent"|"configuration", version=..., auth=...)`; every client is closed after."""
    made = []

    def make(sandbox, kind: str = "agent", version: str = "3.5", auth: str | None = None):
        token = auth or sandbox.admin("GET", "credentials")["basic_authorization"]
        base_url = sandbox.base_url.removeprefix("https://")
        if kind == "agent":
            client = AgentWeb.get_client(access_token=token, version=version, base_url=base_url, verify=False,
                                         disable_logging=True)
        else:
            client = ConfigurationApi.get_client(token=token, version=version, base_url=base_url, verify=False,
                                                 disable_logging=True)
        made.append(client)
        return client

    yield make
    for client in made:
        client.session.close()


def ok(resp):
    """The body of a successful SDK call."""
    assert resp.status_code == 200, f"{resp.request.url}: {resp.status_code} {resp.text[:300]}"
    body = resp.json()
    assert not (isinstance(body, dict) and "error" in body), body
    return body


def _check_thread(thread: dict) -> None:
    assert set(thread) >= THREAD_KEYS
    assert len(thread["id"]) == 10 and thread["id"].isalnum() and thread["id"].upper() == thread["id"]
    assert TIMESTAMP.match(thread["created_at"])
    for ev in thread["events"]:
        assert {"id", "type", "created_at", "visibility"} <= set(ev)
        assert ev["id"].startswith(thread["id"] + "_")
        assert ("author_id" in ev) is (ev["type"] != "system_message")


# --- reads ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["3.5", "3.6"])
def test_sdk_reads_chats_and_archives(sandbox, clients, version):
    agent = clients(sandbox, version=version)
    listed = agent.list_chats(limit=5)
    assert (listed.headers.get("Legacy") is not None) is (version == "3.5")
    chats = ok(listed)
    assert {"chats_summary", "found_chats", "next_page_id"} <= set(chats) and len(chats["chats_summary"]) == 5
    assert "previous_page_id" not in chats and chats["found_chats"] == 300
    summary = chats["chats_summary"][0]
    assert set(summary) >= SUMMARY_KEYS
    assert {"id", "active", "created_at", "user_ids", "properties", "access"} <= set(summary["last_thread_summary"])
    following = ok(agent.list_chats(page_id=chats["next_page_id"]))
    assert not {s["id"] for s in following["chats_summary"]} & {s["id"] for s in chats["chats_summary"]}

    archives = ok(agent.list_archives(limit=3, sort_order="asc", filters={"tags": {"exists": True}}))
    assert {"chats", "found_chats", "next_page_id"} <= set(archives) and len(archives["chats"]) == 3
    for entry in archives["chats"]:
        assert {"id", "users", "thread", "properties", "access"} <= set(entry)
        _check_thread(entry["thread"])
        assert entry["thread"]["tags"]

    chat = ok(agent.get_chat(chat_id=summary["id"]))
    assert set(chat) >= CHAT_KEYS and chat["id"] == summary["id"]
    assert chat["thread"]["id"] == summary["last_thread_summary"]["id"]
    _check_thread(chat["thread"])
    threads = ok(agent.list_threads(chat_id=summary["id"], sort_order="asc", limit=100))
    assert {"threads", "found_threads"} <= set(threads) and threads["found_threads"] == len(threads["threads"])
    assert threads["threads"][-1]["id"] == chat["thread"]["id"]
    first = ok(agent.get_chat(chat_id=summary["id"], thread_id=threads["threads"][0]["id"]))
    assert first["thread"] == threads["threads"][0]

    customer_id = next(u["id"] for u in chat["users"] if u["type"] == "customer")
    customer = ok(agent.get_customer(id=customer_id))
    assert set(customer) >= CUSTOMER_KEYS and customer["id"] == customer_id and customer["type"] == "customer"
    assert str(uuid.UUID(customer_id)) == customer_id
    assert summary["id"] in customer["chat_ids"]


def test_sdk_v35_lists_customers(sandbox, clients):
    agent = clients(sandbox)
    page = ok(agent.list_customers(limit=4, sort_order="asc"))
    assert {"customers", "total_customers", "next_page_id"} <= set(page) and len(page["customers"]) == 4
    for c in page["customers"]:
        assert set(c) >= CUSTOMER_KEYS and c["type"] == "customer"
    stamps = [c["created_at"] for c in page["customers"]]
    assert stamps == sorted(stamps)
    following = ok(agent.list_customers(page_id=page["next_page_id"]))
    assert following["previous_page_id"] and following["customers"][0]["created_at"] >= stamps[-1]
    email = page["customers"][0]["email"]
    found = ok(agent.list_customers(filters={"email": {"values": [email]}}))
    assert [c["id"] for c in found["customers"]] == [page["customers"][0]["id"]]


def test_v36_has_no_list_or_create_customer(sandbox, clients, credentials):
    agent = clients(sandbox, version="3.6")
    assert not hasattr(agent, "list_customers") and not hasattr(agent, "create_customer")
    with Api(sandbox, credentials["basic_authorization"]) as api:
        for method in ("list_customers", "create_customer"):
            resp = api.post(method, {}, version="3.6")
            assert resp.status_code == 404 and error_of(resp)["type"] == "not_found"
        # Both still exist on v3.5 (a bad email is a validation error there, not an unknown method).
        assert api.ok("list_customers", {"limit": 1})["customers"]
        status, err = api.error("create_customer", {"email": "bad"})
        assert (status, err["type"]) == (400, "validation")


# --- the write lifecycle -------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["3.5", "3.6"])
def test_sdk_write_lifecycle(fresh_sandbox, clients, version):
    creds = fresh_sandbox.admin("GET", "credentials")
    agent = clients(fresh_sandbox, version=version)
    legacy = clients(fresh_sandbox, version="3.5")  # customers are created with v3.5 (gone in v3.6)

    created = ok(legacy.create_customer(name="Ada Lovelace", email="ada@example.org",
                                        session_fields=[{"plan": "business"}]))
    assert set(created) == {"customer_id"}
    cid = created["customer_id"]
    assert ok(agent.update_customer(id=cid, name="Ada King")) == {}
    customer = ok(agent.get_customer(id=cid))
    assert (customer["name"], customer["email"], customer["session_fields"]) == (
        "Ada King", "ada@example.org", [{"plan": "business"}])

    started = ok(agent.start_chat(chat={"users": [{"id": cid, "type": "customer"}], "thread": {
        "events": [{"type": "message", "text": "Hi Ada", "visibility": "all"}]}}))
    assert set(started) == {"chat_id", "thread_id", "event_ids"}
    chat_id, thread_id = started["chat_id"], started["thread_id"]
    assert len(chat_id) == 10 and chat_id.isalnum()

    sent = ok(agent.send_event(chat_id=chat_id, event={"type": "message", "text": "How can I help?",
                                                       "visibility": "all"}))
    assert set(sent) == {"event_id"} and sent["event_id"].startswith(thread_id + "_")

    payload = b"%PDF-1.4 sdk upload " * 500
    uploaded = ok(agent.upload_file(file={"file": ("terms.pdf", io.BytesIO(payload), "application/pdf")}))
    assert set(uploaded) == {"url"} and uploaded["url"].endswith("/terms.pdf")
    served = agent.session.get(uploaded["url"])
    assert served.status_code == 200 and served.content == payload
    file_event = ok(agent.send_event(chat_id=chat_id, event={"type": "file", "url": uploaded["url"]}))

    assert ok(agent.tag_thread(chat_id=chat_id, thread_id=thread_id, tag="billing")) == {}
    assert ok(agent.tag_thread(chat_id=chat_id, thread_id=thread_id, tag="vip")) == {}
    assert ok(agent.untag_thread(chat_id=chat_id, thread_id=thread_id, tag="billing")) == {}
    assert ok(agent.transfer_chat(id=chat_id, target={"type": "group", "ids": [1]})) == {}

    chat = ok(agent.get_chat(chat_id=chat_id))
    assert [e["id"] for e in chat["thread"]["events"]] == started["event_ids"] + [sent["event_id"],
                                                                                  file_event["event_id"]]
    assert chat["thread"]["events"][-1]["url"] == uploaded["url"]
    assert chat["thread"]["events"][-1]["author_id"] == creds["agent_id"]
    assert chat["thread"]["tags"] == ["vip"] and chat["access"]["group_ids"] == [1]

    assert ok(agent.deactivate_chat(id=chat_id)) == {}
    assert ok(agent.get_chat(chat_id=chat_id))["thread"]["active"] is False
    again = agent.deactivate_chat(id=chat_id)
    assert again.status_code == 422 and error_of(again)["type"] == "chat_inactive"

    resumed = ok(agent.resume_chat(chat={"id": chat_id}))
    assert set(resumed) == {"thread_id"} and resumed["thread_id"] != thread_id
    latest = ok(agent.get_chat(chat_id=chat_id))["thread"]
    assert latest["id"] == resumed["thread_id"] and latest["previous_thread_id"] == thread_id
    assert latest["active"] is True
    archived = ok(agent.list_archives(limit=2))["chats"]
    assert [(e["id"], e["thread"]["id"]) for e in archived] == [(chat_id, resumed["thread_id"]), (chat_id, thread_id)]
    assert archived[1]["thread"]["next_thread_id"] == resumed["thread_id"]
    threads = ok(agent.list_threads(chat_id=chat_id))
    assert [t["id"] for t in threads["threads"]] == [resumed["thread_id"], thread_id]
    assert ok(agent.get_customer(id=cid))["statistics"]["chats_count"] == 1


# --- configuration API -----------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["3.5", "3.6"])
def test_sdk_configuration_api(fresh_sandbox, clients, version):
    creds = fresh_sandbox.admin("GET", "credentials")
    config = clients(fresh_sandbox, kind="configuration", version=version)

    agents = ok(config.list_agents())
    assert agents and {a["id"] for a in agents} >= {creds["agent_id"]}
    for a in agents:
        assert {"id", "name", "avatar_path", "login_status", "role"} <= set(a) and "job_title" not in a
        assert "@" in a["id"]
    assert all("job_title" in a for a in ok(config.list_agents(fields=["job_title"])))  # only when asked
    groups = ok(config.list_groups(fields=["routing_status"]))
    assert groups and all({"id", "name", "language_code", "routing_status"} <= set(g) for g in groups)
    assert all(isinstance(g["id"], int) for g in groups) and 0 in {g["id"] for g in groups}

    tags = ok(config.list_tags())
    assert tags and all({"name", "group_ids", "author_id", "created_at"} <= set(t) for t in tags)
    assert ok(config.create_tag(name="from-sdk", group_ids=[groups[1]["id"]])) == {}
    new = {t["name"]: t for t in ok(config.list_tags())}["from-sdk"]
    assert new["group_ids"] == [groups[1]["id"]] and new["author_id"] == creds["agent_id"]
    assert TIMESTAMP.match(new["created_at"])
    dup = config.create_tag(name="From-SDK", group_ids=[0])  # names match case-insensitively
    assert dup.status_code == 400 and error_of(dup)["type"] == "already_exists"

    owner = creds["client_id"]
    registered = ok(config.register_webhook(action="incoming_event", secret_key="s3cret", type="license",
                                            url="https://hooks.example/livechat", owner_client_id=owner,
                                            description="sdk test"))
    assert set(registered) == {"id"} and registered["id"]
    hooks = ok(config.list_webhooks(owner_client_id=owner))
    (hook,) = [h for h in hooks if h["id"] == registered["id"]]
    assert (hook["action"], hook["url"], hook["type"], hook["owner_client_id"]) == (
        "incoming_event", "https://hooks.example/livechat", "license", owner)
    assert ok(config.enable_license_webhooks(owner_client_id=owner)) == {}
    assert ok(config.unregister_webhook(id=registered["id"], owner_client_id=owner)) == {}
    assert registered["id"] not in {h["id"] for h in ok(config.list_webhooks(owner_client_id=owner))}
    gone = config.unregister_webhook(id=registered["id"], owner_client_id=owner)
    assert gone.status_code == 404 and error_of(gone)["type"] == "not_found"
    # With a personal access token the owning client must be named.
    missing = config.list_webhooks()
    assert missing.status_code == 400 and error_of(missing)["type"] == "validation"


def test_sdk_surfaces_errors_as_livechat_error_bodies(sandbox, clients):
    agent = clients(sandbox, auth="Bearer dal:wrong")
    resp = agent.list_chats()
    assert resp.status_code == 401 and error_of(resp)["type"] == "authentication"
    agent = clients(sandbox)
    resp = agent.get_chat(chat_id="ZZZZZZZZZZ")
    assert resp.status_code == 404 and error_of(resp)["type"] == "not_found"
    resp = agent.list_archives(limit=101)
    assert resp.status_code == 400 and error_of(resp)["type"] == "validation"


# --- requester presence (v3.4 and later) -------------------------------------------------------------
@pytest.mark.parametrize("version", ["3.5", "3.6"])
def test_sdk_requester_must_be_a_chat_user(fresh_sandbox, clients, version):
    """send_event needs the requester among the chat's users; deactivate, transfer and add/remove user
    need it unless ignore_requester_presence; an agent added with visibility agents cannot send to all."""
    creds = fresh_sandbox.admin("GET", "credentials")
    me = creds["agent_id"]
    config = clients(fresh_sandbox, kind="configuration", version=version)
    colleague = next(a["id"] for a in ok(config.list_agents()) if a["id"] != me)
    theirs = fresh_sandbox.admin("POST", "personal-access-tokens", json={"agent_id": colleague})
    customer = ok(clients(fresh_sandbox).list_customers(limit=1))["customers"][0]["id"]
    chat_id = ok(clients(fresh_sandbox, version=version, auth=theirs["basic_authorization"]).start_chat(
        chat={"users": [{"id": customer, "type": "customer"}]}))["chat_id"]
    agent = clients(fresh_sandbox, version=version)

    def refused(resp):
        assert resp.status_code == 403, resp.text
        assert error_of(resp)["type"] == "authorization" and "present on the list of chat users" in \
            error_of(resp)["message"]

    refused(agent.send_event(chat_id=chat_id, event={"type": "message", "text": "hi", "visibility": "agents"}))
    refused(agent.deactivate_chat(id=chat_id))
    refused(agent.transfer_chat(id=chat_id, target={"type": "group", "ids": [1]}))
    refused(agent.add_user_to_chat(chat_id=chat_id, user_id=me, user_type="agent", visibility="all"))
    refused(agent.remove_user_from_chat(chat_id=chat_id, user_id=colleague, user_type="agent"))
    assert me not in ok(agent.get_chat(chat_id=chat_id))["thread"]["user_ids"]  # nothing joined silently

    assert ok(agent.add_user_to_chat(chat_id=chat_id, user_id=me, user_type="agent", visibility="agents",
                                     ignore_requester_presence=True)) == {}
    public = agent.send_event(chat_id=chat_id, event={"type": "message", "text": "to all", "visibility": "all"})
    assert public.status_code == 400 and error_of(public)["type"] == "validation"
    ok(agent.send_event(chat_id=chat_id, event={"type": "message", "text": "note", "visibility": "agents"}))
    assert ok(agent.add_user_to_chat(chat_id=chat_id, user_id=me, user_type="agent", visibility="all")) == {}
    ok(agent.send_event(chat_id=chat_id, event={"type": "message", "text": "to all", "visibility": "all"}))
    users = {u["id"]: u for u in ok(agent.get_chat(chat_id=chat_id))["users"]}
    assert users[me]["present"] is True and users[me]["visibility"] == "all"

    assert ok(agent.remove_user_from_chat(chat_id=chat_id, user_id=me, user_type="agent")) == {}
    refused(agent.send_event(chat_id=chat_id, event={"type": "message", "text": "gone", "visibility": "all"}))
    assert ok(agent.transfer_chat(id=chat_id, target={"type": "group", "ids": [1]},
                                  ignore_requester_presence=True)) == {}
    assert ok(agent.deactivate_chat(id=chat_id, ignore_requester_presence=True)) == {}
    closed = agent.add_user_to_chat(chat_id=chat_id, user_id=me, user_type="agent", visibility="all",
                                    ignore_requester_presence=True)
    assert closed.status_code == 422 and error_of(closed)["type"] == "chat_inactive"


def test_sdk_reaches_a_fra_license_only_with_x_region(fresh_sandbox, clients):
    creds = fresh_sandbox.admin("POST", "reset", json={"region": "fra"})
    try:
        agent = clients(fresh_sandbox, version="3.6")
        resp = agent.list_chats(limit=1)
        assert resp.status_code == 421 and error_of(resp) == {"type": "misdirected_request", "message": "Wrong region",
                                                              "data": {"region": "fra"}}
        agent.modify_header({"X-Region": creds["personal_access_token"].split(":")[0]})
        assert ok(agent.list_chats(limit=1))["chats_summary"]
    finally:
        fresh_sandbox.admin("POST", "reset")
