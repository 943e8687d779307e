"""Tenants and their API keys. Only a SHA-256 of each key is stored.

A key is `ut:apikey:<hash>` (what a request reads: one GET) holding `{tenant, id, scope, accounts}` as
JSON, and `ut:apikeys:<id>` holding what the tenant's operator sees (prefix, created, last used, expiry).
Revoking deletes the first, so every worker refuses the key from the next request on; an expiry is the
first key's TTL, so Redis ends it on time. `scope` is `full` or `read` (GET only); `accounts`, when not
empty, are the only integrated accounts the key reaches. A value that is a bare tenant name (keys made
before key records existed) is a full key.
"""
from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field

from .secrets import hash_api_key

KEY_PREFIX = "ut_"
SCOPES = ("full", "read")
USED_EVERY = 60.0  # seconds: how often a key's last_used_at is written (per process), not on every request
_last_written: dict[str, float] = {}


@dataclass(frozen=True)
class ApiKey:
    tenant: str
    id: str | None = None
    scope: str = "full"
    accounts: tuple[str, ...] = field(default_factory=tuple)

    def reaches(self, account_id: str) -> bool:
        return not self.accounts or account_id in self.accounts


def _now(after: float = 0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + after))


def create_api_key(r, tenant: str, scope: str = "full", accounts: list[str] | tuple = (),
                   expires_in: float | None = None) -> str:
    """A new key for `tenant`, returned once."""
    return issue(r, tenant, scope, accounts, expires_in)["api_key"]


def issue(r, tenant: str, scope: str = "full", accounts: list[str] | tuple = (),
          expires_in: float | None = None) -> dict:
    """A new key and its public record (with the key itself, shown this once)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = "key_" + secrets.token_hex(8)
    digest = hash_api_key(api_key)
    expires_at = _now(expires_in) if expires_in else ""
    meta = {"id": key_id, "tenant": tenant, "hash": digest, "prefix": api_key[:10], "created_at": _now(),
            "scope": scope, "accounts": json.dumps(list(accounts)), "expires_at": expires_at, "last_used_at": ""}
    r.hset(f"ut:apikeys:{key_id}", mapping=meta)
    r.sadd(f"ut:tenant-keys:{tenant}", key_id)
    r.set(f"ut:apikey:{digest}", json.dumps({"tenant": tenant, "id": key_id, "scope": scope,
                                              "accounts": list(accounts)}),
          ex=max(1, int(expires_in)) if expires_in else None)
    if expires_in:
        r.expire(f"ut:apikeys:{key_id}", max(1, int(expires_in)) + 30 * 24 * 3600)  # listed a month after it ends
    r.sadd("ut:tenants", tenant)
    return {**public(meta), "api_key": api_key}


def api_key_key(digest: str) -> str:
    return f"ut:apikey:{digest}"


def key_for(r, api_key: str) -> ApiKey | None:
    """The key record of `api_key`, or None when it is unknown, revoked or expired."""
    return parse_key(r, r.get(api_key_key(hash_api_key(api_key))))


def parse_key(r, raw: str | None) -> ApiKey | None:
    """The key record stored as `raw` (None: no such key); notes its use now and then."""
    if raw is None:
        return None
    if not raw.startswith("{"):
        return ApiKey(raw)
    data = json.loads(raw)
    key = ApiKey(data["tenant"], data["id"], data.get("scope", "full"), tuple(data.get("accounts") or ()))
    now = time.monotonic()
    if now - _last_written.get(key.id, -USED_EVERY) >= USED_EVERY:
        _last_written[key.id] = now
        if r.exists(f"ut:apikeys:{key.id}"):  # never recreate the record of a key revoked meanwhile
            r.hset(f"ut:apikeys:{key.id}", "last_used_at", _now())
    return key


def tenant_for(r, api_key: str) -> str | None:
    key = key_for(r, api_key)
    return key.tenant if key else None


def public(meta: dict) -> dict:
    """What the tenant's operator may see of a key: never the key or its hash."""
    return {"id": meta["id"], "tenant": meta["tenant"], "prefix": meta["prefix"], "scope": meta["scope"],
            "integrated_account_ids": json.loads(meta.get("accounts") or "[]"),
            "created_at": meta["created_at"], "last_used_at": meta.get("last_used_at") or None,
            "expires_at": meta.get("expires_at") or None}


def list_keys(r, tenant: str) -> list[dict]:
    """The tenant's live keys (revoked ones are gone), oldest first."""
    out = []
    for key_id in r.smembers(f"ut:tenant-keys:{tenant}"):
        meta = r.hgetall(f"ut:apikeys:{key_id}")
        if not meta or not r.exists(f"ut:apikey:{meta['hash']}"):  # expired: drop it from the index
            r.srem(f"ut:tenant-keys:{tenant}", key_id)
            continue
        out.append(public(meta))
    return sorted(out, key=lambda k: (k["created_at"], k["id"]))


def find(r, key_id: str) -> dict | None:
    meta = r.hgetall(f"ut:apikeys:{key_id}") if key_id.startswith("key_") else {}
    return meta if meta and r.exists(f"ut:apikey:{meta['hash']}") else None


def revoke(r, key_id: str) -> bool:
    """End a key at once (every worker reads it on every request). False when there is no such live key."""
    meta = find(r, key_id)
    if meta is None:
        return False
    r.delete(f"ut:apikey:{meta['hash']}")
    r.delete(f"ut:apikeys:{key_id}")
    r.srem(f"ut:tenant-keys:{meta['tenant']}", key_id)
    return True


def rotate(r, key_id: str, overlap_seconds: float) -> dict | None:
    """A new key with the old one's tenant, scope and accounts; the old one keeps working for
    `overlap_seconds` (0: ends now), so clients can switch without a failed request."""
    meta = find(r, key_id)
    if meta is None:
        return None
    new = issue(r, meta["tenant"], meta["scope"], json.loads(meta["accounts"]))
    if overlap_seconds <= 0:
        revoke(r, key_id)
    else:
        ttl = r.ttl(f"ut:apikey:{meta['hash']}")
        if ttl < 0 or ttl > overlap_seconds:  # never lengthen a key that ends sooner anyway
            r.expire(f"ut:apikey:{meta['hash']}", max(1, int(overlap_seconds)))
            r.hset(f"ut:apikeys:{key_id}", "expires_at", _now(overlap_seconds))
    return {**new, "replaces": key_id}
