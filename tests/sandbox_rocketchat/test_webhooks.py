"""Omnichannel webhooks: the settings that drive them (`settings/:_id`), each event's payload and header,
retries, order, and `/_sandbox/reset` dropping pending deliveries. A local HTTP receiver collects the POSTs."""
from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpdesk_sandboxes.rocketchat import SandboxOptions, create_app

SETTINGS = "/api/v1/settings/"
TOGGLES = ("start", "close", "chat_taken", "chat_queued", "forward", "offline_msg", "visitor_message",
           "agent_message")
ROOM_KEYS = {"_id", "label", "createdAt", "customFields", "visitor", "type", "messages"}


class Receiver:
    """Collects webhook POSTs; answers each with the next scripted `(status, body)`, then 200."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list[tuple[int, str]] = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.cond:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers),
                                              "body": json.loads(raw)})
                    status, text = receiver.script.pop(0) if receiver.script else (200, "")
                    receiver.cond.notify_all()
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/crm"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()
            self.script.clear()

    def wait(self, n: int, timeout: float = 10.0) -> list[dict]:
        """The first `n` requests, once they arrived."""
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.requests) >= n, timeout), \
                f"got {len(self.requests)} webhook requests, wanted {n}: {[r['body']['type'] for r in self.requests]}"
            return list(self.requests[:n])

    def bodies(self, n: int) -> list[dict]:
        return [r["body"] for r in self.wait(n)]


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def hook(rcw, receiver):
    """The writable sandbox posting its webhooks to the receiver (no toggle on yet), with fast retries."""
    receiver.clear()
    rcw.proc.admin("POST", "config", json={"webhook_retry_delays": [0.05] * 9, "webhook_timeout": 5})
    _set(rcw, "Livechat_webhookUrl", receiver.url)
    _set(rcw, "Livechat_secret_token", "s3cret")
    return rcw


def _set(rcw, sid: str, value) -> None:
    resp = rcw.post(SETTINGS + sid, {"value": value})
    assert resp.status_code == 200 and resp.json() == {"success": True}, resp.text


def _on(rcw, *names: str) -> None:
    for name in names:
        _set(rcw, f"Livechat_webhook_on_{name}", True)


def _as(creds: dict) -> dict:
    return {"X-User-Id": creds["user_id"], "X-Auth-Token": creds["auth_token"]}


def _new_visitor(rcw, **fields) -> dict:
    token = uuid.uuid4().hex
    resp = rcw.post("/api/v1/livechat/visitor", {"visitor": {"token": token, **fields}}, headers={})
    assert resp.status_code == 200, resp.text
    return resp.json()["visitor"]


def _new_room(rcw, visitor: dict) -> dict:
    resp = rcw.get("/api/v1/livechat/room", {"token": visitor["token"]}, headers={})
    assert resp.status_code == 200 and resp.json()["newRoom"] is True
    return resp.json()["room"]


def _visitor_says(rcw, visitor: dict, room: dict, text: str) -> dict:
    resp = rcw.post("/api/v1/livechat/message", {"token": visitor["token"], "rid": room["_id"], "msg": text},
                    headers={})
    assert resp.status_code == 200, resp.text
    return resp.json()["message"]


def _agent_says(rcw, room: dict, text: str) -> dict:
    resp = rcw.post("/api/v1/chat.sendMessage", {"message": {"rid": room["_id"], "msg": text}})
    assert resp.status_code == 200, resp.text
    return resp.json()["message"]


def _webhook_stats(rcw, attempts: int) -> dict:
    """The webhook counters once `attempts` attempts were counted (the receiver sees a POST a little earlier)."""
    deadline = time.monotonic() + 5
    while True:
        stats = rcw.proc.admin("GET", "stats")["webhooks"]
        if stats["attempts"] >= attempts or time.monotonic() > deadline:
            return stats
        time.sleep(0.02)


def _room_info(rcw, room: dict) -> dict:
    return rcw.get("/api/v1/rooms.info", {"roomId": room["_id"]}).json()["room"]


def _chat(rcw) -> tuple[dict, dict]:
    """A new visitor with email and phone, and their new (served) room."""
    visitor = _new_visitor(rcw, name="Hook Visitor", email="hook@example.org", phone="+15550001")
    return visitor, _new_room(rcw, visitor)


# --- settings ------------------------------------------------------------------------------------------------
def test_settings_have_rocket_chat_defaults_and_can_be_changed(rcw):
    assert rcw.get(SETTINGS + "Livechat_webhookUrl").json() == {"_id": "Livechat_webhookUrl", "value": "",
                                                               "success": True}
    assert rcw.get(SETTINGS + "Livechat_secret_token").json()["value"] == ""
    for name in TOGGLES:
        assert rcw.get(SETTINGS + f"Livechat_webhook_on_{name}").json()["value"] is False
    _set(rcw, "Livechat_webhookUrl", "http://crm.example/hook")
    _set(rcw, "Livechat_webhook_on_close", True)
    assert rcw.get(SETTINGS + "Livechat_webhookUrl").json()["value"] == "http://crm.example/hook"
    assert rcw.get(SETTINGS + "Livechat_webhook_on_close").json()["value"] is True
    rcw.proc.admin("POST", "reset")
    assert rcw.get(SETTINGS + "Livechat_webhookUrl").json()["value"] == ""
    assert rcw.get(SETTINGS + "Livechat_webhook_on_close").json()["value"] is False


@pytest.mark.parametrize(("sid", "body"), [
    ("No_such_setting", {"value": True}), ("Livechat_webhook_on_close", {"value": "yes"}),
    ("Livechat_webhook_on_close", {"value": 1}), ("Livechat_webhookUrl", {"value": False}),
    ("Livechat_secret_token", {}),
])
def test_setting_failures_are_bare_400s(rcw, sid, body):
    resp = rcw.post(SETTINGS + sid, body)
    assert resp.status_code == 400 and resp.json() == {"success": False}
    if sid != "No_such_setting":
        assert rcw.get(SETTINGS + sid).json()["value"] in ("", False)


def test_reading_an_unknown_setting_fails(rcw):
    resp = rcw.get(SETTINGS + "No_such_setting")
    assert resp.status_code == 400 and resp.json() == {"success": False}


@pytest.mark.parametrize("who", ["agent", "restricted"])
def test_only_admins_read_and_write_settings(rcw, who):
    creds = rcw.proc.admin("GET", "credentials")
    headers = _as(creds["agents"][0] if who == "agent" else creds["restricted_user"])
    forbidden = {"success": False,
                 "error": "User does not have the permissions required for this action [error-unauthorized]"}
    read = rcw.get(SETTINGS + "Livechat_webhookUrl", headers=headers)
    write = rcw.post(SETTINGS + "Livechat_webhookUrl", {"value": "http://x"}, headers=headers)
    assert (read.status_code, read.json()) == (403, forbidden)
    assert (write.status_code, write.json()) == (403, forbidden)
    assert rcw.get(SETTINGS + "Livechat_webhookUrl").json()["value"] == ""
    unauthenticated = rcw.get(SETTINGS + "Livechat_webhookUrl", headers={})
    assert unauthenticated.status_code == 401


def test_webhook_knobs_are_checked(rcw):
    knobs = rcw.proc.admin("GET", "config")
    assert knobs["webhook_retry_delays"] == [20.0] * 9 and knobs["webhook_timeout"] == 5.0
    for bad in ({"webhook_retry_delays": [1, "x"]}, {"webhook_retry_delays": 3}, {"webhook_timeout": 0}):
        resp = rcw.session.post(rcw.base + "/_sandbox/config", json=bad, timeout=10)
        assert resp.status_code == 400
    assert rcw.proc.admin("GET", "stats")["webhooks"] == {"queued": 0, "attempts": 0, "sent": 0, "failed": 0,
                                                          "dropped": 0}


# --- events --------------------------------------------------------------------------------------------------
def test_a_new_room_sends_start_then_taken(hook, receiver):
    _on(hook, "start", "chat_taken", "chat_queued")
    visitor, room = _chat(hook)
    first, second = receiver.wait(2)
    for request in (first, second):
        assert request["path"] == "/crm"
        assert request["headers"]["X-RocketChat-Livechat-Token"] == "s3cret"
        assert request["headers"]["Content-Type"] == "application/json"
    start, taken = first["body"], second["body"]
    assert start["type"] == "LivechatSessionStart" and taken["type"] == "LivechatSessionTaken"
    assert set(start) == ROOM_KEYS | {"departmentId"}  # no agent yet: routing had not run
    assert start["_id"] == room["_id"] and start["label"] == "Hook Visitor" and start["createdAt"] == room["ts"]
    assert start["customFields"] == {} and start["messages"] == [] and start["departmentId"] == room["departmentId"]
    assert start["visitor"] == {"_id": visitor["_id"], "token": visitor["token"], "name": "Hook Visitor",
                                "username": visitor["username"], "email": [{"address": "hook@example.org"}],
                                "phone": [{"phoneNumber": "+15550001"}]}
    assert set(taken) == ROOM_KEYS | {"agent", "departmentId", "servedBy"}
    agent_id = room["servedBy"]["_id"]
    agent = hook.get("/api/v1/livechat/users/agent", {"count": 100}).json()["users"]
    agent = next(a for a in agent if a["_id"] == agent_id)
    assert taken["agent"] == {"_id": agent_id, "username": agent["username"], "name": agent["name"],
                              "email": agent["emails"][0]["address"]}
    assert taken["servedBy"] == room["servedBy"]
    time.sleep(0.2)
    assert len(receiver.requests) == 2  # served at once: never queued


def test_no_secret_no_header(hook, receiver):
    _set(hook, "Livechat_secret_token", "")
    _on(hook, "start")
    _chat(hook)
    (request,) = receiver.wait(1)
    assert "X-RocketChat-Livechat-Token" not in request["headers"]
    assert request["body"]["type"] == "LivechatSessionStart"


def test_nothing_is_sent_when_a_toggle_is_off_or_the_url_empty(hook, receiver):
    visitor, room = _chat(hook)  # every toggle off
    _visitor_says(hook, visitor, room, "not sent: toggle off")
    _on(hook, "visitor_message", "agent_message")
    _set(hook, "Livechat_webhookUrl", "")
    _visitor_says(hook, visitor, room, "not sent: no URL")
    _set(hook, "Livechat_webhookUrl", receiver.url)
    _visitor_says(hook, visitor, room, "sent")
    (body,) = receiver.bodies(1)
    assert [m["msg"] for m in body["messages"]] == ["sent"]
    time.sleep(0.2)
    assert len(receiver.requests) == 1
    assert _webhook_stats(hook, 1) == {"queued": 1, "attempts": 1, "sent": 1, "failed": 0, "dropped": 0}


def test_visitor_and_agent_messages(hook, receiver):
    visitor, room = _chat(hook)
    _on(hook, "visitor_message")
    said = _visitor_says(hook, visitor, room, "hello there")
    _agent_says(hook, room, "not sent: agent messages off")
    _on(hook, "agent_message")
    answer = _agent_says(hook, room, "hi, how can I help?")
    mine, theirs = receiver.bodies(2)
    assert mine["type"] == theirs["type"] == "Message"
    assert set(mine) == ROOM_KEYS | {"agent", "lastMessageAt"} and mine["lastMessageAt"] == said["ts"]
    assert mine["messages"] == [{"u": said["u"], "_id": said["_id"], "username": visitor["username"],
                                 "msg": "hello there", "ts": said["ts"], "rid": room["_id"],
                                 "_updatedAt": said["_updatedAt"]}]
    manager = hook.headers["X-User-Id"]
    assert theirs["messages"] == [{"u": answer["u"], "_id": answer["_id"], "username": "sandbox.manager",
                                   "msg": "hi, how can I help?", "ts": answer["ts"], "rid": room["_id"],
                                   "agentId": manager, "_updatedAt": answer["_updatedAt"]}]
    time.sleep(0.2)
    assert len(receiver.requests) == 2


def test_file_messages_carry_file_upload(hook, receiver):
    _on(hook, "visitor_message", "agent_message")
    visitor, room = _chat(hook)
    up = hook.post(f"/api/v1/livechat/upload/{room['_id']}", headers={"x-visitor-token": visitor["token"]},
                   files={"file": ("notes.txt", b"twelve bytes", "text/plain")})
    assert up.status_code == 200, up.text
    media = hook.post(f"/api/v1/rooms.media/{room['_id']}", files={"file": ("quote.pdf", b"%PDF" + b"0" * 96)})
    file_id = media.json()["file"]["_id"]
    confirm = hook.post(f"/api/v1/rooms.mediaConfirm/{room['_id']}/{file_id}", {"msg": "the quote"})
    assert confirm.status_code == 200
    from_visitor, from_agent = (b["messages"][0] for b in receiver.bodies(2))
    assert "msg" not in from_visitor and "agentId" not in from_visitor  # a file without text
    assert from_visitor["file"]["name"] == "notes.txt" and from_visitor["attachments"][0]["title"] == "notes.txt"
    assert from_visitor["fileUpload"] == {
        "publicFilePath": f"{hook.base}/file-upload/{from_visitor['file']['_id']}/notes.txt", "type": "text/plain",
        "size": 12}
    assert from_agent["msg"] == "the quote" and from_agent["agentId"] == hook.headers["X-User-Id"]
    assert from_agent["fileUpload"] == {"publicFilePath": f"{hook.base}/file-upload/{file_id}/quote.pdf",
                                        "type": "application/pdf", "size": 100}
    download = hook.session.get(from_agent["fileUpload"]["publicFilePath"], headers=hook.headers, timeout=10)
    assert download.status_code == 200 and download.content.startswith(b"%PDF")


def test_forward_to_an_agent(hook, receiver):
    visitor, room = _chat(hook)
    said = _visitor_says(hook, visitor, room, "please forward me")
    _on(hook, "forward", "chat_taken", "agent_message")
    agents = hook.get("/api/v1/livechat/users/agent", {"count": 100}).json()["users"]
    target = next(a for a in agents if a["_id"] != room["servedBy"]["_id"] and a["status"] != "offline"
                  and a["statusLivechat"] == "available")
    resp = hook.post("/api/v1/livechat/room.forward", {"roomId": room["_id"], "userId": target["_id"]})
    assert resp.status_code == 200, resp.text
    (body,) = receiver.bodies(1)
    assert body["type"] == "LivechatSessionForwarded"
    assert set(body) == ROOM_KEYS | {"agent", "lastMessageAt", "departmentId", "servedBy", "oldServedBy"}
    assert body["oldServedBy"] == room["servedBy"] and body["servedBy"]["_id"] == target["_id"]
    assert body["agent"]["_id"] == target["_id"]
    assert [m["_id"] for m in body["messages"]] == [said["_id"]]  # the transfer note is a system message
    time.sleep(0.2)
    assert len(receiver.requests) == 1  # no Taken for a forward to an agent, no Message for the note


def test_forward_to_a_department_is_taken_then_forwarded(hook, receiver):
    _, room = _chat(hook)
    _on(hook, "forward", "chat_taken")
    agents = hook.get("/api/v1/livechat/users/agent", {"count": 100}).json()["users"]
    online = [a for a in agents if a["status"] != "offline" and a["statusLivechat"] == "available"]
    department = next(d for a in online for d in a["departments"] if d != room.get("departmentId"))
    resp = hook.post("/api/v1/livechat/room.forward", {"roomId": room["_id"], "departmentId": department})
    assert resp.status_code == 200, resp.text
    taken, forwarded = receiver.bodies(2)
    assert taken["type"] == "LivechatSessionTaken" and taken["departmentId"] == department
    assert forwarded["type"] == "LivechatSessionForwarded" and forwarded["departmentId"] == department
    assert forwarded["oldDepartmentId"] == room["departmentId"] and "oldServedBy" not in forwarded
    assert forwarded["servedBy"] == taken["servedBy"]


def test_close_sends_the_session_with_its_messages(hook, receiver):
    visitor, room = _chat(hook)
    said = _visitor_says(hook, visitor, room, "one question")
    answer = _agent_says(hook, room, "one answer")
    _on(hook, "close", "agent_message")
    resp = hook.post("/api/v1/livechat/room.closeByUser", {"rid": room["_id"], "comment": "solved", "tags": ["vip"]})
    assert resp.status_code == 200
    (body,) = receiver.bodies(1)
    after = _room_info(hook, room)
    assert body["type"] == "LivechatSession"
    assert set(body) == ROOM_KEYS | {"agent", "lastMessageAt", "tags", "departmentId", "servedBy", "closedAt",
                                     "closedBy", "closer"}
    assert body["closedAt"] == after["closedAt"] and body["closedBy"] == after["closedBy"]
    assert body["closer"] == "user" and body["tags"] == ["vip"] and body["lastMessageAt"] == answer["ts"]
    assert [m["_id"] for m in body["messages"][:2]] == [said["_id"], answer["_id"]]
    closing = body["messages"][2]
    assert len(body["messages"]) == 3 and closing["closingMessage"] is True and closing["msg"] == "solved"
    assert closing["agentId"] == hook.headers["X-User-Id"]
    assert "closingMessage" not in body["messages"][0] and "agentId" not in body["messages"][0]
    time.sleep(0.2)
    assert len(receiver.requests) == 1  # the closing message is no Message event


def test_save_info_on_a_closed_room_sends_livechat_edit(hook, receiver):
    visitor, room = _chat(hook)
    body = {"guestData": {"_id": visitor["_id"]}, "roomData": {"_id": room["_id"], "topic": "Order 7"}}
    assert hook.post("/api/v1/livechat/room.saveInfo", body).status_code == 200  # open: nothing
    hook.post("/api/v1/livechat/room.closeByUser", {"rid": room["_id"]})
    assert hook.post("/api/v1/livechat/room.saveInfo", body).status_code == 200
    (edit,) = receiver.bodies(1)
    assert edit["type"] == "LivechatEdit" and edit["topic"] == "Order 7" and "closedAt" not in edit


def test_a_queued_room_sends_queued_with_its_department():
    app = create_app(SandboxOptions(rooms=10, seed=3))
    sandbox = app.config["SANDBOX"]
    served = next(r for r in sandbox.store.rooms.values() if "servedBy" in r)
    room = {k: v for k, v in served.items() if k != "servedBy"}  # as a room no agent took yet
    body = sandbox.webhooks.payload("LivechatSessionQueued", room, sandbox.store.messages[room["_id"]])
    assert body["type"] == "LivechatSessionQueued" and "agent" not in body and "servedBy" not in body
    assert body["departmentId"] == room["departmentId"]


# --- delivery ------------------------------------------------------------------------------------------------
def test_a_failed_delivery_is_retried_and_the_answer_kept_as_crm_data(hook, receiver):
    _on(hook, "visitor_message")
    visitor, room = _chat(hook)
    receiver.script = [(500, "boom"), (200, "crm-42")]
    _visitor_says(hook, visitor, room, "first")
    failed, retried = receiver.wait(2)
    assert failed["body"] == retried["body"] and "crmData" not in failed["body"]
    deadline = time.monotonic() + 5  # the answer is saved once the dispatcher has read it
    while "crmData" not in _room_info(hook, room) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _room_info(hook, room)["crmData"] == "crm-42"
    _visitor_says(hook, visitor, room, "second")
    later = receiver.bodies(3)[2]
    assert later["crmData"] == "crm-42" and later["messages"][0]["msg"] == "second"
    assert _webhook_stats(hook, 3) == {"queued": 2, "attempts": 3, "sent": 2, "failed": 1, "dropped": 0}


def test_a_delivery_is_dropped_after_its_last_retry(hook, receiver):
    hook.proc.admin("POST", "config", json={"webhook_retry_delays": [0.01, 0.01]})
    _on(hook, "visitor_message")
    visitor, room = _chat(hook)
    receiver.script = [(503, "")] * 3
    _visitor_says(hook, visitor, room, "lost")
    receiver.wait(3)
    deadline = time.monotonic() + 5
    while hook.proc.admin("GET", "stats")["webhooks"]["dropped"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hook.proc.admin("GET", "stats")["webhooks"] == {"queued": 1, "attempts": 3, "sent": 0, "failed": 3,
                                                           "dropped": 1}
    assert len(receiver.requests) == 3


def test_deliveries_keep_event_order(hook, receiver):
    _on(hook, "visitor_message", "agent_message")
    visitor, room = _chat(hook)
    for i in range(8):
        _visitor_says(hook, visitor, room, f"v{i}") if i % 2 == 0 else _agent_says(hook, room, f"a{i}")
    texts = [b["messages"][0]["msg"] for b in receiver.bodies(8)]
    assert texts == ["v0", "a1", "v2", "a3", "v4", "a5", "v6", "a7"]


def test_reset_drops_pending_deliveries(hook, receiver):
    hook.proc.admin("POST", "config", json={"webhook_retry_delays": [0.6] * 9})
    _on(hook, "visitor_message")
    visitor, room = _chat(hook)
    receiver.script = [(500, "")] * 10
    _visitor_says(hook, visitor, room, "doomed")
    receiver.wait(1)
    hook.proc.admin("POST", "reset")
    time.sleep(1.0)
    assert len(receiver.requests) == 1
    assert hook.proc.admin("GET", "stats")["webhooks"]["attempts"] == 0
    assert hook.get(SETTINGS + "Livechat_webhookUrl").json()["value"] == ""
