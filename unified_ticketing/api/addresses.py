"""Where the service may send requests that a tenant chose the address of (webhook subscribers, a
helpdesk's own server, a file an attachment names): in production, not to private, loopback or
link-local addresses."""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from ..errors import ApiError, bad_request


def private_address(host: str, port: int | None) -> str | None:
    """The first address `host` resolves to that is not public (or the host itself if it does not resolve)."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port or 443)}
    except (OSError, UnicodeError):
        return host
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:  # private, loopback, link-local, shared (100.64/10), reserved
            return address
    return None


def check_public(url: str, param: str, purpose: str) -> None:
    """A 400 naming `param` when `url` is not http(s) or resolves to a non-public address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request(f"{param} must be an absolute http(s) URL", param)
    found = private_address(parts.hostname, parts.port)
    if found == parts.hostname:
        raise bad_request(f"{param}: cannot resolve {parts.hostname}", param)
    if found:
        raise bad_request(f"{param} resolves to a private address ({found}); {purpose}", param)


def check_public_file(url: str) -> None:
    """A 502 when a file URL from the helpdesk resolves to a non-public address: we do not fetch it."""
    parts = urlsplit(url)
    found = private_address(parts.hostname or "", parts.port)
    if found:
        raise ApiError(502, "upstream_error", f"The attachment's file host {parts.hostname} resolves to a "
                       f"non-public address ({found}); it was not downloaded")
