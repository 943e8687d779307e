"""Integrated accounts: one tenant's connection to one helpdesk account.

Credentials are stored Fernet-encrypted and only decrypted to call the upstream. Keys of one
account share the hash tag `{acct:<id>}` so they stay on one Redis Cluster slot.

`Accounts` is the one way in: a request loads its account once (with the caller's API key and the
account's rate-limit cooldown, in one round trip), decrypted into an `Account` that views, the engine,
the upstream client and the OAuth refresh all share; status and context changes go through it too.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

from . import account_logs, tenants
from .mapping_overrides import generation_key
from .ratelimit import cooldown_key
from .secrets import hash_api_key

COOLDOWN_FRESH = 1.0  # seconds a cooldown read serves a request's further upstream calls
SCOPES_KEPT = 10_000  # accounts whose rate-limit scope a process remembers (to prefetch their cooldown)


@dataclass
class Account:
    """An integrated account as everything that works for a request needs it: loaded and decrypted once.
    An account being connected (not stored yet) has `id` None."""
    id: str | None
    tenant: str
    version: str
    auth_type: str
    credentials: dict  # decrypted, without `type`
    context: dict = field(default_factory=dict)  # learnt at connect (`$account` in mappings)
    integration: str = ""
    status: str | None = None
    record: dict = field(default_factory=dict, repr=False)  # the stored hash, credentials still encrypted
    cooldown_ms: int | None = None  # the scope's rate-limit cooldown read with the account (None: not read)
    cooldown_read_at: float = 0.0  # time.monotonic() of the last read
    overrides_generation: int | None = None  # the tenant's mapping-override counter, read with the account

    def cooldown_left_ms(self) -> int | None:
        """The cooldown still to wait, as last read (with the account, or by the previous call), while that
        read is fresh (COOLDOWN_FRESH): calls close together share one read; None when it must be read again."""
        age = time.monotonic() - self.cooldown_read_at
        if self.cooldown_ms is None or age > COOLDOWN_FRESH:
            return None
        return max(0, self.cooldown_ms - int(age * 1000))

    @property
    def rate_scope(self) -> str:
        """Who shares the helpdesk's rate limit: the helpdesk license when it is known, else the account."""
        return f"{self.integration}:{self.context.get('license') or self.id}"

    def public(self) -> dict:
        return public(self.record)

def key(account_id: str) -> str:
    return f"ut:{{acct:{account_id}}}:account"


def _tenant_key(tenant: str) -> str:
    return f"ut:tenant:{tenant}:accounts"


class Accounts:
    """The accounts service: load, create, list, delete, and the fields that change after connecting."""

    def __init__(self, r, fernet):
        self.r = r
        self.fernet = fernet
        self._scopes: dict[str, str] = {}  # account id -> rate-limit scope, as last loaded
        self._tenants: dict[str, str] = {}  # account id -> tenant, as last loaded

    # --- loading ---------------------------------------------------------------------------------
    def load(self, account_id: str) -> Account | None:
        return self._account(self.r.hgetall(key(account_id)) if account_id else None)

    def load_for_key(self, api_key: str, account_id: str, also=None) -> tuple[tenants.ApiKey | None, Account | None]:
        """The caller's API key and the account it asks for, read in one round trip with the account's
        rate-limit cooldown (its scope as last seen by this process) and `also`'s reads (a `queue(pipe)` and
        `take(replies)` pair: a cursor's traversal state). The caller checks ownership."""
        pipe = self.r.pipeline(transaction=False)
        pipe.get(tenants.api_key_key(hash_api_key(api_key)))
        pipe.hgetall(key(account_id))
        scope, tenant = self._scopes.get(account_id), self._tenants.get(account_id)
        if scope is not None:
            pipe.pttl(cooldown_key(scope))
        if tenant is not None:  # the tenant's override counter too (engine/overrides.py), as last seen
            pipe.get(generation_key(tenant))
        ours = len(pipe)
        if also is not None:
            also.queue(pipe)
        replies = pipe.execute()
        if also is not None:
            also.take(replies[ours:])
            replies = replies[:ours]
        found = tenants.parse_key(self.r, replies[0])
        account = self._account(replies[1]) if found is not None else None  # decrypt for known callers only
        if account is not None and scope is not None and scope == account.rate_scope:
            account.cooldown_ms, account.cooldown_read_at = max(0, replies[2]), time.monotonic()
        if account is not None and tenant is not None and tenant == account.tenant:
            account.overrides_generation = int(replies[-1] or 0)
        return found, account

    def _account(self, record: dict | None) -> Account | None:
        if not record:
            return None
        creds = json.loads(self.fernet.decrypt(record["credentials"].encode()))
        account = Account(id=record["id"], tenant=record["tenant"], version=record["api_version"],
                          auth_type=record["auth_type"], credentials={k: v for k, v in creds.items() if k != "type"},
                          context=json.loads(record.get("info") or "{}"), integration=record["integration"],
                          status=record.get("status"), record=record)
        if len(self._scopes) >= SCOPES_KEPT:
            self._scopes.clear()
            self._tenants.clear()
        self._scopes[account.id], self._tenants[account.id] = account.rate_scope, account.tenant
        return account

    def list_for(self, tenant: str) -> list[dict]:
        """The tenant's accounts as the API shows them."""
        ids = sorted(self.r.smembers(_tenant_key(tenant)))
        pipe = self.r.pipeline()
        for account_id in ids:
            pipe.hgetall(key(account_id))
        return [public(rec) for rec in pipe.execute() if rec]

    def all_tenants(self) -> list[str]:
        return sorted(self.r.smembers("ut:tenants"))

    # --- changes ---------------------------------------------------------------------------------
    def create(self, tenant: str, integration: str, api_version: str, auth_type: str, credentials: dict,
               info: dict) -> Account:
        account_id = str(uuid.uuid4())
        stored = {"type": auth_type, **credentials}
        record = {
            "id": account_id, "tenant": tenant, "integration": integration, "api_version": api_version,
            "auth_type": auth_type, "status": "active",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "info": json.dumps(info), "rev": "0",
            "credentials": self.fernet.encrypt(json.dumps(stored).encode()).decode(),
        }
        self.r.pipeline().hset(key(account_id), mapping=record).sadd(_tenant_key(tenant), account_id).execute()
        account_logs.status_changed(self.r, account_id, "connected")
        return self._account(record)

    def delete(self, account: Account) -> None:
        pipe = self.r.pipeline()
        pipe.delete(key(account.id))  # not chained: a cluster pipeline's delete returns None
        pipe.srem(_tenant_key(account.tenant), account.id)
        pipe.delete(account_logs.key(account.id))
        pipe.delete(account_logs.history_key(account.id))
        pipe.execute()

    def set_status(self, account: Account, status: str) -> None:
        """Set an account's status, unless the account was deleted meanwhile (never recreate a husk)."""
        account.status = status
        if self._set_if_exists(account, status=status) != -1:
            account_logs.status_changed(self.r, account.id, status)

    def set_info(self, account: Account, info: dict) -> None:
        """Replace an account's context, unless the account was deleted meanwhile."""
        account.context = info
        self._set_if_exists(account, info=json.dumps(info))

    def note_webhooks(self, account: Account, secret: str, ids: list) -> None:
        """The receiver secret and upstream ids of the webhooks registered for this account."""
        self._set_if_exists(account, webhook_secret=self.fernet.encrypt(secret.encode()).decode(),
                            webhook_ids=json.dumps(ids))

    def forget_webhooks(self, account: Account) -> None:
        account.record.pop("webhook_ids", None)
        self.r.hdel(key(account.id), "webhook_ids")

    def webhook_secret(self, account: Account) -> str | None:
        stored = account.record.get("webhook_secret")
        return stored and self.fernet.decrypt(stored.encode()).decode()

    def _set_if_exists(self, account: Account, **fields) -> int:
        """HSET the fields unless the account is gone: -1 then."""
        account.record.update(fields)
        flat = [x for pair in fields.items() for x in pair]
        return self.r.eval(_SET_IF_EXISTS, 1, key(account.id), *flat)


def webhook_ids(account: Account) -> list:
    return json.loads(account.record.get("webhook_ids") or "[]")


def public(record: dict) -> dict:
    """The account as the API shows it: never the credentials."""
    return {
        "id": record["id"], "integration": record["integration"], "api_version": record["api_version"],
        "auth_type": record["auth_type"], "status": record["status"], "created_at": record["created_at"],
        "context": json.loads(record.get("info") or "{}"),
    }


# KEYS[1] account hash; ARGV field, value, field, value...
_SET_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], unpack(ARGV)) end
return -1
"""
