"""Short-lived OAuth connect state: one `state` value per authorize redirect, usable once."""
from __future__ import annotations

import json
import secrets

STATE_TTL = 600


def _key(state: str) -> str:
    return f"ut:oauth-state:{state}"


def begin(r, flow: dict) -> str:
    state = secrets.token_urlsafe(32)
    r.set(_key(state), json.dumps(flow), ex=STATE_TTL)
    return state


def finish(r, state: str) -> dict | None:
    """The flow started with `state`, or None if unknown, expired or already used (GETDEL: once only)."""
    raw = r.getdel(_key(state)) if state else None
    return json.loads(raw) if raw else None
