"""Who may see an Omnichannel room (Rocket.Chat's `canAccessRoom` for `l` rooms), and agent availability."""
from __future__ import annotations

from .paging import lookup
from .routes import permissions_of


def can_access_room(user: dict, room: dict) -> bool:
    """Managers (`view-livechat-rooms`) see every room; an agent (`view-l-room`) sees the rooms they serve,
    closed rooms, and queued rooms of their departments."""
    granted = permissions_of(user)
    if "view-livechat-rooms" in granted or lookup(room, "servedBy._id") == user["_id"]:
        return True
    if "view-l-room" not in granted:
        return False
    if not room.get("open"):
        return True
    return "servedBy" not in room and room.get("departmentId") in (user.get("departments") or [])


def is_online_agent(user: dict | None) -> bool:
    """`Users.findOneOnlineAgentById`: an agent who is not offline and takes chats (`statusLivechat`)."""
    return (user is not None and "livechat-agent" in user.get("roles", []) and user.get("status") != "offline"
            and user.get("statusLivechat") == "available")
