"""`unified-ticketing sandbox` (one local helpdesk sandbox) and `unified-ticketing dev` (every
sandbox, the service on embedded Redis, and a demo tenant connected to each: what `make run` does).

A sandbox profile says how to start it and how the service connects to it: the environment its
integration file reads and the credentials of a demo integrated account.
"""
from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    title: str
    options: Callable  # args -> the sandbox's SandboxOptions
    serve: Callable  # (options, ready=callback)
    size: Callable  # args -> "300 chats"
    env: Callable  # (base_url, sandbox credentials) -> environment for the service
    credentials: Callable  # (base_url, sandbox credentials) -> integrated-account credentials


def _livechat() -> Profile:
    from .livechat import SandboxOptions, serve

    def options(args):
        knobs = {"rate_limit": args.rate_limit, "latency_ms": args.latency_ms, "fault_rate": args.fault_rate,
                 "error_status": args.error_status, "token_ttl": args.token_ttl}
        return SandboxOptions(host=args.host, port=args.port, seed=args.seed, chats=args.chats, tls=args.tls,
                              knobs=knobs, licenses=args.licenses)

    return Profile(
        "LiveChat", options, serve, lambda args: f"{args.chats} chats",
        lambda base, c: {"LIVECHAT_API_URL": base, "LIVECHAT_ACCOUNTS_URL": base, "LIVECHAT_FILE_ORIGINS": base,
                         "LIVECHAT_CLIENT_ID": c["client_id"], "LIVECHAT_CLIENT_SECRET": c["client_secret"]},
        lambda base, c: {"type": "personal_access_token", "account_id": c["account_id"],
                         "token": c["personal_access_token"]})


def _rocketchat() -> Profile:
    from .rocketchat import SandboxOptions, serve

    def options(args):
        knobs = {"rate_limit": args.rate_limit, "latency_ms": args.latency_ms, "fault_rate": args.fault_rate}
        return SandboxOptions(host=args.host, port=args.port, seed=args.seed, rooms=args.rooms, tls=args.tls,
                              knobs=knobs)

    return Profile(
        "Rocket.Chat", options, serve, lambda args: f"{args.rooms} rooms", lambda base, c: {},
        lambda base, c: {"type": "personal_access_token", "server_url": base, "user_id": c["user_id"],
                         "auth_token": c["auth_token"]})


PROFILES = {"livechat": _livechat, "rocketchat": _rocketchat}


def add_parsers(sub) -> None:
    p = sub.add_parser("sandbox", help="run a local helpdesk sandbox (LiveChat or Rocket.Chat Omnichannel)")
    p.add_argument("--integration", choices=sorted(PROFILES), default="livechat",
                   help="which helpdesk to imitate (rocketchat: Rocket.Chat Omnichannel REST API)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8800, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=1, help="seed for the generated data")
    p.add_argument("--chats", type=int, default=300, help="number of seeded chats (livechat)")
    p.add_argument("--rooms", type=int, default=300, help="number of seeded rooms (rocketchat)")
    p.add_argument("--licenses", type=int, default=1, help="livechat: number of licenses (organizations)")
    p.add_argument("--tls", action="store_true", help="serve https with a self-signed certificate")
    p.add_argument("--rate-limit", type=float, default=0.0, help="requests per second (0: off)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="added to every API call")
    p.add_argument("--fault-rate", type=float, default=0.0, help="share of API calls that fail")
    p.add_argument("--error-status", choices=("http", "200"), default="http",
                   help="livechat: HTTP status of error bodies, per error type or always 200")
    p.add_argument("--token-ttl", type=int, default=28800, help="livechat: access token lifetime in seconds")
    p.add_argument("--ready-file", help="write the base URL here once listening (for scripts and tests)")
    dev = sub.add_parser("dev", help="run everything on embedded defaults (what `make run` does)")
    for action in p._actions[1:]:
        if action.dest not in ("integration", "ready_file"):
            dev._add_action(action)
    dev.add_argument("--integration", action="append", choices=sorted(PROFILES),
                     help="start only these sandboxes (default: all); each listens on --port + its index")
    dev.add_argument("--service-host", default="127.0.0.1")
    dev.add_argument("--service-port", type=int, default=8000)


def cmd_sandbox(args) -> int:
    profile = PROFILES[args.integration]()

    def ready(base: str) -> None:
        if args.ready_file:
            with open(args.ready_file, "w") as f:
                f.write(base)
        print(f"{profile.title} sandbox listening on {base} ({profile.size(args)}, seed {args.seed})", flush=True)
        print(f"  credentials: curl {base}/_sandbox/credentials", flush=True)

    profile.serve(profile.options(args), ready=ready)
    return 0


def _start(profile: Profile, args, port: int) -> str:
    """Start a sandbox in a daemon thread; its base URL once it listens."""
    listening, base = threading.Event(), {}
    options = profile.options(args)
    options.port = port

    def ready(url: str) -> None:
        base["url"] = url
        listening.set()

    threading.Thread(target=profile.serve, args=(options,), kwargs={"ready": ready}, daemon=True).start()
    if not listening.wait(120):
        raise RuntimeError(f"the {profile.title} sandbox did not start")
    return base["url"]


def cmd_dev(args) -> int:
    import requests

    from unified_ticketing.app import create_app
    from unified_ticketing.http_server import serve_app
    from unified_ticketing.state.redis_server import redis_url
    from unified_ticketing.state.tenants import create_api_key

    url, embedded = redis_url()
    print(f"Redis: {url}{' (embedded Valkey)' if embedded else ''}", flush=True)
    env, accounts = dict(os.environ), {}
    for i, name in enumerate(args.integration or sorted(PROFILES)):
        profile = PROFILES[name]()
        base = _start(profile, args, args.port + i if args.port else 0)
        creds = requests.get(f"{base}/_sandbox/credentials", timeout=10, verify=False).json()
        env.update(profile.env(base, creds))
        accounts[name] = profile.credentials(base, creds)
        print(f"{profile.title} sandbox: {base} ({profile.size(args)})", flush=True)
    app = create_app({"REDIS_URL": url, "UPSTREAM_ENV": env, "UPSTREAM_VERIFY_TLS": False,
                      "PUBLIC_URL": f"http://{args.service_host}:{args.service_port}"})
    api_key = create_api_key(app.extensions["unified"].redis, "demo")

    def on_service(service: str) -> None:
        print(f"unified-ticketing: {service}  (API docs: {service}/docs)", flush=True)
        print("Demo tenant 'demo', with an integrated account on each sandbox. Try:", flush=True)
        for name, credentials in accounts.items():
            resp = requests.post(f"{service}/integrated-accounts", headers={"Authorization": f"Bearer {api_key}"},
                                 json={"integration": name, "credentials": credentials}, timeout=30)
            if resp.status_code != 201:
                print(f"  {name}: could not connect the demo account: {resp.text}", file=sys.stderr, flush=True)
                continue
            print(f"  curl -s '{service}/unified/ticketing/tickets?integrated_account_id={resp.json()['id']}"
                  f"&limit=2' -H 'Authorization: Bearer {api_key}'   # {name}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)

    try:
        serve_app(app, args.service_host, args.service_port,
                  ready=lambda s: threading.Thread(target=on_service, args=(s,), daemon=True).start())
    finally:
        if embedded:
            embedded.stop()
    return 0


COMMANDS = {"sandbox": cmd_sandbox, "dev": cmd_dev}
