"""The widely used `rocketchat-api` client (PyPI `rocketchat_API`, class RocketChat) against the sandbox, on
every route it offers that an Omnichannel integration uses. Routes the client has no method for (departments,
visitors, closing, the agent's room messages) go through its own `call_api_get`/`call_api_post`, as an
integration built on it would. A path the client calls that the server does not serve is noted in
docs/fidelity.md."""
from __future__ import annotations

import io

import pytest
from rocketchat_API.APIExceptions.RocketExceptions import RocketApiException, RocketMissingParamException
from rocketchat_API.rocketchat import RocketChat

from tests.sandbox_rocketchat.conftest import READ_ROOMS


def _client(base: str, user_id: str, token: str) -> RocketChat:
    return RocketChat(user_id=user_id, auth_token=token, server_url=base, timeout=30)


@pytest.fixture(scope="module")
def creds(rc_sandbox):
    return rc_sandbox.admin("GET", "credentials")


@pytest.fixture(scope="module")
def rocket(creds) -> RocketChat:
    return _client(creds["server_url"], creds["user_id"], creds["auth_token"])


@pytest.fixture
def rocket_w(rc_writable):
    rc_writable.admin("POST", "reset")
    creds = rc_writable.admin("GET", "credentials")
    return _client(creds["server_url"], creds["user_id"], creds["auth_token"])


@pytest.fixture(scope="module")
def rooms(rocket) -> list[dict]:
    return list(rocket.livechat_rooms())


def test_server_info_and_me(rocket, creds):
    info = rocket.info()
    assert info["success"] is True and info["version"].count(".") == 2
    me = rocket.me()
    assert me["_id"] == creds["user_id"] and me["username"] == "sandbox.manager"
    assert "livechat-manager" in me["roles"] and "services" not in me


def test_rooms_page_through_with_the_clients_paginator(rocket, rooms):
    assert len(rooms) == len({r["_id"] for r in rooms}) == READ_ROOMS
    first = list(rocket.livechat_rooms(count=7, max_count=7))
    assert [r["_id"] for r in first] == [r["_id"] for r in rooms[:7]]


def test_rooms_with_filters(rocket, rooms):
    agent = next(r["servedBy"]["_id"] for r in rooms if r.get("servedBy"))
    served = list(rocket.livechat_rooms(agents=[agent]))
    assert served and {r["servedBy"]["_id"] for r in served} == {agent}
    tag = next(t for r in rooms for t in r.get("tags") or [])
    assert {r["_id"] for r in rocket.livechat_rooms(tags=[tag])} == {r["_id"] for r in rooms if tag in
                                                                     (r.get("tags") or [])}
    closed = list(rocket.livechat_rooms(open="false"))
    assert closed and all("open" not in r for r in closed)
    queued = list(rocket.livechat_rooms(queued="true"))
    assert queued and all(r.get("open") and "servedBy" not in r for r in queued)
    department = rooms[0]["departmentId"]
    assert all(r["departmentId"] == department for r in rocket.livechat_rooms(departmentId=department))


def test_an_agents_client_lists_only_its_own_rooms(rocket, creds):
    agent = creds["agents"][0]
    client = _client(creds["server_url"], agent["user_id"], agent["auth_token"])
    with pytest.raises(RocketApiException) as refused:
        list(client.livechat_rooms())
    assert refused.value.status_code == 401 and refused.value.response_json["error"] == "unauthorized"
    own = list(client.livechat_rooms(agents=[agent["user_id"]]))
    assert own and {r["servedBy"]["_id"] for r in own} == {agent["user_id"]}


def test_room_info_and_room_messages(rocket, rooms):
    room = max(rooms, key=lambda r: r["msgs"])
    assert rocket.rooms_info(room_id=room["_id"])["room"]["_id"] == room["_id"]
    with pytest.raises(RocketMissingParamException):
        rocket.rooms_info()
    with pytest.raises(RocketApiException) as unknown:
        rocket.rooms_info(room_id="noSuchRoom0000001")
    assert unknown.value.response_json["errorType"] == "error-room-not-found"
    listed = rocket.call_api_get(f"livechat/{room['_id']}/messages", count=100)
    assert listed["total"] >= room["msgs"] and all(m["rid"] == room["_id"] for m in listed["messages"])
    one = listed["messages"][0]
    assert rocket.chat_get_message(one["_id"])["message"]["_id"] == one["_id"]
    # the visitor's history: its route reads `offset` and `limit` (20), not the client's `count`
    history = list(rocket.livechat_messages_history(room["_id"], room["v"]["token"]))
    assert 0 < len(history) <= 20 and history[0]["ts"] >= history[-1]["ts"]


def test_agents_departments_visitors_and_inquiries(rocket, rooms):
    agents = list(rocket.livechat_get_users("agent"))
    assert len(agents) == 8 and all("departments" in a for a in agents)
    assert rocket.livechat_get_user("agent", agents[0]["_id"])["user"]["_id"] == agents[0]["_id"]
    assert [u["username"] for u in rocket.livechat_get_users("manager")] == ["sandbox.manager"]
    departments = rocket.call_api_get("livechat/department")["departments"]
    assert departments and rocket.call_api_get(f"livechat/department/{departments[0]['_id']}")["department"]
    visitor_id = rooms[0]["v"]["_id"]
    visitor = rocket.call_api_get("livechat/visitors.info", visitorId=visitor_id)["visitor"]
    assert visitor["_id"] == visitor_id and visitor["lastChat"]["_id"]
    found = rocket.call_api_get("livechat/visitors.search", term=visitor["username"])["visitors"]
    assert visitor_id in [v["_id"] for v in found]
    inquiries = list(rocket.livechat_inquiries_list())
    queued = {r["_id"] for r in rooms if r.get("open") and "servedBy" not in r}
    assert {i["rid"] for i in inquiries} == queued and all(i["status"] == "queued" for i in inquiries)
    one = rocket.livechat_inquiries_get_one(inquiries[0]["rid"])["inquiry"]
    assert one["rid"] == inquiries[0]["rid"] and one["status"] == "queued"
    closed = next(r["_id"] for r in rooms if not r.get("open"))
    assert rocket.livechat_inquiries_get_one(closed)["inquiry"] is None  # removed when the room closed


def test_tags_with_the_required_text(rocket):
    tags = rocket.call_api_get("livechat/tags", text="", viewAll="true")["tags"]
    assert len(tags) == 8
    with pytest.raises(RocketApiException) as missing:
        rocket.call_api_get("livechat/tags")
    assert missing.value.response_json["errorType"] == "invalid-params"


def test_settings_send_get_message_upload_and_close(rocket_w):
    rocket = rocket_w
    assert rocket.settings_get("Livechat_webhookUrl")["value"] == ""
    assert rocket.settings_update("Livechat_webhookUrl", "https://hooks.example.com/rc")["success"] is True
    assert rocket.settings_get("Livechat_webhookUrl")["value"] == "https://hooks.example.com/rc"
    room = next(r for r in rocket.livechat_rooms(open="true"))
    sent = rocket.chat_send_message({"rid": room["_id"], "msg": "Hello from rocketchat-api",
                                     "_id": "clientMsg00000001"})
    assert sent["message"]["msg"] == "Hello from rocketchat-api"
    again = rocket.chat_send_message({"rid": room["_id"], "msg": "again", "_id": "clientMsg00000001"})
    assert again == {"success": True}  # an id that exists: nothing saved, no message in the answer
    assert rocket.chat_get_message("clientMsg00000001")["message"]["msg"] == "Hello from rocketchat-api"
    upload = rocket.rooms_media(room["_id"], ("notes.txt", io.BytesIO(b"hello file"), "text/plain"))
    confirmed = rocket.rooms_media_confirm(room["_id"], upload["file"]["_id"], msg="a file")
    assert confirmed["message"]["file"]["name"] == "notes.txt"
    assert rocket.call_api_post("livechat/room.closeByUser", rid=room["_id"], comment="done")["success"] is True
    assert "open" not in rocket.rooms_info(room_id=room["_id"])["room"]
    with pytest.raises(RocketApiException) as closed:
        rocket.call_api_post("livechat/room.closeByUser", rid=room["_id"])
    assert closed.value.response_json["error"] == "error-room-already-closed"


def test_the_visitor_side_register_open_room_send_and_read_back(rocket_w):
    rocket = rocket_w
    token = "client-visitor-token-1"
    visitor = rocket.livechat_register_visitor(token, visitor={"name": "Client Visitor",
                                                              "email": "client.visitor@example.org"})["visitor"]
    assert rocket.livechat_get_visitor(token)["visitor"]["_id"] == visitor["_id"]
    room = rocket.livechat_room(token)["room"]
    sent = rocket.livechat_message(token, room["_id"], "Hi, from the widget")["message"]
    assert sent["rid"] == room["_id"] and sent["token"] == token
    history = list(rocket.livechat_messages_history(room["_id"], token))
    assert sent["_id"] in [m["_id"] for m in history]
    with pytest.raises(RocketApiException) as unknown:
        rocket.livechat_get_visitor("no-such-token")
    assert unknown.value.response_json["error"] == "invalid-token"
