"""Request bodies have a limit per route, enforced before anything reads them, authentication included
(issue 19 item 2): a 200 MB webhook is refused from its headers, not parsed."""
import socket
import time
from urllib.parse import urlsplit

from tests.conftest import error


def raw_post(base_url: str, path: str, announced: int, sent: bytes, content_type: str = "application/json",
             extra_headers: str = "") -> bytes:
    """POST `sent` while announcing `announced` bytes, then read the answer (the rest is never sent)."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: {content_type}\r\n"
                     f"Content-Length: {announced}\r\n{extra_headers}Connection: close\r\n\r\n".encode() + sent)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def test_a_huge_webhook_is_refused_from_its_headers_before_any_account_lookup(service):
    started = time.monotonic()
    answer = raw_post(service, "/webhooks/livechat/no-such-account", 200 << 20, b'{"action": "incoming_chat"')
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - started < 5  # answered at once, not after a 200 MB read


def test_json_routes_take_a_megabyte_and_say_so(service, tenant):
    resp = tenant.post("/integrated-accounts", data=b'{"integration": "livechat", "x": "' + b"a" * (2 << 20) + b'"}',
                       headers={"Content-Type": "application/json"})
    err = error(resp, 413)
    assert err["type"] == "body_too_large" and "1 MB" in err["message"]
    unauthenticated = tenant.post("/webhook-subscriptions", api_key="ut_wrong", data=b"x" * (2 << 20),
                                  headers={"Content-Type": "application/json"})
    error(unauthenticated, 413)  # refused before the key is looked at


def test_a_body_sent_without_a_length_stops_being_read_at_the_limit(service, tenant):
    def chunks():
        for _ in range(40):
            yield b"a" * (64 << 10)  # 2.5 MB in all, chunked

    resp = tenant.post("/integrated-accounts", data=chunks(), headers={"Content-Type": "application/json"})
    error(resp, 413)


def test_a_small_body_still_works(tenant):
    resp = tenant.post("/integrated-accounts", json={"integration": "livechat"})
    error(resp, 400, "credentials")
