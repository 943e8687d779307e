"""Connections to addresses a tenant chose (a helpdesk server of their own, a webhook subscriber): only
to public addresses, checked when a connection is made, not only when the URL was accepted.

A URL checked once can resolve elsewhere later (DNS rebinding), so `GuardedAdapter` resolves the host
itself for every new connection, refuses it if any address is not public, and connects to the address it
checked (TLS still verifies the host name). `blocked` is stricter than `ipaddress`'s `is_global`, which
lets through IPv4 addresses embedded in IPv6 forms (`::127.0.0.1`, NAT64 `64:ff9b::/96`, 6to4
`2002::/16`) and IETF protocol assignments (`192.0.0.0/24`).
"""
from __future__ import annotations

import ipaddress
import socket

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

_IETF = ipaddress.ip_network("192.0.0.0/24")
_COMPAT = ipaddress.ip_network("::/96")  # IPv4-compatible (deprecated): ::a.b.c.d
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_6TO4 = ipaddress.ip_network("2002::/16")


def blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for any address that is not a public unicast one, whatever form it is written in."""
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return blocked(ip.ipv4_mapped)
        if ip in _COMPAT or ip in _NAT64:
            return blocked(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)) or ip in _COMPAT
        if ip in _6TO4:
            return blocked(ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF))
        if ip in _NAT64_LOCAL:
            return True
    elif ip in _IETF:
        return True
    return not ip.is_global or ip.is_multicast


def _resolve(host: str, port: int | None) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError):
        raise LookupError(host) from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def _first_private(addresses: list[str]) -> str | None:
    for address in addresses:
        if blocked(ipaddress.ip_address(address.split("%")[0])):
            return address
    return None


def private_address(host: str, port: int | None) -> str | None:
    """The first address `host` resolves to that is not public, if any; LookupError when it does not resolve."""
    return _first_private(_resolve(host, port))


def public_address(host: str, port: int) -> str:
    """The address to connect to: from the same resolution that was checked (a second lookup could answer
    otherwise); raises when the host does not resolve or any of its addresses is not public."""
    try:
        addresses = _resolve(host, port)
    except LookupError:
        raise ValueError(f"{host} does not resolve") from None
    found = _first_private(addresses)
    if found:
        raise ValueError(f"{host} resolves to a non-public address ({found})")
    return addresses[0]


class _Guarded:
    def _new_conn(self):
        host = self._dns_host  # also `self.host`, which TLS verifies: restored before the handshake
        try:
            address = public_address(host, self.port)
        except ValueError as exc:
            raise NewConnectionError(self, f"refused: {exc}") from None
        self._dns_host = address
        try:
            return super()._new_conn()
        finally:
            self._dns_host = host


class _GuardedHTTPConnection(_Guarded, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_Guarded, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter whose every new connection goes only to a public address, checked then."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}
