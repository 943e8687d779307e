"""`GET /integrated-accounts/<id>/logs`: what the service did for one account, newest first.

Each entry is one unified request and the upstream calls it made (see `state/account_logs.py`);
`status_history` beside them tells when the account connected, had its credentials rejected,
needed reconnecting or recovered. Cursors are signed and carry their query, like the unified lists'.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Blueprint, current_app, g, request

from ..engine.query import parse_datetime, parse_limit
from ..errors import bad_request
from ..state import account_logs
from ..state.secrets import seal, signer, unseal
from .common import require_tenant, services, tenant_account

bp = Blueprint("account_logs", __name__)
STATUS = re.compile(r"[1-5]([0-9]{2}|xx)")
QUERY = ("status", "since", "until")


@bp.get("/integrated-accounts/<account_id>/logs")
def index(account_id: str):
    tenant_account(require_tenant(), account_id)
    g.pop("account_id", None)  # reading the log is no entry in it
    limit = parse_limit(request.args)
    nxt, prev = request.args.get("next_cursor"), request.args.get("prev_cursor")
    if nxt and prev:
        raise bad_request("Send next_cursor or prev_cursor, not both", "prev_cursor")
    if nxt or prev:
        extra = sorted(set(request.args) & set(QUERY))
        if extra:
            raise bad_request(f"'{extra[0]}' cannot be combined with a cursor: the cursor keeps the query it "
                              "was made for", extra[0])
        query, position = _open(nxt or prev, account_id, "next" if nxt else "prev")
    else:
        query, position = _query(request.args), None
    bounds = {"status": query.get("status"), "since_ms": query.get("since"), "until_ms": query.get("until")}
    r = services().redis
    entries, more = account_logs.page(r, account_id, limit=limit, **bounds,
                                      before=position if nxt else None, after=position if prev else None)
    older = bool(entries) and (more if not prev else True)
    newer = bool(entries) and (more if prev else bool(nxt))
    return {"result": entries,
            "next_cursor": _cursor(account_id, "next", entries[-1]["id"], query) if older else None,
            "prev_cursor": _cursor(account_id, "prev", entries[0]["id"], query) if newer else None,
            "result_count": len(entries), "status_history": account_logs.history(r, account_id)}


def _query(args) -> dict:
    query = {}
    status = args.get("status")
    if status is not None:
        if not STATUS.fullmatch(status):
            raise bad_request(f"status must be an HTTP status such as 404, or a class such as 4xx; got '{status}'",
                              "status")
        query["status"] = status
    for name in ("since", "until"):
        if args.get(name) is not None:
            text = parse_datetime(args[name], name)
            stamp = datetime.strptime(text[-27:], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
            query[name] = int(stamp * 1000)
    if "since" in query and "until" in query and query["since"] > query["until"]:
        raise bad_request("since must not be later than until", "since")
    return query


def _signer():
    return signer(current_app.config["SECRET_KEY"] + ":account-logs")


def _cursor(account_id: str, direction: str, entry_id: str, query: dict) -> str:
    return seal(_signer(), {"a": account_id, "d": direction, "p": entry_id, "q": query})


def _open(cursor: str, account_id: str, direction: str) -> tuple[dict, str]:
    param = f"{direction}_cursor"
    data = unseal(_signer(), cursor)
    if data is None or data.get("a") != account_id or data.get("d") != direction:
        raise bad_request(f"{param} is not a cursor this account's log gave as {param}; start again without it",
                          param)
    return data["q"], data["p"]
