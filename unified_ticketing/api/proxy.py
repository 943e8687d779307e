"""Proxy passthrough: `/proxy/<integration>/<path>` forwards a raw call to the helpdesk's API with the
account's credentials injected and the same refresh, pacing and retry handling as unified calls.

Only paths the integration file allows are forwarded (never the accounts host, which would echo
tokens back), and the stored credentials are never part of the answer.
"""
from __future__ import annotations

import re

from flask import Blueprint, Response, request

from ..engine.upstream import Attempt
from ..errors import ApiError, bad_request
from .common import require_tenant, tenant_account
from .integrated_accounts import engine_for

bp = Blueprint("proxy", __name__)
FORWARDED_HEADERS = ("Content-Type", "Retry-After", "Legacy", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                     "X-RateLimit-Reset")


@bp.route("/proxy/<integration>/<path:path>", methods=["GET", "POST"])
def forward(integration: str, path: str):
    tenant = require_tenant()
    engine = engine_for(integration)
    allowed = engine.integration.proxy.post if request.method == "POST" else engine.integration.proxy.get
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        raise ApiError(403, "path_not_allowed", f"The proxy does not forward /{path}: no empty, '.' or '..' "
                       "segments (they would lead outside the allowed paths)", param="path")
    if not any(re.fullmatch(pattern, path) for pattern in allowed):
        refused = engine.integration.proxy.refused
        raise ApiError(403, "path_not_allowed", f"The proxy does not forward {request.method} /{path} to "
                       f"{engine.integration.title}; allowed: {request.method} {', '.join(allowed) or 'nothing'}"
                       + (f". {refused}" if refused else ""), param="path")
    account = tenant_account(tenant, request.args.get("integrated_account_id"))
    if account.integration != integration:
        raise bad_request(f"integrated account {account.id} is a {account.integration} account", "integration")
    query = [(k, v) for k, v in request.args.items(multi=True) if k != "integrated_account_id"]
    payload = {"params": query}
    extra = {}
    if request.method == "POST":
        payload["data"] = request.get_data()
        extra["Content-Type"] = request.headers.get("Content-Type", "application/json")
    resp, _ = engine.upstream.send(Attempt(request.method, f"/{path}", path, payload, account,
                                           idempotent=request.method == "GET", passthrough=True, extra_headers=extra))
    headers = {h: resp.headers[h] for h in FORWARDED_HEADERS if h in resp.headers}
    return Response(resp.content, status=resp.status_code, headers=headers)
