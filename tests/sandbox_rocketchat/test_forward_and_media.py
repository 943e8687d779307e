"""Forwarding rooms, reading one message, the agent's two-step upload and visitor registration."""
from __future__ import annotations

import pytest

from tests.sandbox_rocketchat.conftest import assert_matches_spec

FORWARD = "/api/v1/livechat/room.forward"
PERMISSION_ERROR = {"success": False,
                    "error": "User does not have the permissions required for this action [error-unauthorized]"}


def _as(creds: dict) -> dict:
    return {"X-User-Id": creds["user_id"], "X-Auth-Token": creds["auth_token"]}


def _agents(rcw) -> list[dict]:
    return rcw.get("/api/v1/livechat/users/agent", {"count": 100}).json()["users"]


def _online(user: dict) -> bool:
    return user["status"] != "offline" and user["statusLivechat"] == "available"


def _open_room(rcw, served_by: str | None = None, not_served_by: str | None = None) -> dict:
    rooms = rcw.get("/api/v1/livechat/rooms", {"open": "true", "count": 0}).json()["rooms"]
    return next(r for r in rooms if "servedBy" in r and (served_by is None or r["servedBy"]["_id"] == served_by)
                and r["servedBy"]["_id"] != not_served_by)


def _agent_headers(rcw, user_id: str) -> dict:
    agent = next(a for a in rcw.proc.admin("GET", "credentials")["agents"] if a["user_id"] == user_id)
    return _as(agent)


# --- room.forward ---------------------------------------------------------------------------------------------
def test_forward_to_an_online_agent_changes_served_by_and_logs_the_transfer(rcw):
    target = next(u for u in _agents(rcw) if _online(u))
    room = _open_room(rcw, not_served_by=target["_id"])
    resp = rcw.post(FORWARD, {"roomId": room["_id"], "userId": target["_id"], "comment": "over to you"})
    assert resp.status_code == 200 and resp.json() == {"success": True}
    assert_matches_spec(resp, FORWARD, "POST")
    after = rcw.get("/api/v1/rooms.info", {"roomId": room["_id"]}).json()["room"]
    assert after["servedBy"]["_id"] == target["_id"] and after["servedBy"]["username"] == target["username"]
    assert after["departmentId"] == room["departmentId"] and after["msgs"] == room["msgs"]
    # the agent's message list keeps no system messages but livechat-close: the visitor's history has them all
    assert all(m.get("t") != "livechat_transfer_history"
               for m in rcw.get(f"/api/v1/livechat/{room['_id']}/messages").json()["messages"])
    resp = rcw.get(f"/api/v1/livechat/messages.history/{room['_id']}", {"token": room["v"]["token"], "limit": 1},
                   headers={})
    note = resp.json()["messages"][0]
    assert note["t"] == "livechat_transfer_history" and note["u"]["username"] == "sandbox.manager"
    data = note["transferData"]
    assert data["scope"] == "agent" and data["comment"] == "over to you"
    assert data["transferredTo"] == {"_id": target["_id"], "username": target["username"], "name": target["name"]}
    assert data["transferredBy"]["_id"] == rcw.headers["X-User-Id"] and data["transferredBy"]["type"] == "user"
    assert data["previousDepartment"] == room["departmentId"]
    mine = rcw.get("/api/v1/livechat/rooms", {"agents[]": target["_id"], "open": "true", "count": 0}).json()["rooms"]
    assert room["_id"] in {r["_id"] for r in mine}


def test_an_agent_forwards_their_own_room_to_a_department(rcw):
    agents = _agents(rcw)
    departments = rcw.get("/api/v1/livechat/department", {"count": 0}).json()["departments"]
    online = [u for u in agents if _online(u)]
    room = next(r for r in rcw.get("/api/v1/livechat/rooms", {"open": "true", "count": 0}).json()["rooms"]
                if "servedBy" in r and any(r.get("departmentId") not in u["departments"] for u in online))
    target_dep = next(d for d in departments
                      if d["_id"] != room["departmentId"] and any(d["_id"] in u["departments"] for u in online))
    resp = rcw.post(FORWARD, {"roomId": room["_id"], "departmentId": target_dep["_id"]},
                    headers=_agent_headers(rcw, room["servedBy"]["_id"]))
    assert resp.status_code == 200 and resp.json() == {"success": True}
    after = rcw.get("/api/v1/rooms.info", {"roomId": room["_id"]}).json()["room"]
    assert after["departmentId"] == target_dep["_id"]
    new_agent = next(u for u in agents if u["_id"] == after["servedBy"]["_id"])
    assert target_dep["_id"] in new_agent["departments"] and _online(new_agent)
    note = rcw.get(f"/api/v1/livechat/messages.history/{room['_id']}", {"token": room["v"]["token"], "limit": 1},
                   headers={}).json()["messages"][0]
    assert note["t"] == "livechat_transfer_history"
    assert note["transferData"]["scope"] == "department" and note["transferData"]["transferredBy"]["type"] == "agent"
    assert note["transferData"]["nextDepartment"] == {"_id": target_dep["_id"], "name": target_dep["name"]}


def test_forward_errors(rcw):
    agents = _agents(rcw)
    room = _open_room(rcw)
    offline = next(u for u in agents if not _online(u))
    current = room["servedBy"]["_id"]
    closed = rcw.get("/api/v1/livechat/rooms", {"open": "false", "count": 1}).json()["rooms"][0]
    departments = rcw.get("/api/v1/livechat/department", {"count": 0}).json()["departments"]
    empty = next(d for d in departments if not any(d["_id"] in u["departments"] and _online(u) for u in agents))
    cases = [({}, "must have required property 'roomId' [invalid-params]"),
             ({"roomId": "nope", "userId": current}, "error-invalid-room"),
             ({"roomId": closed["_id"], "userId": current}, "This_conversation_is_already_closed"),
             ({"roomId": room["_id"], "userId": "nobodyAtAll123"}, "error-user-is-offline"),
             ({"roomId": room["_id"], "userId": offline["_id"]}, "error-user-is-offline"),
             ({"roomId": room["_id"], "departmentId": "nope"}, "error-invalid-department"),
             ({"roomId": room["_id"], "departmentId": room["departmentId"]}, "error-forwarding-chat-same-department"),
             ({"roomId": room["_id"], "departmentId": empty["_id"]}, "error-no-agents-online-in-department")]
    if any(u["_id"] == current and _online(u) for u in agents):
        cases.append(({"roomId": room["_id"], "userId": current}, "error-selected-agent-room-agent-are-same"))
    for body, error in cases:
        resp = rcw.post(FORWARD, body)
        assert resp.status_code == 400 and resp.json()["error"] == error, (body, resp.text)
        assert_matches_spec(resp, FORWARD, "POST")
    nowhere = rcw.post(FORWARD, {"roomId": room["_id"]})
    assert nowhere.status_code == 400 and nowhere.json() == {"success": False}
    assert rcw.get("/api/v1/rooms.info", {"roomId": room["_id"]}).json()["room"]["servedBy"] == room["servedBy"]


def test_forward_needs_view_l_room(rcw):
    restricted = rcw.proc.admin("GET", "credentials")["restricted_user"]
    resp = rcw.post(FORWARD, {"roomId": "x"}, headers=_as(restricted))
    assert resp.status_code == 403 and resp.json() == PERMISSION_ERROR
    assert rcw.post(FORWARD, {"roomId": "x"}, headers={}).status_code == 401


# --- chat.getMessage ------------------------------------------------------------------------------------------
def test_get_message_reads_one_message(rcw):
    room = _open_room(rcw)
    newest = rcw.get(f"/api/v1/livechat/{room['_id']}/messages", {"count": 1}).json()["messages"][0]
    resp = rcw.get("/api/v1/chat.getMessage", {"msgId": newest["_id"]})
    assert resp.status_code == 200 and resp.json() == {"message": newest, "success": True}
    agent = rcw.get("/api/v1/chat.getMessage", {"msgId": newest["_id"]},
                    headers=_agent_headers(rcw, room["servedBy"]["_id"]))
    assert agent.status_code == 200 and agent.json()["message"]["_id"] == newest["_id"]


def test_get_message_errors(rcw):
    unknown = rcw.get("/api/v1/chat.getMessage", {"msgId": "nope"})
    assert unknown.status_code == 400
    assert unknown.json() == {"success": False, "error": "Invalid message [invalid-message]",
                              "errorType": "invalid-message"}
    missing = rcw.get("/api/v1/chat.getMessage")
    assert missing.status_code == 400 and missing.json()["errorType"] == "invalid-params"
    room = _open_room(rcw)
    mid = rcw.get(f"/api/v1/livechat/{room['_id']}/messages", {"count": 1}).json()["messages"][0]["_id"]
    creds = rcw.proc.admin("GET", "credentials")
    other = next(a for a in creds["agents"] if a["user_id"] != room["servedBy"]["_id"])
    denied = rcw.get("/api/v1/chat.getMessage", {"msgId": mid}, headers=_as(other))
    assert denied.status_code == 400 and denied.json()["errorType"] == "error-action-not-allowed"
    restricted = rcw.get("/api/v1/chat.getMessage", {"msgId": mid}, headers=_as(creds["restricted_user"]))
    assert restricted.status_code == 403 and restricted.json() == PERMISSION_ERROR
    assert rcw.get("/api/v1/chat.getMessage", {"msgId": mid}, headers={}).status_code == 401


# --- rooms.media + rooms.mediaConfirm -------------------------------------------------------------------------
def test_agent_upload_then_confirm_posts_a_file_message(rcw):
    room = _open_room(rcw)
    headers = _agent_headers(rcw, room["servedBy"]["_id"])
    data = b"%PDF-1.4\n" + bytes(range(256)) * 3
    resp = rcw.post(f"/api/v1/rooms.media/{room['_id']}", headers=headers,
                    files={"file": ("quote 7.pdf", data, "application/pdf")})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"file", "success"} and set(body["file"]) == {"_id", "url"}
    file_id = body["file"]["_id"]
    assert body["file"]["url"] == f"/file-upload/{file_id}/quote%207.pdf"
    assert rcw.get(body["file"]["url"], headers=headers).content == data  # downloadable before the message
    before = rcw.get(f"/api/v1/livechat/{room['_id']}/messages", {"count": 0}).json()["total"]
    assert before == rcw.get(f"/api/v1/livechat/{room['_id']}/messages").json()["total"]

    confirm = rcw.post(f"/api/v1/rooms.mediaConfirm/{room['_id']}/{file_id}",
                       {"msg": "Here is the quote", "description": "Quote for March"}, headers=headers)
    assert confirm.status_code == 200, confirm.text
    message = confirm.json()["message"]
    assert set(confirm.json()) == {"message", "success"}
    assert message["file"] == {"_id": file_id, "name": "quote 7.pdf", "type": "application/pdf",
                               "size": len(data), "format": "pdf"}
    assert message["files"][0]["_id"] == file_id and message["msg"] == "Here is the quote"
    assert message["u"]["_id"] == room["servedBy"]["_id"] and "token" not in message
    attachment = message["attachments"][0]
    assert attachment["title_link"] == body["file"]["url"] and attachment["description"] == "Quote for March"
    listed = rcw.get(f"/api/v1/livechat/{room['_id']}/messages", {"count": 1})
    assert_matches_spec(listed, "/api/v1/livechat/messages/{rid}")
    assert listed.json()["messages"][0] == message and listed.json()["total"] == before + 1
    assert rcw.get("/api/v1/chat.getMessage", {"msgId": message["_id"]}).json()["message"] == message
    after = rcw.get("/api/v1/rooms.info", {"roomId": room["_id"]}).json()["room"]
    assert after["lastMessage"]["_id"] == message["_id"] and after["waitingResponse"] is False
    link = attachment["title_link"]
    assert rcw.get(link, headers={}).status_code == 403
    assert rcw.get(link, {"rc_token": room["v"]["token"], "rc_room_type": "l"}, headers={}).content == data


def test_image_upload_carries_image_fields(rcw):
    room = _open_room(rcw)
    up = rcw.post(f"/api/v1/rooms.media/{room['_id']}", files={"file": ("pic.png", b"\x89PNG" + b"0" * 50)}).json()
    message = rcw.post(f"/api/v1/rooms.mediaConfirm/{room['_id']}/{up['file']['_id']}", {}).json()["message"]
    assert message["file"]["type"] == "image/png" and message["msg"] == ""
    assert message["attachments"][0]["image_url"] == up["file"]["url"]
    assert message["attachments"][0]["image_type"] == "image/png"


def test_upload_errors(rcw):
    room = _open_room(rcw)
    creds = rcw.proc.admin("GET", "credentials")
    restricted = _as(creds["restricted_user"])
    other = _as(next(a for a in creds["agents"] if a["user_id"] != room["servedBy"]["_id"]))
    file = {"file": ("a.txt", b"hello", "text/plain")}
    for headers, path in ((restricted, room["_id"]), (other, room["_id"]), (None, "unknownRoom1")):
        resp = rcw.post(f"/api/v1/rooms.media/{path}", headers=headers, files=file)
        assert resp.status_code == 403 and resp.json() == {"success": False, "error": "unauthorized"}
    assert rcw.post(f"/api/v1/rooms.media/{room['_id']}", headers={}, files=file).status_code == 401
    no_file = rcw.post(f"/api/v1/rooms.media/{room['_id']}", data={"x": "1"}, files={"other": ("b", b"x")})
    assert no_file.json() == {"success": False, "error": "[invalid-field]", "errorType": "invalid-field"}
    bad_id = rcw.post(f"/api/v1/rooms.mediaConfirm/{room['_id']}/000000000000000000000000", {})
    assert bad_id.status_code == 400 and bad_id.json()["errorType"] == "invalid-file"
    up = rcw.post(f"/api/v1/rooms.media/{room['_id']}", files=file).json()
    denied = rcw.post(f"/api/v1/rooms.mediaConfirm/{room['_id']}/{up['file']['_id']}", {}, headers=restricted)
    assert denied.status_code == 403


def test_confirming_in_a_closed_room_is_not_allowed(rcw):
    room = _open_room(rcw)
    up = rcw.post(f"/api/v1/rooms.media/{room['_id']}", files={"file": ("a.txt", b"late")}).json()
    rcw.post("/api/v1/livechat/room.closeByUser", {"rid": room["_id"]})
    resp = rcw.post(f"/api/v1/rooms.mediaConfirm/{room['_id']}/{up['file']['_id']}", {"msg": "too late"})
    assert resp.status_code == 400
    assert resp.json() == {"success": False, "error": "Not allowed [error-not-allowed]",
                           "errorType": "error-not-allowed"}


# --- visitor registration -------------------------------------------------------------------------------------
VISITOR = "/api/v1/livechat/visitor"


def test_register_creates_a_visitor_with_the_next_guest_username(rcw):
    total = rcw.get("/api/v1/livechat/visitors.search", {"term": ""}).json()["total"]
    body = {"visitor": {"token": "sandbox-visitor-token-1", "name": "New Visitor", "email": " New@Example.ORG ",
                        "phone": "+15550001111", "department": "Sales",
                        "customFields": [{"key": "plan", "value": "pro", "overwrite": False}]}}
    resp = rcw.post(VISITOR, body, headers={})
    assert resp.status_code == 200, resp.text
    assert_matches_spec(resp, VISITOR, "POST")
    visitor = resp.json()["visitor"]
    assert visitor["username"] == f"guest-{total + 1}" and visitor["token"] == "sandbox-visitor-token-1"
    assert visitor["visitorEmails"] == [{"address": "new@example.org"}]
    assert visitor["phone"] == [{"phoneNumber": "+15550001111"}] and visitor["status"] == "online"
    sales = rcw.get("/api/v1/livechat/department", {"text": "Sales"}).json()["departments"][0]
    assert visitor["department"] == sales["_id"] and visitor["livechatData"] == {"plan": "pro"}
    info = rcw.get("/api/v1/livechat/visitors.info", {"visitorId": visitor["_id"]}).json()["visitor"]
    assert info["name"] == "New Visitor" and "token" not in info
    room = rcw.get("/api/v1/livechat/room", {"token": "sandbox-visitor-token-1"}, headers={}).json()
    assert room["newRoom"] is True and room["room"]["v"]["_id"] == visitor["_id"]


def test_register_updates_the_visitor_with_that_token(rcw):
    room = _open_room(rcw)
    token = room["v"]["token"]
    body = {"visitor": {"token": token, "name": "Renamed By Widget",
                        "customFields": [{"key": "orderId", "value": "42", "overwrite": True}]}}
    resp = rcw.post(VISITOR, body, headers={})
    assert resp.status_code == 200
    visitor = resp.json()["visitor"]
    assert visitor["_id"] == room["v"]["_id"] and visitor["username"] == room["v"]["username"]
    assert visitor["name"] == "Renamed By Widget" and visitor["livechatData"]["orderId"] == "42"
    after = rcw.get("/api/v1/rooms.info", {"roomId": room["_id"]}).json()["room"]
    assert after["fname"] == "Renamed By Widget"
    kept = rcw.post(VISITOR, {"visitor": {"token": token, "customFields": [
        {"key": "orderId", "value": "43", "overwrite": False}]}}, headers={}).json()["visitor"]
    assert kept["livechatData"]["orderId"] == "42" and kept["name"] == "Renamed By Widget"


@pytest.mark.parametrize(("body", "error"), [
    ({}, "Match error: Missing key 'visitor'"),
    ({"visitor": {"name": "x"}}, "Match error: Missing key 'token' in field visitor"),
    ({"visitor": {"token": 5}}, "Match error: Expected string, got number in field visitor.token"),
    ({"visitor": {"token": "t", "email": True}}, "Match error: Expected string, got boolean in field visitor.email"),
    ({"visitor": {"token": "t", "customFields": [{"key": "a", "value": "b"}]}},
     "Match error: Missing key 'overwrite' in field visitor.customFields[0]"),
    ({"visitor": {"token": "  "}}, "Token cannot be empty [error-invalid-token]"),
    ({"visitor": {"token": "t", "email": "not-an-email"}}, "Invalid email not-an-email [error-invalid-email]"),
])
def test_register_errors(rcw, body, error):
    resp = rcw.post(VISITOR, body, headers={})
    assert resp.status_code == 400 and resp.json()["error"] == error
    assert_matches_spec(resp, VISITOR, "POST")


# --- statistics -----------------------------------------------------------------------------------------------
def test_stats_count_the_new_routes(rcw):
    rcw.proc.admin("POST", "stats/reset")
    rcw.get("/api/v1/livechat/users/agent")
    rcw.get("/api/v1/livechat/department/x")
    rcw.get("/api/v1/livechat/tags/x")
    rcw.post(FORWARD, {})
    rcw.post(VISITOR, {}, headers={})
    stats = rcw.proc.admin("GET", "stats")
    assert stats["calls"] == {"GET /api/v1/livechat/users/<kind>": 1,
                              "GET /api/v1/livechat/department/<department_id>": 1,
                              "GET /api/v1/livechat/tags/<tag_id>": 1, "POST /api/v1/livechat/room.forward": 1,
                              "POST /api/v1/livechat/visitor": 1}
    assert stats["total_calls"] == 5 and stats["errors"]["Tag not found"] == 1
