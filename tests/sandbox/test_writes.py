"""Writes change what reads return: chats, events, threads, tags, transfers, customers and files."""
from __future__ import annotations

import io
import os

import pytest

from .chat_api_helpers import TIMESTAMP, Api, archive_key, flat, traverse


@pytest.fixture
def api(fresh_sandbox):
    with Api(fresh_sandbox) as client:
        yield client


@pytest.fixture
def me(fresh_sandbox):
    return fresh_sandbox.admin("GET", "credentials")["agent_id"]


def _customer(api) -> dict:
    return api.ok("list_customers", {"limit": 1, "sort_order": "asc"})["customers"][0]


def _start(api, text: str = "Hello from the test", **extra) -> dict:
    customer = _customer(api)
    body = {"chat": {"users": [{"id": customer["id"], "type": "customer"}],
                     "thread": {"events": [{"type": "message", "text": text, "visibility": "all"}]}}, **extra}
    return api.ok("start_chat", body)


def _all_archive(api) -> list[dict]:
    return flat(traverse(api, "list_archives", {"limit": 100}), "chats")


# --- start_chat ------------------------------------------------------------------------------------
def test_started_chat_shows_in_get_chat_list_chats_and_list_archives(api, me):
    customer = _customer(api)
    archives_before = api.ok("list_archives", {"limit": 1})["found_chats"]
    chats_before = api.ok("list_chats", {"limit": 1})["found_chats"]
    started = _start(api, "Where is my parcel #4471?")
    assert set(started) == {"chat_id", "thread_id", "event_ids"} and len(started["event_ids"]) == 1
    chat = api.ok("get_chat", {"chat_id": started["chat_id"]})
    assert chat["id"] == started["chat_id"] and chat["thread"]["id"] == started["thread_id"]
    assert chat["thread"]["active"] is True
    assert set(chat["thread"]["user_ids"]) == {customer["id"], me}
    assert {(u["id"], u["type"]) for u in chat["users"]} == {(customer["id"], "customer"), (me, "agent")}
    (event,) = chat["thread"]["events"]
    assert event["id"] == started["event_ids"][0] and event["text"] == "Where is my parcel #4471?"
    assert event["author_id"] == me and event["type"] == "message" and TIMESTAMP.match(event["created_at"])
    assert TIMESTAMP.match(chat["thread"]["created_at"])

    newest = api.ok("list_archives", {"limit": 1})
    assert archive_key(newest["chats"][0]) == (started["chat_id"], started["thread_id"])
    assert newest["found_chats"] == archives_before + 1
    summary = api.ok("list_chats", {"limit": 1})
    assert summary["chats_summary"][0]["id"] == started["chat_id"]
    assert summary["found_chats"] == chats_before + 1
    assert summary["chats_summary"][0]["last_event_per_type"]["message"]["event"]["id"] == event["id"]
    found = api.ok("list_archives", {"filters": {"query": "parcel #4471"}})
    assert [archive_key(e) for e in found["chats"]] == [(started["chat_id"], started["thread_id"])]
    after = api.ok("get_customer", {"id": customer["id"]})
    assert after["statistics"]["chats_count"] == customer["statistics"]["chats_count"] + 1
    assert started["chat_id"] in after["chat_ids"]


def test_start_chat_inactive_and_in_a_group(api):
    customer = _customer(api)
    started = api.ok("start_chat", {"chat": {"users": [{"id": customer["id"], "type": "customer"}],
                                             "access": {"group_ids": [2]}}, "active": False})
    assert "event_ids" not in started
    chat = api.ok("get_chat", {"chat_id": started["chat_id"]})
    assert chat["thread"]["active"] is False and chat["thread"]["events"] == []
    assert chat["access"]["group_ids"] == [2]
    assert archive_key(api.ok("list_archives", {"filters": {"group_ids": [2]}, "limit": 1})["chats"][0]) == (
        started["chat_id"], started["thread_id"])


# --- send_event ------------------------------------------------------------------------------------
def test_sent_events_show_in_the_thread_and_the_summaries(api, me):
    started = _start(api)
    first = api.ok("send_event", {"chat_id": started["chat_id"],
                                  "event": {"type": "message", "text": "Checking that for you now.",
                                            "custom_id": "c-1"}})
    note = api.ok("send_event", {"chat_id": started["chat_id"],
                                 "event": {"type": "message", "text": "VIP, be nice", "visibility": "agents"}})
    assert set(first) == {"event_id"} and first["event_id"] != note["event_id"]
    events = api.ok("get_chat", {"chat_id": started["chat_id"]})["thread"]["events"]
    assert [e["id"] for e in events] == started["event_ids"] + [first["event_id"], note["event_id"]]
    assert events[1]["text"] == "Checking that for you now." and events[1]["custom_id"] == "c-1"
    assert events[1]["author_id"] == me and events[1]["visibility"] == "all"
    assert events[2]["visibility"] == "agents"
    assert all(e["id"].startswith(started["thread_id"] + "_") for e in events)
    assert events[0]["created_at"] <= events[1]["created_at"] <= events[2]["created_at"]
    threads = api.ok("list_threads", {"chat_id": started["chat_id"]})["threads"]
    assert threads[0]["events"] == events
    summary = api.ok("list_chats", {"limit": 1})["chats_summary"][0]
    assert summary["last_event_per_type"]["message"]["event"]["id"] == note["event_id"]


def test_send_event_into_the_last_thread_of_an_inactive_chat(api):
    started = _start(api)
    api.ok("deactivate_chat", {"id": started["chat_id"]})
    sent = api.ok("send_event", {"chat_id": started["chat_id"], "attach_to_last_thread": True,
                                 "event": {"type": "message", "text": "Follow-up after closing"}})
    chat = api.ok("get_chat", {"chat_id": started["chat_id"]})
    assert chat["thread"]["id"] == started["thread_id"] and chat["thread"]["active"] is False
    assert chat["thread"]["events"][-1]["id"] == sent["event_id"]


# --- deactivate / resume -----------------------------------------------------------------------------
def test_deactivate_then_resume_links_the_new_thread(api):
    started = _start(api)
    assert api.ok("deactivate_chat", {"id": started["chat_id"]}) == {}
    closed = api.ok("get_chat", {"chat_id": started["chat_id"]})
    assert closed["thread"]["active"] is False
    assert closed["thread"]["events"][-1]["type"] == "system_message"
    inactive_only = flat(traverse(api, "list_chats", {"limit": 100, "filters": {"include_active": False}}),
                         "chats_summary")
    assert started["chat_id"] in {s["id"] for s in inactive_only}

    resumed = api.ok("resume_chat", {"chat": {"id": started["chat_id"], "thread": {
        "events": [{"type": "message", "text": "Picking this up again"}]}}})
    assert set(resumed) == {"thread_id", "event_ids"} and resumed["thread_id"] != started["thread_id"]
    latest = api.ok("get_chat", {"chat_id": started["chat_id"]})
    assert latest["thread"]["id"] == resumed["thread_id"] and latest["thread"]["active"] is True
    assert latest["thread"]["previous_thread_id"] == started["thread_id"]
    assert "next_thread_id" not in latest["thread"]
    assert [e["id"] for e in latest["thread"]["events"]] == resumed["event_ids"]
    old = api.ok("get_chat", {"chat_id": started["chat_id"], "thread_id": started["thread_id"]})
    assert old["thread"]["next_thread_id"] == resumed["thread_id"]
    assert "previous_thread_id" not in old["thread"]
    assert latest["thread"]["created_at"] > old["thread"]["created_at"]

    threads = api.ok("list_threads", {"chat_id": started["chat_id"]})
    assert [t["id"] for t in threads["threads"]] == [resumed["thread_id"], started["thread_id"]]
    assert threads["found_threads"] == 2
    entries = [archive_key(e) for e in api.ok("list_archives", {"limit": 2})["chats"]]
    assert entries == [(started["chat_id"], resumed["thread_id"]), (started["chat_id"], started["thread_id"])]
    summary = api.ok("list_chats", {"limit": 1})["chats_summary"][0]
    assert summary["id"] == started["chat_id"]
    assert summary["last_thread_summary"]["id"] == resumed["thread_id"]


def test_resuming_an_active_chat_fails_and_changes_nothing(api):
    started = _start(api)
    status, err = api.error("resume_chat", {"chat": {"id": started["chat_id"]}})
    assert status >= 400 and err["type"]
    assert api.ok("list_threads", {"chat_id": started["chat_id"]})["found_threads"] == 1


# --- tags ---------------------------------------------------------------------------------------------
def test_tag_and_untag_thread(api):
    started = _start(api)
    ref = {"chat_id": started["chat_id"], "thread_id": started["thread_id"]}
    assert api.ok("tag_thread", {**ref, "tag": "urgent"}) == {}
    assert api.ok("tag_thread", {**ref, "tag": "vip"}) == {}
    assert api.ok("tag_thread", {**ref, "tag": "vip"}) == {}  # tagging twice keeps one tag
    assert api.ok("get_chat", {"chat_id": started["chat_id"]})["thread"]["tags"] == ["urgent", "vip"]
    both = api.ok("list_archives", {"filters": {"tags": {"values": ["urgent", "vip"], "require_every_value": True}}})
    assert (started["chat_id"], started["thread_id"]) in {archive_key(e) for e in both["chats"]}
    assert api.ok("list_chats", {"limit": 1})["chats_summary"][0]["last_thread_summary"]["tags"] == ["urgent", "vip"]

    assert api.ok("untag_thread", {**ref, "tag": "urgent"}) == {}
    assert api.ok("get_chat", {"chat_id": started["chat_id"]})["thread"]["tags"] == ["vip"]
    urgent = flat(traverse(api, "list_archives", {"limit": 100, "filters": {"tags": {"values": ["urgent"]}}}),
                  "chats")
    assert (started["chat_id"], started["thread_id"]) not in {archive_key(e) for e in urgent}


def test_a_new_tag_from_the_configuration_api_can_tag_old_threads(api):
    old = api.ok("list_archives", {"limit": 1, "sort_order": "asc"})["chats"][0]
    assert api.ok("create_tag", {"name": "escalated", "group_ids": [0, 2]}, api="configuration") == {}
    tags = {t["name"]: t for t in api.ok("list_tags", api="configuration")}
    assert tags["escalated"]["group_ids"] == [0, 2] and TIMESTAMP.match(tags["escalated"]["created_at"])
    api.ok("tag_thread", {"chat_id": old["id"], "thread_id": old["thread"]["id"], "tag": "escalated"})
    found = api.ok("list_archives", {"filters": {"tags": {"values": ["escalated"]}}})
    assert [archive_key(e) for e in found["chats"]] == [archive_key(old)]
    assert found["chats"][0]["thread"]["tags"] == old["thread"]["tags"] + ["escalated"]


# --- transfer_chat ---------------------------------------------------------------------------------------
def test_transfer_to_an_agent(api, me):
    started = _start(api)
    target = "li.wei@helpdesk.example"
    assert api.ok("transfer_chat", {"id": started["chat_id"], "target": {"type": "agent", "ids": [target]}}) == {}
    chat = api.ok("get_chat", {"chat_id": started["chat_id"]})
    assert target in chat["thread"]["user_ids"] and me not in chat["thread"]["user_ids"]
    present = {u["id"]: u["present"] for u in chat["users"] if u["type"] == "agent"}
    assert present[target] is True
    by_agent = api.ok("list_archives", {"filters": {"agents": {"values": [target]}}, "limit": 1})
    assert archive_key(by_agent["chats"][0]) == (started["chat_id"], started["thread_id"])
    status, err = api.error("transfer_chat", {"id": started["chat_id"],
                                              "target": {"type": "agent", "ids": ["ghost@helpdesk.example"]}})
    assert (status, err["type"]) == (404, "not_found")


def test_transfer_to_a_group(api):
    started = _start(api)
    assert api.ok("transfer_chat", {"id": started["chat_id"], "target": {"type": "group", "ids": [3]}}) == {}
    chat = api.ok("get_chat", {"chat_id": started["chat_id"]})
    assert chat["access"]["group_ids"] == [3] and chat["thread"]["access"]["group_ids"] == [3]
    in_group = api.ok("list_chats", {"filters": {"group_ids": [3]}, "limit": 1})
    assert in_group["chats_summary"][0]["id"] == started["chat_id"]
    assert in_group["chats_summary"][0]["access"]["group_ids"] == [3]
    general = flat(traverse(api, "list_archives", {"limit": 100, "filters": {"group_ids": [0]}}), "chats")
    assert started["chat_id"] not in {e["id"] for e in general}
    status, err = api.error("transfer_chat", {"id": started["chat_id"], "target": {"type": "group", "ids": [99]}})
    assert (status, err["type"]) == (404, "not_found")


# --- customers ---------------------------------------------------------------------------------------------
def test_create_and_update_customer(api):
    before = api.ok("list_customers", {"limit": 1})["total_customers"]
    created = api.ok("create_customer", {"name": "Rosa Parks", "email": "rosa@example.org",
                                         "session_fields": [{"plan": "team"}]})
    assert set(created) == {"customer_id"}
    cid = created["customer_id"]
    customer = api.ok("get_customer", {"id": cid})
    assert customer["id"] == cid and customer["type"] == "customer"
    assert (customer["name"], customer["email"], customer["session_fields"]) == (
        "Rosa Parks", "rosa@example.org", [{"plan": "team"}])
    assert customer["statistics"]["chats_count"] == 0 and TIMESTAMP.match(customer["created_at"])
    newest = api.ok("list_customers", {"limit": 1})
    assert newest["customers"][0]["id"] == cid and newest["total_customers"] == before + 1

    assert api.ok("update_customer", {"id": cid, "name": "Rosa L. Parks", "email": "rosa.parks@example.org",
                                      "session_fields": [{"plan": "business"}, {"seats": "12"}]}) == {}
    updated = api.ok("get_customer", {"id": cid})
    assert (updated["name"], updated["email"], updated["session_fields"]) == (
        "Rosa L. Parks", "rosa.parks@example.org", [{"plan": "business"}, {"seats": "12"}])
    assert updated["created_at"] == customer["created_at"]
    by_email = api.ok("list_customers", {"filters": {"email": {"values": ["rosa.parks@example.org"]}}})
    assert [c["id"] for c in by_email["customers"]] == [cid] and by_email["total_customers"] == 1
    assert api.ok("list_customers", {"filters": {"email": {"values": ["rosa@example.org"]}}})["customers"] == []

    started = api.ok("start_chat", {"chat": {"users": [{"id": cid, "type": "customer"}]}})
    chat = api.ok("get_chat", {"chat_id": started["chat_id"]})
    (user,) = [u for u in chat["users"] if u["type"] == "customer"]
    assert user["id"] == cid and user["name"] == "Rosa L. Parks"
    assert api.ok("get_customer", {"id": cid})["statistics"]["chats_count"] == 1


def test_update_an_existing_customer_shows_in_their_chats(api):
    entry = api.ok("list_archives", {"limit": 1})["chats"][0]
    cid = next(u["id"] for u in entry["users"] if u["type"] == "customer")
    api.ok("update_customer", {"id": cid, "name": "Renamed Person"})
    again = api.ok("get_chat", {"chat_id": entry["id"]})
    assert next(u for u in again["users"] if u["type"] == "customer")["name"] == "Renamed Person"
    assert api.ok("get_customer", {"id": cid})["email"] == next(
        u for u in entry["users"] if u["type"] == "customer")["email"]  # untouched fields stay


# --- files --------------------------------------------------------------------------------------------------
def test_uploaded_file_is_served_back_and_can_be_sent_as_a_file_event(fresh_sandbox, api, me):
    data = os.urandom(150_000)
    resp = api.session.post(f"{api.base}/v3.5/agent/action/upload_file", headers={"Authorization": api.auth},
                            files={"file": ("scan.png", io.BytesIO(data), "image/png")}, verify=False, timeout=30)
    assert resp.status_code == 200 and set(resp.json()) == {"url"}
    url = resp.json()["url"]
    assert url.startswith(fresh_sandbox.base_url + "/") and url.endswith("/scan.png")
    served = api.session.get(url, verify=False, timeout=30)
    assert served.status_code == 200 and served.content == data
    assert served.headers["Content-Type"].startswith("image/png")

    started = _start(api)
    sent = api.ok("send_event", {"chat_id": started["chat_id"], "event": {"type": "file", "url": url}})
    event = api.ok("get_chat", {"chat_id": started["chat_id"]})["thread"]["events"][-1]
    assert event["id"] == sent["event_id"] and event["type"] == "file" and event["url"] == url
    assert (event["name"], event["content_type"], event["size"], event["author_id"]) == (
        "scan.png", "image/png", len(data), me)
    with_files = api.ok("list_archives", {"filters": {"event_types": {"values": ["file"]}}, "limit": 1})
    assert archive_key(with_files["chats"][0]) == (started["chat_id"], started["thread_id"])


def test_seeded_file_events_serve_their_bytes(api):
    files = [ev for e in _all_archive(api) for ev in e["thread"]["events"] if ev["type"] == "file"]
    assert files
    for ev in files[:5]:
        served = api.session.get(ev["url"], verify=False, timeout=30)
        assert served.status_code == 200 and len(served.content) == ev["size"]
        assert served.headers["Content-Type"].startswith(ev["content_type"])
    missing = api.session.get(files[0]["url"].rsplit("/", 2)[0] + "/NOPE_1/x.txt", verify=False, timeout=30)
    assert missing.status_code == 404


# --- groups online and offline, continuous chats ------------------------------------------------------
def all_agents_offline(sandbox, api) -> None:
    """Every agent closes the LiveChat app: every group goes offline."""
    for agent in api.ok("list_agents", api="configuration"):
        sandbox.admin("POST", "agent-app", json={"agent_id": agent["id"], "routing_status": "offline"})


def test_start_and_resume_need_an_online_group_unless_continuous(fresh_sandbox, api):
    groups = {g["id"]: g["routing_status"] for g in api.ok("list_groups", {"fields": ["routing_status"]},
                                                             api="configuration")}
    assert groups[0] == "accepting_chats"
    earlier = _start(api)
    api.ok("deactivate_chat", {"id": earlier["chat_id"]})
    all_agents_offline(fresh_sandbox, api)
    assert {g["routing_status"] for g in api.ok("list_groups", {"fields": ["routing_status"]},
                                                api="configuration")} == {"offline"}
    before = api.ok("list_chats", {"limit": 1})["found_chats"]
    customer = _customer(api)
    status, err = api.error("start_chat", {"chat": {"users": [{"id": customer["id"], "type": "customer"}]}})
    assert (status, err["type"]) == (400, "groups_offline")
    assert api.ok("list_chats", {"limit": 1})["found_chats"] == before  # nothing was started
    status, err = api.error("resume_chat", {"chat": {"id": earlier["chat_id"]}})
    assert err["type"] == "groups_offline"

    started = _start(api, continuous=True)  # a continuous chat needs no agent online
    chat = api.ok("get_chat", {"chat_id": started["chat_id"]})
    assert chat["properties"]["routing"]["continuous"] is True
    api.ok("deactivate_chat", {"id": started["chat_id"]})
    assert api.ok("resume_chat", {"chat": {"id": started["chat_id"]}})["thread_id"]  # the mode is kept
    assert api.ok("resume_chat", {"chat": {"id": earlier["chat_id"]}, "continuous": True})["thread_id"]


# --- create_tag -------------------------------------------------------------------------------------------
def test_create_tag_matches_names_whatever_the_case_and_groups_are_optional(api):
    assert api.ok("create_tag", {"name": "Escalated"}, api="configuration") == {}
    tags = {t["name"]: t for t in api.ok("list_tags", api="configuration")}
    assert tags["Escalated"]["group_ids"] == []
    assert api.ok("create_tag", {"name": "empty-groups", "group_ids": []}, api="configuration") == {}
    for name in ("escalated", "SUPPORT"):
        _, err = api.error("create_tag", {"name": name, "group_ids": [0]}, api="configuration")
        assert err["type"] == "already_exists", name
    _, err = api.error("create_tag", {"name": "new-one", "group_ids": [0, 99]}, api="configuration")
    assert err["type"] == "group_not_found" and "99" in err["message"]
    assert "new-one" not in {t["name"] for t in api.ok("list_tags", api="configuration")}


# --- deleted events (v3.6) --------------------------------------------------------------------------------
def test_a_deleted_event_is_marked_in_v36_and_left_out_in_v35(fresh_sandbox, api):
    started = _start(api, "Oops, wrong chat")
    sent = api.ok("send_event", {"chat_id": started["chat_id"], "event": {"type": "message", "text": "kept"}})
    fresh_sandbox.admin("POST", "agent-app", json={"chat_id": started["chat_id"], "thread_id": started["thread_id"],
                                                   "event_id": started["event_ids"][0]})
    new = api.ok("get_chat", {"chat_id": started["chat_id"]}, version="3.6")["thread"]["events"]
    assert [(e["id"], e.get("deleted")) for e in new] == [(started["event_ids"][0], True), (sent["event_id"], None)]
    old = api.ok("list_threads", {"chat_id": started["chat_id"]})["threads"][0]["events"]
    assert [e["id"] for e in old] == [sent["event_id"]]


# --- bots -------------------------------------------------------------------------------------------------
def test_bots_are_agents_of_the_chat_with_32_hex_ids_not_in_list_agents(api):
    entry = next(e for e in _all_archive(api) if any(len(u) == 32 for u in e["thread"]["user_ids"]))
    bot = next(u for u in entry["users"] if len(u["id"]) == 32)
    assert bot["type"] == "agent" and int(bot["id"], 16) >= 0 and "email" not in bot
    assert any(e.get("author_id") == bot["id"] for e in entry["thread"]["events"])
    assert bot["id"] not in {a["id"] for a in api.ok("list_agents", api="configuration")}
