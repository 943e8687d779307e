"""Integrated accounts: one tenant's connection to one helpdesk account.

Credentials are stored Fernet-encrypted and only decrypted to call the upstream. Keys of one
account share the hash tag `{acct:<id>}` so they stay on one Redis Cluster slot.
"""
from __future__ import annotations

import json
import time
import uuid

from . import account_logs


def key(account_id: str) -> str:
    return f"ut:{{acct:{account_id}}}:account"


def create(r, fernet, tenant: str, integration: str, api_version: str, credentials: dict, info: dict) -> dict:
    account_id = str(uuid.uuid4())
    record = {
        "id": account_id, "tenant": tenant, "integration": integration, "api_version": api_version,
        "auth_type": credentials["type"], "status": "active",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "info": json.dumps(info), "rev": "0",
        "credentials": fernet.encrypt(json.dumps(credentials).encode()).decode(),
    }
    r.hset(key(account_id), mapping=record)
    r.sadd(f"ut:tenant:{tenant}:accounts", account_id)
    account_logs.status_changed(r, account_id, "connected")
    return public(record)


def get(r, account_id: str) -> dict | None:
    record = r.hgetall(key(account_id)) if account_id else None
    return record or None


def list_for(r, tenant: str) -> list[dict]:
    ids = sorted(r.smembers(f"ut:tenant:{tenant}:accounts"))
    pipe = r.pipeline()
    for account_id in ids:
        pipe.hgetall(key(account_id))
    return [public(rec) for rec in pipe.execute() if rec]


def delete(r, account: dict) -> None:
    r.delete(key(account["id"]), account_logs.key(account["id"]), account_logs.history_key(account["id"]))
    r.srem(f"ut:tenant:{account['tenant']}:accounts", account["id"])


def credentials(fernet, account: dict) -> dict:
    return json.loads(fernet.decrypt(account["credentials"].encode()))


def public(record: dict) -> dict:
    """The account as the API shows it: never the credentials."""
    return {
        "id": record["id"], "integration": record["integration"], "api_version": record["api_version"],
        "auth_type": record["auth_type"], "status": record["status"], "created_at": record["created_at"],
        "context": json.loads(record.get("info") or "{}"),
    }


_SET_STATUS = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], 'status', ARGV[1]) end
return -1
"""


def set_status(r, account_id: str, status: str) -> None:
    """Set an account's status, unless the account was deleted meanwhile (never recreate a husk)."""
    if r.eval(_SET_STATUS, 1, key(account_id), status) != -1:
        account_logs.status_changed(r, account_id, status)


_SET_INFO = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], 'info', ARGV[1]) end
return -1
"""


def set_info(r, account_id: str, info: dict) -> None:
    """Replace an account's context, unless the account was deleted meanwhile."""
    r.eval(_SET_INFO, 1, key(account_id), json.dumps(info))
