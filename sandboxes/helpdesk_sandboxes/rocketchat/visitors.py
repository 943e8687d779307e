"""Omnichannel visitors: one by id (without its token, as since 8.5.0), a paged search, and the widget's
registration (`POST livechat/visitor`, no auth: creates the visitor or updates the one with that token)."""
from __future__ import annotations

import re

from .errors import RocketChatError, meteor
from .paging import list_answer, paginate, parse_page
from .routes import Call, route
from .state import object_id

# findVisitorsByEmailOrPhoneOrNameOrUsernameOrCustomField's projection (apps/meteor/app/livechat/server/api/lib/
# visitors.ts): no `ts`, so a listed visitor carries no creation date
SEARCH_FIELDS = ("_id", "username", "name", "phone", "livechatData", "visitorEmails", "lastChat")


@route("GET", "/api/v1/livechat/visitors.info", permissions=("view-l-room",))
def visitor_info(call: Call):
    """`findVisitorInfo`: `LivechatVisitors.findOneEnabledById`, the whole document (with `lastChat`) but the
    token (left out since 8.5.0); an unknown id throws a plain `Error('visitor-not-found')`."""
    vid = call.args.get("visitorId")
    if not vid:
        raise RocketChatError("must have required property 'visitorId' [invalid-params]", 400, "invalid-params")
    visitor = call.store.visitors.get(vid)
    if visitor is None or visitor.get("disabled"):
        raise RocketChatError("visitor-not-found")
    return {"visitor": {k: v for k, v in visitor.items() if k != "token"}, "success": True}


@route("GET", "/api/v1/livechat/visitors.search", permissions=("view-l-room",))
def search_visitors(call: Call):
    """`term` is required (may be empty: every enabled visitor). `LivechatVisitors.
    findPaginatedVisitorsByEmailOrPhoneOrNameOrUsernameOrCustomField` (packages/models/src/models/
    LivechatVisitors.ts) matches it exactly against an email address or phone number, and as a
    case-insensitive substring of the name or username (the route's `new RegExp(escapeRegExp(term), 'i')`).
    Sorted by `ts` (newest first) unless `sort` says otherwise, though `ts` is not in the answer."""
    term = call.args.get("term")
    if term is None:
        raise RocketChatError("must have required property 'term' [invalid-params]", 400, "invalid-params")
    page = parse_page(call.args, [("ts", -1)])
    pattern = re.compile(re.escape(term), re.IGNORECASE)

    def matches(v: dict) -> bool:
        if term in [e["address"] for e in v.get("visitorEmails") or []] + \
                [p["phoneNumber"] for p in v.get("phone") or []]:
            return True
        return any(pattern.search(v.get(k) or "") for k in ("name", "username"))

    found = [v for v in call.store.visitors.values() if not v.get("disabled") and (not term or matches(v))]
    items, total = paginate(found, page)
    items = [{k: v[k] for k in SEARCH_FIELDS if k in v} for v in items]
    return list_answer("visitors", items, page, total)


@route("GET", "/api/v1/livechat/visitor/<token>", auth="visitor")
def visitor_by_token(call: Call):
    """The widget's own visitor, by token (apps/meteor/app/livechat/server/api/v1/visitor.ts, no auth): the
    whole document; an unknown token is `Meteor.Error('invalid-token')`."""
    visitor = call.store.visitors_by_token.get(call.params["token"])
    if visitor is None:
        raise RocketChatError("invalid-token")
    return {"visitor": visitor, "success": True}


OPTIONAL_STRINGS = ("name", "email", "department", "phone", "username")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@route("POST", "/api/v1/livechat/visitor", auth="visitor")
def register_visitor(call: Call):
    """`{visitor: {token, name?, email?, phone?, department? (id or name), username?, customFields?}}`.
    `customFields` (`[{key, value, overwrite}]`) land in `livechatData`; the names of the visitor's
    open rooms follow a new name."""
    data = _checked(call.body)
    token = data["token"]
    if not token.strip():
        raise meteor("error-invalid-token", "Token cannot be empty")
    store = call.store
    changes: dict = {"token": token, "status": "online"}
    if data.get("phone"):
        changes["phone"] = [{"phoneNumber": data["phone"]}]
    if data.get("name"):
        changes["name"] = data["name"]
    if data.get("email"):
        email = data["email"].strip().lower()
        if not EMAIL.match(email):
            raise meteor("error-invalid-email", f"Invalid email {email}")
        changes["visitorEmails"] = [{"address": email}]
    visitor = store.visitors_by_token.get(token)
    if data.get("department") and (visitor is None or visitor.get("department") != data["department"]):
        found = next((d for d in store.departments.values() if data["department"] in (d["_id"], d["name"])), None)
        if found is not None:
            changes["department"] = found["_id"]
    now = store.iso_now()
    if visitor is None:
        username = data.get("username")
        if not username:
            store.guest_count += 1
            username = f"guest-{store.guest_count}"
        visitor = {"_id": object_id(store.rng, store._last_ms), "username": username, "status": "online", "ts": now,
                   "_updatedAt": now, **changes}
        store.add_visitor(visitor)
    else:
        visitor.update(changes, _updatedAt=now)
        for room in store.rooms.values():
            if room.get("open") and room["v"]["token"] == token and "name" in changes:
                room["fname"] = room["name"] = changes["name"]
    for field in data.get("customFields") or []:
        livechat_data = visitor.setdefault("livechatData", {})
        if field["overwrite"] or field["key"] not in livechat_data:
            livechat_data[field["key"]] = field["value"]
    return {"visitor": visitor, "success": True}


def _checked(body: dict) -> dict:
    """Meteor's `check(bodyParams, {visitor: Match.ObjectIncluding({...})})`, with its error texts."""
    if "visitor" not in body:
        raise RocketChatError("Match error: Missing key 'visitor'")
    data = body["visitor"]
    if not isinstance(data, dict):
        raise RocketChatError(f"Match error: Expected object, got {_kind(data)} in field visitor")
    if "token" not in data:
        raise RocketChatError("Match error: Missing key 'token' in field visitor")
    for key in ("token", *OPTIONAL_STRINGS):
        value = data.get(key)
        if (key == "token" or value is not None) and not isinstance(value, str):
            raise RocketChatError(f"Match error: Expected string, got {_kind(value)} in field visitor.{key}")
    fields = data.get("customFields")
    if fields is not None:
        if not isinstance(fields, list):
            raise RocketChatError(f"Match error: Expected array, got {_kind(fields)} in field visitor.customFields")
        for i, field in enumerate(fields):
            where = f"visitor.customFields[{i}]"
            if not isinstance(field, dict):
                raise RocketChatError(f"Match error: Expected object, got {_kind(field)} in field {where}")
            for key, kind in (("key", str), ("value", str), ("overwrite", bool)):
                if key not in field:
                    raise RocketChatError(f"Match error: Missing key '{key}' in field {where}")
                if not isinstance(field[key], kind):
                    expected = "string" if kind is str else "boolean"
                    raise RocketChatError(f"Match error: Expected {expected}, got {_kind(field[key])} in field "
                                          f"{where}.{key}")
    return data


def _kind(value) -> str:
    """JavaScript's `typeof` as Match reports it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "object"
