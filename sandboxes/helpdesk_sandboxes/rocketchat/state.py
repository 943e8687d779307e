"""The sandbox's in-memory workspace: users (agents, a manager), departments, tags, visitors, rooms, messages,
files.

Documents are kept in Rocket.Chat's own shapes (what the REST API returns), with dates as ISO 8601
strings in Rocket.Chat's format (`2024-01-26T00:11:22.345Z`), which sort as text. Callers hold
`lock` around reads and writes.
"""
from __future__ import annotations

import datetime
import hashlib
import random
import string
import threading
import time

ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"  # Meteor's Random.id()


def iso(ms: int) -> str:
    dt = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_iso(text: str) -> str | None:
    """Any ISO 8601 date(-time) as Rocket.Chat's canonical text, or None when it is not one."""
    if not isinstance(text, str) or not text:
        return None
    try:
        dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.UTC)
    return iso(int(dt.timestamp() * 1000))


def random_id(rng: random.Random, n: int = 17) -> str:
    return "".join(rng.choice(ID_ALPHABET) for _ in range(n))


def stable_id(*parts) -> str:
    """A Meteor-style id derived from `parts`: the same parts always give the same id (seeded documents)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return "".join(ID_ALPHABET[b % len(ID_ALPHABET)] for b in digest[:17])


def object_id(rng: random.Random, ms: int) -> str:
    """A MongoDB ObjectId: seconds, then random bytes (visitors and files use these)."""
    return f"{ms // 1000:08x}" + "".join(rng.choice(string.hexdigits[:16]) for _ in range(16))


def markdown(text: str) -> list:
    """The `md` AST Rocket.Chat stores with a plain-text message."""
    return [{"type": "PARAGRAPH", "value": [{"type": "PLAIN_TEXT", "value": text}]}]


class Store:
    def __init__(self, rng: random.Random):
        self.lock = threading.RLock()
        self.rng = rng  # ids of new documents
        self.users: dict[str, dict] = {}
        self.tokens: dict[tuple[str, str], str] = {}  # (user id, personal access token) -> user id
        self.departments: dict[str, dict] = {}
        self.tags: dict[str, dict] = {}  # tag id -> tag; rooms keep tag names, as Rocket.Chat does
        self.visitors: dict[str, dict] = {}
        self.visitors_by_token: dict[str, dict] = {}
        self.rooms: dict[str, dict] = {}  # insertion order is creation order
        self.messages: dict[str, list[dict]] = {}  # room id -> messages, oldest first
        self.messages_by_id: dict[str, dict] = {}
        self.files: dict[str, dict] = {}  # file id -> {"rid", "name", "type", "size", "data" (None: seeded),
        #                                   "userId" (uploads through `rooms.media`)}
        self.guest_count = 0  # the last `guest-N` username handed out
        self._last_ms = 0

    def now_ms(self) -> int:
        """The wall clock in milliseconds, strictly increasing so new documents never share a timestamp."""
        self._last_ms = max(int(time.time() * 1000), self._last_ms + 1)
        return self._last_ms

    def iso_now(self) -> str:
        return iso(self.now_ms())

    def add_visitor(self, visitor: dict) -> None:
        number = visitor["username"].removeprefix("guest-")
        if number.isdigit():
            self.guest_count = max(self.guest_count, int(number))
        self.visitors[visitor["_id"]] = visitor
        self.visitors_by_token[visitor["token"]] = visitor

    def add_room(self, room: dict) -> None:
        self.rooms[room["_id"]] = room
        self.messages.setdefault(room["_id"], [])
        visitor = self.visitors.get(room["v"]["_id"])
        if visitor is not None:
            visitor["lastChat"] = {"_id": room["_id"], "ts": room["ts"]}

    def add_message(self, room: dict, message: dict) -> dict:
        """Append a message and keep the room's counters, last message and waiting flag in step."""
        self.messages[room["_id"]].append(message)
        self.messages_by_id[message["_id"]] = message
        if message.get("t"):  # system messages do not count as the room's last message
            return message
        room["msgs"] = room.get("msgs", 0) + 1
        room["lm"] = message["ts"]
        room["_updatedAt"] = message["_updatedAt"]
        room["lastMessage"] = {k: v for k, v in message.items() if k != "md"}
        from_visitor = "token" in message
        room["waitingResponse"] = from_visitor
        if from_visitor:
            room["v"]["lastMessageTs"] = message["ts"]
            room.setdefault("metrics", {}).setdefault("v", {})["lq"] = message["ts"]
        elif "responseBy" not in room and room.get("servedBy"):
            room["responseBy"] = {"_id": message["u"]["_id"], "username": message["u"]["username"],
                                  "firstResponseTs": message["ts"], "lastMessageTs": message["ts"]}
        return message
