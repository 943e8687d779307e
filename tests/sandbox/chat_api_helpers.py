"""Helpers shared by the Agent Chat Web API / Configuration API sandbox tests."""
from __future__ import annotations

import re
import ssl

import requests
from requests.adapters import HTTPAdapter

# LiveChat writes timestamps as UTC RFC 3339 with exactly six fractional digits.
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


class _SelfSignedAdapter(HTTPAdapter):
    """One prebuilt non-verifying TLS context: without it urllib3 reloads the system CA bundle for every
    connection (~50 ms), and the sandbox's HTTP/1.0 server closes every connection."""

    def init_poolmanager(self, *args, **kwargs):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        kwargs["ssl_context"] = ctx
        super().init_poolmanager(*args, **kwargs)


def session() -> requests.Session:
    """A requests session for the sandbox's self-signed https; pass verify=False on each request too."""
    s = requests.Session()
    s.mount("https://", _SelfSignedAdapter())
    return s


class Api:
    """A keep-alive client for one sandbox. Close it (or use `with`) so no socket leaks."""

    def __init__(self, sandbox, auth: str | None = None, version: str = "3.5"):
        self.sandbox = sandbox
        self.base = sandbox.base_url
        self.session = session()
        self.auth = auth or sandbox.admin("GET", "credentials")["basic_authorization"]
        self.version = version

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self.session.close()

    def post(self, method: str, body=None, api: str = "agent", version: str | None = None,
             auth: str | None = None) -> requests.Response:
        headers = {"Authorization": auth or self.auth}
        return self.session.post(f"{self.base}/v{version or self.version}/{api}/action/{method}",
                                 json={} if body is None else body, headers=headers, timeout=30,
                                 verify=False)  # self-signed; per request, as env CA bundles beat Session.verify

    def ok(self, method: str, body=None, **kw):
        """Call a method that must succeed; returns the parsed body."""
        resp = self.post(method, body, **kw)
        assert resp.status_code == 200, f"{method}: {resp.status_code} {resp.text[:500]}"
        data = resp.json()
        assert not (isinstance(data, dict) and "error" in data), f"{method}: {data}"
        return data

    def error(self, method: str, body=None, **kw) -> tuple[int, dict]:
        """Call a method that must fail; returns (HTTP status, the `error` object), checking the body shape."""
        resp = self.post(method, body, **kw)
        return resp.status_code, error_of(resp)


def error_of(resp: requests.Response) -> dict:
    """The `error` object of a LiveChat error response, after checking the documented body shape."""
    body = resp.json()
    assert isinstance(body, dict) and set(body) == {"error"}, f"{resp.status_code} {resp.text[:300]}"
    err = body["error"]
    assert set(err) - {"data"} == {"type", "message"}, err
    assert isinstance(err["type"], str) and isinstance(err["message"], str) and err["message"], err
    return err


def traverse(api: Api, method: str, body: dict, chat_id: str | None = None) -> list[dict]:
    """Every page of a list method: the first call with `body`, then `page_id` alone (plus chat_id for threads)."""
    pages = [api.ok(method, body)]
    while "next_page_id" in pages[-1]:
        follow = {"page_id": pages[-1]["next_page_id"]}
        if chat_id:
            follow["chat_id"] = chat_id
        pages.append(api.ok(method, follow))
        assert len(pages) < 2000, "pagination does not end"
    return pages


def flat(pages: list[dict], key: str) -> list:
    return [item for p in pages for item in p[key]]


def archive_key(entry: dict) -> tuple[str, str]:
    return entry["id"], entry["thread"]["id"]
