"""The sandbox's in-memory license: agents, groups, tags, customers, chats, threads, files.

Built to stay fast at 100 000 chats: threads keep a compact plan of their seeded events and
expand it on read (see `seed.expand_events`); only threads that receive new events hold a list.
Threads and chats are kept sorted by `(created_at, id)` so list calls page by bisection.
"""
from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

from . import clock


@dataclass(slots=True)
class Thread:
    id: str
    chat_id: str
    created_at: int
    active: bool
    user_ids: list[str]
    tags: list[str]
    group_ids: list[int]
    seed: int = 0
    plan: tuple = ()
    events: list | None = None
    properties: dict = field(default_factory=dict)
    previous_thread_id: str | None = None
    next_thread_id: str | None = None

    @property
    def sort_key(self) -> tuple:
        return (self.created_at, self.id)


@dataclass(slots=True)
class Chat:
    id: str
    customer_id: str
    threads: list[Thread]
    group_ids: list[int]
    properties: dict = field(default_factory=dict)
    is_followed: bool = False
    agents_only: set = field(default_factory=set)  # agents added with visibility "agents"

    @property
    def last_thread(self) -> Thread:
        return self.threads[-1]

    @property
    def sort_key(self) -> tuple:
        return (self.threads[-1].created_at, self.id)


def _thread_key(t: Thread) -> tuple:
    return (t.created_at, t.id)


def _chat_key(c: Chat) -> tuple:
    return (c.threads[-1].created_at, c.id)


def _customer_key(c: dict) -> tuple:
    return (c["_created_us"], c["id"])


class Store:
    """Everything one LiveChat license holds. Callers hold `lock` around reads and writes."""

    def __init__(self, license_id: int, organization_id: str):
        self.lock = threading.RLock()
        self.license_id = license_id
        self.organization_id = organization_id
        self.agents: dict[str, dict] = {}
        self.bots: dict[str, dict] = {}  # bot agents (Configuration API list_bots), not in list_agents
        self.groups: list[dict] = []
        self.tags: dict[str, dict] = {}
        self.customers: dict[str, dict] = {}
        self.customers_sorted: list[dict] = []
        self.chats: dict[str, Chat] = {}
        self.chats_sorted: list[Chat] = []
        self.threads: dict[str, Thread] = {}
        self.threads_sorted: list[Thread] = []
        self.files: dict[str, tuple[str, bytes]] = {}
        self.version = 0  # bumped on every write; keys cached counts
        self._count_cache: dict = {}
        self.cdn_base = ""

    # --- writes -----------------------------------------------------------------------------
    def touch(self) -> None:
        self.version += 1
        self._count_cache.clear()

    def add_customer(self, customer: dict) -> None:
        self.customers[customer["id"]] = customer
        bisect.insort(self.customers_sorted, customer, key=_customer_key)
        self.touch()

    def add_chat(self, chat: Chat) -> None:
        self.chats[chat.id] = chat
        for t in chat.threads:
            self.threads[t.id] = t
            bisect.insort(self.threads_sorted, t, key=_thread_key)
        bisect.insort(self.chats_sorted, chat, key=_chat_key)
        self.touch()

    def add_thread(self, chat: Chat, thread: Thread) -> None:
        """Append a new (latest) thread to a chat and re-sort the chat."""
        i = bisect.bisect_left(self.chats_sorted, _chat_key(chat), key=_chat_key)
        assert self.chats_sorted[i] is chat
        del self.chats_sorted[i]
        prev = chat.threads[-1]
        prev.next_thread_id = thread.id
        thread.previous_thread_id = prev.id
        chat.threads.append(thread)
        self.threads[thread.id] = thread
        bisect.insort(self.threads_sorted, thread, key=_thread_key)
        bisect.insort(self.chats_sorted, chat, key=_chat_key)
        self.touch()

    def append_event(self, thread: Thread, event: dict) -> dict:
        from .seed import expand_events

        if thread.events is None:
            thread.events = expand_events(self, thread)
        event["id"] = f"{thread.id}_{len(thread.events) + 1}"
        thread.events.append(event)
        self.touch()
        return event

    # --- reads ------------------------------------------------------------------------------
    def events(self, thread: Thread) -> list[dict]:
        from .seed import expand_events

        return thread.events if thread.events is not None else expand_events(self, thread)

    def visible_events(self, thread: Thread, version: str) -> list[dict]:
        """The thread's events as `version` shows them.

        v3.6 added deleted events: they stay in the thread with `deleted: true` (the original event for
        administrators and owners, a stub for `normal` agents: messaging/agent-chat-api/data-structures/
        index.mdx, "Deleted event"; payloads/messaging/v3.6/agent-chat-api/events/deletedEvent.json).
        v3.5 documents no deleted events (v3.5/data-structures/index.mdx): the sandbox leaves them out.
        """
        events = self.events(thread)
        if version == "3.5" and any(e.get("deleted") for e in events):
            return [e for e in events if not e.get("deleted")]
        return events  # the thread's own list: a webhook snapshot taken later sees events added meanwhile

    def delete_event(self, thread: Thread, event_id: str) -> dict | None:
        from .seed import expand_events

        if thread.events is None:
            thread.events = expand_events(self, thread)
        ev = next((e for e in thread.events if e["id"] == event_id), None)
        if ev is not None:
            ev["deleted"] = True
            self.touch()
        return ev

    def thread_json(self, thread: Thread, version: str = "3.5") -> dict:
        out = {
            "id": thread.id,
            "active": thread.active,
            "user_ids": list(thread.user_ids),
            "events": self.visible_events(thread, version),
            "properties": thread.properties,
            "access": {"group_ids": list(thread.group_ids)},
            "tags": list(thread.tags),
            "created_at": clock.fmt(thread.created_at),
        }
        if thread.previous_thread_id:
            out["previous_thread_id"] = thread.previous_thread_id
        if thread.next_thread_id:
            out["next_thread_id"] = thread.next_thread_id
        return out

    def chat_users(self, chat: Chat, version: str = "3.5") -> list[dict]:
        customer = self.customers.get(chat.customer_id)
        users = []
        if customer:
            user = customer_json(customer, version)
            user.update({"present": chat.last_thread.active, "events_seen_up_to": clock.fmt(chat.sort_key[0])})
            users.append(user)
        agent_ids = []
        for t in chat.threads:
            agent_ids += [u for u in t.user_ids if (u in self.agents or u in self.bots) and u not in agent_ids]
        for agent_id in agent_ids:
            # Bots are agents in a chat's users (type "agent", a 32-hex id, no email): the chat sample
            # of payloads/messaging/v3.6/customer-chat-api/other-structures/chat.json.
            a = self.agents.get(agent_id) or self.bots[agent_id]
            user = {"id": a["id"], "type": "agent", "name": a["name"]}
            if agent_id in self.agents:
                user["email"] = a["id"]
            user.update({
                "present": chat.last_thread.active and agent_id in chat.last_thread.user_ids,
                "events_seen_up_to": clock.fmt(chat.sort_key[0]), "avatar": a["avatar_path"],
                "visibility": "agents" if agent_id in chat.agents_only else "all",
            })
            users.append(user)
        return users

    def group_status(self, group_id: int) -> str:
        """A group's routing status from its members': accepting_chats if one accepts chats,
        not_accepting_chats if one is online, else offline (the values of list_groups' `routing_status`:
        management/configuration-api/index.mdx; payloads/management/v3.6/.../groups/listGroups.json)."""
        statuses = {a["_routing_status"] for a in [*self.agents.values(), *self.bots.values()]
                    if "_routing_status" in a and any(g["id"] == group_id for g in a["groups"])}
        for status in ("accepting_chats", "not_accepting_chats"):
            if status in statuses:
                return status
        return "offline"

    def cached_count(self, key, compute):
        if key not in self._count_cache:
            self._count_cache[key] = compute()
        return self._count_cache[key]


def customer_json(customer: dict, version: str, with_chat_ids: bool = False) -> dict:
    """The customer as LiveChat answers it in `version`, without the sandbox's private keys.

    - v3.6 renamed `last_visit` to `visit` and added `phone_number` (messaging/agent-chat-api/
      changelog/index.mdx, [v3.6] Customers; payloads/messaging/v3.6/agent-chat-api/users/customer.json);
    - `chat_ids` is a field of the Get Customer answer only (messaging/agent-chat-api/index.mdx and
      v3.5/index.mdx, "Get Customer" response table); the Customer data structure that lists and chat
      users carry has none (payloads/messaging/v3.{5,6}/agent-chat-api/users/customer.json, chat.json).
    """
    out = {}
    for key, value in customer.items():
        if key.startswith("_") or (key == "chat_ids" and not with_chat_ids):
            continue
        if key == "chat_ids" and not value:
            continue  # "Returned only if the customer had at least one chat"
        if key == "last_visit" and version != "3.5":
            key = "visit"
        if key == "phone_number" and version == "3.5":
            continue
        out[key] = value
    return out
