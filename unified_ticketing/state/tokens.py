"""OAuth tokens of integrated accounts: refresh ahead of expiry, single-flight across processes.

One refresh per token however many requests arrive at once: a Redis lock (with a TTL) elects one
refresher; everyone else waits for the stored token to change. The new tokens are saved with a
compare-and-set on the credentials' revision (the fence), in one Redis command, before they are
used; a rotating refresh token is therefore never lost to a race. A refresh that
fails with invalid_grant marks the account `needs_reauth` and is not retried.
"""
from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime

from .. import observability
from ..errors import ApiError
from . import account_logs, accounts

# KEYS[1] account hash; ARGV expected revision, new encrypted credentials, new status.
_SAVE = """
if redis.call('HGET', KEYS[1], 'rev') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'credentials', ARGV[2], 'rev', tostring(tonumber(ARGV[1]) + 1), 'status', ARGV[3])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class InvalidGrant(Exception):
    """The refresh token is dead (expired, revoked or already used)."""


def expires_at(credentials: dict) -> float | None:
    value = credentials.get("expires_at")
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def reconnect_error(account_id: str) -> ApiError:
    return ApiError(401, "needs_reauth", f"The integrated account {account_id} must be reconnected: the helpdesk "
                    "no longer accepts its refresh token. Connect it again (GET /connect/<integration>).")


class TokenKeeper:
    def __init__(self, r, fernet, lock_ttl: float = 30, wait: float = 20):
        self.r = r
        self.fernet = fernet
        self.lock_ttl = lock_ttl
        self.wait = wait
        self._save = r.register_script(_SAVE)
        self._release = r.register_script(_RELEASE)

    def _read(self, account_id: str) -> tuple[dict, dict]:
        """The stored record and credentials as they are now (another worker may have refreshed them)."""
        record = self.r.hgetall(accounts.key(account_id))
        if not record:
            raise ApiError(404, "not_found", f"No integrated account '{account_id}'")
        if record.get("status") == "needs_reauth":
            raise reconnect_error(account_id)
        creds = json.loads(self.fernet.decrypt(record["credentials"].encode()))
        return record, {k: v for k, v in creds.items() if k != "type"}

    def current(self, account: accounts.Account, margin: float, refresher) -> dict:
        """The loaded account's credentials, refreshed first when they expire within `margin` seconds
        (the account then holds the new ones)."""
        if account.status == "needs_reauth":
            raise reconnect_error(account.id)
        creds = account.credentials
        expiry = expires_at(creds)
        if expiry is None or expiry - time.time() > margin or not creds.get("refresh_token"):
            return creds
        account.credentials = self.refresh(account.id, creds, refresher)
        return account.credentials

    def refresh(self, account_id: str, stale: dict, refresher) -> dict:
        """New credentials for `stale` ones; exactly one caller per stale token talks to the helpdesk."""
        lock = accounts.key(account_id) + ":refresh-lock"
        me = secrets.token_hex(8)
        deadline = time.monotonic() + self.wait
        while True:
            if self.r.set(lock, me, nx=True, px=int(self.lock_ttl * 1000)):
                try:
                    return self._refresh_locked(account_id, stale, refresher)
                finally:
                    self._release(keys=[lock], args=[me])
            time.sleep(0.02)
            _, creds = self._read(account_id)
            if creds.get("access_token") != stale.get("access_token"):
                return creds
            if time.monotonic() > deadline:
                raise ApiError(503, "refresh_pending", "The account's token is being refreshed; retry in a moment",
                               headers={"Retry-After": "1"})

    def _refresh_locked(self, account_id: str, stale: dict, refresher) -> dict:
        record, creds = self._read(account_id)
        if creds.get("access_token") != stale.get("access_token"):
            return creds  # someone refreshed while we waited for the lock
        rev = record.get("rev", "0")
        try:
            answer = refresher(creds)
        except InvalidGrant:
            observability.TOKEN_REFRESHES.labels("invalid_grant").inc()
            latest, latest_creds = self._read(account_id)
            if latest.get("rev", "0") != rev:
                return latest_creds
            self._save(keys=[accounts.key(account_id)], args=[rev, record["credentials"], "needs_reauth"])
            account_logs.status_changed(self.r, account_id, "needs_reauth")
            raise reconnect_error(account_id) from None
        except ApiError:
            observability.TOKEN_REFRESHES.labels("failed").inc()
            raise
        fresh = {**creds, "access_token": answer["access_token"],
                 "refresh_token": answer.get("refresh_token") or creds.get("refresh_token"),
                 "expires_at": iso(time.time() + float(answer.get("expires_in", 3600)))}
        encrypted = self.fernet.encrypt(json.dumps({"type": record["auth_type"], **fresh}).encode()).decode()
        if not self._save(keys=[accounts.key(account_id)], args=[rev, encrypted, "active"]):
            observability.TOKEN_REFRESHES.labels("superseded").inc()
            return self._read(account_id)[1]  # the fence moved: someone else saved newer tokens
        observability.TOKEN_REFRESHES.labels("refreshed").inc()
        self.r.hincrby(accounts.key(account_id), "refreshes", 1)
        return fresh
