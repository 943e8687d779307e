"""A Rocket.Chat Omnichannel sandbox: the REST routes a ticketing integration (or the `rocketchat-api` client)
uses (rooms, messages, visitors, agents and managers, departments, tags, inquiries, transfers, uploads), as
Rocket.Chat 7.x's server source answers them (apps/meteor/app/livechat/**, apps/meteor/ee/app/livechat-enterprise/**,
packages/models/**; the Omnichannel OpenAPI description where it agrees), a few core routes (`rooms.info`,
`chat.sendMessage`, `chat.getMessage`, `rooms.media`, `rooms.mediaConfirm`, `settings/:_id`, `me`, `/api/info`),
and the Omnichannel webhooks (`webhooks.py`). docs/fidelity.md lists what still differs.

State lives in memory. `create_app(options)` builds the WSGI app; `serve(...)` runs it.
"""
from .app import SandboxOptions, create_app, serve

__all__ = ["SandboxOptions", "create_app", "serve"]
