"""Omnichannel departments: the paged list and one department with its agents.

Both need `view-livechat-departments` or `view-l-room`; a department's agents are only listed for
`view-livechat-departments`.
"""
from __future__ import annotations

import re

from .paging import list_answer, lookup, paginate, parse_page
from .routes import Call, permissions_of, route
from .state import stable_id

PERMISSIONS = ("view-livechat-departments", "view-l-room")


@route("GET", "/api/v1/livechat/department", permissions=PERMISSIONS)
def list_departments(call: Call):
    """`text` matches the name; `enabled=true` keeps enabled ones; archived departments only with
    `showArchived=true`; `excludeDepartmentId` leaves one out. Sorted by name."""
    args = call.args
    page = parse_page(args, [("name", 1)])
    pattern = re.compile(re.escape(args["text"]), re.IGNORECASE) if args.get("text") else None
    only_enabled = args.get("enabled") == "true"
    show_archived = args.get("showArchived") == "true"
    exclude = args.get("excludeDepartmentId")

    def keep(dep: dict) -> bool:
        if dep.get("type", "d") != "d" or dep["_id"] == exclude:
            return False
        if (dep.get("archived") and not show_archived) or (only_enabled and not dep.get("enabled")):
            return False
        return pattern is None or bool(pattern.search(dep["name"]))

    items, total = paginate([d for d in call.store.departments.values() if keep(d)], page)
    return list_answer("departments", items, page, total)


@route("GET", "/api/v1/livechat/department/<department_id>", permissions=PERMISSIONS)
def one_department(call: Call):
    """`{department, agents}`; `department` is null for an unknown id. `includeAgents=false` leaves agents out."""
    dep_id = call.params["department_id"]
    answer = {"department": call.store.departments.get(dep_id)}
    if call.args.get("includeAgents") in (None, "", "true") and \
            "view-livechat-departments" in permissions_of(call.user):
        answer["agents"] = department_agents(call.store, dep_id)
    return {**answer, "success": True}


def department_agents(store, dep_id: str) -> list[dict]:
    """The department's `LivechatDepartmentAgents` documents; `count` is the chats each agent took there."""
    department = store.departments.get(dep_id)
    out = []
    for user in store.users.values():
        if dep_id not in (user.get("departments") or []):
            continue
        taken = sum(1 for r in store.rooms.values()
                    if r.get("departmentId") == dep_id and lookup(r, "servedBy._id") == user["_id"])
        out.append({"_id": stable_id("department-agent", dep_id, user["_id"]), "agentId": user["_id"],
                    "departmentId": dep_id, "departmentEnabled": bool(department and department.get("enabled")),
                    "username": user["username"], "count": taken, "order": 0,
                    "_updatedAt": department["_updatedAt"] if department else user["_updatedAt"]})
    return out
