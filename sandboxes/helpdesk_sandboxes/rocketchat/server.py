"""Core routes a client calls before anything else: `GET /api/info` (apps/meteor/app/api/server/default/info.ts,
no auth) and `GET /api/v1/me` (the caller's own user, apps/meteor/app/api/server/v1/misc.ts)."""
from __future__ import annotations

from .routes import Call, route

VERSION = "7.4.0"  # the Rocket.Chat release the sandbox's routes follow


@route("GET", "/api/info", auth="visitor")
def info(call: Call):
    """`getServerInfo`: the version (and, for users with view-statistics, build details the sandbox leaves out)."""
    return {"version": VERSION, "success": True}


@route("GET", "/api/v1/me")
def me(call: Call):
    """The logged-in user, without services or tokens."""
    user = call.user
    out = {k: user[k] for k in ("_id", "username", "name", "emails", "status", "statusLivechat", "active", "roles",
                                 "type", "createdAt", "_updatedAt") if k in user}
    return {**out, "utcOffset": 0, "settings": {"preferences": {}}, "avatarUrl": f"/avatar/{user['username']}",
            "success": True}
