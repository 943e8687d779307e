"""The Unified Ticketing API: `/unified/ticketing/<resource>[/<id>]`."""
from flask import Blueprint, request

from ..engine.executor import Account, Options
from ..engine.loader import RESOURCES
from ..engine.query import parse_bool, parse_filters, parse_limit
from ..errors import bad_request, not_found
from ..state import accounts
from .common import require_tenant, services
from .integrated_accounts import owned_account

bp = Blueprint("unified", __name__, url_prefix="/unified/ticketing")


def _context(resource: str):
    if resource not in RESOURCES:
        raise not_found(f"No resource '{resource}'; resources: {', '.join(RESOURCES)}")
    tenant = require_tenant()
    account_id = request.args.get("integrated_account_id")
    if not account_id:
        raise bad_request("integrated_account_id is required", "integrated_account_id")
    record = owned_account(account_id, tenant)
    svc = services()
    engine = svc.engines[record["integration"]]
    account = Account(id=record["id"], tenant=tenant, version=record["api_version"], auth_type=record["auth_type"],
                      credentials={k: v for k, v in accounts.credentials(svc.fernet, record).items() if k != "type"})
    fmt = request.args.get("format", "unified")
    if fmt not in ("unified", "raw"):
        raise bad_request(f"format must be unified or raw; got '{fmt}'", "format")
    options = Options(include_remote_data=parse_bool(request.args, "include_remote_data", True), raw=fmt == "raw")
    return engine, account, options


@bp.get("/<resource>")
def list_records(resource: str):
    engine, account, options = _context(resource)
    op = engine.operation(resource, "list", account.version)
    nxt, prev = request.args.get("next_cursor"), request.args.get("prev_cursor")
    if nxt and prev:
        raise bad_request("Send next_cursor or prev_cursor, not both", "prev_cursor")
    cursor = nxt or prev
    if cursor:
        # The cursor carries its query: only the account and presentation options may accompany it.
        extra = sorted(set(request.args) - {"integrated_account_id", "next_cursor", "prev_cursor",
                                            "include_remote_data", "format"})
        if extra:
            raise bad_request(f"'{extra[0]}' cannot be combined with a cursor: the cursor keeps the query it "
                              "was made for", extra[0])
        limit, filters = 0, {}
    else:
        limit, filters = parse_limit(request.args), parse_filters(op, request.args)
    return engine.list(account, op, limit, filters, cursor, options)


@bp.get("/<resource>/<path:record_id>")
def get_record(resource: str, record_id: str):
    engine, account, options = _context(resource)
    return engine.get(account, resource, record_id, options)
