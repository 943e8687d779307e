"""Workspace settings over the core REST API (`GET`/`POST /api/v1/settings/:_id`): the Omnichannel webhook
settings ("Webhooks" in Omnichannel settings) and nothing else.

As in Rocket.Chat, reading needs `view-privileged-setting` and writing `edit-privileged-setting` (the admin
role has both); an id the workspace does not know answers `API.v1.failure()`: 400 `{"success": false}`.
Rocket.Chat itself stores a value of any type; the sandbox answers a value of the wrong type (or no
`value`) with that same failure, so a typo in a test or client cannot switch webhooks off silently.
`/_sandbox/reset` restores the defaults.
"""
from __future__ import annotations

from .errors import BareFailure
from .routes import Call, route

WEBHOOK_URL = "Livechat_webhookUrl"
SECRET_TOKEN = "Livechat_secret_token"
TOGGLES = ("Livechat_webhook_on_start", "Livechat_webhook_on_close", "Livechat_webhook_on_chat_taken",
           "Livechat_webhook_on_chat_queued", "Livechat_webhook_on_forward", "Livechat_webhook_on_offline_msg",
           "Livechat_webhook_on_visitor_message", "Livechat_webhook_on_agent_message")
DEFAULTS: dict = {WEBHOOK_URL: "", SECRET_TOKEN: "", **dict.fromkeys(TOGGLES, False)}


def defaults() -> dict:
    return dict(DEFAULTS)


@route("GET", "/api/v1/settings/<setting_id>", permissions=("view-privileged-setting",))
def get_setting(call: Call):
    sid = call.params["setting_id"]
    settings = call.sandbox.settings
    if sid not in settings:
        raise BareFailure()
    return {"_id": sid, "value": settings[sid], "success": True}


@route("POST", "/api/v1/settings/<setting_id>", permissions=("edit-privileged-setting",))
def set_setting(call: Call):
    sid = call.params["setting_id"]
    settings = call.sandbox.settings
    if sid not in settings or "value" not in call.body:
        raise BareFailure()
    value = call.body["value"]
    if type(value) is not type(DEFAULTS[sid]):  # bool is not int, str is str
        raise BareFailure()
    settings[sid] = value
    return {"success": True}
