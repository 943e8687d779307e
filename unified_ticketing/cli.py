"""The `unified-ticketing` command."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from . import sandbox_commands as sandboxes


def cmd_serve(args) -> int:
    """gunicorn workers (or the Flask dev server with --dev) sharing one Redis."""
    import os

    if not args.dev:
        # gevent workers (see production.py): patch before ssl, sockets and redis are imported, so that the
        # master's imports, which forked workers inherit, are cooperative too
        from gevent import monkey

        monkey.patch_all()
    from .state.redis_server import redis_url

    if not _settings_ok():
        return 2
    url, embedded = redis_url()
    os.environ["REDIS_URL"] = url  # workers connect to the same Redis, embedded or not
    print(f"unified-ticketing on http://{args.host}:{args.port}  (docs: /docs)", flush=True)
    try:
        if args.dev:
            from .app import create_app
            from .http_server import serve_app

            serve_app(create_app(), args.host, args.port)
        else:
            from .production import run

            run(args.host, args.port, args.workers, args.timeout)
    finally:
        if embedded:
            embedded.stop()
    return 0


def cmd_api_keys(args) -> int:
    """create prints the new key alone (for scripts); list, revoke and rotate speak JSON."""
    import json

    import redis

    from .state import tenants
    from .state.redis_server import redis_url

    url, embedded = redis_url()
    if embedded:
        print("warning: REDIS_URL is not set; the key goes to a throw-away embedded Redis", file=sys.stderr)
    r = redis.Redis.from_url(url, decode_responses=True)
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
    """Webhook registrations: per app (`register`, `unregister`, `list`) or one account's (`sync`)."""
    from .api import webhook_registration as hooks
    from .errors import ApiError

    if args.hooks_command == "sync":
        app, svc, record = _app_and_account(args.account)
        if record is None:
            return 1
        mapping = svc.events.get(record["integration"])
        if mapping is None:
            print(f"{record['integration']} has no events mapping", file=sys.stderr)
            return 1
        with app.test_request_context():
            try:
                print(hooks.sync_account(svc.engines[record["integration"]], record, mapping))
            except ApiError as err:
                print(f"not registered: {err.message}", file=sys.stderr)
                return 1
        return 0
    from .app import create_app

    app = create_app()
    svc = app.extensions["unified"]
    per_client = sorted(name for name, m in svc.events.items() if m.per_client)
    names = [args.integration] if args.integration else per_client
    if args.integration and args.integration not in per_client:
        print(f"{args.integration}: webhooks are not registered per app here; they are registered for each account "
              "when it connects ('unified-ticketing webhooks sync <account>' does it again)", file=sys.stderr)
        return 2
    status = 0
    with app.test_request_context():
        for name in names:
            engine, mapping = svc.engines[name], svc.events[name]
            try:
                if args.hooks_command == "list":
                    for hook in hooks.listed(engine, mapping):
                        mark = "  (this service)" if hook["ours"] else ""
                        print(f"{name}  {hook.get('id')}  {hook.get('action')}  {hook.get('url')}{mark}")
                else:
                    print(f"{name}: {getattr(hooks, args.hooks_command)(engine, mapping)}")
            except (hooks.NotConfigured, ApiError) as err:
                print(f"{name}: {getattr(err, 'message', err)}", file=sys.stderr)
                status = 1
    return status


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
    sandboxes.add_parsers(sub)
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
    keys_create.add_argument("--read-only", action="store_true", help="GET requests only (for AI tools, MCP)")
    keys_create.add_argument("--account", action="append", metavar="ID",
                             help="limit the key to this integrated account (repeatable)")
    keys_create.add_argument("--expires-in", type=int, metavar="SECONDS", help="the key stops working after this")
    keys_list = keys_sub.add_parser("list", help="a tenant's live keys: id, prefix, scope, created, last used")
    keys_list.add_argument("--tenant", required=True)
    keys_revoke = keys_sub.add_parser("revoke", help="end a key at once, on every worker")
    keys_revoke.add_argument("id")
    keys_rotate = keys_sub.add_parser("rotate", help="a new key like this one; the old one works for --overlap s")
    keys_rotate.add_argument("id")
    keys_rotate.add_argument("--overlap", type=int, default=3600, metavar="SECONDS")
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
    for name, text in (("register", "register the receiver for the app's client id (once per deployment)"),
                       ("unregister", "remove the app's registrations of this service's receiver"),
                       ("list", "list the webhooks registered for the app's client id")):
        one = hooks_sub.add_parser(name, help=text)
        one.add_argument("--integration", help="default: every integration whose webhooks are registered per app")
    sync = hooks_sub.add_parser("sync", help="set up one account's webhooks again (register, or enable its license)")
    sync.add_argument("account")
    args = parser.parse_args(argv)
    if args.command == "serve" and not args.dev:
        from .production import prepare_metrics_dir

        prepare_metrics_dir()  # before anything imports prometheus-client, so forked workers write files
    from .observability import configure_logging

    configure_logging(os.environ.get("UNIFIED_LOG_FORMAT", "json"), os.environ.get("UNIFIED_LOG_LEVEL", "INFO"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    commands = {**sandboxes.COMMANDS, "serve": cmd_serve, "api-keys": cmd_api_keys,
                "worker": cmd_worker, "webhooks": cmd_webhooks, "export": cmd_export, "mcp": cmd_mcp}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

