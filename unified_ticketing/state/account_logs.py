"""Per-account logs in Redis Streams: each unified request an account served, with the upstream calls
it made, and the account's status changes.

An entry holds only what the service chose to note: times, the route template (never the path's
ids or the query), statuses, error types, durations, the request id. Never a body, a header or a
credential: there is no field for them. Retention is bounded by count (`XADD ... MAXLEN ~`) and by
age (`XTRIM ... MINID ~`, and the key expires when the account goes quiet), all in one script, sent
with the request's other last writes (`request_writes.py`). Keys share the account's hash tag, so they
live on its Redis Cluster slot.
"""
from __future__ import annotations

import json
import time

HISTORY_MAX = 100  # status changes kept per account
# accounts.set_status's values, as the history names them: "active" again is a recovery
STATUS_EVENTS = {"active": "recovered"}


def key(account_id: str) -> str:
    return f"ut:{{acct:{account_id}}}:log"


def history_key(account_id: str) -> str:
    return f"ut:{{acct:{account_id}}}:status-log"


# Append, trim by count and by age, expire when quiet; unless the account was deleted meanwhile (a DELETE's
# own entry is written after its response): never recreate a husk. KEYS: log, account.
_RECORD = """
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 4))
redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


def record(r, account_id: str, entry: dict, max_entries: int, max_age: float) -> None:
    """Append one request's entry; `entry["upstream"]` is a list of calls. One round trip, or queued when `r`
    is a pipeline (EVAL, not a registered script: a pipeline would first ask whether the script is loaded)."""
    from .accounts import key as account_key

    min_id = int(time.time() * 1000) - int(max_age * 1000)
    fields = [x for k, v in entry.items() for x in (k, json.dumps(v) if isinstance(v, list) else
                                                        "" if v is None else str(v))]
    r.execute_command("EVAL", _RECORD, 2, key(account_id), account_key(account_id), max_entries, max(min_id, 0),
                      max(int(max_age), 1), *fields)  # (a cluster pipeline has no `eval` method)


def status_changed(r, account_id: str, status: str) -> None:
    """Note a status change (connected, credentials_rejected, needs_reauth, recovered)."""
    r.xadd(history_key(account_id), {"status": STATUS_EVENTS.get(status, status)}, maxlen=HISTORY_MAX,
           approximate=True)


def forget(r, account_id: str) -> None:
    r.delete(key(account_id), history_key(account_id))


def page(r, account_id: str, *, before: str | None = None, after: str | None = None, since_ms: int | None = None,
         until_ms: int | None = None, status: str | None = None, limit: int = 50) -> tuple[list[dict], bool]:
    """(entries newest first, whether more lie beyond them): older than the stream id `before`, or newer
    than `after`, within [since_ms, until_ms], with a status matching `status` ("404", "4xx")."""
    low = f"({after}" if after else str(since_ms) if since_ms is not None else "-"
    high = f"({before}" if before else str(until_ms) if until_ms is not None else "+"
    found: list[dict] = []
    scan = 200 if status else limit + 1  # a filter is applied here: read ahead in chunks
    while len(found) <= limit:
        chunk = r.xrange(key(account_id), low, high, count=scan) if after else \
            r.xrevrange(key(account_id), high, low, count=scan)
        found += [_entry(item) for item in chunk if _matches(item[1]["status"], status)]
        if len(chunk) < scan:
            break
        if after:
            low = f"({chunk[-1][0]}"
        else:
            high = f"({chunk[-1][0]}"
    more = len(found) > limit
    found = found[:limit]
    return (found[::-1] if after else found), more


def history(r, account_id: str) -> list[dict]:
    return [{"status": fields["status"], "time": _iso(entry_id)}
            for entry_id, fields in r.xrevrange(history_key(account_id), count=HISTORY_MAX)]


def _matches(actual: str, wanted: str | None) -> bool:
    return not wanted or actual == wanted or (wanted.endswith("xx") and actual[0] == wanted[0])


def _entry(item) -> dict:
    entry_id, fields = item
    return {"id": entry_id, "time": _iso(entry_id), "request_id": fields.get("request_id") or None,
            "method": fields["method"], "route": fields["route"], "status": int(fields["status"]),
            "error_type": fields.get("error_type") or None, "duration_ms": float(fields["duration_ms"]),
            "upstream": json.loads(fields.get("upstream") or "[]")}


def _iso(entry_id: str) -> str:
    ms = int(entry_id.split("-", 1)[0])
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"
