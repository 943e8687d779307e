"""Omnichannel users: the paged list of agents or managers, and one of them by id.

Listing agents needs `transfer-livechat-guest` or `edit-omnichannel-contact`, listing managers and reading
one user `view-livechat-manager` (as the description says). A `type` other than `agent` or `manager`
is Rocket.Chat's `Invalid type`.
"""
from __future__ import annotations

import re

from .errors import RocketChatError, forbidden
from .paging import list_answer, paginate, parse_page
from .routes import Call, permissions_of, route

ROLES = {"agent": "livechat-agent", "manager": "livechat-manager"}
LIST_PERMISSIONS = {"agent": {"transfer-livechat-guest", "edit-omnichannel-contact"},
                    "manager": {"view-livechat-manager"}}
FIELDS = ("_id", "username", "name", "status", "statusLivechat", "emails", "livechat")


def _role(kind: str) -> str:
    if kind not in ROLES:
        raise RocketChatError("Invalid type")
    return ROLES[kind]


def _listed(user: dict) -> dict:
    """The list's projection, plus the ids of the departments the user is an agent of."""
    return {**{k: user[k] for k in FIELDS if k in user}, "departments": list(user.get("departments") or [])}


@route("GET", "/api/v1/livechat/users/<kind>")
def list_users(call: Call):
    """`text` matches username, name or an email address; `onlyAvailable`, `showIdleAgents=false` and
    `excludeId` narrow agents down. Sorted by name unless `sort` says otherwise."""
    kind = call.params["kind"]
    role = _role(kind)
    if not LIST_PERMISSIONS[kind] & permissions_of(call.user):
        raise forbidden()
    args = call.args
    page = parse_page(args, [("name", 1)])
    if page.count == 0:
        # count=0 passes getPaginationItems (API_Allow_Infinite_Count), but Users.findAgentsWithDepartments
        # (packages/models/src/models/Users.ts) builds its $facet with `options?.limit && {$limit: ...}`: a bare 0
        # lands in the pipeline and MongoDB refuses it. The exact text is MongoDB's; the sandbox's is a stand-in.
        raise RocketChatError("Each element of the 'pipeline' array must be an object")
    pattern = re.compile(re.escape(args["text"]), re.IGNORECASE) if args.get("text") else None
    only_available = args.get("onlyAvailable") == "true"
    hide_idle = args.get("showIdleAgents") == "false"
    exclude = args.get("excludeId")

    def keep(user: dict) -> bool:
        if role not in user.get("roles", []) or user["_id"] == exclude:
            return False
        if only_available and user.get("statusLivechat") != "available":
            return False
        if hide_idle and user.get("status") == "offline":
            return False
        texts = [user.get("username") or "", user.get("name") or ""] + [e["address"] for e in user.get("emails", [])]
        return pattern is None or any(pattern.search(t) for t in texts)

    items, total = paginate([_listed(u) for u in call.store.users.values() if keep(u)], page)
    return list_answer("users", items, page, total)


@route("GET", "/api/v1/livechat/users/<kind>/<user_id>", permissions=("view-livechat-manager",))
def one_user(call: Call):
    """The user when they have the type's role, else `user: null`; an id nobody has is `API.v1.failure('User
    not found')` (apps/meteor/app/livechat/imports/server/rest/users.ts)."""
    user = call.store.users.get(call.params["user_id"])
    if user is None:
        raise RocketChatError("User not found")
    role = _role(call.params["kind"])
    if role not in user.get("roles", []):
        return {"user": None, "success": True}
    return {"user": {k: user[k] for k in FIELDS if k in user}, "success": True}
