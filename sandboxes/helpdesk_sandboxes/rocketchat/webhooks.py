"""Omnichannel webhooks ("Webhooks" in Omnichannel settings): Rocket.Chat's `sendToCRM` hooks
(apps/meteor/app/livechat/server/hooks/sendToCRM.ts) and `sendRequest`, as of Rocket.Chat 6.x/7.x.

When `Livechat_webhookUrl` is set, these are POSTed to it as JSON, with `X-RocketChat-Livechat-Token:
<Livechat_secret_token>` when the secret is not empty:

- `LivechatSessionStart` (`Livechat_webhook_on_start`): `GET livechat/room` opened a room. Built from the room
  as created, before routing served it, so it has no `agent`.
- `LivechatSessionTaken` (`..._on_chat_taken`): routing gave the room to an agent: right after a new room
  (the sandbox routes at once, like Auto Selection with an agent online), and when `room.forward` to a
  department picks an agent (Rocket.Chat's `delegateInquiry` → `takeInquiry`).
- `LivechatSessionQueued` (`..._on_chat_queued`): a new room nobody serves. The sandbox always routes a new
  room, so this is only sent if a room is ever opened unserved.
- `LivechatSessionForwarded` (`..._on_forward`): after `room.forward`.
- `LivechatSession` (`..._on_close`): after `room.closeByUser`.
- `LivechatEdit` (no toggle, as in Rocket.Chat): `room.saveInfo` on a closed room.
- `Message`: a new message in an Omnichannel room, from the visitor (`livechat/message`, `livechat/upload`;
  `..._on_visitor_message`) or an agent (`chat.sendMessage`, `rooms.mediaConfirm`; `..._on_agent_message`).
  Messages with a type (system messages) are never sent this way. `messages` holds only that message.

The body is `getLivechatRoomGuestInfo(room)`, then `type` and `messages`, then the fields of the type
(`getAdditionalFieldsByType`); keys whose value would be `undefined` in JavaScript are left out, as
`JSON.stringify` does:

    {_id, label (room fname), topic?, createdAt (room ts), lastMessageAt? (room lm), tags?,
     customFields (room livechatData),
     visitor: {_id, token, name?, username, department?, customFields?, email? ([{address}], the visitor's
               whole visitorEmails, only when there is one), phone? ([{phoneNumber}], likewise)},
     agent?: {_id, username, name, email? (first address)}   (when the room is served),
     crmData?   (the text the webhook answered last time for this room, see below),
     type, messages: [...],
     Start/Queued: departmentId?; Taken: departmentId?, servedBy; Forwarded: departmentId?, servedBy,
     oldDepartmentId? (to a department), oldServedBy? (to an agent);
     LivechatSession: departmentId?, servedBy?, closedAt, closedBy, closer}

Each message is `{u: {_id, username, name}, _id, username, msg?, ts, rid, agentId? (when the author is not the
visitor), closingMessage: true? (the `livechat-close` message, which `LivechatSession` includes with the
closing comment as `msg`), file?, attachments?, fileUpload?: {publicFilePath, type, size}, _updatedAt}`.
`msg` is left out when the message has no text (a file without a description), as Rocket.Chat 7's
`message.msg || JSON.stringify(message.blocks)` does. `publicFilePath` is the full download URL
(`<server>/file-upload/<id>/<name>`; no JWT, files are not protected by default). Visitor `ip`, `os` and
`browser` are never sent: the sandbox records no user agent. Sessions, rooms and messages always carry
all the room's messages but system messages other than `livechat-close`.

Delivery (`sendRequest`): on a background thread, first attempts in event order; an answer other than 200
or a connection error/timeout is retried after `webhook_retry_delays[n]` seconds (Rocket.Chat: 9 more
times, 20 s = 4 × `Livechat_http_timeout` apart; retries do not hold later events back), each attempt
reading the URL and secret as they are then. A 200 answer's text is saved as the room's `crmData` and
sent back in later payloads of that room. Payloads are built when the event happens (later writes do not
leak into queued ones). `/_sandbox/reset` drops pending deliveries; one in flight neither retries nor
counts. Stats: `webhooks: {queued, attempts, sent, failed, dropped}` (`failed` counts failed attempts,
`dropped` deliveries given up).
"""
from __future__ import annotations

import copy
import json
import logging

import requests

from ..deliveries import DeliveryQueue
from .seed import file_url
from .settings import SECRET_TOKEN, WEBHOOK_URL

log = logging.getLogger("rocketchat-sandbox.webhooks")

TOGGLE_OF = {
    "LivechatSessionStart": "Livechat_webhook_on_start",
    "LivechatSessionQueued": "Livechat_webhook_on_chat_queued",
    "LivechatSessionTaken": "Livechat_webhook_on_chat_taken",
    "LivechatSessionForwarded": "Livechat_webhook_on_forward",
    "LivechatSession": "Livechat_webhook_on_close",
    "LivechatEdit": None,
}
CLOSING = "livechat-close"


def _defined(d: dict) -> dict:
    """What `JSON.stringify` keeps: no undefined (here: None) values."""
    return {k: v for k, v in d.items() if v is not None}


class Dispatcher:
    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.deliveries = DeliveryQueue(self._deliver, "rocketchat-webhooks")
        self.session = requests.Session()

    def reset(self) -> None:
        """Drop queued deliveries and retries; a delivery in flight neither retries nor counts."""
        self.deliveries.reset()

    # --- events (called by handlers, under the store lock) ------------------------------------------
    def room_event(self, kind: str, room: dict, extra: dict | None = None, unserved: bool = False) -> None:
        """A session event (`LivechatSession...`, `LivechatEdit`) for `room`, with all its messages.
        `extra` adds room fields (`oldServedBy`, `oldDepartmentId`); `unserved` builds it as before routing."""
        toggle = TOGGLE_OF[kind]
        if toggle is not None and not self.sandbox.settings.get(toggle):
            return
        if unserved:
            room = {k: v for k, v in room.items() if k != "servedBy"}
        self._send(kind, {**room, **(extra or {})}, self.sandbox.store.messages.get(room["_id"], []))

    def message_event(self, room: dict, message: dict) -> None:
        """`Message` for a new message of an Omnichannel room (`afterOmnichannelSaveMessage`)."""
        if room.get("t") != "l" or not (room.get("v") or {}).get("token") or message.get("t"):
            return
        toggle = "Livechat_webhook_on_visitor_message" if message.get("token") else "Livechat_webhook_on_agent_message"
        if self.sandbox.settings.get(toggle):
            self._send("Message", room, [message])

    def _send(self, kind: str, room: dict, messages: list) -> None:
        if not self.sandbox.settings.get(WEBHOOK_URL):
            return
        payload = self.payload(kind, room, messages)
        if payload is None:
            return
        self.sandbox.stats.bump("webhooks", "queued")
        self.deliveries.schedule(0, (json.dumps(payload).encode(), room["_id"]))

    def payload(self, kind: str, room: dict, messages: list) -> dict | None:
        """sendToCRM's body for `room`; None when the room's visitor is gone (Rocket.Chat throws)."""
        store = self.sandbox.store
        visitor = store.visitors.get(room["v"]["_id"])
        if visitor is None:
            return None
        served = (room.get("servedBy") or {}).get("_id")
        agent = store.users.get(served) if served else None
        out = _defined({
            "_id": room["_id"], "label": room.get("fname") or room.get("label"), "topic": room.get("topic"),
            "createdAt": room.get("ts"), "lastMessageAt": room.get("lm"), "tags": room.get("tags"),
            "customFields": room.get("livechatData"),
            "visitor": _defined({"_id": visitor["_id"], "token": visitor["token"], "name": visitor.get("name"),
                                 "username": visitor["username"], "department": visitor.get("department"),
                                 "ip": visitor.get("ip"), "customFields": visitor.get("livechatData")}),
        })
        if agent is not None:
            out["agent"] = {"_id": agent["_id"], "username": agent["username"], "name": agent.get("name")}
            if agent.get("emails"):
                out["agent"]["email"] = agent["emails"][0]["address"]
        if room.get("crmData"):
            out["crmData"] = room["crmData"]
        if visitor.get("visitorEmails"):
            out["visitor"]["email"] = visitor["visitorEmails"]
        if visitor.get("phone"):
            out["visitor"]["phone"] = visitor["phone"]
        out["type"] = kind
        out["messages"] = [self._message(m, visitor["username"]) for m in messages
                           if not m.get("t") or m["t"] == CLOSING]
        out.update(_defined(self._additional(kind, room)))
        return copy.deepcopy(out)

    @staticmethod
    def _additional(kind: str, room: dict) -> dict:
        """getAdditionalFieldsByType."""
        fields = {
            "LivechatSessionStart": ("departmentId",), "LivechatSessionQueued": ("departmentId",),
            "LivechatSession": ("departmentId", "servedBy", "closedAt", "closedBy", "closer"),
            "LivechatSessionTaken": ("departmentId", "servedBy"),
            "LivechatSessionForwarded": ("departmentId", "servedBy", "oldDepartmentId", "oldServedBy"),
        }.get(kind, ())
        return {k: room.get(k) for k in fields}

    def _message(self, m: dict, visitor_username: str) -> dict:
        u = m["u"]
        msg = _defined({"u": u, "_id": m["_id"], "username": u.get("username"), "msg": m.get("msg") or None,
                        "ts": m["ts"], "rid": m["rid"], "editedAt": m.get("editedAt")})
        if u.get("username") != visitor_username:
            msg["agentId"] = u["_id"]
        if m.get("t") == CLOSING:
            msg["closingMessage"] = True
        if m.get("file"):
            msg["file"] = m["file"]
            msg["attachments"] = m.get("attachments")
            stored = self.sandbox.store.files.get(m["file"]["_id"])
            if stored is not None:
                msg["fileUpload"] = {"publicFilePath": self.sandbox.base_url + file_url(m["file"]["_id"],
                                                                                       stored["name"]),
                                     "type": stored["type"], "size": stored["size"]}
        msg["_updatedAt"] = m.get("_updatedAt")
        return _defined(msg)

    # --- delivering -----------------------------------------------------------------------------------
    def start(self) -> None:
        self.deliveries.start()

    def stop(self) -> None:
        self.deliveries.stop()

    def _deliver(self, item: tuple[bytes, str], attempt: int, generation: int) -> None:
        body, rid = item
        sandbox = self.sandbox
        knobs, stats, settings = sandbox.knobs, sandbox.stats, sandbox.settings
        url, secret = settings.get(WEBHOOK_URL), settings.get(SECRET_TOKEN)
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["X-RocketChat-Livechat-Token"] = secret
        answer = None
        try:
            if not url:
                raise requests.RequestException("Livechat_webhookUrl is empty")
            resp = self.session.post(url, data=body, headers=headers, timeout=knobs.webhook_timeout)
            if resp.status_code == 200:
                answer = resp.text
        except requests.RequestException as exc:
            log.info("webhook to %s failed: %s", url, exc)
        # store lock, then the queue's (the order API calls take them in): a reset in between is seen whole
        with sandbox.store.lock, self.deliveries.cond:  # a reentrant lock: schedule() below takes it again
            if not self.deliveries.current(generation):  # the sandbox was reset meanwhile
                return
            stats.bump("webhooks", "attempts")
            if answer is not None:
                stats.bump("webhooks", "sent")
                room = sandbox.store.rooms.get(rid)
                if room is not None:  # saveCRMDataByRoomId
                    room["crmData"] = answer
                return
            stats.bump("webhooks", "failed")
            delays = knobs.webhook_retry_delays
            if attempt < len(delays):
                self.deliveries.schedule(delays[attempt], item, attempt + 1, generation)
            else:
                stats.bump("webhooks", "dropped")
