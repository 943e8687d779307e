"""One helpdesk as the unified tests see it: the service client and account, the sandbox, and an *oracle*
that reads the expected data straight from that helpdesk's sandbox over its own wire protocol.

The unified tests ask the oracle questions ("which ticket ids, newest first", "the comment ids of
ticket X", "a ticket with files"...) and never know which helpdesk answers them. What differs between
helpdesks in *behaviour* (can a closed ticket be reopened, are there private comments, which writes are
unsupported) is a property of the oracle too.
"""
from __future__ import annotations

import functools
import json
import re
from collections import Counter
from dataclasses import dataclass

import requests

from tests.conftest import ServiceClient, lc_call, sandbox_all, traverse

_SESSION = requests.Session()
BOT_ID = re.compile(r"^[0-9a-f]{32}$")  # LiveChat bot agents


def _cached(fn):
    """Memoize on a read-only sandbox (static oracle); read afresh on a writable one."""
    @functools.wraps(fn)
    def wrapper(self, *args):
        if not self.static:
            return fn(self, *args)
        key = (fn.__name__, *args)
        if key not in self._cache:
            self._cache[key] = fn(self, *args)
        return self._cache[key]
    return wrapper


class Oracle:
    name: str
    title: str  # how error messages name the helpdesk
    can_reopen: bool  # a comment on a closed ticket reopens it / PATCH status open works
    private_comments: bool  # is_private comments exist
    raw_id_key: str  # the id's key in a raw (format=raw) record
    # contact fields only one of the two routes can fill (list or one contact: the other leaves their
    # source out)
    contact_partial_fields: frozenset = frozenset()

    def __init__(self, sandbox, static: bool):
        self.sandbox = sandbox
        self.static = static
        self._cache: dict = {}

    # tickets -------------------------------------------------------------------------------------
    def ticket_ids(self) -> list[str]:
        """Every ticket, newest first."""
        raise NotImplementedError

    def ticket_ids_where(self, status=None, tag=None, assignee=None, contact=None) -> set[str]:
        raise NotImplementedError

    def ticket_entries(self) -> int:
        """How many entries the helpdesk's own ticket list has (more than tickets where a ticket comes more
        than once)."""
        raise NotImplementedError

    def used_tag(self) -> str:
        raise NotImplementedError

    def serving_agent(self) -> str:
        raise NotImplementedError

    def busy_contact(self) -> str:
        raise NotImplementedError

    def open_ticket(self) -> str:
        raise NotImplementedError

    def closed_ticket(self) -> str:
        raise NotImplementedError

    def status_of(self, ticket_id: str) -> str:
        raise NotImplementedError

    def tags_of(self, ticket_id: str) -> list[str]:
        raise NotImplementedError

    # comments and attachments --------------------------------------------------------------------
    def comment_ids(self, ticket_id: str) -> list[str]:
        raise NotImplementedError

    def comment_text(self, ticket_id: str, comment_id: str) -> str | None:
        raise NotImplementedError

    def busy_ticket(self) -> str:
        raise NotImplementedError

    def tickets_with_files(self) -> list[str]:
        raise NotImplementedError

    def attachments(self, ticket_id: str) -> list[dict]:
        """[{id, file_name, content_type, file_size, url}] of the ticket, oldest first."""
        raise NotImplementedError

    def download(self, url: str) -> bytes:
        raise NotImplementedError

    # directory -----------------------------------------------------------------------------------
    def contact_ids(self) -> list[str]:
        raise NotImplementedError

    def contact_emails(self) -> dict[str, list[str]]:
        """contact id -> its email addresses."""
        raise NotImplementedError

    def user_ids(self) -> list[str]:
        raise NotImplementedError

    def team_ids(self) -> list[str]:
        raise NotImplementedError

    def tag_names(self) -> list[str]:
        raise NotImplementedError

    # writes this helpdesk refuses as unsupported: (HTTP method, resource)
    unsupported: frozenset = frozenset()


class LiveChatOracle(Oracle):
    """LiveChat's agent/configuration API (v3.5): chats are tickets, their threads' events comments."""
    name = "livechat"
    title = "LiveChat"
    can_reopen = True
    private_comments = True
    raw_id_key = "id"
    # chat_ids (ticket_ids) is in get_customer's answer only, never in list_customers' or chat users'
    contact_partial_fields = frozenset({"ticket_ids"})

    @_cached
    def archives(self) -> list[dict]:
        """One entry per thread, as list_archives answers."""
        return sandbox_all(self.sandbox, "list_archives", "chats", {"limit": 100})

    @_cached
    def chats(self) -> list[dict]:
        return sandbox_all(self.sandbox, "list_chats", "chats_summary", {"limit": 100})

    @_cached
    def threads(self, chat_id: str) -> list[dict]:
        return sandbox_all(self.sandbox, "list_threads", "threads",
                           {"chat_id": chat_id, "sort_order": "asc", "limit": 100})

    def ticket_ids(self):
        seen, order = set(), []
        for entry in sorted(self.archives(), key=lambda e: (e["thread"]["created_at"], e["thread"]["id"]),
                            reverse=True):
            if entry["id"] not in seen:
                seen.add(entry["id"])
                order.append(entry["id"])
        return order

    def ticket_entries(self):
        return len(self.archives())  # one per thread

    def _agents(self, entry) -> list[str]:
        """The thread's assignees: its agents, not bots (32-hex ids)."""
        agents = {u["id"] for u in entry["users"] if u["type"] == "agent" and not BOT_ID.match(u["id"])}
        return [u for u in entry["thread"]["user_ids"] if u in agents]

    def _customer(self, entry) -> str | None:
        return next((u["id"] for u in entry["users"] if u["type"] == "customer"), None)

    def ticket_ids_where(self, status=None, tag=None, assignee=None, contact=None):
        if status is not None:  # the latest thread's state
            return {c["id"] for c in self.chats() if c["last_thread_summary"]["active"] == (status == "open")}
        # a chat matches when one of its threads does (list_archives filters threads)
        return {e["id"] for e in self.archives()
                if (tag is None or tag in e["thread"]["tags"])
                and (assignee is None or assignee in self._agents(e))
                and (contact is None or self._customer(e) == contact)}

    def used_tag(self):
        return Counter(t for e in self.archives() for t in e["thread"]["tags"]).most_common(1)[0][0]

    def serving_agent(self):
        return Counter(a for e in self.archives() for a in self._agents(e)).most_common(1)[0][0]

    def busy_contact(self):
        per = Counter(self._customer(c) for c in self.chats())
        return per.most_common(1)[0][0]

    def open_ticket(self):
        return next(c["id"] for c in self.chats() if c["last_thread_summary"]["active"])

    def closed_ticket(self):
        return next(c["id"] for c in self.chats() if not c["last_thread_summary"]["active"])

    def _chat(self, chat_id):
        return lc_call(self.sandbox, "get_chat", {"chat_id": chat_id}).json()

    def status_of(self, ticket_id):
        return "open" if self._chat(ticket_id)["thread"]["active"] else "closed"

    def tags_of(self, ticket_id):
        return list(self._chat(ticket_id)["thread"]["tags"])

    def comment_ids(self, ticket_id):
        return [f"{t['id']}:{e['id']}" for t in self.threads(ticket_id) for e in t["events"]]

    def comment_text(self, ticket_id, comment_id):
        return next(e.get("text") for t in self.threads(ticket_id) for e in t["events"]
                    if f"{t['id']}:{e['id']}" == comment_id)

    @_cached
    def busy_ticket(self):
        """The chat with the most threads (comments span threads), and among those the most events."""
        return max(self.chats()[:80], key=lambda c: (len(self.threads(c["id"])), len(self.comment_ids(c["id"])),
                                                     c["id"]))["id"]

    def tickets_with_files(self):
        return [c["id"] for c in self.chats() if "file" in c["last_event_per_type"]][:5]

    def attachments(self, ticket_id):
        return [{"id": f"{t['id']}:{e['id']}", "file_name": e["name"], "content_type": e["content_type"],
                 "file_size": e["size"], "url": e["url"]}
                for t in self.threads(ticket_id) for e in t["events"] if e["type"] == "file"]

    def download(self, url):
        auth = self.sandbox.admin("GET", "credentials")["basic_authorization"]
        resp = _SESSION.get(url, headers={"Authorization": auth}, verify=False, timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.content

    @_cached
    def customers(self):
        return sandbox_all(self.sandbox, "list_customers", "customers", {"limit": 100})

    def contact_ids(self):
        return [c["id"] for c in self.customers()]

    def contact_emails(self):
        return {c["id"]: [c["email"]] if c.get("email") else [] for c in self.customers()}

    def user_ids(self):
        return [a["id"] for a in lc_call(self.sandbox, "list_agents", {}, api="configuration").json()]

    def team_ids(self):
        return [str(g["id"]) for g in lc_call(self.sandbox, "list_groups", {}, api="configuration").json()]

    def tag_names(self):
        return [t["name"] for t in lc_call(self.sandbox, "list_tags", {}, api="configuration").json()]


class RocketChatOracle(Oracle):
    """Rocket.Chat Omnichannel's REST API: rooms are tickets, their messages comments."""
    name = "rocketchat"
    title = "Rocket.Chat"
    can_reopen = False  # Rocket.Chat cannot reopen a closed room
    private_comments = False  # every Omnichannel message reaches the visitor
    raw_id_key = "_id"
    # fields a contact read by id and the list disagree on: visitors.search (the list) projects `ts` away,
    # so only visitors.info (by id) gives created_at
    contact_partial_fields = frozenset({"created_at"})
    # agents cannot open rooms, change visitors or create tags through the API
    unsupported = frozenset({("POST", "tickets"), ("PATCH", "contacts"), ("POST", "tags")})

    def _get(self, path: str, **params) -> dict:
        creds = self.sandbox.admin("GET", "credentials")
        resp = _SESSION.get(creds["server_url"] + path, params=params, headers=creds["headers"], timeout=30)
        body = resp.json()
        assert resp.status_code == 200 and body.get("success"), body
        return body

    def _all(self, path: str, key: str, **params) -> list[dict]:
        """Every item of a list route, paging with offset/count until `total`."""
        out, offset = [], 0
        while True:
            body = self._get(path, offset=offset, count=50, **params)
            out += body[key]
            offset += body["count"]
            if body["count"] == 0 or offset >= body["total"]:
                return out

    @_cached
    def rooms(self) -> list[dict]:
        return self._all("/api/v1/livechat/rooms", "rooms", sort=json.dumps({"ts": -1}))

    @_cached
    def messages(self, rid: str) -> list[dict]:
        return self._all(f"/api/v1/livechat/{rid}/messages", "messages", sort=json.dumps({"ts": 1}))

    def ticket_ids(self):
        return [r["_id"] for r in self.rooms()]

    def ticket_entries(self):
        return len(self.rooms())

    def ticket_ids_where(self, status=None, tag=None, assignee=None, contact=None):
        return {r["_id"] for r in self.rooms()
                if (status is None or (r.get("open") is True) == (status == "open"))
                and (tag is None or tag in (r.get("tags") or []))
                and (assignee is None or (r.get("servedBy") or {}).get("_id") == assignee)
                and (contact is None or r["v"]["_id"] == contact)}

    def used_tag(self):
        return Counter(t for r in self.rooms() for t in r.get("tags") or []).most_common(1)[0][0]

    def serving_agent(self):
        return Counter(r["servedBy"]["_id"] for r in self.rooms() if r.get("servedBy")).most_common(1)[0][0]

    def busy_contact(self):
        return Counter(r["v"]["_id"] for r in self.rooms()).most_common(1)[0][0]

    def open_ticket(self):
        return next(r["_id"] for r in self.rooms() if r.get("open") and r.get("servedBy"))

    def closed_ticket(self):
        return next(r["_id"] for r in self.rooms() if not r.get("open"))

    def _room(self, rid):
        return self._get("/api/v1/rooms.info", roomId=rid)["room"]

    def status_of(self, ticket_id):
        return "open" if self._room(ticket_id).get("open") is True else "closed"

    def tags_of(self, ticket_id):
        return list(self._room(ticket_id).get("tags") or [])

    def comment_ids(self, ticket_id):
        return [m["_id"] for m in self.messages(ticket_id)]

    def comment_text(self, ticket_id, comment_id):
        return next(m.get("msg") for m in self.messages(ticket_id) if m["_id"] == comment_id)

    @_cached
    def busy_ticket(self):
        return max(self.rooms(), key=lambda r: (r.get("msgs", 0), r["_id"]))["_id"]

    def tickets_with_files(self):
        found = []
        for room in self.rooms():
            if any("file" in m for m in self.messages(room["_id"])):
                found.append(room["_id"])
                if len(found) == 5:
                    break
        return found

    def attachments(self, ticket_id):
        base = self.sandbox.admin("GET", "credentials")["server_url"]
        return [{"id": m["_id"], "file_name": m["file"]["name"], "content_type": m["file"]["type"],
                 "file_size": m["file"]["size"], "url": base + m["attachments"][0]["title_link"]}
                for m in self.messages(ticket_id) if "file" in m]

    def download(self, url):
        creds = self.sandbox.admin("GET", "credentials")
        resp = _SESSION.get(url, headers=creds["headers"], timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.content

    @_cached
    def visitors(self):
        return self._all("/api/v1/livechat/visitors.search", "visitors", term="", sort=json.dumps({"ts": -1}))

    def contact_ids(self):
        return [v["_id"] for v in self.visitors()]

    def contact_emails(self):
        return {v["_id"]: [e["address"] for e in v.get("visitorEmails") or []] for v in self.visitors()}

    def user_ids(self):
        return [u["_id"] for u in self._all("/api/v1/livechat/users/agent", "users")]

    def team_ids(self):
        return [d["_id"] for d in self._all("/api/v1/livechat/department", "departments")]

    def tag_names(self):
        return [t["name"] for t in self._all("/api/v1/livechat/tags", "tags", text="", viewAll="true")]



ORACLES = {"livechat": LiveChatOracle, "rocketchat": RocketChatOracle}


@dataclass
class Helpdesk:
    """A tenant's account on one helpdesk, its sandbox, and the oracle over that sandbox."""
    name: str
    client: ServiceClient
    account_id: str
    sandbox: object
    oracle: Oracle

    def get(self, path: str, **params) -> requests.Response:
        return self.client.get(f"/unified/ticketing/{path}", integrated_account_id=self.account_id, **params)

    def ok(self, path: str, **params) -> dict:
        resp = self.get(path, **params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def send(self, method: str, path: str, key: str | None = None, **kwargs) -> requests.Response:
        headers = {"Idempotency-Key": key} if key else {}
        return self.client.request(method, f"/unified/ticketing/{path}",
                                   params={"integrated_account_id": self.account_id}, headers=headers, **kwargs)

    def pages(self, resource: str, **params) -> list[list[dict]]:
        return traverse(self.client, resource, integrated_account_id=self.account_id, **params)

    def all(self, resource: str, **params) -> list[dict]:
        return [item for page in self.pages(resource, **params) for item in page]

    def stats_calls(self) -> int:
        return self.sandbox.admin("GET", "stats")["total_calls"]
