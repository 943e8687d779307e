"""Deterministic workspace data from a seed: departments, tags, agents, a manager, visitors, rooms and messages.

Rooms are created a few minutes to a few hours apart from 2024-01-01 on; about a third are open
(some of those still queued, a few on hold), the rest closed by their agent with a closing comment. Roughly one
room in four holds a file message. The same `(seed, rooms)` always gives the same workspace.

Besides the four working departments there is a disabled one and an archived one, both without agents.
Tags have ids derived from their names (the same in every seed); some are bound to departments. One
agent's Omnichannel status is `not-available`.
"""
from __future__ import annotations

import hashlib
import random
import urllib.parse

from .state import Store, iso, markdown, object_id, random_id, stable_id

START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00.000Z
DEPARTMENTS = ("Sales", "Support", "Billing", "Onboarding")
EXTRA_DEPARTMENTS = (("Partners", {"enabled": False}), ("Legacy", {"enabled": False, "archived": True}))
TAGS = ("billing", "bug", "feature-request", "vip", "refund", "onboarding", "urgent", "feedback")
TAG_DEPARTMENTS = {"billing": ("Billing",), "refund": ("Billing", "Sales"), "bug": ("Support",),
                   "onboarding": ("Onboarding",)}
TAG_DESCRIPTIONS = {"billing": "Invoices and payments", "bug": "Something does not work",
                    "feature-request": "Asks for something new", "vip": "Key account", "refund": "Money back",
                    "onboarding": "Getting started", "urgent": "Answer first"}
FIRST = ("Ada", "Bruno", "Chen", "Dana", "Emeka", "Fatima", "Goran", "Hana", "Ivan", "Julia", "Kofi", "Lena",
         "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Yara")
LAST = ("Alvarez", "Berg", "Costa", "Dubois", "Eze", "Fischer", "Garcia", "Hughes", "Ito", "Jensen", "Kowalski",
        "Lopez", "Moreau", "Novak", "Okafor", "Petrov", "Rossi", "Silva", "Tanaka", "Weber")
VISITOR_LINES = ("Hi, I need help with my order", "My invoice looks wrong", "The app crashes on login",
                 "Can I change my plan?", "Is there a discount for teams?", "Thanks, that worked!",
                 "I still see the error", "Where do I find the export button?", "Please cancel my subscription",
                 "Could you resend the confirmation email?")
AGENT_LINES = ("Hello! Let me look into that for you.", "Could you share a screenshot?",
               "I have fixed it on our side.", "You can find it under Settings > Billing.",
               "I've sent the email again.", "Anything else I can help with?",
               "I'm forwarding this to our billing team.", "Thanks for your patience.")
FILES = (("screenshot.png", "image/png", "png"), ("invoice.pdf", "application/pdf", "pdf"),
         ("error log.txt", "text/plain", "txt"), ("photo.jpg", "image/jpeg", "jpg"))
CLOSE_COMMENTS = ("Resolved", "Customer stopped answering", "Answered the question", "Duplicate conversation")


def seed_store(store: Store, seed: int, rooms: int) -> dict:
    """Fill `store`; returns the ids of the seeded principals (manager, restricted user)."""
    rng = random.Random(seed)
    for i, name in enumerate(DEPARTMENTS):
        _department(store, random_id(rng), name, i)
    dep_ids = list(store.departments)
    manager = _user(rng, "sandbox.manager", "Sandbox Manager", ["user", "admin", "livechat-manager"])
    store.users[manager["_id"]] = manager
    agents = []
    for i in range(8):
        first, last = FIRST[i], LAST[i]
        agent = _user(rng, f"{first.lower()}.{last.lower()}", f"{first} {last}", ["user", "livechat-agent"])
        agent["departments"] = [dep_ids[i % len(dep_ids)]]
        store.departments[dep_ids[i % len(dep_ids)]]["numAgents"] += 1
        store.users[agent["_id"]] = agent
        agents.append(agent)
    agents[-1]["statusLivechat"] = "not-available"
    restricted = _user(rng, "plain.user", "Plain User", ["user"])
    store.users[restricted["_id"]] = restricted
    for user in store.users.values():
        store.tokens[(user["_id"], _token(rng))] = user["_id"]

    visitors = []
    for i in range(max(1, rooms * 2 // 3)):
        ms = START_MS + i * 60_000
        name = f"{FIRST[rng.randrange(len(FIRST))]} {LAST[rng.randrange(len(LAST))]}"
        visitor = {"_id": object_id(rng, ms), "username": f"guest-{i + 1}", "token": rng.randbytes(16).hex(),
                   "status": rng.choice(("online", "away", "offline", "offline")), "ts": iso(ms),
                   "_updatedAt": iso(ms), "name": name}
        if rng.random() < 0.8:
            visitor["visitorEmails"] = [{"address": f"{name.lower().replace(' ', '.')}{i + 1}@example.org"}]
        if rng.random() < 0.5:
            visitor["phone"] = [{"phoneNumber": f"+1555{rng.randrange(10**7):07d}"}]
        if rng.random() < 0.5:
            visitor["department"] = rng.choice(dep_ids)
        store.add_visitor(visitor)
        visitors.append(visitor)

    ms = START_MS + 86_400_000
    for i in range(rooms):
        ms += rng.randrange(120_000, 4 * 3_600_000)
        visitor = visitors[i % len(visitors)] if i < len(visitors) else rng.choice(visitors)
        _seed_room(store, rng, visitor, agents, dep_ids, ms, i, rooms)
    for i, (name, fields) in enumerate(EXTRA_DEPARTMENTS, start=len(DEPARTMENTS)):
        _department(store, stable_id("department", seed, name), name, i).update(fields)
    _seed_tags(store)
    return {"manager": manager["_id"], "restricted": restricted["_id"]}


def _department(store: Store, dep_id: str, name: str, i: int) -> dict:
    department = store.departments[dep_id] = {
        "_id": dep_id, "name": name, "enabled": True, "showOnRegistration": True, "showOnOfflineForm": True,
        "email": f"{name.lower()}@example.com", "description": f"{name} team", "type": "d", "numAgents": 0,
        "archived": False, "requestTagBeforeClosingChat": False, "chatClosingTags": [],
        "offlineMessageChannelName": "", "abandonedRoomsCloseCustomMessage": "", "waitingQueueMessage": "",
        "departmentsAllowedToForward": [], "fallbackForwardDepartment": "",
        "_updatedAt": iso(START_MS - 86_400_000 + i)}
    return department


def tag_id(name: str) -> str:
    """The id of a seeded tag: derived from its name alone."""
    return stable_id("livechat-tag", name)


def _seed_tags(store: Store) -> None:
    by_name = {d["name"]: d["_id"] for d in store.departments.values()}
    for i, name in enumerate(TAGS):
        departments = [by_name[d] for d in TAG_DEPARTMENTS.get(name, ())]
        tag = {"_id": tag_id(name), "name": name, "numDepartments": len(departments), "departments": departments,
               "_updatedAt": iso(START_MS - 43_200_000 + i)}
        if name in TAG_DESCRIPTIONS:
            tag["description"] = TAG_DESCRIPTIONS[name]
        store.tags[tag["_id"]] = tag


def _user(rng: random.Random, username: str, name: str, roles: list[str]) -> dict:
    uid = random_id(rng)
    return {"_id": uid, "username": username, "name": name, "type": "user", "active": True, "roles": roles,
            "status": rng.choice(("online", "away", "offline")), "statusLivechat": "available",
            "emails": [{"address": f"{username}@sandbox.example.com", "verified": True}],
            "createdAt": iso(START_MS - 172_800_000), "_updatedAt": iso(START_MS - 172_800_000)}


def _token(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(43))


def _seed_room(store: Store, rng: random.Random, visitor: dict, agents: list[dict], dep_ids: list[str],
               ms: int, i: int, total: int) -> None:
    recent = i >= total - max(1, total // 3)  # the newest third is mostly open
    is_open = recent and rng.random() < 0.85
    queued = is_open and rng.random() < 0.15
    agent = rng.choice(agents)
    rid = random_id(rng)
    room = {"_id": rid, "msgs": 0, "usersCount": 1 if queued else 2, "fname": visitor["name"], "name": visitor["name"],
            "t": "l", "ts": iso(ms), "v": {"_id": visitor["_id"], "username": visitor["username"],
                                          "token": visitor["token"], "status": visitor["status"]},
            "cl": False, "departmentId": agent["departments"][0] if not queued else rng.choice(dep_ids),
            "source": {"type": "widget"}, "_updatedAt": iso(ms), "livechatData": {}, "metrics": {"v": {"lq": iso(ms)}},
            "queuedAt": iso(ms)}
    if is_open:
        room["open"] = True
    if not queued:
        room["servedBy"] = {"_id": agent["_id"], "username": agent["username"], "ts": iso(ms + 1500)}
        if is_open and i % 9 == 4:  # placed on hold by its agent (Enterprise's livechat:placeOnHold), no rng draw
            room["onHold"] = True
    tags = sorted(rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2, 3))))
    if tags:
        room["tags"] = tags
    if rng.random() < 0.2:
        room["livechatData"] = {"orderId": str(100_000 + i)}
    store.add_room(room)
    t = ms + 1000
    file_at = rng.randrange(1, 4) if rng.random() < 0.25 else -1
    for n in range(rng.randrange(2, 9) if not queued else 1):
        t += rng.randrange(5_000, 600_000)
        from_visitor = queued or n % 2 == 0
        if n == file_at:
            msg = file_message(store, rng, room, visitor if from_visitor else agent, from_visitor, t,
                               *FILES[rng.randrange(len(FILES))], size=rng.randrange(2_000, 200_000))
        elif from_visitor:
            msg = text_message(rng, room, visitor, True, t, rng.choice(VISITOR_LINES))
        else:
            msg = text_message(rng, room, agent, False, t, rng.choice(AGENT_LINES))
        store.add_message(room, msg)
    if not is_open:
        t += rng.randrange(60_000, 3_600_000)
        close_room(store, room, agent, rng.choice(CLOSE_COMMENTS), t, rng)


def display_name(person: dict) -> str:
    """A user's or visitor's name; a visitor registered without one goes by their username."""
    return person.get("name") or person["username"]


def text_message(rng: random.Random, room: dict, author: dict, from_visitor: bool, ms: int, text: str,
                 mid: str | None = None) -> dict:
    msg = {"_id": mid or random_id(rng), "rid": room["_id"], "msg": text, "ts": iso(ms),
           "u": {"_id": author["_id"], "username": author["username"], "name": display_name(author)},
           "_updatedAt": iso(ms), "urls": [], "mentions": [], "channels": [], "md": markdown(text)}
    if from_visitor:
        msg["token"] = author["token"]
        msg["alias"] = display_name(author)
    return msg


def file_url(file_id: str, name: str) -> str:
    """Where a stored file downloads (`FileUpload.getPath`): relative to the server."""
    return f"/file-upload/{file_id}/{urllib.parse.quote(name)}"


def file_message(store: Store, rng: random.Random, room: dict, author: dict, from_visitor: bool, ms: int,
                 name: str, content_type: str, fmt: str, size: int, data: bytes | None = None,
                 description: str = "", file_id: str | None = None, text: str = "") -> dict:
    """A message carrying one uploaded file, with the `file`, `files` and `attachments` Rocket.Chat adds.

    The file is stored under a new id, or under `file_id` when it was uploaded before (`rooms.media`)."""
    file_id = file_id or object_id(rng, ms)
    store.files[file_id] = {**store.files.get(file_id, {}), "rid": room["_id"], "name": name, "type": content_type,
                            "size": size, "data": data}
    link = file_url(file_id, name)
    attachment = {"ts": "1970-01-01T00:00:00.000Z", "title": name, "title_link": link,
                  "title_link_download": True, "type": "file", "description": description}
    if content_type.startswith("image/"):
        attachment.update({"image_url": link, "image_type": content_type, "image_size": size,
                           "image_dimensions": {"width": 640, "height": 480}})
    if description:
        attachment["descriptionMd"] = markdown(description)
    info = {"_id": file_id, "name": name, "type": content_type, "size": size, "format": fmt}
    msg = {"_id": random_id(rng), "rid": room["_id"], "msg": text, "ts": iso(ms), "groupable": False,
           "file": {k: info[k] for k in ("_id", "name", "type", "size", "format")}, "files": [info],
           "attachments": [attachment],
           "u": {"_id": author["_id"], "username": author["username"], "name": display_name(author)},
           "_updatedAt": iso(ms), "urls": [], "mentions": [], "channels": []}
    if text:
        msg["md"] = markdown(text)
    if from_visitor:
        msg["token"] = author["token"]
        msg["alias"] = display_name(author)
    return msg


def close_room(store: Store, room: dict, closer: dict, comment: str, ms: int, rng: random.Random,
               tags: list[str] | None = None) -> None:
    """What `room.closeByUser` leaves: `open` unset, closing fields, a `livechat-close` system message."""
    room.pop("open", None)
    room.update({"closedAt": iso(ms), "closedBy": {"_id": closer["_id"], "username": closer["username"]},
                 "closer": "user", "_updatedAt": iso(ms), "waitingResponse": False})
    room["metrics"]["chatDuration"] = round((ms - _ms(room["ts"])) / 1000, 3)
    if tags is not None:
        room["tags"] = list(tags)
    store.add_message(room, {"_id": random_id(rng), "rid": room["_id"], "t": "livechat-close", "msg": comment,
                             "groupable": False, "ts": iso(ms),
                             "u": {"_id": closer["_id"], "username": closer["username"], "name": closer["name"]},
                             "_updatedAt": iso(ms), "urls": [], "mentions": [], "channels": []})


def _ms(text: str) -> int:
    import datetime

    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def seeded_file_bytes(file_id: str, size: int) -> bytes:
    """The content of a seeded file: deterministic bytes of the advertised size."""
    out = bytearray()
    block = hashlib.sha256(file_id.encode()).digest()
    while len(out) < size:
        out += block
        block = hashlib.sha256(block).digest()
    return bytes(out[:size])
