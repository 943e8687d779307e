"""Mapping overrides of one tenant, with every version kept (docs/mapping-overrides.md).

An override lives in a *slot*: `tenant/<integration>/<resource>/<method>` (all the tenant's accounts
on that helpdesk) or `account/<account id>/<resource>/<method>` (one integrated account). Each slot
has a history, `ut:{ovr:<tenant>}:history:<slot>`, a list whose n-th entry is version n
(`{"action": "put"|"delete"|"rollback", "override": {...}|null, "changed_by", "changed_at"}`);
`ut:{ovr:<tenant>}:current` maps each live slot to its version, and `ut:{ovr:<tenant>}:gen` counts
every change of the tenant: a worker compares it with the one its compiled overrides were made
from (one GET per request, none per record) and rebuilds them only when it moved. All keys of a
tenant share the hash tag `{ovr:<tenant>}`, so a change is one script on one cluster slot.
"""
from __future__ import annotations

import json
import time

SCOPES = ("tenant", "account")

# KEYS: current, history, gen. ARGV: slot, entry (JSON), live ("1": the entry is the slot's override).
_APPEND = """
local v = redis.call('RPUSH', KEYS[2], ARGV[2])
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], ARGV[1], v) else redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('INCR', KEYS[3])
return v
"""


def _tag(tenant: str) -> str:
    return f"ut:{{ovr:{tenant}}}"


def slot(scope: str, target: str, resource: str, method: str) -> str:
    return f"{scope}/{target}/{resource}/{method}"


def generation_key(tenant: str) -> str:
    return f"{_tag(tenant)}:gen"


def generation(r, tenant: str) -> int:
    """The tenant's change counter: 0 before the first override."""
    return int(r.get(generation_key(tenant)) or 0)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _append(r, tenant: str, name: str, entry: dict, live: bool) -> dict:
    tag = _tag(tenant)
    entry = {**entry, "changed_at": _now()}
    version = r.eval(_APPEND, 3, f"{tag}:current", f"{tag}:history:{name}", f"{tag}:gen", name,
                     json.dumps(entry, separators=(",", ":")), "1" if live else "0")
    return {"version": int(version), **entry}


def put(r, tenant: str, name: str, override: dict, changed_by: str | None) -> dict:
    """Store `override` as the slot's next version; the new version entry."""
    return _append(r, tenant, name, {"action": "put", "override": override, "changed_by": changed_by}, True)


def delete(r, tenant: str, name: str, changed_by: str | None) -> dict | None:
    """End the slot's override (its history stays); None when it has none."""
    if current(r, tenant, name) is None:
        return None
    return _append(r, tenant, name, {"action": "delete", "override": None, "changed_by": changed_by}, False)


def rollback(r, tenant: str, name: str, version: int, changed_by: str | None) -> dict | None:
    """A new version holding what `version` held (a deleted one: no override); None if there is no such version."""
    old = version_of(r, tenant, name, version)
    if old is None:
        return None
    return _append(r, tenant, name, {"action": "rollback", "override": old["override"], "changed_by": changed_by,
                                     "rolled_back_to": version}, old["override"] is not None)


def version_of(r, tenant: str, name: str, version: int) -> dict | None:
    if version < 1:
        return None
    raw = r.lindex(f"{_tag(tenant)}:history:{name}", version - 1)
    return {"version": version, **json.loads(raw)} if raw else None


def current(r, tenant: str, name: str) -> dict | None:
    """The slot's live version entry, or None."""
    version = r.hget(f"{_tag(tenant)}:current", name)
    return version_of(r, tenant, name, int(version)) if version else None


def history(r, tenant: str, name: str) -> list[dict]:
    """Every version of the slot, newest first."""
    entries = r.lrange(f"{_tag(tenant)}:history:{name}", 0, -1)
    return [{"version": i + 1, **json.loads(raw)} for i, raw in reversed(list(enumerate(entries)))]


def snapshot(r, tenant: str) -> tuple[int, dict[str, dict]]:
    """(generation, {slot: live version entry}) of the whole tenant, read together in one transaction."""
    tag = _tag(tenant)
    pipe = r.pipeline(transaction=True)
    pipe.get(f"{tag}:gen")
    pipe.hgetall(f"{tag}:current")
    gen, live = pipe.execute()
    if not live:
        return int(gen or 0), {}
    pipe = r.pipeline(transaction=False)
    names = sorted(live)
    for name in names:
        pipe.lindex(f"{tag}:history:{name}", int(live[name]) - 1)
    return int(gen or 0), {name: {"version": int(live[name]), **json.loads(raw)}
                           for name, raw in zip(names, pipe.execute(), strict=True) if raw}
