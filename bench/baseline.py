"""The baseline of figure 2: LiveChat JSON mapped to the unified models by hand, in plain Python.

This is what a user would write without us, and it must give exactly the service's output
(figure 2 checks it on every record before timing anything).
"""
from __future__ import annotations

import json
import re


def _str(value):
    """JSONata's `&` and `$string` on what LiveChat sends: text as is, nothing as ''."""
    return "" if value is None else value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


_BOT = re.compile(r"[0-9a-f]{32}")  # Configuration API bots: chat agents, not unified users


def _person(author_id):
    if not author_id:
        return None
    return {"id": author_id, "type": "user" if "@" in author_id else "contact"}


def ticket(chat: dict) -> dict:
    users = chat.get("users") or []
    customer = next((u for u in users if u.get("type") == "customer"), None)
    thread = chat.get("thread") or {}
    events = [e for e in thread.get("events") or [] if e.get("deleted") is not True]
    messages = [e for e in events if e.get("type") == "message"]
    first = next((e for e in messages if customer and e.get("author_id") == customer["id"]), None)
    first = first or (messages[0] if messages else None)  # an agent-started ticket: its first message
    last = events[-1] if events else None
    text = first.get("text") if first else None
    agents = {u["id"] for u in users if u.get("type") == "agent"}
    contact = None
    if customer:
        contact = {k: customer[k] for k in ("id", "name", "email") if k in customer}
    active = thread.get("active")
    return {
        "id": chat["id"],
        "name": (text[:117] + "..." if len(text) > 120 else text) if first else None,
        "description": text or None,
        "status": "open" if active else "closed",
        "type": "chat",
        "priority": None,
        "assignees": [{"id": u} for u in thread.get("user_ids") or [] if u in agents and not _BOT.fullmatch(u)],
        "contact": contact,
        "tags": [{"id": t, "name": t} for t in thread.get("tags") or []],
        "team_ids": [str(g) for g in (chat.get("access") or {}).get("group_ids") or []],
        "ticket_url": "https://my.livechatinc.com/archives/" + chat["id"],
        "created_at": thread.get("created_at"),
        "updated_at": last["created_at"] if last else thread.get("created_at"),
        "completed_at": None if active else (last["created_at"] if last else None),
    }


def _answer(f: dict) -> str:
    answer = f.get("answer")
    if isinstance(answer, dict):
        return _str(answer.get("label"))
    if f.get("answers"):
        return ", ".join(_str(a.get("label")) for a in f["answers"])
    return _str(answer)


def comment(chat_id: str, thread_id: str, e: dict) -> dict:
    kind = e.get("type")
    if kind == "file":
        body = e.get("name")
    elif kind == "filled_form":
        body = "\n".join(_str(f.get("label")) + ": " + _answer(f) for f in e.get("fields") or [])
    elif kind == "rich_message":
        body = "\n".join(el["title"] for el in e.get("elements") or [] if "title" in el)
    else:
        body = e.get("text") or None
    event_id = f"{thread_id}:{e['id']}"
    return {
        "id": event_id,
        "ticket_id": chat_id,
        "type": "system" if kind == "system_message" else kind,
        "body": body,
        "is_private": e.get("visibility") == "agents",
        "author": _person(e.get("author_id")),
        "attachment_ids": [event_id] if kind == "file" else [],
        "created_at": e["created_at"],
    }


def attachment(chat_id: str, thread_id: str, e: dict) -> dict:
    event_id = f"{thread_id}:{e['id']}"
    out = {"id": event_id}
    for key, source in (("file_name", "name"), ("file_url", "url"), ("content_type", "content_type"),
                        ("file_size", "size")):
        if source in e:
            out[key] = e[source]
    out.update({"ticket_id": chat_id, "comment_id": event_id, "uploaded_by": _person(e.get("author_id"))})
    if "created_at" in e:
        out["created_at"] = e["created_at"]
    return out


def contact(customer: dict) -> dict:
    visit = customer.get("last_visit") or {}
    geo = visit.get("geolocation")
    fields = {}
    for item in customer.get("session_fields") or []:
        fields.update(item)
    email = customer.get("email")
    return {
        "id": customer["id"],
        "name": customer.get("name") or None,
        "email_addresses": [{"email": email, "type": "primary"}] if email else [],
        "phone_numbers": [],
        "avatar_url": customer.get("avatar") or None,
        "custom_fields": fields,
        "location": {k: geo[k] for k in ("country", "country_code", "city", "timezone") if k in geo} if geo else None,
        "last_activity_at": customer.get("customer_last_event_created_at") or visit.get("ended_at") or None,
        "ticket_ids": list(customer.get("chat_ids") or []),
        "created_at": customer.get("created_at") or None,
    }


def page(resource: str, data: dict, limit: int, ticket_id: str = "") -> list[dict]:
    """One unified page (records with remote_data) from one upstream answer, as the service builds it."""
    out = []
    if resource == "tickets":
        seen = set()
        for chat in data["chats"]:
            if chat["id"] not in seen and len(out) < limit:
                seen.add(chat["id"])
                out.append({**ticket(chat), "remote_data": chat})
    elif resource == "contacts":
        out = [{**contact(c), "remote_data": c} for c in data["customers"][:limit]]
    else:
        mapper = comment if resource == "comments" else attachment
        for thread in data["threads"]:
            for e in thread.get("events") or []:
                if len(out) == limit:
                    return out
                if resource == "comments" or e.get("type") == "file":
                    out.append({**mapper(ticket_id, thread["id"], e), "remote_data": e})
    return out


def serialize(records: list[dict], next_cursor: str | None) -> bytes:
    return json.dumps({"result": records, "next_cursor": next_cursor, "prev_cursor": None,
                       "result_count": len(records)}, separators=(",", ":")).encode()
