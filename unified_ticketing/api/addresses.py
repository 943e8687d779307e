"""Where the service may send requests that a tenant chose the address of (webhook subscribers, a
helpdesk's own server, a file an attachment names): in production, not to private, loopback or
link-local addresses. These checks answer the caller at once; `netguard.GuardedAdapter` repeats them
on every connection."""
from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import ApiError, bad_request
from ..netguard import private_address


def check_public(url: str, param: str, purpose: str) -> None:
    """A 400 naming `param` when `url` is not http(s) or resolves to a non-public address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request(f"{param} must be an absolute http(s) URL", param)
    try:
        found = private_address(parts.hostname, parts.port)
    except LookupError:
        raise bad_request(f"{param}: cannot resolve {parts.hostname}", param) from None
    if found:
        raise bad_request(f"{param} resolves to a private address ({found}); {purpose}", param)


def check_public_file(url: str) -> None:
    """A 502 when a file URL from the helpdesk resolves to a non-public address: we do not fetch it."""
    parts = urlsplit(url)
    try:
        found = private_address(parts.hostname or "", parts.port)
    except LookupError:
        raise ApiError(502, "upstream_unreachable", f"The attachment's file host {parts.hostname} does not "
                       "resolve; it was not downloaded") from None
    if found:
        raise ApiError(502, "upstream_error", f"The attachment's file host {parts.hostname} resolves to a "
                       f"non-public address ({found}); it was not downloaded")
