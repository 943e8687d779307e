"""The sandbox answers as Rocket.Chat's server does where the published docs (or our first reading) said
otherwise: issue 14's Rocket.Chat items, each against the server source cited in the sandbox's code."""
from __future__ import annotations

import pytest

from tests.sandbox_rocketchat.conftest import READ_ROOMS

ROOMS = "/api/v1/livechat/rooms"


@pytest.fixture(scope="module")
def creds(rc_sandbox):
    return rc_sandbox.admin("GET", "credentials")


def _as(user: dict) -> dict:
    return {"X-User-Id": user["user_id"], "X-Auth-Token": user["auth_token"]}


def _rooms(rc) -> list[dict]:
    return rc.all_pages(ROOMS, "rooms", count=100)[0]


def test_room_messages_are_served_at_livechat_rid_messages_only(rc):
    room = max(_rooms(rc), key=lambda r: r["msgs"])
    resp = rc.get(f"/api/v1/livechat/{room['_id']}/messages")
    assert resp.status_code == 200 and resp.json()["total"] >= room["msgs"]
    old = rc.get(f"/api/v1/livechat/messages/{room['_id']}")  # the path the published docs print
    assert old.status_code == 404 and old.json() == {"success": False, "error": "API endpoint not found"}


def test_room_messages_keep_no_system_messages_but_the_closing_one(rcw):
    closed = next(r for r in _rooms(rcw) if not r.get("open"))
    messages = rcw.all_pages(f"/api/v1/livechat/{closed['_id']}/messages", "messages")[0]
    assert [m.get("t") for m in messages if m.get("t")] == ["livechat-close"]
    room = next(r for r in _rooms(rcw) if r.get("open") and r.get("servedBy") and not r.get("onHold"))
    agents = rcw.get("/api/v1/livechat/users/agent", {"count": 100}).json()["users"]
    target = next(a for a in agents if a["_id"] != room["servedBy"]["_id"] and a["statusLivechat"] == "available"
                  and a["status"] != "offline")
    assert rcw.post("/api/v1/livechat/room.forward", {"roomId": room["_id"], "userId": target["_id"]}).ok
    after = rcw.all_pages(f"/api/v1/livechat/{room['_id']}/messages", "messages")[0]
    assert all("t" not in m for m in after)  # the transfer's livechat_transfer_history is left out


def test_an_agent_lists_only_their_own_rooms_and_nothing_else(rc, creds):
    agent = creds["agents"][0]
    refused = rc.get(ROOMS, headers=_as(agent))
    # API.v1.unauthorized(): a 401 with the {success, error} body, unlike the not-logged-in 401
    assert refused.status_code == 401 and refused.json() == {"success": False, "error": "unauthorized"}
    other = creds["agents"][1]["user_id"]
    for agents in ([other], [agent["user_id"], other]):
        assert rc.get(ROOMS, {"agents[]": agents}, headers=_as(agent)).status_code == 401
    resp = rc.get(ROOMS, {"agents[]": agent["user_id"], "count": 100}, headers=_as(agent))
    assert resp.status_code == 200
    own = resp.json()["rooms"]
    assert own and {r["servedBy"]["_id"] for r in own} == {agent["user_id"]}
    assert rc.get(ROOMS, {"count": 1}).json()["total"] == READ_ROOMS  # the manager sees every room


def test_open_rooms_leave_out_queued_and_on_hold_ones_unless_asked(rc):
    rooms = _rooms(rc)
    queued = {r["_id"] for r in rooms if r.get("open") and "servedBy" not in r}
    on_hold = {r["_id"] for r in rooms if r.get("onHold")}
    assert queued and on_hold
    listed = {r["_id"] for r in rc.all_pages(ROOMS, "rooms", {"open": "true"}, count=100)[0]}
    assert not listed & (queued | on_hold)
    assert {r["_id"] for r in rc.all_pages(ROOMS, "rooms", {"queued": "true"}, count=100)[0]} == queued
    assert {r["_id"] for r in rc.all_pages(ROOMS, "rooms", {"onhold": "true"}, count=100)[0]} == on_hold


def test_tags_need_text_and_refuse_unknown_parameters(rc):
    missing = rc.get("/api/v1/livechat/tags")
    assert missing.status_code == 400 and missing.json() == {
        "success": False, "error": "must have required property 'text' [invalid-params]", "errorType": "invalid-params"}
    extra = rc.get("/api/v1/livechat/tags", {"text": "", "offsetx": "1"})
    assert extra.status_code == 400 and extra.json()["error"] == "must NOT have additional properties [invalid-params]"
    assert rc.get("/api/v1/livechat/tags", {"text": "", "viewAll": "true"}).json()["total"] == 8


def test_a_community_workspace_has_no_tags_routes(rcw):
    assert rcw.proc.admin("PATCH", "config", json={"edition": "community"})
    for path in ("/api/v1/livechat/tags?text=", "/api/v1/livechat/tags/abc"):
        resp = rcw.get(path)
        assert resp.status_code == 404 and resp.json() == {"success": False, "error": "API endpoint not found"}
    assert rcw.get(ROOMS, {"count": 1}).status_code == 200  # the rest of Omnichannel is Community


def test_sending_a_message_id_that_exists_saves_nothing_and_answers_without_the_message(rcw):
    room = next(r for r in _rooms(rcw) if r.get("open") and r.get("servedBy"))
    first = rcw.post("/api/v1/chat.sendMessage", {"message": {"_id": "fixedMessageId001", "rid": room["_id"],
                                                               "msg": "first"}})
    assert first.status_code == 200 and first.json()["message"]["_id"] == "fixedMessageId001"
    again = rcw.post("/api/v1/chat.sendMessage", {"message": {"_id": "fixedMessageId001", "rid": room["_id"],
                                                               "msg": "second"}})
    assert again.status_code == 200 and again.json() == {"success": True}
    kept = rcw.get("/api/v1/chat.getMessage", {"msgId": "fixedMessageId001"}).json()["message"]
    assert kept["msg"] == "first"


def test_visitors_info_has_last_chat_and_rooms_info_answers_as_the_server(rc, creds):
    room = _rooms(rc)[0]
    visitor = rc.get("/api/v1/livechat/visitors.info", {"visitorId": room["v"]["_id"]}).json()["visitor"]
    assert visitor["lastChat"]["_id"] and "token" not in visitor
    missing = rc.get("/api/v1/rooms.info")
    assert missing.status_code == 400 and missing.json() == {
        "success": False, "error": 'The parameter "roomId" or "roomName" is required [error-roomid-param-not-provided]',
        "errorType": "error-roomid-param-not-provided"}
    hidden = rc.get("/api/v1/rooms.info", {"roomId": room["_id"]}, headers=_as(creds["restricted_user"]))
    assert hidden.status_code == 400 and hidden.json() == {"success": False, "error": "not-allowed",
                                                            "errorType": "Not Allowed"}
