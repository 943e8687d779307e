"""Omnichannel custom fields: the definitions a workspace's administrator made (Omnichannel > Custom Fields).

`GET /api/v1/livechat/custom-fields` (apps/meteor/app/livechat/server/api/v1/customField.ts; needs
`view-l-room`) answers `{customFields, count, offset, total}`, sorted by label, `text` matching the label or
`_id` as a case-insensitive substring (findLivechatCustomFields in app/livechat/server/api/lib/customFields.ts).
A field's `scope` is `visitor` (kept in the visitor's `livechatData`) or `room` (the room's `livechatData`);
`type` is `input` or `select`, whose `options` are one comma-separated string (ILivechatCustomField in
packages/core-typings). The sandbox's workspace has the two fields its seed fills in.
"""
from __future__ import annotations

import re

from .paging import list_answer, paginate, parse_page
from .routes import Call, route

FIELDS = (
    {"_id": "orderId", "label": "Order ID", "scope": "room", "visibility": "visible", "type": "input",
     "regexp": "^[0-9]+$", "required": False, "defaultValue": "", "options": "", "public": False,
     "searchable": True},
    {"_id": "plan", "label": "Plan", "scope": "visitor", "visibility": "visible", "type": "select",
     "regexp": "", "required": False, "defaultValue": "", "options": "starter,team,business", "public": True,
     "searchable": True},
)


@route("GET", "/api/v1/livechat/custom-fields", permissions=("view-l-room",))
def list_custom_fields(call: Call):
    page = parse_page(call.args, [("label", 1)])
    text = call.args.get("text")
    pattern = re.compile(re.escape(text), re.IGNORECASE) if text else None
    found = [dict(f) for f in FIELDS if pattern is None or pattern.search(f["label"]) or pattern.search(f["_id"])]
    items, total = paginate(found, page)
    return list_answer("customFields", items, page, total)
