"""Omnichannel inquiries (apps/meteor/app/livechat/imports/server/rest/inquiries.ts): a room's place in the
queue. The sandbox keeps no inquiry documents: each room's is derived from it (`queued` while nobody serves the
open room, `taken` once an agent does; Rocket.Chat removes it when the room closes).

`livechat/inquiries.take` is not served: nothing here takes rooms from the queue (docs/fidelity.md).
"""
from __future__ import annotations

from .errors import RocketChatError
from .paging import list_answer, paginate, parse_page
from .routes import Call, route
from .state import stable_id


def inquiry_of(room: dict) -> dict | None:
    """The room's `rocketchat_livechat_inquiry` document, or None once the room is closed."""
    if not room.get("open"):
        return None
    out = {"_id": stable_id("inquiry", room["_id"]), "rid": room["_id"], "name": room.get("fname"),
           "ts": room["ts"], "status": "taken" if "servedBy" in room else "queued",
           "message": "", "t": "l", "v": room["v"], "_updatedAt": room["_updatedAt"]}
    if room.get("departmentId"):
        out["department"] = room["departmentId"]
    return out


@route("GET", "/api/v1/livechat/inquiries.list", permissions=("view-livechat-manager",))
def list_inquiries(call: Call):
    """Queued inquiries, newest first, projected to `rid, name, ts, status, department`; `department` is an id or
    a name (`LivechatDepartment.findOneByIdOrName`; an unknown one filters nothing)."""
    page = parse_page(call.args, [("ts", -1)])
    wanted = call.args.get("department")
    department = next((d["_id"] for d in call.store.departments.values() if wanted in (d["_id"], d["name"])), None) \
        if wanted else None
    found = []
    for room in call.store.rooms.values():
        inquiry = inquiry_of(room)
        if inquiry and inquiry["status"] == "queued" and department in (None, inquiry.get("department")):
            found.append({k: inquiry[k] for k in ("_id", "rid", "name", "ts", "status", "department") if k in inquiry})
    items, total = paginate(found, page)
    return list_answer("inquiries", items, page, total)


@route("GET", "/api/v1/livechat/inquiries.getOne")
def one_inquiry(call: Call):
    """`findOneInquiryByRoomId`: `{inquiry}` (null for a room without one); no `roomId` is a bare failure text."""
    rid = call.args.get("roomId")
    if not rid:
        raise RocketChatError("The 'roomId' param is required")
    room = call.store.rooms.get(rid)
    return {"inquiry": inquiry_of(room) if room else None, "success": True}
