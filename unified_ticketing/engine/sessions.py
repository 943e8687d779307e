"""One keep-alive `requests.Session` per upstream origin, shared by every thread or greenlet of a worker.

A session's connection pool is urllib3's, which is thread-safe (and gevent-safe once gevent has patched
`threading`). Cookies are never kept: a session serves every tenant whose account lives on that host,
and a cookie one account's answer set must not ride along with another's requests. Sessions of hosts
a tenant chose (`guarded`) connect only to public addresses, checked for every new connection
(`netguard.GuardedAdapter`): a pooled connection always leads to an address that was checked when it
was opened, and a host that now resolves elsewhere is checked again when the pool opens the next one.

The environment's proxy settings (`HTTPS_PROXY`, `NO_PROXY`...) are read once per origin, when its session is
made: a session that trusts the environment reads them on every call (0.1 ms of `os.environ` each). The CA
bundle it would read (`REQUESTS_CA_BUNDLE`) is `verify_setting`'s; a `.netrc` is never read (its password
would replace the helpdesk credentials' Authorization header).
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from contextlib import suppress
from http.cookiejar import DefaultCookiePolicy

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies

from ..netguard import GuardedAdapter
from ..urls import origin

POOL_SIZE = 32  # connections kept per origin (a worker's concurrent calls to one host beyond this open more)
ORIGINS_KEPT = 256  # the least recently used origin's session is closed past this many (tenants' own servers)


class _NoCookies(DefaultCookiePolicy):
    def set_ok(self, cookie, request) -> bool:
        return False


class Sessions:
    def __init__(self, guarded: bool):
        self.guarded = guarded
        self._sessions: OrderedDict[tuple, requests.Session] = OrderedDict()
        self._lock = threading.Lock()

    def for_url(self, url: str) -> requests.Session:
        """The session for `url`'s origin (scheme, host, port), made on first use."""
        key = origin(url) or ("", url, None)
        with self._lock:
            session = self._sessions.get(key)
            if session is not None:
                self._sessions.move_to_end(key)
                return session
            session = self._new(url)
            self._sessions[key] = session
            if len(self._sessions) > ORIGINS_KEPT:
                _, oldest = self._sessions.popitem(last=False)
                oldest.close()  # idle connections close; one in use is dropped when it is given back
        return session

    def close(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()

    def _new(self, url: str) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        with suppress(ValueError):  # a malformed URL: its request fails as before
            session.proxies = get_environ_proxies(url)  # NO_PROXY matches the host: one answer per origin
        session.cookies.set_policy(_NoCookies())
        adapter = (GuardedAdapter if self.guarded else HTTPAdapter)(pool_connections=1, pool_maxsize=POOL_SIZE)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session


def verify_setting(verify: bool | str) -> bool | str:
    """requests' `verify` as a session trusting the environment would use it: a CA bundle from
    `REQUESTS_CA_BUNDLE` or `CURL_CA_BUNDLE` when verifying."""
    if verify is True:
        return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return verify
