"""`unified-ticketing events listen`: watch a running service's unified events from a terminal.

Like `stripe listen`: it starts a receiver on a free loopback port, subscribes it to the service
(`POST /webhook-subscriptions` with the tenant's API key), checks each delivery's signature as any
receiver must, and prints one line per event, or with `--forward-to URL` passes each delivery on
unchanged (same body, same signature headers) and prints the receiver's answer. The subscription is
removed again on Ctrl-C or SIGTERM.

Only the standard library is imported at module level: `cli.main` imports this module for its parser
before `serve` patches sockets and ssl with gevent.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sys
import threading
import time

SIGNATURE = "X-Unified-Signature"
DELIVERY_ID = "X-Unified-Delivery-Id"
TOLERANCE = 300  # seconds a signature's timestamp may be off: older deliveries may be replays
PATH_PREFIX = "/events-listen/"  # how a listener's subscription is recognised by the next one


def verify(secret: str, header: str | None, body: bytes, now: float | None = None) -> str | None:
    """Why the delivery is not signed by `secret` (None when it is): `t=<unix>,v1=<hex HMAC-SHA256
    of "<t>.<body>">`, the scheme `worker.sign` uses, with the timestamp within TOLERANCE."""
    if not header:
        return f"no {SIGNATURE} header"
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        stamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return f"malformed {SIGNATURE} header"
    if abs((now or time.time()) - stamp) > TOLERANCE:
        return f"signature timestamp {stamp} is more than {TOLERANCE} s off"
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(expected, given) else "signature does not match"


def _words(text: str | None, limit: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def summary(event: dict, integration: str = "") -> str:
    """One line for a unified event: time, type, ticket, what happened, and whose it is."""
    payload = event.get("payload") or {}
    kind = event.get("event", "?")
    resource = kind.split(":")[0]
    ticket = payload.get("id") if resource == "ticket" else payload.get("ticket_id")
    if resource == "comment":
        author = (payload.get("author") or {}).get("type") or "system"
        what = f"{author}: {_words(payload.get('body')) or payload.get('type', '')}"
    elif resource == "attachment":
        what = f"{payload.get('file_name')} ({payload.get('content_type')}, {payload.get('file_size')} bytes)"
    elif resource == "ticket":
        tags = ", ".join(t["name"] for t in payload.get("tags") or [])
        what = f"{payload.get('status')}" + (f" [{tags}]" if tags else "") + (
            f" {_words(payload.get('name'))}" if payload.get("name") else "")
    else:
        what = _words(payload.get("name") or payload.get("id"))
    stamp = time.strftime("%H:%M:%S")
    where = f"ticket {ticket}" if ticket else f"{resource} {payload.get('id')}"
    whose = f"{integration} account" if integration else "account"
    return f"{stamp}  {kind:<18} {where}  {what}  ({whose} {event.get('integrated_account_id')})"


class Listener:
    """The receiver, its subscription, and what to do with each verified delivery."""

    def __init__(self, api_url: str, api_key: str, events: list[str], account: str | None = None,
                 forward_to: str | None = None, out=None):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        import requests

        self.api_url, self.account, self.forward_to = api_url.rstrip("/"), account, forward_to
        self.events = events
        self.out = out or sys.stdout
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {api_key}"
        self.secret, self.subscription = "", None
        self.integrations: dict[str, str] = {}  # account id -> integration, for the printed lines
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = listener.receive(self.path, self.headers, body)  # names looked up case-insensitively
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.path = f"{PATH_PREFIX}{secrets.token_hex(8)}"
        self.url = f"http://127.0.0.1:{self.server.server_port}{self.path}"

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def subscribe(self) -> dict:
        if self.account:
            known = self.http.get(f"{self.api_url}/integrated-accounts/{self.account}", timeout=30)
            if known.status_code != 200:
                raise ListenError(f"--account {self.account}: {_message(known)}")
        self.remove_abandoned()
        resp = self.http.post(f"{self.api_url}/webhook-subscriptions", json={"url": self.url, "events": self.events},
                              timeout=30)
        if resp.status_code != 201:
            raise ListenError(f"the service refused the subscription ({resp.status_code}): {_message(resp)}")
        self.subscription = resp.json()
        self.secret = self.subscription["secret"]
        return self.subscription

    def remove_abandoned(self) -> list[str]:
        """Delete the subscriptions of earlier listeners that were killed before they could (nothing listens on
        their loopback port any more), so the service stops retrying them; the ids removed."""
        import socket
        from urllib.parse import urlsplit

        resp = self.http.get(f"{self.api_url}/webhook-subscriptions", timeout=30)
        if resp.status_code != 200:
            raise ListenError(f"the service refused to list subscriptions ({resp.status_code}): {_message(resp)}")
        removed = []
        for sub in resp.json()["result"]:
            url = urlsplit(sub["url"])
            if url.hostname != "127.0.0.1" or not url.path.startswith(PATH_PREFIX):
                continue
            try:
                socket.create_connection(("127.0.0.1", url.port), timeout=1).close()
            except OSError:
                self.http.delete(f"{self.api_url}/webhook-subscriptions/{sub['id']}", timeout=10)
                removed.append(sub["id"])
        if removed:
            self.say(f"removed {len(removed)} subscription(s) of listeners that were stopped without removing them")
        return removed

    def unsubscribe(self) -> None:
        import requests

        if self.subscription:
            try:
                self.http.delete(f"{self.api_url}/webhook-subscriptions/{self.subscription['id']}", timeout=10)
            except requests.RequestException as exc:
                print(f"could not remove subscription {self.subscription['id']}: {exc}", file=sys.stderr)
            self.subscription = None

    def integration_of(self, account_id) -> str:
        """The account's integration, asking the service again for an account connected since (best effort)."""
        import requests

        if account_id not in self.integrations:
            try:
                listed = self.http.get(f"{self.api_url}/integrated-accounts", timeout=10).json()["result"]
                self.integrations.update({a["id"]: a["integration"] for a in listed})
            except (requests.RequestException, ValueError, KeyError, TypeError):
                pass
        return self.integrations.get(account_id, "")

    def receive(self, path: str, headers, body: bytes) -> int:
        """The HTTP status to answer the service with for one delivery."""
        import requests

        if path != self.path:
            return 404
        problem = verify(self.secret, headers.get(SIGNATURE), body)
        if problem:
            self.say(f"{time.strftime('%H:%M:%S')}  refused a delivery: {problem}")
            return 400
        try:
            event = json.loads(body)
        except ValueError:
            self.say(f"{time.strftime('%H:%M:%S')}  refused a delivery: the body is not JSON")
            return 400
        if self.account and event.get("integrated_account_id") != self.account:
            return 200  # another account of the tenant: not asked for
        if not self.forward_to:
            self.say(summary(event, self.integration_of(event.get("integrated_account_id"))))
            return 200
        forwarded = {k: v for k, v in headers.items() if k.lower() in ("content-type", SIGNATURE.lower(),
                                                                       DELIVERY_ID.lower())}
        try:
            resp = requests.post(self.forward_to, data=body, headers=forwarded, timeout=30, allow_redirects=False)
        except requests.RequestException as exc:
            self.say(f"{time.strftime('%H:%M:%S')}  {event.get('event')} → {self.forward_to}: {type(exc).__name__} "
                     "(the service will retry)")
            return 502
        self.say(f"{time.strftime('%H:%M:%S')}  {event.get('event'):<18} → {self.forward_to} [{resp.status_code}]  "
                 f"{headers.get(DELIVERY_ID)}")
        return resp.status_code if 200 <= resp.status_code < 300 else 502

    def run(self) -> None:
        """Serve until interrupted (Ctrl-C, or SIGTERM turned into SystemExit), then unsubscribe."""
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            self.subscribe()
            what = ", ".join(self.events)
            target = f"forwarding to {self.forward_to}" if self.forward_to else "printing them"
            scope = f"account {self.account}" if self.account else "every account of the tenant"
            self.say(f"Listening for {what} on {scope} at {self.api_url}, {target}. Ctrl-C to stop.")
            self.say(f"  subscription {self.subscription['id']}, receiving at {self.url}")
            if self.forward_to:  # the receiver checks the signature with it, as it will in production
                self.say(f"  signing secret: {self.secret}")
            while thread.is_alive():
                thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.unsubscribe()
            self.server.shutdown()
            self.server.server_close()


class ListenError(Exception):
    pass


def _message(resp) -> str:
    try:
        return resp.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return resp.text[:200]


def add_parser(sub) -> None:
    events = sub.add_parser("events", help="watch the service's unified events")
    events_sub = events.add_subparsers(dest="events_command", required=True)
    listen = events_sub.add_parser("listen", help="subscribe a local receiver and print (or forward) each event")
    listen.add_argument("--api-url", help="the service (default: the running `make run` stack, else "
                                          "UNIFIED_API_URL, else http://127.0.0.1:8000)")
    listen.add_argument("--api-key", help="a full API key of the tenant (default: the running stack's demo key, "
                                          "else UNIFIED_API_KEY)")
    listen.add_argument("--account", help="only this integrated account's events (default: every account)")
    listen.add_argument("--events", default="*", help="comma-separated event types, e.g. comment:created "
                                                      "(default: all)")
    listen.add_argument("--forward-to", metavar="URL", help="pass each delivery on to this URL unchanged "
                                                            "(same body and signature) instead of printing it")


def cmd_events(args) -> int:
    import os

    import requests

    stack = {}
    if not (args.api_url and args.api_key):
        from .state.redis_server import running_stack

        stack = running_stack() or {}
    api_url = args.api_url or stack.get("service_url") or os.environ.get("UNIFIED_API_URL") or "http://127.0.0.1:8000"
    api_key = args.api_key or stack.get("api_key") or os.environ.get("UNIFIED_API_KEY")
    if not api_key:
        print("no API key: pass --api-key (or set UNIFIED_API_KEY), or start `make run` first", file=sys.stderr)
        return 2
    listener = Listener(api_url, api_key, [e.strip() for e in args.events.split(",") if e.strip()], args.account,
                        args.forward_to)
    try:
        listener.run()
    except ListenError as err:
        print(err, file=sys.stderr)
        return 1
    except requests.RequestException as exc:
        print(f"cannot reach the service at {api_url}: {exc}", file=sys.stderr)
        return 1
    return 0
