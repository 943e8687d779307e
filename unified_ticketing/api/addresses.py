"""Where the service may send requests that a tenant chose the address of (webhook subscribers, a
helpdesk's own server): in production, not to private, loopback or link-local addresses."""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from ..errors import bad_request


def check_public(url: str, param: str, purpose: str) -> None:
    """A 400 naming `param` when `url` is not http(s) or resolves to a non-public address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request(f"{param} must be an absolute http(s) URL", param)
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except OSError:
        raise bad_request(f"{param}: cannot resolve {parts.hostname}", param) from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:  # private, loopback, link-local, shared (100.64/10), reserved
            raise bad_request(f"{param} resolves to a private address ({address}); {purpose}", param)
