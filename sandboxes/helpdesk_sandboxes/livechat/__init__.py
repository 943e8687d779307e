"""A LiveChat sandbox: Agent Chat Web API (v3.5, v3.6), Configuration API and the accounts OAuth host.

State lives in memory. `create_app(options)` builds the WSGI app; `serve(...)` runs it.
"""
from .app import SandboxOptions, create_app, serve

__all__ = ["SandboxOptions", "create_app", "serve"]
