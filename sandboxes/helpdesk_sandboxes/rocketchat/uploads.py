"""Agent file uploads, the two-step core REST flow of Rocket.Chat 6.8+ (not in the Omnichannel description):
`rooms.media/:rid` stores the file (no message yet), `rooms.mediaConfirm/:rid/:fileId` posts the file
message. Both need access to the room, else `403 unauthorized`.
"""
from __future__ import annotations

import mimetypes

from .access import can_access_room
from .errors import RocketChatError, invalid, meteor
from .routes import Call, route
from .seed import file_message, file_url
from .state import object_id

MAX_FILE_SIZE = 104_857_600  # FileUpload_MaxFileSize's default


def read_upload(stored) -> tuple[bytes, str, str, str]:
    """An uploaded form file as `(data, name, content type, format)`; the type is guessed from the name
    when the client sent none."""
    data = stored.read()
    if len(data) > MAX_FILE_SIZE:
        raise meteor("error-file-too-large", "File is too large")
    name = stored.filename or "file"
    content_type = stored.mimetype or "application/octet-stream"
    if content_type == "application/octet-stream":
        content_type = mimetypes.guess_type(name)[0] or content_type
    fmt = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return data, name, content_type, fmt


def _room(call: Call) -> dict:
    room = call.store.rooms.get(call.params["rid"])
    if room is None or not can_access_room(call.user, room):
        raise RocketChatError("unauthorized", 403)
    return room


@route("POST", "/api/v1/rooms.media/<rid>")
def media(call: Call):
    """Multipart `file`; answers `{file: {_id, url}}`. The file downloads at `url` right away."""
    room = _room(call)
    stored = call.files.get("file") if call.files else None
    if stored is None:
        raise RocketChatError("[invalid-field]", 400, "invalid-field")
    data, name, content_type, _ = read_upload(stored)
    store = call.store
    file_id = object_id(store.rng, store.now_ms())
    store.files[file_id] = {"rid": room["_id"], "name": name, "type": content_type, "size": len(data), "data": data,
                            "userId": call.user["_id"]}
    return {"file": {"_id": file_id, "url": file_url(file_id, name)}, "success": True}


@route("POST", "/api/v1/rooms.mediaConfirm/<rid>/<file_id>")
def media_confirm(call: Call):
    """JSON `{msg?, description?}`: the uploader's file becomes a message in the room; answers `{message}`."""
    room = _room(call)
    store = call.store
    stored = store.files.get(call.params["file_id"])
    if stored is None or stored["rid"] != room["_id"] or stored.get("userId") != call.user["_id"]:
        raise RocketChatError("[invalid-file]", 400, "invalid-file")
    for name in ("msg", "description"):
        if call.body.get(name) is not None and not isinstance(call.body[name], str):
            raise invalid("must be string")
    if not room.get("open"):
        raise meteor("error-not-allowed", "Not allowed")
    name = stored["name"]
    fmt = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    msg = file_message(store, store.rng, room, call.user, False, store.now_ms(), name, stored["type"], fmt,
                       stored["size"], data=stored["data"], description=call.body.get("description") or "",
                       file_id=call.params["file_id"], text=call.body.get("msg") or "")
    store.add_message(room, msg)
    call.sandbox.webhooks.message_event(room, msg)
    return {"message": msg, "success": True}
