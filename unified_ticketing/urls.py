"""One strict reading of an http(s) URL that a caller gives us (a helpdesk server, a subscriber), so that
what we accept is what requests and the IDNA codec will later connect to (a URL they refuse was a 500)."""
from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

_ORIGIN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def http_url(url) -> SplitResult | None:
    """The parts of an absolute http(s) URL with a valid host and port, no user, no whitespace or backslash;
    None otherwise."""
    if not isinstance(url, str) or not url.isascii() or not url.isprintable() or any(c in url for c in "\\@ "):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # "http://[::1", port 99999
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        return None
    return parts if _host_ok(parts.hostname) else None


def _host_ok(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    if not name or len(name) > 253:
        return False
    for label in name.split("."):
        if not _LABEL.match(label):
            return False
        if label.lower().startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                return False
    return True


def origin(url) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a printable URL whose origin `http_url` accepts (the path may hold what an
    origin may not, such as "@2x.png"), the scheme's default port filled in; None otherwise."""
    if not isinstance(url, str) or not url.isascii() or not url.isprintable():
        return None
    head = _ORIGIN.match(url.strip())
    parts = http_url(head.group(0)) if head else None
    if parts is None:
        return None
    return parts.scheme, parts.hostname.rstrip(".").lower(), parts.port or (443 if parts.scheme == "https" else 80)
