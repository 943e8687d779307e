"""Omnichannel rooms: list with filters, one room (visitor side and core `rooms.info`), close, save info."""
from __future__ import annotations

import json
import re

from .access import can_access_room
from .errors import RocketChatError, forbidden, invalid, meteor
from .paging import list_answer, lookup, paginate, parse_page
from .routes import Call, permissions_of, route
from .seed import close_room, display_name
from .state import parse_iso, random_id

ROOM_PARAMS = ("count", "offset", "sort", "query", "fields", "createdAt", "customFields", "closedAt", "agents",
               "roomName", "departmentId", "open", "onhold", "queued", "tags", "units")


@route("GET", "/api/v1/livechat/rooms")
def list_rooms(call: Call):
    """apps/meteor/app/livechat/imports/server/rest/rooms.ts, then `LivechatRooms.findRoomsWithCriteria`
    (packages/models/src/models/LivechatRooms.ts) as of Rocket.Chat 7.x:

    - access: `view-livechat-rooms`, or `view-l-room` with `agents` holding exactly the caller's own id; else
      `API.v1.unauthorized()`, which is 401 `{"success": false, "error": "unauthorized"}` since ApiClass made it
      a 401 (it was a 403 with the same body before);
    - `open` (true or false) also requires `onHold != true`, and `open=true` requires `servedBy`: queued and
      on-hold rooms are left out of both; `onhold=true` keeps on-hold rooms, `queued=true` open unserved ones;
    - `roomName` matches `fname` case-insensitively (exactly when wrapped in double quotes), `customFields`
      by case-insensitive regular expression, `tags` and `agents` and `departmentId` as `$in`."""
    # rest-typings GETLivechatRoomsParamsSchema: these parameters only (`additionalProperties: false`), and
    # `agents`/`tags` are arrays (qs reads `agents[]=x` or a repeated `agents` as one; a lone `agents=x` is a string)
    call.only_params(*ROOM_PARAMS, *(f"{name}[]" for name in ("agents", "tags", "departmentId", "units")))
    for name in ("agents", "tags", "units"):
        if len(call.args.getlist(name)) == 1 and not call.args.getlist(f"{name}[]"):
            raise invalid("must be array")
    args, user = call.args, call.user
    agents = set(call.listed("agents"))
    granted = permissions_of(user)
    if "view-livechat-rooms" not in granted and not ("view-l-room" in granted and agents == {user["_id"]}
                                                     and len(call.listed("agents")) == 1):
        raise RocketChatError("unauthorized", 401)
    page = parse_page(args, [("ts", -1)])
    created = _date_range(args.get("createdAt"), "createdAt")
    closed = _date_range(args.get("closedAt"), "closedAt")
    custom = None
    if args.get("customFields"):
        try:
            custom = json.loads(args["customFields"])
        except ValueError:
            raise RocketChatError('The "customFields" query parameter must be a valid JSON.') from None
        if not isinstance(custom, dict):
            raise RocketChatError('The "customFields" query parameter must be a valid JSON.')
        try:  # the model builds `new RegExp(value, 'i')`: an invalid one throws
            custom = {k: re.compile(str(v), re.IGNORECASE) for k, v in custom.items()}
        except re.error as exc:
            raise RocketChatError(f"Invalid regular expression: {exc}") from None
    departments = set(call.listed("departmentId"))
    tags = set(call.listed("tags"))
    open_ = _boolean(args.get("open"))
    onhold = args.get("onhold") in ("t", "true", "1")
    queued = args.get("queued") in ("t", "true", "1")
    name = args.get("roomName") or ""
    exact = len(name) >= 2 and name.startswith('"') and name.endswith('"')

    def keep(room: dict) -> bool:
        if agents and lookup(room, "servedBy._id") not in agents:
            return False
        if departments and room.get("departmentId") not in departments:
            return False
        if tags and not tags.intersection(room.get("tags") or ()):
            return False
        if open_ is not None and (("open" in room) != open_ or (room.get("onHold") and not onhold)):
            return False
        if open_ and "servedBy" not in room:
            return False
        if onhold and not room.get("onHold"):
            return False
        if queued and ("servedBy" in room or not room.get("open") or room.get("onHold")):
            return False
        fname = room.get("fname") or ""
        if name and (fname != name[1:-1] if exact else name.lower() not in fname.lower()):
            return False
        if created and not _within(room.get("ts"), created):
            return False
        if closed and not _within(room.get("closedAt"), closed):
            return False
        return not custom or all(p.search(str(lookup(room, f"livechatData.{k}") or "")) for k, p in custom.items())

    items, total = paginate([r for r in call.store.rooms.values() if keep(r)], page)
    return list_answer("rooms", items, page, total)


def _boolean(raw: str | None) -> bool | None:
    if raw is None or raw == "":
        return None
    return raw == "true"


def _date_range(raw: str | None, prop: str) -> dict | None:
    """`{"start": ..., "end": ...}` (either may be left out), as Rocket.Chat's `validateDateParams` reads it."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise RocketChatError(f'The "{prop}" query parameter must be a valid JSON.') from None
    if not isinstance(value, dict):
        raise RocketChatError(f'The "{prop}" query parameter must be a valid JSON.')
    out = {}
    for edge in ("start", "end"):
        if value.get(edge):
            parsed = parse_iso(value[edge])
            if parsed is None:
                raise RocketChatError(f'The "{prop}.{edge}" query parameter must be a valid date.')
            out[edge] = parsed
    return out or None


def _within(value: str | None, span: dict) -> bool:
    if value is None:
        return False
    return ("start" not in span or value >= span["start"]) and ("end" not in span or value <= span["end"])


@route("GET", "/api/v1/livechat/room", auth="visitor")
def visitor_room(call: Call):
    """The visitor's room `rid` (or their open room); a new one is opened when there is none."""
    token = call.args.get("token")
    if not token:
        raise RocketChatError("Match error: Missing key 'token'")
    store = call.store
    visitor = store.visitors_by_token.get(token)
    if visitor is None:
        raise RocketChatError("invalid-token")
    rid = call.args.get("rid")
    room = store.rooms.get(rid) if rid else None
    if room is None and not rid:
        room = next((r for r in reversed(store.rooms.values())
                     if r["v"]["token"] == token and r.get("open")), None)
    if room is not None:
        if room["v"]["token"] != token:
            raise RocketChatError("invalid-room")
        return {"room": room, "newRoom": False, "success": True}
    room = open_room(call, visitor, rid, call.args.get("agentId"))
    hooks = call.sandbox.webhooks  # livechat.newRoom, then routing: afterTakeInquiry or chatQueued
    hooks.room_event("LivechatSessionStart", room, unserved=True)
    hooks.room_event("LivechatSessionTaken" if "servedBy" in room else "LivechatSessionQueued", room)
    return {"room": room, "newRoom": True, "success": True}


def open_room(call: Call, visitor: dict, rid: str | None, agent_id: str | None) -> dict:
    store = call.store
    agent = store.users.get(agent_id) if agent_id else None
    if agent is None:
        agents = [u for u in store.users.values() if "livechat-agent" in u.get("roles", [])]
        agent = agents[len(store.rooms) % len(agents)]
    now = store.iso_now()
    room = {"_id": rid or random_id(store.rng), "msgs": 0, "usersCount": 2, "fname": display_name(visitor),
            "name": display_name(visitor), "t": "l", "ts": now,
            "v": {"_id": visitor["_id"], "username": visitor["username"], "token": visitor["token"],
                  "status": visitor.get("status", "online")},
            "cl": False, "open": True, "departmentId": (agent.get("departments") or [None])[0],
            "source": {"type": "api"}, "_updatedAt": now, "livechatData": {}, "metrics": {"v": {"lq": now}},
            "queuedAt": now, "servedBy": {"_id": agent["_id"], "username": agent["username"], "ts": now},
            "waitingResponse": True}
    if room["departmentId"] is None:
        del room["departmentId"]
    store.add_room(room)
    return room


@route("GET", "/api/v1/rooms.info")
def room_info(call: Call):
    """Core REST `rooms.info` (apps/meteor/app/api/server/v1/rooms.ts, not in the Omnichannel description): any
    logged-in user; `findRoomByIdOrName` throws `error-roomid-param-not-provided` / `error-room-not-found`, and a
    room the caller cannot access is `API.v1.failure('not-allowed', 'Not Allowed')`, whose second argument
    lands in `errorType`."""
    rid = call.args.get("roomId") or call.args.get("roomName")
    if not rid:
        raise meteor("error-roomid-param-not-provided", 'The parameter "roomId" or "roomName" is required')
    room = call.store.rooms.get(rid)
    if room is None:
        raise meteor("error-room-not-found",
                     'The required "roomId" or "roomName" param provided does not match any channel')
    if not can_access_room(call.user, room):
        raise RocketChatError("not-allowed", 400, "Not Allowed")
    return {"room": room, "success": True}


@route("POST", "/api/v1/livechat/room.closeByUser", permissions=("close-livechat-room", "close-others-livechat-room"))
def close_by_user(call: Call):
    rid = call.required("rid")
    room = call.store.rooms.get(rid)
    if room is None:
        raise RocketChatError("error-invalid-room")
    if not room.get("open"):
        raise RocketChatError("error-room-already-closed")
    _may_touch(call, room, "close-others-livechat-room")
    tags = call.body.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise RocketChatError("must be array [invalid-params]", 400, "invalid-params")
    comment = call.body.get("comment") or ""
    store = call.store
    close_room(store, room, call.user, comment, store.now_ms(), store.rng,
               tags=sorted(set(room.get("tags") or []) | set(tags)) if tags else None)
    call.sandbox.webhooks.room_event("LivechatSession", room)
    return {"success": True}


@route("POST", "/api/v1/livechat/room.saveInfo", permissions=("view-l-room",))
def save_info(call: Call):
    guest = call.body.get("guestData")
    if not isinstance(guest, dict):
        raise RocketChatError("must have required property 'guestData' [invalid-params]", 400, "invalid-params")
    room_data = call.body.get("roomData")
    if not isinstance(room_data, dict):
        raise RocketChatError("must have required property 'roomData' [invalid-params]", 400, "invalid-params")
    call.required("_id", guest)
    call.required("_id", room_data)
    store = call.store
    room = store.rooms.get(room_data["_id"])
    if room is None:
        raise RocketChatError("error-invalid-room")
    _may_touch(call, room, "save-others-livechat-room-info")
    visitor = store.visitors.get(guest["_id"])
    if visitor is None or room["v"]["_id"] != visitor["_id"]:
        raise RocketChatError("error-invalid-visitor")
    tags = room_data.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise RocketChatError("must be array [invalid-params]", 400, "invalid-params")
    now = store.iso_now()
    if tags is not None:
        if tags:
            room["tags"] = list(dict.fromkeys(tags))
        else:
            room.pop("tags", None)
    if isinstance(room_data.get("topic"), str):
        room["topic"] = room_data["topic"]
    if isinstance(room_data.get("livechatData"), dict):
        room["livechatData"] = {**room.get("livechatData", {}), **room_data["livechatData"]}
    if isinstance(guest.get("name"), str) and guest["name"]:
        visitor["name"] = guest["name"]
        room["fname"] = room["name"] = guest["name"]
    if isinstance(guest.get("email"), str):
        visitor["visitorEmails"] = [{"address": guest["email"]}] if guest["email"] else []
    if isinstance(guest.get("phone"), str):
        visitor["phone"] = [{"phoneNumber": guest["phone"]}] if guest["phone"] else []
    visitor["_updatedAt"] = room["_updatedAt"] = now
    if not room.get("open"):  # livechat.saveInfo sends closed rooms only
        call.sandbox.webhooks.room_event("LivechatEdit", room)
    return {"success": True}


def _may_touch(call: Call, room: dict, others_permission: str) -> None:
    served = lookup(room, "servedBy._id")
    if served != call.user["_id"] and others_permission not in permissions_of(call.user):
        raise forbidden()
