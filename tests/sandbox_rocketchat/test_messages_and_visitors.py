"""Room messages (comments), file messages (attachments) and visitors (contacts), read side."""
from __future__ import annotations

import pytest

from tests.sandbox_rocketchat.conftest import READ_ROOMS, Client, assert_matches_spec


@pytest.fixture(scope="module")
def rooms(rc_sandbox):
    return Client(rc_sandbox).all_pages("/api/v1/livechat/rooms", "rooms", count=100)[0]


def test_room_messages_page_through_each_message_once(rc, rooms):
    room = max(rooms, key=lambda r: r["msgs"])
    path = f"/api/v1/livechat/{room['_id']}/messages"
    messages, total = rc.all_pages(path, "messages", count=2)
    assert len({m["_id"] for m in messages}) == len(messages) == total
    assert total >= room["msgs"]  # plus system messages such as livechat-close
    assert all(m["rid"] == room["_id"] for m in messages)
    stamps = [m["ts"] for m in messages]
    assert stamps == sorted(stamps, reverse=True)
    assert messages[0]["ts"] >= room["lm"]


def test_room_messages_match_the_description_including_files(rc, rooms):
    with_file = []
    for room in rooms[:60]:
        resp = rc.get(f"/api/v1/livechat/{room['_id']}/messages", {"count": 100})
        assert_matches_spec(resp, "/api/v1/livechat/messages/{rid}")
        with_file += [m for m in resp.json()["messages"] if "file" in m]
    assert with_file, "the seed puts a file in about one room in four"
    msg = with_file[0]
    assert msg["msg"] == "" and msg["files"][0]["_id"] == msg["file"]["_id"]
    assert msg["attachments"][0]["title_link"].startswith(f"/file-upload/{msg['file']['_id']}/")


def test_seeded_files_download_with_agent_headers_only(rc, rooms):
    for room in rooms:
        files = [m for m in rc.get(f"/api/v1/livechat/{room['_id']}/messages", {"count": 0}).json()["messages"]
                 if "file" in m]
        if files:
            break
    msg = files[0]
    link = msg["attachments"][0]["title_link"]
    resp = rc.get(link)
    assert resp.status_code == 200 and len(resp.content) == msg["file"]["size"]
    assert resp.headers["Content-Type"].startswith(msg["file"]["type"])
    assert rc.get(link, headers={}).status_code == 403
    assert rc.get(link, {"rc_token": room["v"]["token"], "rc_room_type": "l"}, headers={}).status_code == 200


def test_search_term_filters_messages(rc, rooms):
    room = max(rooms, key=lambda r: r["msgs"])
    path = f"/api/v1/livechat/{room['_id']}/messages"
    everything, _ = rc.all_pages(path, "messages")
    word = everything[0]["msg"].split()[0] if everything[0]["msg"] else "Hello"
    found, total = rc.all_pages(path, "messages", {"searchTerm": word.upper()})
    assert total == sum(word.lower() in (m.get("msg") or "").lower() for m in everything) >= 1
    assert all(word.lower() in m["msg"].lower() for m in found)


def test_messages_of_an_unknown_room_is_invalid_room(rc):
    resp = rc.get("/api/v1/livechat/unknownRoom1/messages")
    assert resp.status_code == 400 and resp.json() == {"success": False, "error": "invalid-room"}


def test_visitor_history_needs_the_rooms_token_and_pages_by_ls(rc, rooms):
    room = max(rooms, key=lambda r: r["msgs"])
    path = f"/api/v1/livechat/messages.history/{room['_id']}"
    first = rc.get(path, {"token": room["v"]["token"], "limit": 3}, headers={})
    assert first.status_code == 200
    assert_matches_spec(first, "/api/v1/livechat/messages.history/{rid}")
    got = first.json()["messages"]
    rest = rc.get(path, {"token": room["v"]["token"], "ls": got[-1]["ts"], "limit": 100}, headers={}).json()
    ids = [m["_id"] for m in got + rest["messages"]]
    assert len(ids) == len(set(ids)) == len(rc.all_pages(f"/api/v1/livechat/{room['_id']}/messages", "messages")[0])
    assert rc.get(path, {"token": "nope"}, headers={}).json() == {"success": False, "error": "invalid-token"}
    missing = rc.get(path, {}, headers={})
    assert missing.status_code == 400 and missing.json()["errorType"] == "invalid-params"


# --- visitors -----------------------------------------------------------------------------------------------
def test_visitors_search_with_empty_term_pages_every_visitor_once(rc):
    visitors, total = rc.all_pages("/api/v1/livechat/visitors.search", "visitors", {"term": ""}, count=9)
    assert total == READ_ROOMS * 2 // 3 == len({v["_id"] for v in visitors}) == len(visitors)
    # the search's projection: no token, and no `ts` (the sort still uses it: newest first)
    assert all(set(v) <= {"_id", "username", "name", "phone", "livechatData", "visitorEmails", "lastChat"}
               for v in visitors)
    seconds = [int(v["_id"][:8], 16) for v in visitors]  # ObjectIds: the first 8 hex digits are the creation second
    assert seconds == sorted(seconds, reverse=True)


def test_visitors_search_matches_name_username_email_and_phone(rc):
    visitors, _ = rc.all_pages("/api/v1/livechat/visitors.search", "visitors", {"term": ""}, count=100)
    sample = next(v for v in visitors if v.get("visitorEmails") and v.get("phone"))
    address, phone = sample["visitorEmails"][0]["address"], sample["phone"][0]["phoneNumber"]
    for term in (sample["username"], sample["username"].upper()[2:], address, phone, sample["name"].lower()):
        found, _ = rc.all_pages("/api/v1/livechat/visitors.search", "visitors", {"term": term})
        assert sample["_id"] in {v["_id"] for v in found}, term
    # email and phone match exactly (LivechatVisitors.findPaginatedVisitorsByEmailOrPhoneOrNameOrUsernameOrCustomField)
    for term in (address.upper(), address[:-2], phone[:-2]):
        found, _ = rc.all_pages("/api/v1/livechat/visitors.search", "visitors", {"term": term})
        assert sample["_id"] not in {v["_id"] for v in found}, term


def test_visitors_search_answer_matches_the_description(rc):
    resp = rc.get("/api/v1/livechat/visitors.search", {"term": "guest", "count": 100})
    assert_matches_spec(resp, "/api/v1/livechat/visitors.search")
    assert resp.json()["visitors"][0]["lastChat"]["_id"]
    missing = rc.get("/api/v1/livechat/visitors.search")
    assert missing.status_code == 400 and missing.json()["errorType"] == "invalid-params"


def test_visitors_info_returns_the_visitor_without_token(rc, rooms):
    vid = rooms[0]["v"]["_id"]
    resp = rc.get("/api/v1/livechat/visitors.info", {"visitorId": vid})
    assert resp.status_code == 200
    assert_matches_spec(resp, "/api/v1/livechat/visitors.info")
    visitor = resp.json()["visitor"]
    assert visitor["_id"] == vid and visitor["username"] == rooms[0]["v"]["username"] and "token" not in visitor
    assert visitor["lastChat"]["_id"] and visitor["ts"]  # findOneEnabledById: the whole document
    unknown = rc.get("/api/v1/livechat/visitors.info", {"visitorId": "nope"})
    assert unknown.status_code == 400 and unknown.json() == {"success": False, "error": "visitor-not-found"}
    missing = rc.get("/api/v1/livechat/visitors.info")
    assert missing.json() == {"success": False, "error": "must have required property 'visitorId' [invalid-params]",
                              "errorType": "invalid-params"}
