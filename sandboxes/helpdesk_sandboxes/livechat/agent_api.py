"""Agent Chat Web API methods: chats, threads, archives, events, files, tags, customers."""
from __future__ import annotations

import re
import secrets
import uuid

from . import clock
from .errors import LiveChatError, not_found, validation
from .filters import archive_predicate, range_filter
from .methods import Call, method
from .paging import page, parse_query, with_page_ids
from .seed import make_id
from .state import Chat, Store, Thread, customer_json

CHATS_RO = ("chats--all:ro", "chats--access:ro")
CHATS_RW = ("chats--all:rw", "chats--access:rw")
MAX_UPLOAD = 10 * 1024 * 1024
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# --- shapes ---------------------------------------------------------------------------------
def chat_json(store: Store, chat: Chat, thread: Thread | None = None, version: str = "3.5") -> dict:
    return {"id": chat.id, "thread": store.thread_json(thread or chat.last_thread, version),
            "users": store.chat_users(chat, version),
            "properties": chat.properties, "access": {"group_ids": list(chat.group_ids)},
            "is_followed": chat.is_followed}


def archive_entry(store: Store, thread: Thread, version: str) -> dict:
    chat = store.chats[thread.chat_id]
    return {"id": chat.id, "users": store.chat_users(chat, version), "thread": store.thread_json(thread, version),
            "properties": chat.properties, "access": {"group_ids": list(chat.group_ids)}}


def chat_summary(store: Store, chat: Chat, version: str) -> dict:
    t = chat.last_thread
    last_per_type = {}
    for ev in store.visible_events(t, version):
        last_per_type[ev["type"]] = {"thread_id": t.id, "thread_created_at": clock.fmt(t.created_at), "event": ev}
    return {
        "id": chat.id, "users": store.chat_users(chat, version),
        "last_thread_summary": {"id": t.id, "active": t.active, "created_at": clock.fmt(t.created_at),
                                "user_ids": list(t.user_ids), "tags": list(t.tags), "properties": t.properties,
                                "access": {"group_ids": list(t.group_ids)}},
        "last_event_per_type": last_per_type, "properties": chat.properties,
        "access": {"group_ids": list(chat.group_ids)}, "is_followed": chat.is_followed,
    }


# --- lookups and validation -----------------------------------------------------------------
def _required_str(body: dict, key: str, where: str = "") -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise validation(f"{where}{key}: is required and must be a non-empty string")
    return value


def _chat(store: Store, chat_id) -> Chat:
    chat = store.chats.get(chat_id) if isinstance(chat_id, str) else None
    if chat is None:
        raise not_found("Chat not found")
    return chat


def _thread(store: Store, chat: Chat, thread_id) -> Thread:
    thread = store.threads.get(thread_id) if isinstance(thread_id, str) else None
    if thread is None or thread.chat_id != chat.id:
        raise not_found("Thread not found")
    return thread


def _bool(body: dict, key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise validation(f"{key}: must be a boolean")
    return value


def _require_presence(call: Call, chat: Chat, method: str, overridable: bool = True) -> None:
    """Since v3.4 the requester must be on the list of chat users (the active thread's users) for
    send_event, and for deactivate_chat, transfer_chat, add_user_to_chat and remove_user_from_chat
    unless `ignore_requester_presence: true` (docs: agent-chat-api/changelog v3.4; "The requester
    must be present on the list of chat users" in agent-chat-api/index.mdx and v3.5/index.mdx; SDK
    livechat/agent/web/api/v36.py add_user_to_chat). The error type is not documented: the sandbox
    answers `authorization` ("User is not allowed to perform the action", src/constants/index.js)."""
    if overridable and _bool(call.body, "ignore_requester_presence", False):
        return
    if call.principal.agent_id not in chat.last_thread.user_ids:
        raise LiveChatError("authorization", f"Requester must be present on the list of chat users to call {method}"
                            + ("; add the requester first or set ignore_requester_presence" if overridable else
                               "; add the requester with add_user_to_chat first"))


def build_event(store: Store, raw, author_id: str, where: str = "event") -> dict:
    """A new event from a request, checked the way LiveChat checks it."""
    if not isinstance(raw, dict):
        raise validation(f"{where}: must be an object")
    kind = raw.get("type")
    visibility = raw.get("visibility", "all")
    if visibility not in ("all", "agents"):
        raise validation(f"{where}.visibility: must be all or agents")
    ev = {"type": kind, "author_id": author_id, "created_at": None, "visibility": visibility}
    if raw.get("custom_id") is not None:
        ev["custom_id"] = str(raw["custom_id"])
    if raw.get("properties") is not None:
        ev["properties"] = raw["properties"]
    if kind in ("message", "system_message"):
        ev["text"] = _required_str(raw, "text", where + ".")
        if kind == "system_message":
            ev.pop("author_id")
            ev["system_message_type"] = raw.get("system_message_type", "agent_created")
    elif kind == "file":
        url = _required_str(raw, "url", where + ".")
        path = url.split("/cdn/api/file/lc/att/", 1)[-1] if "/cdn/api/file/lc/att/" in url else None
        stored = store.files.get(path) if path else None
        if stored is None:
            raise validation(f"{where}.url: must be a URL returned by upload_file")
        ev.update(name=path.rsplit("/", 1)[-1], url=url, content_type=stored[0], size=len(stored[1]))
    elif kind == "rich_message":
        ev["template_id"] = _required_str(raw, "template_id", where + ".")
        ev["elements"] = raw.get("elements") or []
    elif kind == "custom":
        ev["content"] = raw.get("content", {})
    elif kind == "filled_form":
        ev.update(form_id=_required_str(raw, "form_id", where + "."), form_type=raw.get("form_type", "prechat"),
                  fields=raw.get("fields") or [])
    else:
        raise validation(f"{where}.type: must be one of message, system_message, file, rich_message, custom, "
                         "filled_form")
    return ev


def _post_event(call: Call, thread: Thread, ev: dict, author_type: str = "agent") -> dict:
    store = call.store
    ev["created_at"] = clock.fmt(max(clock.now_us(), thread.created_at + 1))
    ordered = {"id": None, **ev}
    store.append_event(thread, ordered)
    call.sandbox.webhooks.emit("incoming_event", {"chat_id": thread.chat_id, "thread_id": thread.id,
                                                  "event": ordered}, author_type=author_type)
    return ordered


def _new_thread(store: Store, chat: Chat, user_ids: list[str], active: bool, group_ids: list[int],
                properties: dict | None) -> Thread:
    tid = make_id(_id_rng)
    while tid in store.threads:
        tid = make_id(_id_rng)
    created = max(clock.now_us(), chat.sort_key[0] + 1) if chat.threads else clock.now_us()
    return Thread(id=tid, chat_id=chat.id, created_at=created, active=active, user_ids=user_ids, tags=[],
                  group_ids=list(group_ids), events=[], properties=properties or {})


class _IdRng:
    def choice(self, seq):
        return secrets.choice(seq)


_id_rng = _IdRng()


def _thread_events(call: Call, raw_thread, author_id: str) -> list[dict]:
    if raw_thread is None:
        return []
    if not isinstance(raw_thread, dict):
        raise validation("chat.thread: must be an object")
    events = raw_thread.get("events") or []
    if not isinstance(events, list):
        raise validation("chat.thread.events: must be an array")
    return [build_event(call.store, e, author_id, f"chat.thread.events[{i}]") for i, e in enumerate(events)]


def _group_ids(raw, default: list[int]) -> list[int]:
    if raw is None:
        return default
    gids = (raw or {}).get("group_ids") if isinstance(raw, dict) else None
    if not isinstance(gids, list) or not all(isinstance(g, int) for g in gids):
        raise validation("access.group_ids: must be an array of integers")
    return gids


def _refresh_customer(store: Store, customer: dict) -> None:
    chats = [store.chats[c] for c in customer["chat_ids"] if c in store.chats]
    customer["statistics"]["chats_count"] = len(chats)
    customer["statistics"]["threads_count"] = sum(len(c.threads) for c in chats)


def _require_online_groups(store: Store, group_ids: list[int], continuous: bool) -> None:
    """Without `continuous: true`, a chat needs its groups online: start_chat's `continuous` "starts the
    chat as continuous (online group is not required)" (messaging/agent-chat-api/index.mdx, Start Chat;
    SDK livechat/agent/web/api/v36.py start_chat and resume_chat docstrings, which say the same for
    resume_chat). The error type is `groups_offline` ("Groups offline": src/constants/index.js ERRORS;
    GROUPS_OFFLINE "a group in the targeted chat is offline" in extending-chat-widget/customer-sdk)."""
    if continuous:
        return
    offline = [g for g in group_ids if store.group_status(g) == "offline"]
    if offline:
        raise LiveChatError("groups_offline", f"Groups offline: group {offline[0]} has no agent online; "
                                              "start the chat with continuous: true")


# --- chats ----------------------------------------------------------------------------------
@method("agent", "list_chats", scopes=CHATS_RO)
def list_chats(call: Call):
    store = call.store
    q = parse_query(call.body, "list_chats", default_limit=10)
    f = {k: v for k, v in q.filters.items() if k != "_"}
    # v3.6 replaced `include_active` with `active` (true: only active, false: only inactive, absent or
    # null: both): messaging/agent-chat-api/changelog/index.mdx, [v3.6] Chats; index.mdx, List Chats.
    active_filter = "include_active" if call.version == "3.5" else "active"
    unknown = set(f) - {active_filter, "include_chats_without_threads", "group_ids", "properties"}
    if unknown:
        raise validation(f"filters: unknown filter {sorted(unknown)[0]}")
    if call.version == "3.5":
        want_active = None if _bool(f, "include_active", True) else False
    else:
        want_active = f.get("active")
        if want_active is not None and not isinstance(want_active, bool):
            raise validation("filters.active: must be a boolean or null")
    gids = f.get("group_ids")
    if gids is not None and (not isinstance(gids, list) or not all(isinstance(g, int) for g in gids)):
        raise validation("filters.group_ids: must be an array of integers")

    def matches(chat: Chat) -> bool:
        if want_active is not None and chat.last_thread.active != want_active:
            return False
        return gids is None or bool(set(gids).intersection(chat.group_ids))

    found, next_id, prev_id = page(store.chats_sorted, lambda c: c.sort_key, matches, q, "list_chats")
    key = ("list_chats", repr(sorted(f.items())))
    total = store.cached_count(key, lambda: sum(1 for c in store.chats_sorted if matches(c)))
    out = {"chats_summary": [chat_summary(store, c, call.version) for c in found], "found_chats": total}
    return with_page_ids(out, next_id, prev_id)


@method("agent", "list_archives", scopes=CHATS_RO)
def list_archives(call: Call):
    store = call.store
    q = parse_query(call.body, "list_archives", default_limit=10)
    if "thread_ids" in q.filters:
        # "Cannot be used with other filters or pagination" (thread_ids in messaging/agent-chat-api/
        # index.mdx and v3.5/index.mdx, List Archives): no limit, and every match (at most 20) in one page.
        if call.body.get("limit") is not None:
            raise validation("filters.thread_ids: cannot be used with pagination (limit)")
        q.limit = 100
    pred = archive_predicate(store, q.filters, call.version)
    found, next_id, prev_id = page(store.threads_sorted, lambda t: t.sort_key, pred, q, "list_archives")
    if set(q.filters) - {"_"}:
        key = ("list_archives", repr(sorted(q.filters.items())))
        total = store.cached_count(key, lambda: sum(1 for t in store.threads_sorted if pred(t)))
    else:
        total = len(store.threads_sorted)
    out = {"chats": [archive_entry(store, t, call.version) for t in found], "found_chats": total}
    if call.sandbox.knobs.repeat_page_id and call.body.get("page_id"):  # the fault knob (knobs.py)
        next_id = call.body["page_id"]
    return with_page_ids(out, next_id, prev_id)


@method("agent", "list_threads", scopes=CHATS_RO)
def list_threads(call: Call):
    store = call.store
    q = parse_query(call.body, "list_threads", default_limit=3)
    extra = q.filters.get("_", {})
    chat = _chat(store, call.body.get("chat_id") or extra.get("chat_id") or _required_str(call.body, "chat_id"))
    if call.body.get("page_id") and extra.get("chat_id") not in (None, chat.id):
        raise validation("page_id: belongs to another chat")
    min_events = extra.get("min_events_count") if not call.body.get("page_id") else None
    f = {k: v for k, v in q.filters.items() if k != "_"}
    unknown = set(f) - {"from", "to"}
    if unknown:
        raise validation(f"filters: unknown filter {sorted(unknown)[0]}")
    lo = clock.parse(f["from"], "filters.from") if "from" in f else None
    hi = clock.parse(f["to"], "filters.to") if "to" in f else None

    def matches(t: Thread) -> bool:
        if lo is not None and t.created_at < lo:
            return False
        return hi is None or t.created_at <= hi

    if min_events is not None:
        # The total number of events wanted: as many latest threads as it takes (LiveChat's docs).
        if not isinstance(min_events, int) or isinstance(min_events, bool) or not 1 <= min_events <= 100:
            raise validation("min_events_count: must be an integer between 1 and 100")
        if call.body.get("limit") is not None or f:
            raise validation("min_events_count cannot be used together with limit or filters")
        needed = total = 0
        for t in reversed(chat.threads):
            needed += 1
            total += len(store.events(t))
            if total >= min_events:
                break
        q.limit = needed
        if q.sort_order == "asc" and needed < len(chat.threads):
            q.anchor, q.direction = list(chat.threads[-needed - 1].sort_key), "next"

    found, next_id, prev_id = page(chat.threads, lambda t: t.sort_key, matches, q, "list_threads")
    out = {"threads": [store.thread_json(t, call.version) for t in found],
           "found_threads": sum(1 for t in chat.threads if matches(t))}
    return with_page_ids(out, next_id, prev_id)


@method("agent", "get_chat", scopes=CHATS_RO)
def get_chat(call: Call):
    chat = _chat(call.store, _required_str(call.body, "chat_id"))
    thread = _thread(call.store, chat, call.body["thread_id"]) if call.body.get("thread_id") else None
    return chat_json(call.store, chat, thread, call.version)


@method("agent", "start_chat", scopes=CHATS_RW)
def start_chat(call: Call):
    store, body = call.store, call.body
    raw = body.get("chat") or {}
    if not isinstance(raw, dict):
        raise validation("chat: must be an object")
    active = _bool(body, "active", True)
    users = raw.get("users") or []
    if not isinstance(users, list):
        raise validation("chat.users: must be an array")
    customer_ids = [u.get("id") for u in users if isinstance(u, dict) and u.get("type") == "customer"]
    agent_ids = [u.get("id") for u in users if isinstance(u, dict) and u.get("type") == "agent"]
    if len(customer_ids) != 1:
        raise validation("chat.users: must contain exactly one user of type customer")
    customer = store.customers.get(customer_ids[0])
    if customer is None:
        raise not_found("Customer not found")
    for a in agent_ids:
        if a not in store.agents:
            raise not_found(f"Agent {a} not found")
    requester = call.principal.agent_id
    events = _thread_events(call, raw.get("thread"), requester)
    group_ids = _group_ids(raw.get("access"), [0])
    continuous = _bool(body, "continuous", False)
    _require_online_groups(store, group_ids, continuous)
    properties = raw.get("properties") or {}
    properties = {**properties, "routing": {**properties.get("routing", {}), "continuous": continuous}}
    chat = Chat(id=make_id(_id_rng), customer_id=customer["id"], threads=[], group_ids=group_ids,
                properties=properties)
    while chat.id in store.chats:
        chat.id = make_id(_id_rng)
    members = [customer["id"], requester] + [a for a in agent_ids if a != requester]
    thread = _new_thread(store, chat, members, active, group_ids, (raw.get("thread") or {}).get("properties"))
    chat.threads.append(thread)
    store.add_chat(chat)
    customer["chat_ids"].append(chat.id)
    _refresh_customer(store, customer)
    call.sandbox.webhooks.emit("incoming_chat", {"chat": chat_json(store, chat, version=call.version)})
    event_ids = [_post_event(call, thread, ev)["id"] for ev in events]
    out = {"chat_id": chat.id, "thread_id": thread.id}
    if event_ids:
        out["event_ids"] = event_ids
    return out


@method("agent", "resume_chat", scopes=CHATS_RW)
def resume_chat(call: Call):
    store, body = call.store, call.body
    raw = body.get("chat")
    if not isinstance(raw, dict):
        raise validation("chat: is required and must be an object with id")
    chat = _chat(store, _required_str(raw, "id", "chat."))
    if chat.last_thread.active:
        raise validation("Chat is already active")
    active = _bool(body, "active", True)
    requester = call.principal.agent_id
    events = _thread_events(call, raw.get("thread"), requester)
    group_ids = _group_ids(raw.get("access"), chat.group_ids)
    routing = chat.properties.setdefault("routing", {})
    continuous = _bool(body, "continuous", bool(routing.get("continuous")))  # "If not set: leaves the mode unchanged"
    _require_online_groups(store, group_ids, continuous)
    routing["continuous"] = continuous
    chat.group_ids = group_ids
    thread = _new_thread(store, chat, [chat.customer_id, requester], active, group_ids,
                         (raw.get("thread") or {}).get("properties"))
    store.add_thread(chat, thread)
    customer = store.customers.get(chat.customer_id)
    if customer:
        _refresh_customer(store, customer)
    call.sandbox.webhooks.emit("incoming_chat", {"chat": chat_json(store, chat, version=call.version)})
    event_ids = [_post_event(call, thread, ev)["id"] for ev in events]
    out = {"thread_id": thread.id}
    if event_ids:
        out["event_ids"] = event_ids
    return out


@method("agent", "deactivate_chat", scopes=CHATS_RW)
def deactivate_chat(call: Call):
    chat = _chat(call.store, _required_str(call.body, "id"))
    thread = chat.last_thread
    if not thread.active:
        raise LiveChatError("chat_inactive", "Chat is already inactive")
    _require_presence(call, chat, "deactivate_chat")
    name = call.store.agents[call.principal.agent_id]["name"]
    call.store.append_event(thread, {"id": None, "created_at": clock.fmt(clock.now_us()), "visibility": "all",
                                     "type": "system_message", "system_message_type": "manual_archived_agent",
                                     "text": f"{name} archived the chat", "text_vars": {"agent": name}})
    thread.active = False
    call.sandbox.webhooks.emit("chat_deactivated", {"chat_id": chat.id, "thread_id": thread.id,
                                                    "user_id": call.principal.agent_id})
    return {}


@method("agent", "transfer_chat", scopes=CHATS_RW)
def transfer_chat(call: Call):
    store = call.store
    chat = _chat(store, _required_str(call.body, "id"))
    target = call.body.get("target")
    if target is not None:
        if not isinstance(target, dict) or target.get("type") not in ("agent", "group"):
            raise validation("target.type: must be agent or group")
        ids = target.get("ids")
        if not isinstance(ids, list) or not ids:
            raise validation("target.ids: must be a non-empty array")
    thread = chat.last_thread
    if not thread.active:
        raise LiveChatError("chat_inactive", "Chat is inactive; only active chats can be transferred")
    for a in target["ids"] if target and target["type"] == "agent" else ():
        if a not in store.agents:
            raise not_found(f"Agent {a} not found")
    _require_presence(call, chat, "transfer_chat")  # after the target checks (the order is not documented)
    transferred_to = {}
    if target and target["type"] == "agent":
        thread.user_ids = [u for u in thread.user_ids if u not in store.agents] + list(target["ids"])
        transferred_to = {"agent_ids": list(target["ids"])}
    elif target:
        known = {g["id"] for g in store.groups}
        for g in target["ids"]:
            if g not in known:
                raise not_found(f"Group {g} not found")
        chat.group_ids = thread.group_ids = list(target["ids"])
        transferred_to = {"group_ids": list(target["ids"])}
    store.touch()
    call.sandbox.webhooks.emit("chat_transferred", {"chat_id": chat.id, "thread_id": thread.id,
                                                    "requester_id": call.principal.agent_id,
                                                    "transferred_to": transferred_to})
    return {}


# --- events and files -----------------------------------------------------------------------
@method("agent", "send_event", scopes=CHATS_RW)
def send_event(call: Call):
    store = call.store
    chat = _chat(store, _required_str(call.body, "chat_id"))
    ev = build_event(store, call.body.get("event"), call.principal.agent_id)
    thread = chat.last_thread
    if not thread.active and not call.body.get("attach_to_last_thread"):
        raise LiveChatError("chat_inactive", "Chat is inactive; resume it first or set attach_to_last_thread")
    # "The user must be added to the chat before they can send an event" (no override), and "Users
    # with visibility:agents cannot send events with visibility:all" (agent-chat-api/index.mdx,
    # Send Event; the error type is not documented).
    _require_presence(call, chat, "send_event", overridable=False)
    if ev["visibility"] == "all" and call.principal.agent_id in chat.agents_only:
        raise validation("event.visibility: the requester was added to this chat with visibility agents and "
                         "cannot send events with visibility all")
    return {"event_id": _post_event(call, thread, ev)["id"]}


# --- chat users -------------------------------------------------------------------------------
def _chat_user(call: Call, types: tuple[str, ...]) -> tuple[Chat, str, str]:
    chat = _chat(call.store, _required_str(call.body, "chat_id"))
    user_id, user_type = _required_str(call.body, "user_id"), _required_str(call.body, "user_type")
    if user_type not in types:
        raise validation(f"user_type: must be {' or '.join(types)}")
    known = call.store.agents if user_type == "agent" else call.store.customers
    if user_id not in known:
        raise not_found(f"{user_type.capitalize()} {user_id} not found")
    return chat, user_id, user_type


@method("agent", "add_user_to_chat", scopes=CHATS_RW)
def add_user_to_chat(call: Call):
    """The chat must be active; one customer at most, added with visibility all; `visibility`
    (all|agents, required) decides whether the user's events may reach the customer (agent-chat-api/
    index.mdx, Add User to Chat; SDK v36.py: "Determines the visibility of events sent by the
    agent"). Adding a user who is already there changes only the visibility (not documented)."""
    chat, user_id, user_type = _chat_user(call, ("agent", "customer"))
    visibility = _required_str(call.body, "visibility")
    if visibility not in ("all", "agents"):
        raise validation("visibility: must be all or agents")
    thread = chat.last_thread
    if not thread.active:
        raise LiveChatError("chat_inactive", "Chat is inactive; users can be added to active chats only")
    _require_presence(call, chat, "add_user_to_chat")
    if user_type == "customer":
        if visibility != "all":
            raise validation("visibility: a customer must be added with visibility all")
        if user_id != chat.customer_id:
            raise validation("user_id: a chat can have only one customer")
        return {}
    if user_id not in thread.user_ids:
        thread.user_ids.append(user_id)
    (chat.agents_only.add if visibility == "agents" else chat.agents_only.discard)(user_id)
    call.store.touch()
    return {}


@method("agent", "remove_user_from_chat", scopes=CHATS_RW)
def remove_user_from_chat(call: Call):
    """Agents only: the customer cannot be removed (agent-chat-api/index.mdx, Remove User from Chat)."""
    chat, user_id, _ = _chat_user(call, ("agent",))
    _require_presence(call, chat, "remove_user_from_chat")
    thread = chat.last_thread
    if user_id in thread.user_ids:
        thread.user_ids.remove(user_id)
        chat.agents_only.discard(user_id)
        call.store.touch()
    return {}


@method("agent", "upload_file", scopes=CHATS_RW)
def upload_file(call: Call):
    upload = call.files.get("file") if call.files else None
    if upload is None:
        raise validation("file: a multipart/form-data field named file is required")
    data = upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise LiveChatError("entity_too_large", "Upload is larger than 10 MB")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", upload.filename or "file") or "file"
    path = f"{call.store.license_id}/{uuid.uuid4().hex}/{name}"
    call.store.files[path] = (upload.mimetype or "application/octet-stream", data)
    return {"url": call.store.cdn_base + path}


# --- tags -----------------------------------------------------------------------------------
def _tag_target(call: Call):
    store = call.store
    chat = _chat(store, _required_str(call.body, "chat_id"))
    thread = _thread(store, chat, _required_str(call.body, "thread_id"))
    tag = _required_str(call.body, "tag")
    if tag not in store.tags:
        raise validation(f"Tag {tag} does not exist; create it with the Configuration API first")
    return chat, thread, tag


@method("agent", "tag_thread", scopes=CHATS_RW)
def tag_thread(call: Call):
    chat, thread, tag = _tag_target(call)
    if tag not in thread.tags:
        thread.tags.append(tag)
        call.store.touch()
        call.sandbox.webhooks.emit("thread_tagged", {"chat_id": chat.id, "thread_id": thread.id, "tag": tag})
    return {}


@method("agent", "untag_thread", scopes=CHATS_RW)
def untag_thread(call: Call):
    chat, thread, tag = _tag_target(call)
    if tag in thread.tags:
        thread.tags.remove(tag)
        call.store.touch()
        call.sandbox.webhooks.emit("thread_untagged", {"chat_id": chat.id, "thread_id": thread.id, "tag": tag})
    return {}


# --- customers ------------------------------------------------------------------------------
CUSTOMER_SORTS = {
    "created_at": lambda c: (c["_created_us"], c["id"]),
    "threads_count": lambda c: (c["statistics"]["threads_count"], c["_created_us"], c["id"]),
    "visits_count": lambda c: (c["statistics"]["visits_count"], c["_created_us"], c["id"]),
    "agent_last_event": lambda c: (c.get("agent_last_event_created_at", ""), c["_created_us"], c["id"]),
    "customer_last_event": lambda c: (c.get("customer_last_event_created_at", ""), c["_created_us"], c["id"]),
}


def _customer_predicate(filters: dict):
    checks = []
    for name, spec in filters.items():
        if name == "_":
            continue
        if name in ("email", "name", "customer_id", "country"):
            if not isinstance(spec, dict) or not spec or set(spec) - {"values", "exclude_values"}:
                raise validation(f"filters.{name}: must be an object with values or exclude_values")
            for kind, values in spec.items():
                if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                    raise validation(f"filters.{name}.{kind}: must be an array of strings")
            want = {v.lower() for v in spec.get("values", [])}
            drop = {v.lower() for v in spec.get("exclude_values", [])}
            getter = {
                "email": lambda c: c.get("email"), "name": lambda c: c.get("name"), "customer_id": lambda c: c["id"],
                "country": lambda c: c.get("last_visit", {}).get("geolocation", {}).get("country_code"),
            }[name]
            checks.append(lambda c, g=getter, w=want, d=drop: ((g(c) or "").lower() in w if w else True)
                          and (g(c) or "").lower() not in d)
        elif name in ("created_at", "agent_last_event_created_at", "customer_last_event_created_at"):
            p = range_filter(spec, name, parse=clock.parse)
            if name == "created_at":
                checks.append(lambda c, p=p: p(c["_created_us"]))
            else:
                checks.append(lambda c, p=p, n=name: bool(c.get(n)) and p(clock.parse(c[n], n)))
        elif name in ("chats_count", "threads_count", "visits_count"):
            p = range_filter(spec, name)
            checks.append(lambda c, p=p, n=name: p(c["statistics"][n]))
        else:
            raise validation(f"filters: unknown filter {name}")
    return lambda c: all(check(c) for check in checks)


@method("agent", "list_customers", scopes=("customers:ro",), versions=("3.5",))
def list_customers(call: Call):
    store = call.store
    q = parse_query(call.body, "list_customers", default_limit=10)
    sort_by = q.filters.get("_", {}).get("sort_by", "created_at")
    if sort_by not in CUSTOMER_SORTS:
        raise validation(f"sort_by: must be one of {', '.join(CUSTOMER_SORTS)}")
    pred = _customer_predicate(q.filters)
    key = CUSTOMER_SORTS[sort_by]
    items = store.customers_sorted if sort_by == "created_at" else store.cached_count(
        ("customers_by", sort_by), lambda: sorted(store.customers.values(), key=key))
    found, next_id, prev_id = page(items, key, pred, q, "list_customers")
    total = store.cached_count(("list_customers", repr(sorted(q.filters.items()))),
                               lambda: sum(1 for c in store.customers_sorted if pred(c)))
    out = {"customers": [customer_json(c, call.version) for c in found], "total_customers": total}
    return with_page_ids(out, next_id, prev_id)


@method("agent", "get_customer", scopes=("customers:ro",))
def get_customer(call: Call):
    customer = call.store.customers.get(_required_str(call.body, "id"))
    if customer is None:
        raise not_found("Customer not found")
    return customer_json(customer, call.version, with_chat_ids=True)


def _customer_fields(body: dict) -> dict:
    out = {}
    for key in ("name", "email", "avatar"):
        if body.get(key) is not None:
            if not isinstance(body[key], str):
                raise validation(f"{key}: must be a string")
            out[key] = body[key]
    if "email" in out and not EMAIL.match(out["email"]):
        raise validation("email: is not a valid email address")
    if body.get("session_fields") is not None:
        fields = body["session_fields"]
        if not isinstance(fields, list) or not all(
                isinstance(f, dict) and len(f) == 1 and all(isinstance(v, str) for v in f.values()) for f in fields):
            raise validation("session_fields: must be an array of single-key objects with string values")
        out["session_fields"] = fields
    return out


@method("agent", "create_customer", scopes=("customers:rw",), versions=("3.5",))
def create_customer(call: Call):
    fields = _customer_fields(call.body)
    now = clock.now_us()
    customer = {"id": str(uuid.uuid4()), "type": "customer", "session_fields": [],
                "statistics": {"chats_count": 0, "threads_count": 0, "visits_count": 0},
                "created_at": clock.fmt(now), "chat_ids": [], "_created_us": now, **fields}
    call.store.add_customer(customer)
    call.sandbox.webhooks.emit("incoming_customer", {"customer": customer_json(customer, call.version)})
    return {"customer_id": customer["id"]}


@method("agent", "update_customer", scopes=("customers:rw",))
def update_customer(call: Call):
    customer = call.store.customers.get(_required_str(call.body, "id"))
    if customer is None:
        raise not_found("Customer not found")
    fields = _customer_fields(call.body)
    if not fields:
        raise validation("Nothing to update: send at least one of name, email, avatar, session_fields")
    customer.update(fields)
    call.store.touch()
    return {}


# --- the customer side, for tests (not part of the Agent API) ---------------------------------
def customer_writes(sandbox, body: dict) -> dict:
    """A customer sends a message: into the active thread, or starting a new thread or chat."""
    store = sandbox.store
    text = body.get("text")
    if not isinstance(text, str) or not text:
        raise validation("text: is required")
    with store.lock:
        call = Call(sandbox, None, body, "3.5")
        if body.get("chat_id"):
            chat = _chat(store, body["chat_id"])
        else:
            customer = store.customers.get(body.get("customer_id"))
            if customer is None:
                raise not_found("Customer not found")
            chat = Chat(id=make_id(_id_rng), customer_id=customer["id"], threads=[], group_ids=[0])
        customer = store.customers[chat.customer_id]
        agent = next(iter(store.agents))
        if not chat.threads or not chat.last_thread.active:
            thread = _new_thread(store, chat, [customer["id"], agent], True, chat.group_ids, None)
            if chat.threads:
                store.add_thread(chat, thread)
            else:
                chat.threads.append(thread)
                store.add_chat(chat)
                customer["chat_ids"].append(chat.id)
            _refresh_customer(store, customer)
            sandbox.webhooks.emit("incoming_chat", {"chat": chat_json(store, chat)})
        ev = build_event(store, {"type": "message", "text": text}, customer["id"])
        ev = _post_event(call, chat.last_thread, ev, author_type="customer")
        return {"chat_id": chat.id, "thread_id": chat.last_thread.id, "event_id": ev["id"]}


def agent_app_action(sandbox, body: dict) -> dict:
    """What agents do in the LiveChat app, not through the API: go online or offline (closing the app
    logs them out; routing statuses: agent-chat-api/index.mdx, Set Routing Status), or delete an event
    (v3.6 models deleted events and sends `event_deleted`: management/webhooks/index.mdx)."""
    store = sandbox.store
    with store.lock:
        if "routing_status" in body:
            agent = store.agents.get(body.get("agent_id"))
            if agent is None:
                raise not_found("Agent not found")
            if body["routing_status"] not in ("accepting_chats", "not_accepting_chats", "offline"):
                raise validation("routing_status: must be accepting_chats, not_accepting_chats or offline")
            agent["_routing_status"] = body["routing_status"]
            store.touch()
            return {"agent_id": agent["id"], "routing_status": agent["_routing_status"]}
        chat = _chat(store, body.get("chat_id"))
        thread = _thread(store, chat, body.get("thread_id"))
        if store.delete_event(thread, body.get("event_id")) is None:
            raise not_found("Event not found")
        sandbox.webhooks.emit("event_deleted", {"chat_id": chat.id, "thread_id": thread.id,
                                                "event_id": body["event_id"]})
        return {}
