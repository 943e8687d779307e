"""Idempotency-Key: a write repeated with the same key and body within 24 h answers the stored
response instead of writing again; the same key with another body is a 422.

Per account and key, Redis holds a record `{fingerprint, state, status, body}` and, while a
request runs, a lock taken with SET NX. Concurrent repeats wait for the lock holder's stored
response (polling), so ten parallel identical requests make one upstream write. The lock is a short
lease that the holder renews while its write runs: a holder that dies (a killed worker, a Redis that
restarts under it) frees the key within LEASE_SECONDS, and the next attempt reconciles.

A record stays `started` when the outcome is not final (the upstream's answer was lost, a 5xx,
a refused call after earlier writes): the next attempt with the key runs with
`reconcile_first`, looking for its earlier writes before repeating them. Final outcomes are
stored: 2xx, and 4xx except the ones fixed by waiting or reconnecting (401, 403, 408, 429).
"""
from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from ..errors import ApiError

TTL_SECONDS = 24 * 3600
LEASE_SECONDS = 10  # a lock's life unless renewed; a dead holder frees the key after this
WAIT_SECONDS = 60  # how long a repeat waits for the first request to finish
POLL_SECONDS = 0.02
NOT_FINAL = {401, 403, 408, 429}
HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


@dataclass
class Outcome:
    status: int
    body: dict
    replayed: bool = False


def fingerprint(*parts) -> str:
    """A digest of what makes two requests the same: method, path and the validated body."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _keys(account_id: str, key: str) -> tuple[str, str]:
    digest = hashlib.sha256(key.encode()).hexdigest()
    base = f"ut:{{acct:{account_id}}}:idem:{digest}"
    return base, base + ":lock"


def run(r, account_id: str, key: str, print_: str, perform: Callable[[bool], Outcome], *,
        wait_seconds: float = WAIT_SECONDS) -> Outcome:
    """The stored outcome for (account, key), or `perform(reconcile_first)`'s, stored when final.

    An ApiError from `perform` is stored too when final, and re-raised (replayed later as raised).
    """
    record_key, lock_key = _keys(account_id, key)
    lock_value = json.dumps({"token": secrets.token_hex(8), "fingerprint": print_})
    deadline = time.monotonic() + wait_seconds
    while True:
        replay = _stored(r, record_key, print_)
        if replay is not None:
            return replay
        if r.set(lock_key, lock_value, nx=True, ex=LEASE_SECONDS):
            break
        holder = r.get(lock_key)
        if holder and json.loads(holder)["fingerprint"] != print_:
            raise _reused()
        if time.monotonic() > deadline:
            raise ApiError(409, "idempotency_key_in_use", f"A request with this {HEADER} is still running; retry "
                           f"with the same key later to get its response", param=HEADER)
        time.sleep(POLL_SECONDS)
    done = threading.Event()
    threading.Thread(target=_renew, args=(r, lock_key, lock_value, done), daemon=True).start()
    try:
        replay = _stored(r, record_key, print_)  # finished between our read and our lock
        if replay is not None:
            return replay
        earlier = r.get(record_key)
        reconcile_first = earlier is not None
        r.set(record_key, started_record(print_), ex=TTL_SECONDS)
        try:
            outcome = perform(reconcile_first)
        except ApiError as err:
            if final(err.status):
                r.set(record_key, done_record(print_, err.status, err.to_dict()), ex=TTL_SECONDS)
            raise
        if final(outcome.status):
            r.set(record_key, done_record(print_, outcome.status, outcome.body), ex=TTL_SECONDS)
        return outcome
    finally:
        done.set()
        r.eval(_RELEASE, 1, lock_key, lock_value)


def _renew(r, lock_key: str, lock_value: str, done: threading.Event) -> None:
    """Extend the lease every third of its life until the write is done (or the lock is no longer ours)."""
    while not done.wait(LEASE_SECONDS / 3):
        try:
            if not r.eval(_RENEW, 1, lock_key, lock_value, int(LEASE_SECONDS * 1000)):
                return
        except redis.RedisError:  # Redis away for a moment: try again at the next beat
            continue


def final(status: int) -> bool:
    """Whether an outcome is kept for replay: 2xx, and 4xx except those fixed by waiting or reconnecting;
    anything else leaves the record `started`, so the next attempt reconciles first."""
    return status < 500 and status not in NOT_FINAL


def started_record(print_: str) -> str:
    return json.dumps({"fingerprint": print_, "state": "started"})


def done_record(print_: str, status: int, body: dict) -> str:
    return json.dumps({"fingerprint": print_, "state": "done", "status": status, "body": body})


def _stored(r, record_key: str, print_: str) -> Outcome | None:
    return replay(r.get(record_key), print_)


def replay(raw: str | None, print_: str) -> Outcome | None:
    """What a stored record means for a request with fingerprint `print_`: its outcome to answer again
    (an error outcome is raised), or None to run the write (no record, or one still `started`); a 422
    when the key was used for another request."""
    if raw is None:
        return None
    record = json.loads(raw)
    if record["fingerprint"] != print_:
        raise _reused()
    if record["state"] != "done":
        return None
    if record["status"] >= 400:
        err = record["body"]["error"]
        raise ApiError(err["status"], err["type"], err["message"], param=err.get("param"), remote=err.get("remote"),
                       headers={REPLAY_HEADER: "true"})
    return Outcome(record["status"], record["body"], replayed=True)


def _reused() -> ApiError:
    return ApiError(422, "idempotency_key_reused", f"This {HEADER} was already used with a different request "
                    "body or route in the last 24 h; use a new key for a new request", param=HEADER)
