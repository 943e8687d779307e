"""Webhooks in Redis: inbound deliveries (a stream read by a consumer group), tenants'
subscriptions, and per-subscription outbound streams with delivery logs and a dead-letter list.

Outbound order is kept per subscription: one worker at a time holds a subscription (a lock with
a TTL) and always retries its oldest unacknowledged entry first; a worker that dies leaves its
entry pending, and the next holder claims it (XAUTOCLAIM) after the lock expires.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import time

INBOUND = "ut:wh:in"
LATER = "{ut:wh:in}:later"  # inbound entries waiting to be tried again (the stream's hash slot, for the script)
FAILED = "{ut:wh:in}:dead"  # inbound entries given up on (capped)
PROCESSORS = "processors"
DELIVERERS = "deliverers"
DUE = "ut:wh:due"
DEDUPE_TTL = 24 * 3600
LOG_KEEP = 500


def _sub(sub_id: str, part: str) -> str:
    return f"ut:{{sub:{sub_id}}}:{part}"


def ensure_groups(r) -> None:
    try:
        r.xgroup_create(INBOUND, PROCESSORS, id="0", mkstream=True)
    except Exception as exc:  # BUSYGROUP: already there
        if "BUSYGROUP" not in str(exc):
            raise


# --- inbound ----------------------------------------------------------------------------------
def accept(r, account_id: str, action: str, payload) -> bool:
    """Persist an upstream delivery once; False when it was seen in the last 24 h (a retry)."""
    digest = hashlib.sha256(json.dumps([action, payload], sort_keys=True).encode()).hexdigest()
    if not r.set(f"ut:{{acct:{account_id}}}:wh-seen:{digest}", "1", nx=True, ex=DEDUPE_TTL):
        return False
    r.xadd(INBOUND, {"account": account_id, "action": action, "payload": json.dumps(payload), "key": digest})
    return True


def read_inbound(r, consumer: str, block_ms: int = 1000, claim_idle_ms: int = 30000) -> list:
    """New inbound entries for this consumer (with any deferred ones now due), after claiming any a dead
    consumer left pending."""
    claimed = r.xautoclaim(INBOUND, PROCESSORS, consumer, min_idle_time=claim_idle_ms, start_id="0-0", count=10)
    entries = claimed[1] if claimed else []
    if entries:
        return entries
    r.eval(_REQUEUE, 2, LATER, INBOUND, int(time.time() * 1000))
    answer = r.xreadgroup(PROCESSORS, consumer, {INBOUND: ">"}, count=10, block=block_ms)
    return answer[0][1] if answer else []


def ack_inbound(r, entry_id: str) -> None:
    r.xack(INBOUND, PROCESSORS, entry_id)


def first_seen(entry_id: str, fields: dict) -> float:
    """When the helpdesk's delivery was first stored (a deferred entry keeps its first time)."""
    return float(fields.get("first") or int(entry_id.split("-")[0]) / 1000)


def tries(fields: dict) -> int:
    """How many times the entry was tried and put aside before."""
    return int(fields.get("tries") or 0)


def defer_inbound(r, entry_id: str, fields: dict, wait: float) -> int:
    """Take the entry off the stream and put it back after `wait` seconds, in one step (a crash leaves it
    either pending or deferred, never lost); the number of tries it has had."""
    tries_now = tries(fields) + 1
    later = {**fields, "tries": str(tries_now), "first": str(first_seen(entry_id, fields))}
    member = json.dumps(later, sort_keys=True, ensure_ascii=False)
    r.eval(_DEFER, 2, LATER, INBOUND, int((time.time() + wait) * 1000), member, PROCESSORS, entry_id)
    return tries_now


def give_up_inbound(r, entry_id: str, fields: dict, reason: str) -> None:
    """Keep the entry where an operator can read it (the newest 10 000) and stop trying it (a crash in
    between leaves it pending: tried again, and kept twice at worst)."""
    r.xadd(FAILED, {**fields, "reason": reason}, maxlen=10000, approximate=True)
    r.xack(INBOUND, PROCESSORS, entry_id)


def deferred_inbound(r) -> list[tuple[dict, float]]:
    """Entries waiting for another try, with when (unix seconds)."""
    return [(json.loads(m), score / 1000) for m, score in r.zrange(LATER, 0, -1, withscores=True)]


_DEFER = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XACK', KEYS[2], ARGV[3], ARGV[4])
"""

_REQUEUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 10)
for _, member in ipairs(due) do
  local fields = cjson.decode(member)
  local flat = {}
  for k, v in pairs(fields) do flat[#flat + 1] = k; flat[#flat + 1] = v end
  redis.call('XADD', KEYS[2], '*', unpack(flat))
  redis.call('ZREM', KEYS[1], member)
end
return #due
"""


# --- routing by license (webhooks registered per app, not per account) ------------------------
def _license(integration: str, license_id: str) -> str:
    return f"ut:wh:license:{{{integration}:{license_id}}}"


def route_add(r, integration: str, license_id: str, account_id: str) -> None:
    r.sadd(_license(integration, license_id), account_id)


def route_remove(r, integration: str, license_id: str, account_id: str) -> int:
    """Forget the account; how many accounts remain on its license."""
    key = _license(integration, license_id)
    r.srem(key, account_id)
    return r.scard(key)


def routed(r, integration: str, license_id: str) -> list[str]:
    """The accounts on a license: where its deliveries go."""
    return sorted(r.smembers(_license(integration, license_id)))


# --- subscriptions ----------------------------------------------------------------------------
def create_subscription(r, fernet, tenant: str, url: str, events: list[str]) -> tuple[dict, str]:
    sub_id = secrets.token_hex(12)
    secret = "whsec_" + secrets.token_urlsafe(32)
    record = {"id": sub_id, "tenant": tenant, "url": url, "events": json.dumps(events),
              "secret": fernet.encrypt(secret.encode()).decode(),
              "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    r.hset(_sub(sub_id, "meta"), mapping=record)
    r.sadd(f"ut:tenant:{tenant}:subs", sub_id)
    try:
        r.xgroup_create(_sub(sub_id, "out"), DELIVERERS, id="0", mkstream=True)
    except Exception as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    return public_subscription(record), secret


def subscription(r, sub_id: str) -> dict | None:
    return r.hgetall(_sub(sub_id, "meta")) or None


def subscriptions_of(r, tenant: str) -> list[dict]:
    pipe = r.pipeline()
    for sub_id in sorted(r.smembers(f"ut:tenant:{tenant}:subs")):
        pipe.hgetall(_sub(sub_id, "meta"))
    return [s for s in pipe.execute() if s]


def delete_subscription(r, record: dict) -> None:
    r.delete(_sub(record["id"], "meta"), _sub(record["id"], "out"), _sub(record["id"], "log"),
             _sub(record["id"], "dead"))
    r.srem(f"ut:tenant:{record['tenant']}:subs", record["id"])
    r.zrem(DUE, record["id"])


def public_subscription(record: dict) -> dict:
    return {"id": record["id"], "url": record["url"], "events": json.loads(record["events"]),
            "created_at": record["created_at"]}


def subscription_secret(fernet, record: dict) -> str:
    return fernet.decrypt(record["secret"].encode()).decode()


# --- outbound ---------------------------------------------------------------------------------
def enqueue(r, sub_id: str, delivery_id: str, body: str) -> bool:
    """Queue one event for a subscription, once per delivery id (reprocessing adds nothing)."""
    if not r.set(_sub(sub_id, f"enq:{delivery_id}"), "1", nx=True, ex=DEDUPE_TTL):
        return False
    r.xadd(_sub(sub_id, "out"), {"id": delivery_id, "body": body, "first": str(time.time())})
    log(r, sub_id, delivery_id, {"state": "pending", "attempts": []}, new=True)
    r.zadd(DUE, {sub_id: 0})
    return True


def due_subscriptions(r, limit: int = 20) -> list[str]:
    return r.zrangebyscore(DUE, "-inf", int(time.time() * 1000), start=0, num=limit)


def unschedule(r, sub_id: str) -> None:
    """Stop looking at a subscription (it was deleted)."""
    r.zrem(DUE, sub_id)


def schedule(r, sub_id: str, at: float) -> None:
    r.zadd(DUE, {sub_id: int(at * 1000)})


def hold(r, sub_id: str, owner: str, ttl_ms: int) -> bool:
    return bool(r.set(_sub(sub_id, "lock"), owner, nx=True, px=ttl_ms))


def release(r, sub_id: str, owner: str) -> None:
    if r.get(_sub(sub_id, "lock")) == owner:
        r.delete(_sub(sub_id, "lock"))


def next_entry(r, sub_id: str, consumer: str):
    """The subscription's oldest unacknowledged entry (claimed from whoever held it), else the next new one."""
    stream = _sub(sub_id, "out")
    claimed = r.xautoclaim(stream, DELIVERERS, consumer, min_idle_time=0, start_id="0-0", count=1)
    if claimed and claimed[1]:
        return claimed[1][0]
    answer = r.xreadgroup(DELIVERERS, consumer, {stream: ">"}, count=1)
    return answer[0][1][0] if answer and answer[0][1] else None


def done(r, sub_id: str, entry_id: str) -> None:
    stream = _sub(sub_id, "out")
    r.pipeline().xack(stream, DELIVERERS, entry_id).xdel(stream, entry_id).execute()


def dead_letter(r, sub_id: str, entry: dict) -> None:
    r.rpush(_sub(sub_id, "dead"), json.dumps(entry))


def log(r, sub_id: str, delivery_id: str, record: dict, new: bool = False) -> None:
    key = _sub(sub_id, "log")
    r.hset(key, delivery_id, json.dumps(record))
    if new:
        r.rpush(_sub(sub_id, "log-order"), delivery_id)
        if r.llen(_sub(sub_id, "log-order")) > LOG_KEEP:
            r.hdel(key, r.lpop(_sub(sub_id, "log-order")))


def read_log(r, sub_id: str, delivery_id: str) -> dict | None:
    raw = r.hget(_sub(sub_id, "log"), delivery_id)
    return json.loads(raw) if raw else None


def deliveries(r, sub_id: str) -> list[dict]:
    ids = r.lrange(_sub(sub_id, "log-order"), 0, -1)
    values = r.hmget(_sub(sub_id, "log"), ids) if ids else []
    return [{"id": i, **json.loads(v)} for i, v in zip(ids, values, strict=True) if v]


def replay(r, sub_id: str, delivery_id: str, body: str) -> None:
    """Send a delivery again (same id, so receivers can tell)."""
    r.xadd(_sub(sub_id, "out"), {"id": delivery_id, "body": body, "first": str(time.time())})
    r.zadd(DUE, {sub_id: 0})


def store_body(r, sub_id: str, delivery_id: str, body: str) -> None:
    r.set(_sub(sub_id, f"body:{delivery_id}"), body, ex=7 * 24 * 3600)


def stored_body(r, sub_id: str, delivery_id: str) -> str | None:
    return r.get(_sub(sub_id, f"body:{delivery_id}"))
