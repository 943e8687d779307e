"""Downloads: stream a file from the URL an attachment record names.

The URL comes from the helpdesk's data, which its users write into (a file event names any URL
it likes), so a download goes only to the integration's file hosts (`files:` in integration.yaml:
its CDN's origins, or the account's own API server), after the caller's address check, and the
account's credentials go only to the API server itself, only when the integration says files need them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import requests

from ..errors import ApiError
from ..urls import origin
from .executor import Account
from .upstream import Upstream

CHUNK = 64 * 1024


@dataclass
class Download:
    chunks: Iterator[bytes]
    content_type: str
    content_length: str | None
    disposition: str


def open_download(upstream: Upstream, account: Account, url, file_name: str | None,
                  content_type: str | None, check_address: Callable[[str], None] | None = None) -> Download:
    """Open the file at `url`; `check_address(url)` raises when the host resolves where we may not go."""
    title = upstream.integration.title
    target = origin(url)
    if target is None:
        raise ApiError(502, "upstream_error", f"{title} gave this attachment no downloadable URL")
    policy = upstream.integration.files
    api = origin(upstream.base_url_for(account.credentials))
    hosts = upstream.file_hosts | ({api} if policy.api_server else set())
    if target not in hosts:
        raise ApiError(502, "upstream_error", f"{title} names this attachment's file at {target[0]}://{target[1]}:"
                       f"{target[2]}, which is not one of {title}'s file hosts; it was not downloaded",
                       remote={"file_url": url})
    if check_address is not None:
        check_address(url)
    parts = urlsplit(url)
    headers = upstream.headers(account.auth_type, account.credentials) \
        if policy.credentials and target == api else {}
    try:
        resp = upstream.session_for(url).get(url, stream=True, timeout=upstream.timeout, verify=upstream.verify,
                                    headers=headers, allow_redirects=False)
    except requests.Timeout:
        raise ApiError(504, "upstream_timeout", f"{title}'s file host did not answer in {upstream.timeout:g} s; "
                       "retry later") from None
    except requests.ConnectionError:
        raise ApiError(502, "upstream_unreachable", f"{title}'s file host at {parts.netloc} could not be "
                       "reached") from None
    if 300 <= resp.status_code < 400:  # never followed: the target could be anywhere, our network included
        resp.close()
        raise ApiError(502, "upstream_error", f"{title}'s file host redirected the download to "
                       f"{resp.headers.get('Location')!r}; redirects are not followed",
                       remote={"status": resp.status_code})
    if resp.status_code >= 400:
        resp.close()
        if resp.status_code in (403, 404, 410):
            raise ApiError(404, "not_found", f"The file of this attachment is no longer available from {title} "
                           f"(HTTP {resp.status_code})", remote={"status": resp.status_code})
        raise ApiError(502, "upstream_error", f"{title}'s file host answered HTTP {resp.status_code}",
                       remote={"status": resp.status_code})

    def chunks() -> Iterator[bytes]:
        try:
            yield from resp.iter_content(CHUNK)
        finally:
            resp.close()

    name = file_name or parts.path.rsplit("/", 1)[-1] or "file"
    name = name.replace("\\", "/").rsplit("/", 1)[-1] or "file"  # a name, never a path
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c != '"' else "_" for c in name)
    return Download(chunks(), resp.headers.get("Content-Type") or content_type or "application/octet-stream",
                    resp.headers.get("Content-Length"),
                    f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}")
