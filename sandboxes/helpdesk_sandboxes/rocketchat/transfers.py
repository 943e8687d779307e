"""Forwarding a room to another agent or department (`livechat/room.forward`), with the
`livechat_transfer_history` system message Rocket.Chat leaves in the room, and its webhooks
(`LivechatSessionTaken` when a department forward routes the room, then `LivechatSessionForwarded`).

A forward to a department goes to its online agent with the fewest open chats (Auto Selection routing);
with none online it fails with `error-no-agents-online-in-department`. Errors are plain `Error`s, so
the answers carry only the message, e.g. `{"success": false, "error": "error-user-is-offline"}`.
"""
from __future__ import annotations

from .access import is_online_agent
from .errors import BareFailure, RocketChatError, invalid
from .paging import lookup
from .routes import Call, route
from .state import random_id


@route("POST", "/api/v1/livechat/room.forward", permissions=("view-l-room",))
def forward(call: Call):
    body, store = call.body, call.store
    rid = call.required("roomId")
    for name in ("roomId", "userId", "departmentId", "comment"):
        if name in body and not isinstance(body[name], str):
            raise invalid("must be string")
    room = store.rooms.get(rid)
    if room is None or room.get("t") != "l":
        raise RocketChatError("error-invalid-room")
    if not room.get("open"):
        raise RocketChatError("This_conversation_is_already_closed")
    if room.get("onHold"):
        raise RocketChatError("error-room-onHold")
    department = None
    if body.get("departmentId"):
        department = store.departments.get(body["departmentId"])
        if department is None:
            raise RocketChatError("error-invalid-department")
    if body.get("userId"):
        agent = store.users.get(body["userId"])
        if not is_online_agent(agent):
            raise RocketChatError("error-user-is-offline")
        if lookup(room, "servedBy._id") == agent["_id"]:
            raise RocketChatError("error-selected-agent-room-agent-are-same")
        _move(call, room, agent, None, {"scope": "agent", "transferredTo": _person(agent)})
    elif department is not None:
        if room.get("departmentId") == department["_id"]:
            raise RocketChatError("error-forwarding-chat-same-department")
        agent = _pick_agent(store, department["_id"], lookup(room, "servedBy._id"))
        if agent is None:
            raise RocketChatError("error-no-agents-online-in-department")
        _move(call, room, agent, department, {"scope": "department",
                                              "nextDepartment": {"_id": department["_id"],
                                                                 "name": department["name"]}})
    else:  # nowhere to forward to: the transfer "fails" without a reason
        raise BareFailure()
    return {"success": True}


def _person(user: dict) -> dict:
    return {"_id": user["_id"], "username": user["username"], "name": user["name"]}


def _pick_agent(store, dep_id: str, current: str | None) -> dict | None:
    candidates = [u for u in store.users.values()
                  if dep_id in (u.get("departments") or []) and u["_id"] != current and is_online_agent(u)]
    if not candidates:
        return None
    load = {u["_id"]: 0 for u in candidates}
    for room in store.rooms.values():
        served = lookup(room, "servedBy._id")
        if room.get("open") and served in load:
            load[served] += 1
    return min(candidates, key=lambda u: (load[u["_id"]], u["username"]))


def _move(call: Call, room: dict, agent: dict, department: dict | None, scope: dict) -> None:
    """Serve the room by `agent` (in `department`, when given) and record the transfer."""
    store, user = call.store, call.user
    now = store.iso_now()
    transferred_by = {**_person(user), "type": "agent" if lookup(room, "servedBy._id") == user["_id"] else "user"}
    data = {"transferredBy": transferred_by, "ts": now, **scope}
    if call.body.get("comment"):
        data["comment"] = call.body["comment"]
    if room.get("departmentId"):
        data["previousDepartment"] = room["departmentId"]
    old_served, old_department = room.get("servedBy"), room.get("departmentId")
    room["servedBy"] = {"_id": agent["_id"], "username": agent["username"], "ts": now}
    room["usersCount"] = 2
    if department is not None:
        room["departmentId"] = department["_id"]
    room["_updatedAt"] = now
    store.add_message(room, {"_id": random_id(store.rng), "rid": room["_id"], "t": "livechat_transfer_history",
                             "msg": "", "groupable": False, "ts": now, "u": _person(user), "transferData": data,
                             "_updatedAt": now, "urls": [], "mentions": [], "channels": []})
    hooks = call.sandbox.webhooks
    if department is not None:  # forwardRoomToDepartment: routing takes the inquiry, then the forward hook
        hooks.room_event("LivechatSessionTaken", room)
        hooks.room_event("LivechatSessionForwarded", room, {"oldDepartmentId": old_department})
    else:  # forwardRoomToAgent
        hooks.room_event("LivechatSessionForwarded", room, {"oldServedBy": old_served})
