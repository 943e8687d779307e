"""The `unified-ticketing` command."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from . import events_listen
from . import sandbox_commands as sandboxes


def cmd_serve(args) -> int:
    """gunicorn workers (or the Flask dev server with --dev) sharing one Redis; on the shared embedded Valkey
    they also deliver webhooks (no separate `worker` to run)."""
    deliver = args.shared_redis is not None
    print(f"unified-ticketing on http://{args.host}:{args.port}  (docs: /docs)", flush=True)
    if args.dev:
        from .app import create_app
        from .http_server import serve_app

        app = create_app()
        if deliver:
            _start_delivery(app, f"serve-{os.getpid()}", 1)
        serve_app(app, args.host, args.port)
    else:
        from .production import run

        run(args.host, args.port, args.workers, args.timeout, deliver_webhooks=deliver)
    return 0


def _start_delivery(app, name: str, threads: int):
    """`worker.start`, imported late (after serve's monkey-patching), for `serve` and `worker`."""
    from . import worker

    return worker.start(app, name, threads)


def cmd_api_keys(args) -> int:
    """create prints the new key alone (for scripts); list, revoke and rotate speak JSON."""
    import json

    import redis

    from .state import tenants

    r = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    if args.keys_command == "create":
        print(tenants.create_api_key(r, args.tenant, "read" if args.read_only else "full", args.account or (),
                                     args.expires_in))
    elif args.keys_command == "list":
        for key in tenants.list_keys(r, args.tenant):
            print(json.dumps(key))
    elif args.keys_command == "revoke":
        if not tenants.revoke(r, args.id):
            print(f"no live API key {args.id}", file=sys.stderr)
            return 1
    else:
        rotated = tenants.rotate(r, args.id, args.overlap)
        if rotated is None:
            print(f"no live API key {args.id}", file=sys.stderr)
            return 1
        print(json.dumps(rotated))
    return 0


def cmd_worker(args) -> int:
    """Process stored webhooks and deliver unified events until stopped."""
    from .app import create_app

    app = create_app()
    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, addr=args.metrics_host)
    stop, threads = _start_delivery(app, args.name, args.threads)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # each thread finishes the delivery it is in
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
    """(app, services, the loaded account or None after saying so) for commands about one account."""
    from .app import create_app

    app = create_app()
    svc = app.extensions["unified"]
    account = svc.accounts.load(account_id)
    if account is None:
        print(f"no integrated account {account_id}", file=sys.stderr)
    return app, svc, account


def cmd_webhooks(args) -> int:
    """Webhook registrations: per app (`register`, `unregister`, `list`) or one account's (`sync`)."""
    from .api.webhook_registration import NotConfigured, Registrar
    from .errors import ApiError

    if args.hooks_command == "sync":
        app, svc, account = _app_and_account(args.account)
        if account is None:
            return 1
        mapping = svc.events.get(account.integration)
        if mapping is None:
            print(f"{account.integration} has no events mapping", file=sys.stderr)
            return 1
        try:
            print(Registrar.of(app).sync_account(svc.engines[account.integration], account, mapping))
        except ApiError as err:
            print(f"not registered: {err.message}", file=sys.stderr)
            return 1
        return 0
    from .app import create_app

    app = create_app()
    svc = app.extensions["unified"]
    registrar = Registrar.of(app)
    per_client = sorted(name for name, m in svc.events.items() if m.per_client)
    names = [args.integration] if args.integration else per_client
    if args.integration and args.integration not in per_client:
        print(f"{args.integration}: webhooks are not registered per app here; they are registered for each account "
              "when it connects ('unified-ticketing webhooks sync <account>' does it again)", file=sys.stderr)
        return 2
    status = 0
    for name in names:
        engine, mapping = svc.engines[name], svc.events[name]
        try:
            if args.hooks_command == "list":
                for hook in registrar.listed(engine, mapping):
                    mark = "  (this service)" if hook["ours"] else ""
                    print(f"{name}  {hook.get('id')}  {hook.get('action')}  {hook.get('url')}{mark}")
            else:
                print(f"{name}: {getattr(registrar, args.hooks_command)(engine, mapping)}")
        except (NotConfigured, ApiError) as err:
            print(f"{name}: {getattr(err, 'message', err)}", file=sys.stderr)
            status = 1
    return status


def cmd_export(args) -> int:
    """Stream every ticket (with its transcript) as NDJSON, with progress, resumable."""
    import json as jsonlib
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from .engine.query import parse_datetime
    from .errors import ApiError
    from .export import export_tickets, ndjson

    _, svc, account = _app_and_account(args.account)
    if account is None:
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
    engine = svc.engine_for(account)
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
    from .state.redis_server import running_stack

    stack = running_stack() or {}  # beside `make run`: its service, demo key and accounts
    accounts = stack.get("accounts", {})
    api_url = args.api_url or stack.get("service_url") or "http://127.0.0.1:8000"
    api_key = args.api_key or stack.get("api_key")
    account = accounts.get(args.account, args.account) or next((accounts[n] for n in sorted(accounts)), None)
    missing = [n for n, v in (("--api-key/UNIFIED_API_KEY", api_key), ("--account/UNIFIED_ACCOUNT_ID", account))
               if not v]
    if missing:
        print(f"missing {', '.join(missing)} (or run `make run` beside this for its demo tenant)", file=sys.stderr)
        return 2
    if not args.account and accounts:
        print(f"unified-ticketing mcp: {api_url}, account {account} of the running `make run` stack", file=sys.stderr)
    server = build_server(UnifiedApi(api_url, api_key, account), enable_writes=args.enable_writes)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port)
    return 0


REDIS_COMMANDS = {"serve", "api-keys", "worker", "webhooks", "export"}
NEEDS_REDIS = ("Redis: REDIS_URL, else the Redis of a running `make run`, else the shared embedded Valkey "
               "in UNIFIED_DATA_DIR (started if none runs).")
NEEDS_APP = (NEEDS_REDIS + " The service's settings: UNIFIED_SECRET_KEY (the one `serve` uses, to read accounts' "
             "credentials) and each helpdesk's variables (e.g. its OAuth client).")


def _use_redis(args) -> bool:
    """Point REDIS_URL at the Redis this command uses (state/redis_server.py) before anything connects."""
    from .state.redis_server import redis_url, running_stack

    if not _settings_ok():  # production refuses to run without REDIS_URL: check before defaulting it
        return False
    chosen = os.environ.get("REDIS_URL")
    for name, value in ({} if chosen else (running_stack() or {}).get("env", {})).items():
        os.environ.setdefault(name, value)  # beside `make run`: its sandboxes' addresses, unless set
    try:
        url, args.shared_redis = redis_url()
    except (RuntimeError, OSError) as exc:
        print(f"unified-ticketing: {exc}", file=sys.stderr)
        return False
    if not chosen:
        where = f"the shared embedded Valkey in {args.shared_redis.data_dir}" if args.shared_redis \
            else "the Redis of the running `make run` stack"
        print(f"unified-ticketing: REDIS_URL is not set; using {where}", file=sys.stderr)
    os.environ["REDIS_URL"] = url  # create_app, and gunicorn's workers, connect to it
    return True


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("unified-ticketing")
    except PackageNotFoundError:
        return "unknown (not installed)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="unified-ticketing", description="One REST API for helpdesk data: the "
                                     "service, its operators' commands and local helpdesk sandboxes.",
                                     epilog="Settings come from the environment (README: Settings). "
                                            "`unified-ticketing COMMAND --help` says what each command needs.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    sandboxes.add_parsers(sub)

    def command(name: str, help: str, needs: str, parent=sub):
        return parent.add_parser(name, help=help, description=f"{help[0].upper()}{help[1:]}.", epilog=needs)

    serve_p = command("serve", "run the unified API service", NEEDS_REDIS + " On the shared embedded Valkey it also "
                      "delivers webhooks itself (no `worker` needed). In production (UNIFIED_ENV=production): "
                      "REDIS_URL, UNIFIED_SECRET_KEY and UNIFIED_ADMIN_TOKEN. Each helpdesk's variables: README, "
                      "Settings.")
    serve_p.add_argument("--host", default="127.0.0.1")
    serve_p.add_argument("--port", type=int, default=8000)
    serve_p.add_argument("--workers", type=int, default=int(os.environ.get("UNIFIED_WORKERS", "2")),
                         help="gunicorn worker processes (UNIFIED_WORKERS)")
    serve_p.add_argument("--timeout", type=int, default=int(os.environ.get("UNIFIED_WORKER_TIMEOUT", "60")),
                         help="seconds a request may take; also the graceful-shutdown window (UNIFIED_WORKER_TIMEOUT)")
    serve_p.add_argument("--dev", action="store_true", help="Flask's development server instead of gunicorn")
    keys = command("api-keys", "manage tenants' API keys", NEEDS_REDIS + " The service need not run: keys are "
                   "read from Redis on each request.")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_create = command("create", "create an API key for a tenant and print it once", keys.epilog, keys_sub)
    keys_create.add_argument("--tenant", required=True)
    keys_create.add_argument("--read-only", action="store_true", help="GET requests only (for AI tools, MCP)")
    keys_create.add_argument("--account", action="append", metavar="ID",
                             help="limit the key to this integrated account (repeatable)")
    keys_create.add_argument("--expires-in", type=int, metavar="SECONDS", help="the key stops working after this")
    keys_list = command("list", "a tenant's live keys: id, prefix, scope, created, last used", keys.epilog, keys_sub)
    keys_list.add_argument("--tenant", required=True)
    keys_revoke = command("revoke", "end a key at once, on every worker", keys.epilog, keys_sub)
    keys_revoke.add_argument("id")
    keys_rotate = command("rotate", "a new key like this one; the old one works for --overlap s", keys.epilog,
                          keys_sub)
    keys_rotate.add_argument("id")
    keys_rotate.add_argument("--overlap", type=int, default=3600, metavar="SECONDS")
    worker = command("worker", "process incoming webhooks and deliver unified events", NEEDS_APP + " Run it beside "
                     "`serve` when REDIS_URL is set (on the embedded default `serve` delivers by itself); any "
                     "number of workers share the work.")
    worker.add_argument("--threads", type=int, default=2)
    worker.add_argument("--name", default=f"worker-{os.getpid()}")
    worker.add_argument("--metrics-port", type=int, default=int(os.environ.get("UNIFIED_WORKER_METRICS_PORT", "0")),
                        help="serve Prometheus metrics on this port (0: off; UNIFIED_WORKER_METRICS_PORT)")
    worker.add_argument("--metrics-host", default="127.0.0.1")
    exp = command("export", "stream every ticket (with transcripts) as NDJSON", NEEDS_APP + " It reads the "
                  "helpdesk directly; the service need not run.")
    exp.add_argument("--account", required=True, help="integrated account id")
    exp.add_argument("--since", help="only tickets created at or after this ISO 8601 time")
    exp.add_argument("--with-comments", action=argparse.BooleanOptionalAction, default=True)
    exp.add_argument("--include-remote-data", action="store_true")
    exp.add_argument("--out", help="file to write (default: standard output); enables --resume")
    exp.add_argument("--resume", action="store_true", help="continue an interrupted export into --out")
    mcp = command("mcp", "Model Context Protocol server over the unified API (for AI agents)",
                  "Needs a running service and a tenant's API key (a --read-only one unless --enable-writes) and an "
                  "integrated account; beside `make run` all three default to its demo stack's.")
    mcp.add_argument("--api-url", default=os.environ.get("UNIFIED_API_URL"),
                     help="the service (UNIFIED_API_URL; default: the running `make run`, else http://127.0.0.1:8000)")
    mcp.add_argument("--api-key", default=os.environ.get("UNIFIED_API_KEY"), help="UNIFIED_API_KEY")
    mcp.add_argument("--account", default=os.environ.get("UNIFIED_ACCOUNT_ID"),
                     help="integrated account id (UNIFIED_ACCOUNT_ID); beside `make run`, also an integration name")
    mcp.add_argument("--enable-writes", action="store_true", help="allow sending replies, closing and tagging")
    mcp.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    mcp.add_argument("--host", default="127.0.0.1")
    mcp.add_argument("--port", type=int, default=8765)
    hooks = command("webhooks", "manage helpdesk webhook registrations", NEEDS_APP + " UNIFIED_PUBLIC_URL: where "
                    "the helpdesk reaches this service's receiver.")
    hooks_sub = hooks.add_subparsers(dest="hooks_command", required=True)
    for name, text in (("register", "register the receiver for the app's client id (once per deployment)"),
                       ("unregister", "remove the app's registrations of this service's receiver"),
                       ("list", "list the webhooks registered for the app's client id")):
        one = command(name, text, hooks.epilog, hooks_sub)
        one.add_argument("--integration", help="default: every integration whose webhooks are registered per app")
    sync = command("sync", "set up one account's webhooks again (register, or enable its license)", hooks.epilog,
                   hooks_sub)
    sync.add_argument("account")
    events_listen.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "serve" and not args.dev:
        # gevent workers (see production.py): patch before ssl, sockets and redis are imported, so that the
        # master's imports, which forked workers inherit, are cooperative too
        from gevent import monkey

        monkey.patch_all()
        from .production import prepare_metrics_dir

        prepare_metrics_dir()  # before anything imports prometheus-client, so forked workers write files
    from .observability import configure_logging

    production = os.environ.get("UNIFIED_ENV", "development") == "production"
    configure_logging(os.environ.get("UNIFIED_LOG_FORMAT", "json" if production else "console"),
                      os.environ.get("UNIFIED_LOG_LEVEL", "INFO"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.command in REDIS_COMMANDS and not _use_redis(args):
        return 2
    commands = {**sandboxes.COMMANDS, "serve": cmd_serve, "api-keys": cmd_api_keys,
                "worker": cmd_worker, "webhooks": cmd_webhooks, "export": cmd_export, "mcp": cmd_mcp,
                "events": events_listen.cmd_events}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
