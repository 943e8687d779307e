"""A Rocket.Chat Omnichannel sandbox: the REST routes a ticketing integration uses (rooms, messages,
visitors, uploads), following Rocket.Chat's OpenAPI description (Omnichannel, plus two core routes).

State lives in memory. `create_app(options)` builds the WSGI app; `serve(...)` runs it.
"""
from .app import SandboxOptions, create_app, serve

__all__ = ["SandboxOptions", "create_app", "serve"]
