"""Omnichannel visitors: one by id (without its token, as since 8.5.0) and a paged search."""
from __future__ import annotations

import re

from .errors import RocketChatError
from .paging import list_answer, paginate, parse_page
from .routes import Call, route

SEARCH_FIELDS = ("_id", "username", "name", "phone", "livechatData", "visitorEmails", "lastChat", "ts")


@route("GET", "/api/v1/livechat/visitors.info", permissions=("view-l-room",))
def visitor_info(call: Call):
    vid = call.args.get("visitorId")
    if not vid:
        raise RocketChatError("must have required property 'visitorId' [invalid-params]", 400, "invalid-params")
    visitor = call.store.visitors.get(vid)
    if visitor is None:
        raise RocketChatError("visitor-not-found")
    return {"visitor": {k: v for k, v in visitor.items() if k not in ("token", "lastChat")}, "success": True}


@route("GET", "/api/v1/livechat/visitors.search", permissions=("view-l-room",))
def search_visitors(call: Call):
    """`term` (required, may be empty) matches name, username, email or phone, case-insensitively."""
    term = call.args.get("term")
    if term is None:
        raise RocketChatError("must have required property 'term' [invalid-params]", 400, "invalid-params")
    page = parse_page(call.args, [("ts", -1)])
    pattern = re.compile(re.escape(term), re.IGNORECASE)

    def matches(v: dict) -> bool:
        texts = [v.get("name") or "", v.get("username") or ""]
        texts += [e["address"] for e in v.get("visitorEmails") or []]
        texts += [p["phoneNumber"] for p in v.get("phone") or []]
        return any(pattern.search(t) for t in texts)

    items, total = paginate([v for v in call.store.visitors.values() if not term or matches(v)], page)
    items = [{k: v[k] for k in SEARCH_FIELDS if k in v} for v in items]
    return list_answer("visitors", items, page, total)
