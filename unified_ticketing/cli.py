"""The `unified-ticketing` command."""
from __future__ import annotations

import argparse
import logging
import signal
import sys


def _sandbox_parser(sub) -> None:
    p = sub.add_parser("sandbox", help="run the local LiveChat sandbox (Agent Chat API, Configuration API, OAuth)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8800, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=1, help="seed for the generated license data")
    p.add_argument("--chats", type=int, default=300, help="number of seeded chats")
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
    from .sandbox.livechat import serve

    def ready(base: str) -> None:
        if args.ready_file:
            with open(args.ready_file, "w") as f:
                f.write(base)
        print(f"LiveChat sandbox listening on {base} ({args.chats} chats, seed {args.seed})", flush=True)
        print(f"  credentials: curl {base}/_sandbox/credentials", flush=True)

    serve(_sandbox_options(args), ready=ready)
    return 0


def cmd_dev(args) -> int:
    """Everything on embedded defaults: Redis (embedded Valkey unless REDIS_URL) and the sandbox."""
    from .sandbox.livechat import serve
    from .state.redis_server import redis_url

    url, embedded = redis_url()
    print(f"Redis: {url}{' (embedded Valkey)' if embedded else ''}", flush=True)

    def ready(base: str) -> None:
        import requests

        creds = requests.get(f"{base}/_sandbox/credentials", timeout=5).json()
        print(f"LiveChat sandbox: {base} ({args.chats} chats)", flush=True)
        print("Try it:", flush=True)
        print(f"  curl -s -X POST {base}/v3.5/agent/action/list_archives -H "
              f"'Authorization: {creds['basic_authorization']}' -H 'Content-Type: application/json' "
              "-d '{\"limit\": 2}'", flush=True)
        print("Press Ctrl-C to stop.", flush=True)

    try:
        serve(_sandbox_options(args), ready=ready)
    finally:
        if embedded:
            embedded.stop()
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="unified-ticketing", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _sandbox_parser(sub)
    dev = sub.add_parser("dev", help="run everything on embedded defaults (what `make run` does)")
    for action in sub.choices["sandbox"]._actions[1:]:
        dev._add_action(action)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    return {"sandbox": cmd_sandbox, "dev": cmd_dev}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

