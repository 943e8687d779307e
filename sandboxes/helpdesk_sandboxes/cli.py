"""`unified-ticketing sandbox` (one local helpdesk sandbox), `unified-ticketing sandbox say` (a
customer writes into a chat, through the sandbox's customer side) and `unified-ticketing dev` (every
sandbox, the service on embedded Redis with real-time events wired, its webhook worker, and a demo
tenant connected to each: what `make run` does).

A sandbox profile says how to start it and how the service connects to it: the environment its
integration file reads and the credentials of a demo integrated account.
"""
from __future__ import annotations

import os
import secrets
import shlex
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
    say: Callable  # (base_url, text) -> the id of the chat the customer wrote into


def _livechat() -> Profile:
    from .livechat import SandboxOptions, serve

    def options(args):
        knobs = {"rate_limit": args.rate_limit, "latency_ms": args.latency_ms, "fault_rate": args.fault_rate,
                 "error_status": args.error_status, "token_ttl": args.token_ttl}
        return SandboxOptions(host=args.host, port=args.port, seed=args.seed, chats=args.chats, tls=args.tls,
                              knobs=knobs, licenses=args.licenses)

    def env(base: str, c: dict) -> dict:
        # the app's webhooks are the operator's (`webhooks register`): the sandbox's developer account owns
        # the client ids, and its PAT has webhooks.configuration:rw
        return {"LIVECHAT_API_URL": base, "LIVECHAT_ACCOUNTS_URL": base, "LIVECHAT_FILE_ORIGINS": base,
                "LIVECHAT_CLIENT_ID": c["client_id"], "LIVECHAT_CLIENT_SECRET": c["client_secret"],
                "LIVECHAT_WEBHOOK_SECRET": secrets.token_urlsafe(24),
                "LIVECHAT_DEVELOPER_ACCOUNT_ID": c["account_id"],
                "LIVECHAT_DEVELOPER_PAT": c["personal_access_token"]}

    return Profile(
        "LiveChat", options, serve, lambda args: f"{args.chats} chats", env,
        lambda base, c: {"type": "personal_access_token", "account_id": c["account_id"],
                         "token": c["personal_access_token"]}, _livechat_say)


def _livechat_say(base: str, text: str) -> str:
    """The sandbox's customer side (`/_sandbox/customer-messages`: LiveChat's customers write from the chat
    widget, which the sandbox does not serve): the first customer starts a new chat."""
    import requests

    creds = requests.get(f"{base}/_sandbox/credentials", timeout=10, verify=False).json()
    listed = requests.post(f"{base}/v3.5/agent/action/list_customers", json={"limit": 1}, timeout=10,
                           verify=False, headers={"Authorization": creds["basic_authorization"]})
    listed.raise_for_status()
    resp = requests.post(f"{base}/_sandbox/customer-messages", timeout=10, verify=False,
                         json={"text": text, "customer_id": listed.json()["customers"][0]["id"]})
    resp.raise_for_status()
    return resp.json()["chat_id"]


def _rocketchat() -> Profile:
    from .rocketchat import SandboxOptions, serve

    def options(args):
        knobs = {"rate_limit": args.rate_limit, "latency_ms": args.latency_ms, "fault_rate": args.fault_rate}
        return SandboxOptions(host=args.host, port=args.port, seed=args.seed, rooms=args.rooms, tls=args.tls,
                              knobs=knobs)

    return Profile(
        "Rocket.Chat", options, serve, lambda args: f"{args.rooms} rooms", lambda base, c: {},
        lambda base, c: {"type": "personal_access_token", "server_url": base, "user_id": c["user_id"],
                         "auth_token": c["auth_token"]}, _rocketchat_say)


DEMO_VISITOR = "demo-visitor"


def _rocketchat_say(base: str, text: str) -> str:
    """Rocket.Chat's own visitor API, as the livechat widget calls it: register the visitor (by token), open
    (or find) their room, send the message. Only the visitor's token can write into a room, so this is
    always the demo visitor's open room (a new one after it is closed)."""
    import requests

    api = f"{base}/api/v1/livechat"
    requests.post(f"{api}/visitor", json={"visitor": {"token": DEMO_VISITOR, "name": "Demo Visitor"}},
                  timeout=10, verify=False).raise_for_status()
    room = requests.get(f"{api}/room", params={"token": DEMO_VISITOR}, timeout=10, verify=False)
    room.raise_for_status()
    rid = room.json()["room"]["_id"]
    requests.post(f"{api}/message", json={"token": DEMO_VISITOR, "rid": rid, "msg": text}, timeout=10,
                  verify=False).raise_for_status()
    return rid


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
    dev.add_argument("--env", action="store_true",
                     help="print the running demo's settings as shell exports: "
                          "eval \"$(unified-ticketing dev --env)\"")
    say = p.add_subparsers(dest="sandbox_command").add_parser(
        "say", help="a customer writes into a chat of a running sandbox (its customer side): events follow")
    say.add_argument("text")
    say.add_argument("--integration", choices=sorted(PROFILES), default="livechat")
    say.add_argument("--sandbox", metavar="URL", help="the sandbox (default: the running `make run` stack's)")


def cmd_sandbox(args) -> int:
    if args.sandbox_command == "say":
        return cmd_say(args)
    profile = PROFILES[args.integration]()

    def ready(base: str) -> None:
        if args.ready_file:
            with open(args.ready_file, "w") as f:
                f.write(base)
        print(f"{profile.title} sandbox listening on {base} ({profile.size(args)}, seed {args.seed})", flush=True)
        print(f"  credentials: curl {base}/_sandbox/credentials", flush=True)

    profile.serve(profile.options(args), ready=ready)
    return 0


def cmd_say(args) -> int:
    import requests

    base = args.sandbox
    if not base:
        from unified_ticketing.state.redis_server import running_stack

        base = ((running_stack() or {}).get("sandboxes") or {}).get(args.integration)
    if not base:
        print(f"no running {args.integration} sandbox found: start `make run`, or pass --sandbox URL",
              file=sys.stderr)
        return 2
    profile = PROFILES[args.integration]()
    try:
        ticket = profile.say(base.rstrip("/"), args.text)
    except requests.RequestException as exc:
        detail = exc.response.text if exc.response is not None else exc
        print(f"the {profile.title} sandbox at {base} refused: {detail}", file=sys.stderr)
        return 1
    print(f"the customer wrote into ticket {ticket} ({profile.title})", flush=True)
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
    from unified_ticketing.state.redis_server import advertise_stack, private_redis_url
    from unified_ticketing.state.tenants import create_api_key
    from unified_ticketing.worker import start as start_workers

    if args.env:
        return _print_env()
    url, embedded = private_redis_url()  # a throwaway demo: never the shared data of `serve`
    print(f"Redis: {url}{' (embedded Valkey)' if embedded else ''}", flush=True)
    upstream, credentials, sandboxes = {"UNIFIED_UPSTREAM_VERIFY_TLS": "false"}, {}, {}
    for i, name in enumerate(args.integration or sorted(PROFILES)):
        profile = PROFILES[name]()
        base = _start(profile, args, args.port + i if args.port else 0)
        creds = requests.get(f"{base}/_sandbox/credentials", timeout=10, verify=False).json()
        upstream.update(profile.env(base, creds))
        credentials[name], sandboxes[name] = profile.credentials(base, creds), base
        print(f"{profile.title} sandbox: {base} ({profile.size(args)})", flush=True)
    # Real-time events as in production: the helpdesks deliver their webhooks to this service (its URL is
    # the public one; loopback addresses are fine in development) and the worker turns them into events.
    app = create_app({"REDIS_URL": url, "UPSTREAM_ENV": {**os.environ, **upstream}, "UPSTREAM_VERIFY_TLS": False,
                      "WEBHOOKS_REGISTER": True,
                      "PUBLIC_URL": f"http://{args.service_host}:{args.service_port}"})
    api_key = create_api_key(app.extensions["unified"].redis, "demo")
    withdraw, workers = [], []

    def on_service(service: str) -> None:
        app.config["PUBLIC_URL"] = service
        print(f"unified-ticketing: {service}  (API docs: {service}/docs)", flush=True)
        for note in _register_app_webhooks(app, sandboxes):
            print(f"  {note}", flush=True)
        accounts = _connect_demo_accounts(service, api_key, credentials)
        stop, threads = start_workers(app, "dev-worker", 2)  # what `unified-ticketing worker` does
        workers.append(stop)
        print(f"Webhook worker: {len(threads)} threads in this process.", flush=True)
        print(f"Demo tenant 'demo' (API key {api_key}), with an integrated account on each sandbox:", flush=True)
        for name, (account_id, webhooks) in accounts.items():
            print(f"  {name:<11} {account_id}  (webhooks: {webhooks})", flush=True)
        # every other command run beside this one (api-keys, export, mcp, events listen, sandbox say...) finds
        # this stack's Redis, service and sandboxes
        withdraw.append(advertise_stack({"redis_url": url, "service_url": service, "api_key": api_key,
                                         "accounts": {name: a[0] for name, a in accounts.items()},
                                         "sandboxes": sandboxes,
                                         # commands beside it use these settings (the public URL: where the
                                         # helpdesks deliver, so that `webhooks list` knows its receiver)
                                         "env": {**upstream, "UNIFIED_PUBLIC_URL": service}}))
        _print_next_steps(service, accounts)
        print("Press Ctrl-C to stop.", flush=True)

    try:
        serve_app(app, args.service_host, args.service_port,
                  ready=lambda s: threading.Thread(target=on_service, args=(s,), daemon=True).start())
    finally:
        for done in [*withdraw, *(stop.set for stop in workers)]:
            done()
        if embedded:
            embedded.stop()
    return 0


def _register_app_webhooks(app, started: dict) -> list[str]:
    """What `unified-ticketing webhooks register` does, for each started integration whose webhooks belong
    to the app (LiveChat): registered before the accounts connect, which then enable them on their license."""
    from unified_ticketing.api import webhook_registration as hooks
    from unified_ticketing.errors import ApiError

    svc, notes = app.extensions["unified"], []
    registrar = hooks.Registrar.of(app)
    for name, mapping in sorted(svc.events.items()):
        if name in started and mapping.per_client:
            try:
                notes.append(f"{name} webhooks: {registrar.register(svc.engines[name], mapping)}")
            except (hooks.NotConfigured, ApiError) as err:
                notes.append(f"{name} webhooks not registered: {getattr(err, 'message', err)}")
    return notes


def _connect_demo_accounts(service: str, api_key: str, credentials: dict) -> dict:
    """Connect one account per sandbox over the API, as a user would: {integration: (id, webhooks note)}."""
    import requests

    accounts = {}
    for name, creds in credentials.items():
        resp = requests.post(f"{service}/integrated-accounts", headers={"Authorization": f"Bearer {api_key}"},
                             json={"integration": name, "credentials": creds}, timeout=60)
        if resp.status_code != 201:
            print(f"  {name}: could not connect the demo account: {resp.text}", file=sys.stderr, flush=True)
            continue
        accounts[name] = (resp.json()["id"], resp.json()["context"].get("webhooks", "none"))
    return accounts


def _exports(service: str, api_key: str, accounts: dict) -> list[str]:
    """The demo's shell variables for curl: UT_API, UT_KEY, UT_<INTEGRATION> (account ids). The commands need
    none of them: they read the running stack themselves."""
    exports = [f"UT_API={service}", f"UT_KEY={api_key}",
               *(f"UT_{name.upper()}={account_id}" for name, account_id in accounts.items())]
    return [shlex.quote(e) for e in exports]


def _print_env() -> int:
    from unified_ticketing.state.redis_server import running_stack

    stack = running_stack()
    if not stack:
        print("no running demo: start `make run` (unified-ticketing dev) first", file=sys.stderr)
        return 1
    exports = _exports(stack["service_url"], stack["api_key"], stack.get("accounts") or {})
    print(f"export {' '.join(exports)}")
    return 0


def _print_next_steps(service: str, accounts: dict) -> None:
    """Commands to paste into a second terminal (the README's walk-through, in short)."""
    print("In another terminal, in this folder (the README's walk-through goes on from here):", flush=True)
    print("  . .venv/bin/activate", flush=True)
    print('  eval "$(unified-ticketing dev --env)"   # UT_API, UT_KEY and ' +
          ", ".join(f"UT_{name.upper()}" for name in accounts) + " (account ids)", flush=True)
    for name in accounts:
        print(f'  curl -s "$UT_API/unified/ticketing/tickets?integrated_account_id=$UT_{name.upper()}&limit=2" '
              f'-H "Authorization: Bearer $UT_KEY"   # {name}', flush=True)
    print("Watch real-time events as they arrive (in a third terminal, after the same two lines):", flush=True)
    print("  unified-ticketing events listen", flush=True)
    print("Make a customer write into a chat: ticket:created and comment:created follow:", flush=True)
    for name in accounts:
        print(f'  unified-ticketing sandbox say --integration {name} "Hello, is anyone there?"', flush=True)
    print("Export every ticket with its transcript (progress on stderr):", flush=True)
    for name in accounts:
        print(f"  unified-ticketing export --account $UT_{name.upper()} --out {name}.ndjson", flush=True)
    print("Give an AI client the demo's tickets (an MCP server on stdio; README: Export and AI agents):", flush=True)
    for name in accounts:
        print(f"  unified-ticketing mcp --account {name}", flush=True)


COMMANDS = {"sandbox": cmd_sandbox, "dev": cmd_dev}
