"""The `unified-ticketing` command."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time


def _sandbox_parser(sub) -> None:
    p = sub.add_parser("sandbox", help="run the local LiveChat sandbox (Agent Chat API, Configuration API, OAuth)")
    p.add_argument("--integration", choices=("livechat", "rocketchat"), default="livechat",
                   help="which helpdesk to imitate (rocketchat: Rocket.Chat Omnichannel REST API)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8800, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=1, help="seed for the generated license data")
    p.add_argument("--chats", type=int, default=300, help="number of seeded chats")
    p.add_argument("--rooms", type=int, default=300, help="number of seeded rooms (rocketchat)")
    p.add_argument("--tls", action="store_true", help="serve https with a self-signed certificate")
    p.add_argument("--rate-limit", type=float, default=0.0, help="requests per second per license (0: off)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="added to every API call")
    p.add_argument("--fault-rate", type=float, default=0.0, help="share of API calls that fail")
    p.add_argument("--error-status", choices=("http", "200"), default="http",
                   help="HTTP status of error bodies: per error type, or always 200")
    p.add_argument("--token-ttl", type=int, default=28800, help="access token lifetime in seconds")
    p.add_argument("--ready-file", help="write the base URL here once listening (for scripts and tests)")


def _sandbox_options(args):
    from .sandbox.livechat import SandboxOptions

    knobs = {"rate_limit": args.rate_limit, "latency_ms": args.latency_ms, "fault_rate": args.fault_rate,
             "error_status": args.error_status, "token_ttl": args.token_ttl}
    return SandboxOptions(host=args.host, port=args.port, seed=args.seed, chats=args.chats, tls=args.tls,
                          knobs=knobs)


def cmd_sandbox(args) -> int:
    if args.integration == "rocketchat":
        return _rocketchat_sandbox(args)
    from .sandbox.livechat import serve

    def ready(base: str) -> None:
        if args.ready_file:
            with open(args.ready_file, "w") as f:
                f.write(base)
        print(f"LiveChat sandbox listening on {base} ({args.chats} chats, seed {args.seed})", flush=True)
        print(f"  credentials: curl {base}/_sandbox/credentials", flush=True)

    serve(_sandbox_options(args), ready=ready)
    return 0


def _rocketchat_sandbox(args) -> int:
    from .sandbox.rocketchat import SandboxOptions, serve

    knobs = {"rate_limit": args.rate_limit, "latency_ms": args.latency_ms, "fault_rate": args.fault_rate}
    options = SandboxOptions(host=args.host, port=args.port, seed=args.seed, rooms=args.rooms, tls=args.tls,
                             knobs=knobs)

    def ready(base: str) -> None:
        if args.ready_file:
            with open(args.ready_file, "w") as f:
                f.write(base)
        print(f"Rocket.Chat sandbox listening on {base} ({args.rooms} rooms, seed {args.seed})", flush=True)
        print(f"  credentials: curl {base}/_sandbox/credentials", flush=True)

    serve(options, ready=ready)
    return 0


def _run_service(app, host: str, port: int, ready=None) -> None:
    from .http_server import threaded_server

    server = threaded_server(host, port, app)
    if ready:
        ready(f"http://{host}:{server.server_port}")
    try:
        server.serve_forever()
    finally:
        server.server_close()


def cmd_serve(args) -> int:
    """gunicorn workers (or the Flask dev server with --dev) sharing one Redis."""
    import os

    from .state.redis_server import redis_url

    if not _settings_ok():
        return 2
    url, embedded = redis_url()
    os.environ["REDIS_URL"] = url  # workers connect to the same Redis, embedded or not
    print(f"unified-ticketing on http://{args.host}:{args.port}  (docs: /docs)", flush=True)
    try:
        if args.dev:
            from .app import create_app

            _run_service(create_app(), args.host, args.port)
        else:
            from .production import run

            run(args.host, args.port, args.workers, args.timeout)
    finally:
        if embedded:
            embedded.stop()
    return 0


def cmd_api_keys(args) -> int:
    import redis

    from .state.redis_server import redis_url
    from .state.tenants import create_api_key

    url, embedded = redis_url()
    if embedded:
        print("warning: REDIS_URL is not set; the key goes to a throw-away embedded Redis", file=sys.stderr)
    print(create_api_key(redis.Redis.from_url(url, decode_responses=True), args.tenant))
    return 0


def cmd_dev(args) -> int:
    """Everything on embedded defaults: Redis, the LiveChat sandbox, the service, a demo account."""
    if args.integration != "livechat":
        print("dev runs the LiveChat stack; start other sandboxes with `unified-ticketing sandbox`", file=sys.stderr)
        return 2
    import threading

    import requests

    from .app import create_app
    from .sandbox.livechat import serve
    from .state.redis_server import redis_url
    from .state.tenants import create_api_key

    url, embedded = redis_url()
    print(f"Redis: {url}{' (embedded Valkey)' if embedded else ''}", flush=True)
    sandbox_ready = threading.Event()
    sandbox_base = {}

    def on_sandbox(base: str) -> None:
        sandbox_base["url"] = base
        sandbox_ready.set()

    threading.Thread(target=serve, args=(_sandbox_options(args),), kwargs={"ready": on_sandbox},
                     daemon=True).start()
    sandbox_ready.wait(120)
    base = sandbox_base["url"]
    print(f"LiveChat sandbox: {base} ({args.chats} chats)", flush=True)
    creds = requests.get(f"{base}/_sandbox/credentials", timeout=10, verify=False).json()
    env = {**os.environ, "LIVECHAT_API_URL": base, "LIVECHAT_ACCOUNTS_URL": base,
           "LIVECHAT_CLIENT_ID": creds["client_id"], "LIVECHAT_CLIENT_SECRET": creds["client_secret"]}
    app = create_app({"REDIS_URL": url, "UPSTREAM_ENV": env, "UPSTREAM_VERIFY_TLS": False,
                      "PUBLIC_URL": f"http://{args.service_host}:{args.service_port}"})
    svc = app.extensions["unified"]
    api_key = create_api_key(svc.redis, "demo")

    def on_service(service: str) -> None:
        account = requests.post(f"{service}/integrated-accounts", headers={"Authorization": f"Bearer {api_key}"},
                                json={"integration": "livechat", "credentials": {
                                    "type": "personal_access_token", "account_id": creds["account_id"],
                                    "token": creds["personal_access_token"]}}, timeout=30).json()
        print(f"unified-ticketing: {service}  (API docs: {service}/docs)", flush=True)
        print("Demo tenant 'demo' with an integrated account on the sandbox. Try:", flush=True)
        print(f"  curl -s '{service}/unified/ticketing/tickets?integrated_account_id={account['id']}&limit=2' "
              f"-H 'Authorization: Bearer {api_key}'", flush=True)
        print("Press Ctrl-C to stop.", flush=True)

    try:
        _run_service(app, args.service_host, args.service_port,
                     ready=lambda s: threading.Thread(target=on_service, args=(s,), daemon=True).start())
    finally:
        if embedded:
            embedded.stop()
    return 0


def cmd_worker(args) -> int:
    """Process stored webhooks and deliver unified events until stopped."""
    import threading

    from .app import create_app
    from .worker import Worker

    if not _settings_ok():
        return 2
    app = create_app()
    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, addr=args.metrics_host)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads = [threading.Thread(target=Worker(app, f"{args.name}-{i}").run, args=(stop,), daemon=True)
               for i in range(args.threads)]
    for t in threads:
        t.start()
    print(f"unified-ticketing worker: {args.threads} thread(s); Ctrl-C to stop", flush=True)
    try:
        while any(t.is_alive() for t in threads):
            time.sleep(0.5)
    except KeyboardInterrupt:
        stop.set()
    return 0


def _settings_ok() -> bool:
    """Check the environment's settings before starting anything (production refuses dev secrets)."""
    from . import config as settings

    try:
        settings.check(settings.from_env())
    except RuntimeError as exc:
        print(f"unified-ticketing: {exc}", file=sys.stderr)
        return False
    return True


def _app_and_account(account_id: str):
    """(app, services, stored account or None after saying so) for commands about one account."""
    from .app import create_app
    from .state import accounts

    app = create_app()
    svc = app.extensions["unified"]
    record = accounts.get(svc.redis, account_id)
    if record is None:
        print(f"no integrated account {account_id}", file=sys.stderr)
    return app, svc, record


def cmd_webhooks(args) -> int:
    """Register (again) the service's webhook receiver for one account."""
    from .api.webhooks import register_account_webhooks

    app, svc, record = _app_and_account(args.account)
    if record is None:
        return 1
    with app.test_request_context():
        note = register_account_webhooks(svc.engines[record["integration"]], record,
                                         svc.events[record["integration"]])
    print(note["webhooks"])
    return 0


def cmd_export(args) -> int:
    """Stream every ticket (with its transcript) as NDJSON, with progress, resumable."""
    import json as jsonlib
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from .engine.executor import account_from
    from .engine.query import parse_datetime
    from .errors import ApiError
    from .export import export_tickets, ndjson
    from .state import accounts

    _, svc, record = _app_and_account(args.account)
    if record is None:
        return 1
    state_file = Path(args.out + ".cursor") if args.out else None
    cursor, done = None, 0
    if args.resume:
        if not state_file or not state_file.exists():
            print("--resume needs --out FILE from an earlier, interrupted export", file=sys.stderr)
            return 2
        saved = jsonlib.loads(state_file.read_text())
        cursor, done = saved["cursor"], saved["exported"]
    try:
        since = parse_datetime(args.since, "--since") if args.since else None
    except ApiError as err:
        print(err.message, file=sys.stderr)
        return 2
    engine = svc.engines[record["integration"]]
    account = account_from(record, accounts.credentials(svc.fernet, record))
    out = open(args.out, "a" if args.resume else "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    columns = (SpinnerColumn(), TextColumn("{task.completed} tickets"), TextColumn("{task.fields[rate]}/s"),
               TimeElapsedColumn())
    started = time.monotonic()
    try:
        with Progress(*columns, console=Console(stderr=True)) as progress:  # NDJSON may be on stdout
            task = progress.add_task("export", total=None, completed=done, rate="-")
            for records, next_cursor in export_tickets(engine, account, since=since, cursor=cursor,
                                                       with_comments=args.with_comments,
                                                       include_remote_data=args.include_remote_data):
                out.write(ndjson(records))
                out.flush()
                done += len(records)
                if state_file:
                    state_file.write_text(jsonlib.dumps({"cursor": next_cursor, "exported": done}))
                rate = done / max(time.monotonic() - started, 1e-6)
                progress.update(task, completed=done, rate=f"{rate:.1f}")
    except ApiError as err:
        print(f"export stopped: {err.message}; run again with --resume to continue", file=sys.stderr)
        return 1
    finally:
        if args.out:
            out.close()
    if state_file and state_file.exists():
        state_file.unlink()
    print(f"exported {done} tickets", file=sys.stderr)
    return 0


def cmd_mcp(args) -> int:
    """An MCP server (stdio or streamable HTTP) over the unified API for one tenant and account."""
    from .mcp_server import UnifiedApi, build_server

    missing = [n for n, v in (("--api-key/UNIFIED_API_KEY", args.api_key), ("--account/UNIFIED_ACCOUNT_ID",
                                                                            args.account)) if not v]
    if missing:
        print(f"missing {', '.join(missing)}", file=sys.stderr)
        return 2
    server = build_server(UnifiedApi(args.api_url, args.api_key, args.account), enable_writes=args.enable_writes)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="unified-ticketing", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _sandbox_parser(sub)
    dev = sub.add_parser("dev", help="run everything on embedded defaults (what `make run` does)")
    for action in sub.choices["sandbox"]._actions[1:]:
        dev._add_action(action)
    dev.add_argument("--service-host", default="127.0.0.1")
    dev.add_argument("--service-port", type=int, default=8000)
    serve_p = sub.add_parser("serve", help="run the unified API service")
    serve_p.add_argument("--host", default="127.0.0.1")
    serve_p.add_argument("--port", type=int, default=8000)
    serve_p.add_argument("--workers", type=int, default=int(os.environ.get("UNIFIED_WORKERS", "2")))
    serve_p.add_argument("--timeout", type=int, default=int(os.environ.get("UNIFIED_WORKER_TIMEOUT", "60")),
                         help="seconds a request may take; also the graceful-shutdown window")
    serve_p.add_argument("--dev", action="store_true", help="Flask's development server instead of gunicorn")
    keys = sub.add_parser("api-keys", help="manage tenants' API keys (in REDIS_URL)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_create = keys_sub.add_parser("create", help="create an API key for a tenant and print it once")
    keys_create.add_argument("--tenant", required=True)
    worker = sub.add_parser("worker", help="process incoming webhooks and deliver unified events")
    worker.add_argument("--threads", type=int, default=2)
    worker.add_argument("--name", default=f"worker-{os.getpid()}")
    worker.add_argument("--metrics-port", type=int, default=int(os.environ.get("UNIFIED_WORKER_METRICS_PORT", "0")),
                        help="serve Prometheus metrics on this port (0: off)")
    worker.add_argument("--metrics-host", default="127.0.0.1")
    exp = sub.add_parser("export", help="stream every ticket (with transcripts) as NDJSON")
    exp.add_argument("--account", required=True, help="integrated account id")
    exp.add_argument("--since", help="only tickets created at or after this ISO 8601 time")
    exp.add_argument("--resource", choices=["tickets"], default="tickets")
    exp.add_argument("--with-comments", action=argparse.BooleanOptionalAction, default=True)
    exp.add_argument("--include-remote-data", action="store_true")
    exp.add_argument("--out", help="file to write (default: standard output); enables --resume")
    exp.add_argument("--resume", action="store_true", help="continue an interrupted export into --out")
    mcp = sub.add_parser("mcp", help="Model Context Protocol server over the unified API (for AI agents)")
    mcp.add_argument("--api-url", default=os.environ.get("UNIFIED_API_URL", "http://127.0.0.1:8000"))
    mcp.add_argument("--api-key", default=os.environ.get("UNIFIED_API_KEY"))
    mcp.add_argument("--account", default=os.environ.get("UNIFIED_ACCOUNT_ID"), help="integrated account id")
    mcp.add_argument("--enable-writes", action="store_true", help="allow sending replies, closing and tagging")
    mcp.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    mcp.add_argument("--host", default="127.0.0.1")
    mcp.add_argument("--port", type=int, default=8765)
    hooks = sub.add_parser("webhooks", help="manage helpdesk webhook registrations")
    hooks_sub = hooks.add_subparsers(dest="hooks_command", required=True)
    sync = hooks_sub.add_parser("sync", help="register this service's receiver for an account's actions")
    sync.add_argument("account")
    args = parser.parse_args(argv)
    if args.command == "serve" and not args.dev:
        from .production import prepare_metrics_dir

        prepare_metrics_dir()  # before anything imports prometheus-client, so forked workers write files
    from .observability import configure_logging

    configure_logging(os.environ.get("UNIFIED_LOG_FORMAT", "json"), os.environ.get("UNIFIED_LOG_LEVEL", "INFO"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    commands = {"sandbox": cmd_sandbox, "dev": cmd_dev, "serve": cmd_serve, "api-keys": cmd_api_keys,
                "worker": cmd_worker, "webhooks": cmd_webhooks, "export": cmd_export, "mcp": cmd_mcp}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

