"""Omnichannel tags (an Enterprise feature): the paged list and one tag by id.

Both need `view-l-room` or `manage-livechat-tags`. Rooms keep the tags' names, not their ids.
"""
from __future__ import annotations

import re

from .errors import RocketChatError
from .paging import list_answer, paginate, parse_page
from .routes import Call, route

PERMISSIONS = ("view-l-room", "manage-livechat-tags")


@route("GET", "/api/v1/livechat/tags", permissions=PERMISSIONS)
def list_tags(call: Call):
    """`text` matches name or description. Without `viewAll=true` only tags bound to no department are
    listed, plus those of `department` when given. Sorted by name."""
    args = call.args
    page = parse_page(args, [("name", 1)])
    pattern = re.compile(re.escape(args["text"]), re.IGNORECASE) if args.get("text") else None
    view_all = args.get("viewAll") == "true"
    department = args.get("department")

    def keep(tag: dict) -> bool:
        if not view_all and tag["departments"] and department not in tag["departments"]:
            return False
        return pattern is None or any(pattern.search(tag.get(k) or "") for k in ("name", "description"))

    items, total = paginate([t for t in call.store.tags.values() if keep(t)], page)
    return list_answer("tags", items, page, total)


@route("GET", "/api/v1/livechat/tags/<tag_id>", permissions=PERMISSIONS)
def one_tag(call: Call):
    """The tag's own fields next to `success`; an unknown id is a 404 `Tag not found`."""
    tag = call.store.tags.get(call.params["tag_id"])
    if tag is None:
        raise RocketChatError("Tag not found", 404)
    return {**tag, "success": True}
