"""Omnichannel tags (an Enterprise feature): the paged list and one tag by id.

Both need `view-l-room` or `manage-livechat-tags`. Rooms keep the tags' names, not their ids. The routes
live in apps/meteor/ee/app/livechat-enterprise/server/api/tags.ts, which Rocket.Chat imports only under a
`livechat-enterprise` license (`License.onLicense` in ee/app/livechat-enterprise/server/index.ts): on a
Community workspace (knob `edition: community`) they do not exist, and answer the unknown route's 404.
"""
from __future__ import annotations

import re

from .errors import RocketChatError, invalid, missing
from .paging import list_answer, paginate, parse_page
from .routes import Call, route

PERMISSIONS = ("view-l-room", "manage-livechat-tags")


@route("GET", "/api/v1/livechat/tags", permissions=PERMISSIONS)
def list_tags(call: Call):
    """`text` matches name or description. Without `viewAll=true` only tags bound to no department are
    listed, plus those of `department` when given. Sorted by name."""
    _licensed(call)
    # rest-typings LivechatTagsListSchema: `text` required, `viewAll` 'true' | 'false', additionalProperties false
    call.only_params("text", "department", "viewAll", "count", "offset", "sort", "query")
    args = call.args
    if "text" not in args:
        raise missing("text")
    if args.get("viewAll") not in (None, "true", "false"):
        raise invalid("must be equal to one of the allowed values")
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
    _licensed(call)
    tag = call.store.tags.get(call.params["tag_id"])
    if tag is None:
        raise RocketChatError("Tag not found", 404)
    return {**tag, "success": True}


def _licensed(call: Call) -> None:
    if call.sandbox.knobs.edition != "enterprise":
        raise RocketChatError("API endpoint not found", 404)  # the sandbox's answer for a route it does not serve
