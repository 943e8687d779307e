"""`GET /unified/ticketing/export`: every ticket (with its transcript) as streamed NDJSON."""
from __future__ import annotations

import itertools

from flask import Blueprint, Response, request, stream_with_context

from ..engine.query import parse_bool, parse_datetime
from ..errors import bad_request
from ..export import export_tickets, ndjson
from .common import require_tenant, services, tenant_account

bp = Blueprint("export", __name__)
PARAMS = {"integrated_account_id", "since", "with_comments", "include_remote_data"}


@bp.get("/unified/ticketing/export")
def export():
    tenant = require_tenant()
    unknown = sorted(set(request.args) - PARAMS)
    if unknown:
        raise bad_request(f"Unknown parameter '{unknown[0]}'; export takes {', '.join(sorted(PARAMS))}", unknown[0])
    account = tenant_account(tenant, request.args.get("integrated_account_id"))
    since = parse_datetime(request.args["since"], "since") if "since" in request.args else None
    with_comments = parse_bool(request.args, "with_comments", True)
    remote = parse_bool(request.args, "include_remote_data", False)
    engine = services().engine_for(account)
    pages = export_tickets(engine, account, since=since, with_comments=with_comments, include_remote_data=remote)
    first = next(pages)  # read here, so the first page's error is an error answer, not a 500 from the server
    body = (ndjson(records) for records, _ in itertools.chain([first], pages))
    return Response(stream_with_context(body), mimetype="application/x-ndjson")
