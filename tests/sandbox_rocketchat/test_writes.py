"""Writes (close, tags, messages, uploads) and that later reads show them."""
from __future__ import annotations

import json

import pytest

from tests.sandbox_rocketchat.conftest import assert_matches_spec


def _open_room(rcw, served_by: str | None = None) -> dict:
    rooms = rcw.get("/api/v1/livechat/rooms", {"open": "true", "count": 0}).json()["rooms"]
    return next(r for r in rooms if "servedBy" in r and (served_by is None or r["servedBy"]["_id"] == served_by))


def test_close_by_user_closes_the_room_and_merges_tags(rcw):
    room = _open_room(rcw)
    resp = rcw.post("/api/v1/livechat/room.closeByUser", {"rid": room["_id"], "comment": "done", "tags": ["vip"]})
    assert resp.status_code == 200 and resp.json() == {"success": True}
    assert_matches_spec(resp, "/api/v1/livechat/room.closeByUser", "POST")
    after = rcw.get("/api/v1/rooms.info", {"roomId": room["_id"]}).json()["room"]
    assert "open" not in after and after["closedAt"] and after["closer"] == "user"
    assert set(after["tags"]) == set(room.get("tags", [])) | {"vip"}
    closed = rcw.get("/api/v1/livechat/rooms", {"open": "false", "count": 0}).json()["rooms"]
    assert room["_id"] in {r["_id"] for r in closed}
    messages = rcw.get(f"/api/v1/livechat/{room['_id']}/messages").json()["messages"]
    assert messages[0]["t"] == "livechat-close" and messages[0]["msg"] == "done"
    again = rcw.post("/api/v1/livechat/room.closeByUser", {"rid": room["_id"]})
    assert again.status_code == 400 and again.json() == {"success": False, "error": "error-room-already-closed"}


@pytest.mark.parametrize(("body", "error"), [({}, "must have required property 'rid' [invalid-params]"),
                                             ({"rid": "nope"}, "error-invalid-room")])
def test_close_by_user_errors(rcw, body, error):
    resp = rcw.post("/api/v1/livechat/room.closeByUser", body)
    assert resp.status_code == 400 and resp.json()["error"] == error
    assert_matches_spec(resp, "/api/v1/livechat/room.closeByUser", "POST")


def test_an_agent_may_not_close_another_agents_room(rcw):
    creds = rcw.proc.admin("GET", "credentials")
    agent = creds["agents"][0]
    rooms = rcw.get("/api/v1/livechat/rooms", {"open": "true", "count": 0}).json()["rooms"]
    other = next(r for r in rooms if "servedBy" in r and r["servedBy"]["_id"] != agent["user_id"])
    resp = rcw.post("/api/v1/livechat/room.closeByUser", {"rid": other["_id"]},
                    headers={"X-User-Id": agent["user_id"], "X-Auth-Token": agent["auth_token"]})
    assert resp.status_code == 403


def test_save_info_sets_tags_visible_to_the_tags_filter(rcw):
    room = _open_room(rcw)
    body = {"guestData": {"_id": room["v"]["_id"]}, "roomData": {"_id": room["_id"], "tags": ["sandbox-tag"],
                                                                 "topic": "Order 42"}}
    resp = rcw.post("/api/v1/livechat/room.saveInfo", body)
    assert resp.status_code == 200 and resp.json() == {"success": True}
    found = rcw.get("/api/v1/livechat/rooms", {"tags[]": ["sandbox-tag"]}).json()
    assert [r["_id"] for r in found["rooms"]] == [room["_id"]] and found["rooms"][0]["topic"] == "Order 42"
    cleared = rcw.post("/api/v1/livechat/room.saveInfo", {**body, "roomData": {"_id": room["_id"], "tags": []}})
    assert cleared.status_code == 200
    assert rcw.get("/api/v1/livechat/rooms", {"tags[]": ["sandbox-tag"]}).json()["total"] == 0


def test_save_info_updates_the_visitor(rcw):
    room = _open_room(rcw)
    body = {"guestData": {"_id": room["v"]["_id"], "name": "Renamed Visitor", "email": "renamed@example.org"},
            "roomData": {"_id": room["_id"]}}
    assert rcw.post("/api/v1/livechat/room.saveInfo", body).status_code == 200
    visitor = rcw.get("/api/v1/livechat/visitors.info", {"visitorId": room["v"]["_id"]}).json()["visitor"]
    assert visitor["name"] == "Renamed Visitor" and visitor["visitorEmails"] == [{"address": "renamed@example.org"}]
    found = rcw.get("/api/v1/livechat/visitors.search", {"term": "renamed@example.org"}).json()
    assert [v["_id"] for v in found["visitors"]] == [room["v"]["_id"]]


@pytest.mark.parametrize("missing", ["guestData", "roomData"])
def test_save_info_requires_guest_and_room_data(rcw, missing):
    body = {"guestData": {"_id": "x"}, "roomData": {"_id": "y"}}
    del body[missing]
    resp = rcw.post("/api/v1/livechat/room.saveInfo", body)
    assert resp.json() == {"success": False, "error": f"must have required property '{missing}' [invalid-params]",
                           "errorType": "invalid-params"}


def test_agent_message_is_the_newest_in_the_room(rcw):
    room = _open_room(rcw)
    resp = rcw.post("/api/v1/chat.sendMessage", {"message": {"rid": room["_id"], "msg": "Hi from the agent"}})
    assert resp.status_code == 200
    sent = resp.json()["message"]
    assert sent["msg"] == "Hi from the agent" and sent["u"]["username"] == "sandbox.manager" and "token" not in sent
    newest = rcw.get(f"/api/v1/livechat/{room['_id']}/messages", {"count": 1}).json()
    assert newest["messages"][0]["_id"] == sent["_id"]
    after = rcw.get("/api/v1/rooms.info", {"roomId": room["_id"]}).json()["room"]
    assert after["lastMessage"]["_id"] == sent["_id"] and after["msgs"] == room["msgs"] + 1
    assert after["waitingResponse"] is False


def test_agent_cannot_write_in_a_closed_room(rcw):
    closed = rcw.get("/api/v1/livechat/rooms", {"open": "false", "count": 1}).json()["rooms"][0]
    resp = rcw.post("/api/v1/chat.sendMessage", {"message": {"rid": closed["_id"], "msg": "late"}})
    assert resp.status_code == 400 and resp.json()["errorType"] == "error-not-allowed"


def test_visitor_message_matches_the_description_and_shows_in_the_room(rcw):
    room = _open_room(rcw)
    resp = rcw.post("/api/v1/livechat/message", {"token": room["v"]["token"], "rid": room["_id"], "msg": "Hello?"},
                    headers={})
    assert resp.status_code == 200
    assert_matches_spec(resp, "/api/v1/livechat/message", "POST")
    sent = resp.json()["message"]
    assert sent["token"] == room["v"]["token"] and sent["alias"]
    assert rcw.get("/api/v1/rooms.info", {"roomId": room["_id"]}).json()["room"]["waitingResponse"] is True
    bad = rcw.post("/api/v1/livechat/message", {"rid": room["_id"], "msg": "x"}, headers={})
    assert bad.status_code == 400 and bad.json()["errorType"] == "invalid-params"


def test_upload_becomes_a_file_message_with_a_downloadable_link(rcw):
    room = _open_room(rcw)
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
    resp = rcw.post(f"/api/v1/livechat/upload/{room['_id']}", headers={"x-visitor-token": room["v"]["token"]},
                    files={"file": ("shot one.png", data, "image/png")}, data={"description": "my screen"})
    assert resp.status_code == 200, resp.text
    assert_matches_spec(resp, "/api/v1/livechat/upload/{rid}", "POST")
    body = resp.json()
    assert body["file"]["name"] == "shot one.png" and body["attachments"][0]["image_type"] == "image/png"
    assert body["attachments"][0]["description"] == "my screen"
    newest = rcw.get(f"/api/v1/livechat/{room['_id']}/messages", {"count": 1}).json()["messages"][0]
    assert newest["_id"] == body["_id"] and newest["files"][0]["size"] == len(data)
    link = newest["attachments"][0]["title_link"]
    assert link == f"/file-upload/{body['file']['_id']}/shot%20one.png"
    assert rcw.get(link).content == data


def test_upload_without_the_rooms_visitor_token_is_unauthorized(rcw):
    room = _open_room(rcw)
    resp = rcw.post(f"/api/v1/livechat/upload/{room['_id']}", headers={"x-visitor-token": "nope"},
                    files={"file": ("a.txt", b"x", "text/plain")})
    assert resp.status_code == 403 and resp.json() == {"success": False, "error": "unauthorized"}
    assert_matches_spec(resp, "/api/v1/livechat/upload/{rid}", "POST")


def test_reset_restores_the_seeded_workspace(rcw):
    before = rcw.get("/api/v1/livechat/rooms", {"count": 0}).json()
    room = _open_room(rcw)
    rcw.post("/api/v1/livechat/room.closeByUser", {"rid": room["_id"]})
    rcw.proc.admin("POST", "reset")
    assert rcw.get("/api/v1/livechat/rooms", {"count": 0}).json() == before


def test_created_at_filter_sees_a_new_room(rcw):
    room = _open_room(rcw)
    resp = rcw.get("/api/v1/livechat/room", {"token": room["v"]["token"], "rid": "brandNewRoomId01"}, headers={})
    assert resp.status_code == 200 and resp.json()["newRoom"] is True
    new = resp.json()["room"]
    found = rcw.get("/api/v1/livechat/rooms", {"createdAt": json.dumps({"start": new["ts"]})}).json()
    assert [r["_id"] for r in found["rooms"]] == ["brandNewRoomId01"]
