"""Room messages: the agent's paged list, one message, the visitor's history, sending (visitor and agent),
the visitor's upload."""
from __future__ import annotations

import re

from .access import can_access_room
from .errors import RocketChatError, forbidden, meteor
from .paging import lookup, paginate, parse_page
from .routes import Call, permissions_of, route
from .seed import file_message, text_message
from .state import parse_iso
from .uploads import read_upload

CLOSING = "livechat-close"


@route("GET", "/api/v1/livechat/<rid>/messages", permissions=("view-l-room",))
def room_messages(call: Call):
    """`livechat/:rid/messages` (apps/meteor/app/livechat/imports/server/rest/visitors.ts; the published docs
    print `livechat/messages/{rid}`, which the server does not route). `Messages.findLivechatClosedMessages`
    keeps messages without a type `t` and the `livechat-close` one; `searchTerm` matches `msg`. A room the
    caller cannot access (`canAccessRoomAsync`) is a plain `Error('not-allowed')`. The answer's `count` is the
    page size asked for (after getPaginationItems), not the number of messages, as the route returns it."""
    room = call.store.rooms.get(call.params["rid"])
    if room is None:
        raise RocketChatError("invalid-room")
    if not can_access_room(call.user, room):
        raise RocketChatError("not-allowed")
    page = parse_page(call.args, [("ts", -1)])
    term = call.args.get("searchTerm")
    found = [m for m in call.store.messages[room["_id"]] if not m.get("t") or m["t"] == CLOSING]
    if term:
        pattern = re.compile(re.escape(term), re.IGNORECASE)
        found = [m for m in found if pattern.search(m.get("msg") or "")]
    items, total = paginate(found, page)
    return {"messages": items, "offset": page.offset, "count": page.count, "total": total, "success": True}


@route("GET", "/api/v1/chat.getMessage", permissions=("view-l-room",))
def get_message(call: Call):
    """Core REST `chat.getMessage` (not in the Omnichannel description): one message by `msgId`, when the
    caller may see its room."""
    mid = call.args.get("msgId")
    if not mid:
        raise RocketChatError("must have required property 'msgId' [invalid-params]", 400, "invalid-params")
    store = call.store
    found = store.messages_by_id.get(mid)
    if found is None:
        raise meteor("invalid-message", "Invalid message")
    room = store.rooms.get(found["rid"])
    if room is None or not can_access_room(call.user, room):
        raise meteor("error-action-not-allowed", "Not allowed")
    return {"message": found, "success": True}


@route("GET", "/api/v1/livechat/messages.history/<rid>", auth="visitor")
def history(call: Call):
    """The visitor's view: messages before `ls` (and after `end`), newest first, `limit` of them (20), after
    skipping `offset` (apps/meteor/app/livechat/server/api/v1/message.ts reads the offset of
    getPaginationItems and no `count`: a client paging by count gets pages of `limit`)."""
    token = call.args.get("token")
    if not token:
        raise RocketChatError("must have required property 'token' [invalid-params]", 400, "invalid-params")
    room = _visitor_room(call, token, call.params["rid"])
    latest = parse_iso(call.args["ls"]) if call.args.get("ls") else None
    oldest = parse_iso(call.args["end"]) if call.args.get("end") else None
    try:
        limit = int(call.args.get("limit") or 20)
    except ValueError:
        raise RocketChatError("must be number [invalid-params]", 400, "invalid-params") from None
    found = [m for m in reversed(call.store.messages[room["_id"]])
             if (latest is None or m["ts"] < latest) and (oldest is None or m["ts"] > oldest)]
    found = found[parse_page(call.args, []).offset:]
    return {"messages": found[:limit] if limit > 0 else found, "unreadNotLoaded": 0, "success": True}


def _visitor_room(call: Call, token: str, rid: str) -> dict:
    if token not in call.store.visitors_by_token:
        raise RocketChatError("invalid-token")
    room = call.store.rooms.get(rid)
    if room is None or room["v"]["token"] != token:
        raise RocketChatError("invalid-room")
    return room


@route("POST", "/api/v1/livechat/message", auth="visitor")
def visitor_sends(call: Call):
    for name in ("token", "rid", "msg"):
        call.required(name)
    token, rid, text = call.body["token"], call.body["rid"], call.body["msg"]
    visitor = call.store.visitors_by_token.get(token)
    if visitor is None:
        raise RocketChatError("invalid-token")
    room = _visitor_room(call, token, rid)
    if not room.get("open"):
        raise RocketChatError("room-closed")
    store = call.store
    mid = call.body.get("_id") if isinstance(call.body.get("_id"), str) else None
    msg = store.add_message(room, text_message(store.rng, room, visitor, True, store.now_ms(), str(text), mid))
    call.sandbox.webhooks.message_event(room, msg)
    return {"message": msg, "success": True}


@route("POST", "/api/v1/chat.sendMessage")
def agent_sends(call: Call):
    """Core REST `chat.sendMessage` (not in the Omnichannel description): how an agent writes in a room."""
    message = call.body.get("message")
    if not isinstance(message, dict):
        raise RocketChatError("must have required property 'message' [invalid-params]", 400, "invalid-params")
    rid = call.required("rid", message)
    store = call.store
    room = store.rooms.get(rid)
    if room is None:
        raise meteor("error-invalid-room", "Invalid room")
    if lookup(room, "servedBy._id") != call.user["_id"] and "view-livechat-rooms" not in permissions_of(call.user):
        raise forbidden()
    if not room.get("open"):
        raise meteor("error-not-allowed", "Not allowed")
    text = message.get("msg")
    if not isinstance(text, str):
        raise RocketChatError("must have required property 'msg' [invalid-params]", 400, "invalid-params")
    mid = message.get("_id") if isinstance(message.get("_id"), str) else None
    if mid and mid in store.messages_by_id:
        # functions/sendMessage.ts: `messageAlreadyExists` returns undefined without saving anything, and
        # api/v1/chat.ts answers `API.v1.success({message})` with it: only `{"success": true}` comes back
        return {"success": True}
    msg = store.add_message(room, text_message(store.rng, room, call.user, False, store.now_ms(), text, mid))
    call.sandbox.webhooks.message_event(room, msg)
    return {"ts": int(store._last_ms), "channel": rid, "message": msg, "success": True}


@route("POST", "/api/v1/livechat/upload/<rid>", auth="visitor")
def upload(call: Call):
    """The visitor uploads a file (multipart `file`, optional `description`); it becomes a file message."""
    token = call.headers.get("x-visitor-token")
    store = call.store
    visitor = store.visitors_by_token.get(token or "")
    room = store.rooms.get(call.params["rid"])
    if visitor is None or room is None or room["v"]["token"] != token:
        raise RocketChatError("unauthorized", 403)
    if not room.get("open"):
        raise RocketChatError("room-closed")
    stored = call.files.get("file") if call.files else None
    if stored is None:
        raise RocketChatError("[No file uploaded]")
    data, name, content_type, fmt = read_upload(stored)
    msg = file_message(store, store.rng, room, visitor, True, store.now_ms(), name, content_type, fmt, len(data),
                       data=data, description=call.body.get("description") or "")
    store.add_message(room, msg)
    call.sandbox.webhooks.message_event(room, msg)
    return {**{k: v for k, v in msg.items() if k not in ("files", "groupable")}, "newRoom": False,
            "showConnecting": False, "success": True}
