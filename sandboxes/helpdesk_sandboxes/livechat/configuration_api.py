"""Configuration API methods: agents, groups, tags, webhooks."""
from __future__ import annotations

import secrets

from . import clock
from .errors import LiveChatError, not_found, validation
from .methods import Call, method
from .webhooks import ACTIONS

# Agents and groups answer a base set of fields; the rest only when named in `fields`
# (management/configuration-api/index.mdx and v3.5/index.mdx: List Agents, Get Agent, List Groups,
# Get Group, "Possible values for the fields[] parameter"). The base sets are those of the samples
# (payloads/management/v3.6/configuration-api/responses/agents/*.json, groups/*.json).
AGENT_BASE = ("id", "account_id", "name", "avatar_path", "role", "login_status")
AGENT_FIELDS = ("groups", "work_scheduler", "email_subscriptions", "notifications", "job_title", "mobile",
                "max_chats_count", "suspended", "awaiting_approval", "last_logout")
GROUP_FIELDS = ("agent_priorities", "routing_status")


def _fields(call: Call, allowed: tuple[str, ...]) -> set[str]:
    fields = call.body.get("fields")
    if fields is None:
        return set()
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise validation("fields: must be an array of strings")
    unknown = [f for f in fields if f not in allowed]
    if unknown:
        raise validation(f"fields: unknown field {unknown[0]}; possible values: {', '.join(allowed)}")
    return set(fields)


def _agent_json(agent: dict, fields: set[str]) -> dict:
    keep = set(AGENT_BASE) | fields
    return {k: v for k, v in agent.items() if k in keep}


def _group_json(store, group: dict, fields: set[str]) -> dict:
    out = dict(group)
    if "routing_status" in fields:
        out["routing_status"] = store.group_status(group["id"])
    if "agent_priorities" in fields:
        out["agent_priorities"] = {a["id"]: g["priority"] for a in store.agents.values() for g in a["groups"]
                                   if g["id"] == group["id"]}
    return out


@method("configuration", "list_agents", scopes=("agents--all:ro",))
def list_agents(call: Call):
    fields = _fields(call, AGENT_FIELDS)
    return [_agent_json(a, fields) for a in call.store.agents.values()]


@method("configuration", "get_agent", scopes=("agents--all:ro",))
def get_agent(call: Call):
    fields = _fields(call, AGENT_FIELDS)
    agent = call.store.agents.get(call.body.get("id"))
    if agent is None:
        raise not_found("Agent not found")
    return _agent_json(agent, fields)


@method("configuration", "list_groups", scopes=("groups--all:ro",))
def list_groups(call: Call):
    fields = _fields(call, GROUP_FIELDS)
    return [_group_json(call.store, g, fields) for g in call.store.groups]


@method("configuration", "get_group", scopes=("groups--all:ro",))
def get_group(call: Call):
    fields = _fields(call, GROUP_FIELDS)
    group = next((g for g in call.store.groups if g["id"] == call.body.get("id")), None)
    if group is None:
        raise not_found("Group not found")
    return _group_json(call.store, group, fields)


@method("configuration", "list_tags", scopes=("tags--all:ro",))
def list_tags(call: Call):
    gids = (call.body.get("filters") or {}).get("group_ids")
    if gids is not None and (not isinstance(gids, list) or not all(isinstance(g, int) for g in gids)):
        raise validation("filters.group_ids: must be an array of integers")
    tags = call.store.tags.values()
    return [dict(t) for t in tags if gids is None or set(gids).intersection(t["group_ids"])]


@method("configuration", "create_tag", scopes=("tags--all:rw",))
def create_tag(call: Call):
    """`name` matches existing tags case-insensitively and `group_ids` is optional, may be empty
    (configuration-api/index.mdx, Create Tag; SDK livechat/configuration/api/v36.py create_tag). The
    error types are of the method list's Errors: already_exists, group_not_found."""
    name, gids = call.body.get("name"), call.body.get("group_ids", [])
    if not isinstance(name, str) or not name.strip():
        raise validation("name: is required and must be a non-empty string")
    if not isinstance(gids, list) or not all(isinstance(g, int) and not isinstance(g, bool) for g in gids):
        raise validation("group_ids: must be an array of integers")
    if any(t.lower() == name.lower() for t in call.store.tags):
        raise LiveChatError("already_exists", f"Tag {name} already exists")
    known = {g["id"] for g in call.store.groups}
    missing = [g for g in gids if g not in known]
    if missing:
        raise LiveChatError("group_not_found", f"Group {missing[0]} not found")
    call.store.tags[name] = {"name": name, "group_ids": gids, "author_id": call.principal.agent_id,
                             "created_at": clock.fmt(clock.now_us())}
    call.store.touch()
    return {}


# --- webhooks ---------------------------------------------------------------------------------
# Source for every rule below: src/pages/management/configuration-api/index.mdx (v3.6) and
# v3.5/index.mdx, section "Webhooks", and the SDK's livechat/configuration/api/v36.py docstrings.
MAX_HOOKS_PER_ACTION = 3  # "One Client ID can register up to three webhooks for every action"
MAX_URL = 500  # register_webhook `url`: "Maximum: 500 characters"


def _owner(call: Call) -> str:
    """`owner_client_id`: required with a PAT; with a Bearer token it defaults to the token's client
    (docs: enable/disable/get_license_webhooks_state, "Required only when authorizing via PATs")."""
    owner = call.body.get("owner_client_id") or call.principal.client_id
    if not owner:
        raise validation("owner_client_id: is required when calling with a personal access token")
    if owner not in call.sandbox.registry.clients:
        raise validation("owner_client_id: unknown client id")
    return owner


def _owned(call: Call) -> str:
    """The owner client, which must belong to the caller's organization (register_webhook's
    `owner_client_id`: "Must be owned by your organization"; list/unregister act on its webhooks).
    The docs name no error for a client of another organization: the sandbox answers
    `authorization`, the type LiveChat uses for "not allowed to perform the action"."""
    owner = _owner(call)
    if call.sandbox.registry.clients[owner]["organization_id"] != call.principal.organization_id:
        raise LiveChatError("authorization", "owner_client_id: the client is not owned by your organization")
    return owner


@method("configuration", "register_webhook", scopes=("webhooks.configuration:rw",))
def register_webhook(call: Call):
    body = call.body
    action, url, secret = body.get("action"), body.get("url"), body.get("secret_key")
    # event_deleted is an action from v3.6 on (configuration-api/index.mdx lists it; v3.5/index.mdx does not)
    actions = ACTIONS if call.version != "3.5" else tuple(a for a in ACTIONS if a != "event_deleted")
    if action not in actions:
        raise validation(f"action: must be one of {', '.join(actions)}")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise validation("url: must be an http(s) URL")
    if len(url) > MAX_URL:
        raise validation(f"url: must be at most {MAX_URL} characters")
    if not isinstance(secret, str) or not secret:
        raise validation("secret_key: is required")
    if body.get("type") not in ("license", "bot"):  # `type` is a required parameter
        raise validation("type: is required and must be license or bot")
    owner = _owned(call)
    hooks = call.sandbox.webhooks.webhooks
    if sum(h["owner_client_id"] == owner and h["action"] == action for h in hooks.values()) >= MAX_HOOKS_PER_ACTION:
        # the documented error type for "would exceed the limit" (src/constants/index.js, ERRORS)
        raise LiveChatError("limit_reached", f"Limit reached: a client id registers at most "
                            f"{MAX_HOOKS_PER_ACTION} webhooks for the action {action}")
    hook = {"id": secrets.token_hex(16), "action": action, "url": url, "secret_key": secret,
            "owner_client_id": owner, "type": body["type"],
            "filters": body.get("filters") or {}, "additional_data": body.get("additional_data") or [],
            "description": body.get("description", "")}
    hooks[hook["id"]] = hook
    return {"id": hook["id"]}


@method("configuration", "list_webhooks", scopes=("webhooks.configuration:rw",))
def list_webhooks(call: Call):
    owner = _owned(call)
    # the documented answer (payloads/management/v3.5 and v3.6/.../webhooks/listWebhooks.json) has no
    # secret_key: the sandbox leaves it out too, so nothing can come to depend on reading it back
    return [{k: v for k, v in h.items() if k != "secret_key"} for h in call.sandbox.webhooks.webhooks.values()
            if h["owner_client_id"] == owner]


@method("configuration", "unregister_webhook", scopes=("webhooks.configuration:rw",))
def unregister_webhook(call: Call):
    owner = _owned(call)
    hook = call.sandbox.webhooks.webhooks.get(call.body.get("id"))
    if hook is None or hook["owner_client_id"] != owner:
        raise not_found("Webhook not found")
    del call.sandbox.webhooks.webhooks[hook["id"]]
    return {}


# Enabling is per license (the caller's), for any client: a customer enables the app's webhooks.
# Licenses start disabled: the sandbox does not model installing an app (which enables them).
@method("configuration", "enable_license_webhooks", scopes=("webhooks.state:rw",))
def enable_license_webhooks(call: Call):
    call.sandbox.webhooks.enabled.add((_owner(call), call.principal.organization_id))
    return {}


@method("configuration", "disable_license_webhooks", scopes=("webhooks.state:rw",))
def disable_license_webhooks(call: Call):
    call.sandbox.webhooks.enabled.discard((_owner(call), call.principal.organization_id))
    return {}


@method("configuration", "get_license_webhooks_state", scopes=("webhooks.state:ro",))
def get_license_webhooks_state(call: Call):
    return {"license_webhooks_enabled": (_owner(call), call.principal.organization_id)
            in call.sandbox.webhooks.enabled}


# The pre-chat form every group of the sandbox's license shows: the field shapes of the docs'
# other-structures/formFields.json (name, email, question, textarea, radio, select, checkbox; `options`
# for choices), with the ids the seeded `filled_form` events answer (seed.py).
FORM_TYPES = ("prechat", "postchat", "ask_for_email")
PRECHAT_FIELDS = (
    {"type": "name", "id": "154417206262603539", "label": "Your name", "required": True},
    {"type": "email", "id": "154417206262601584", "label": "Your email", "required": False},
    {"type": "question", "id": "154417206262601585", "label": "What are you looking for?", "required": False},
    {"type": "select", "id": "154417206262602572", "label": "Country", "required": False,
     "options": [{"id": "0", "label": "USA"}, {"id": "1", "label": "UK"}]},
)


@method("configuration", "get_form", scopes=("groups--all:ro",))
def get_form(call: Call):
    """`{group_id, type}` -> `{id, fields}` (Configuration API v3.5, Forms: Get Form). An unknown group is
    not found; a type other than prechat, postchat or ask_for_email fails validation."""
    group_id, form_type = call.body.get("group_id"), call.body.get("type")
    if not isinstance(group_id, int) or isinstance(group_id, bool):
        raise validation("group_id: required, an integer")
    if form_type not in FORM_TYPES:
        raise validation(f"type: must be one of {', '.join(FORM_TYPES)}")
    if not any(g["id"] == group_id for g in call.store.groups):
        raise not_found("Group not found")
    fields = [dict(f) for f in PRECHAT_FIELDS] if form_type == "prechat" else []
    return {"id": "1473433500211" if form_type == "prechat" else f"{form_type}-{group_id}", "fields": fields}
