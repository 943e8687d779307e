"""A Rocket.Chat Omnichannel sandbox: the REST routes a ticketing integration uses (rooms, messages,
visitors, agents and managers, departments, tags, transfers, uploads), following Rocket.Chat's OpenAPI
description (Omnichannel, plus a few core routes: `rooms.info`, `chat.sendMessage`, `chat.getMessage`,
`rooms.media`, `rooms.mediaConfirm`, `settings/:_id`), and the Omnichannel webhooks (`webhooks.py`).

State lives in memory. `create_app(options)` builds the WSGI app; `serve(...)` runs it.
"""
from .app import SandboxOptions, create_app, serve

__all__ = ["SandboxOptions", "create_app", "serve"]
