"""Figure 2: the service's CPU per unified record against a hand-written plain-Python mapping.

Both sides turn the same upstream answer (fetched once from the sandbox) into the same response
body: the service through its own engine (request body, items, dedupe, record expression,
marshmallow model, remote_data, cursor) and Flask's JSON response; the baseline through
`bench/baseline.py` and `json.dumps`. Only I/O is left out: the engine's upstream client and
its Redis paging state are replaced by in-memory stand-ins. The two bodies are checked equal
before timing. Service and baseline alternate, one page each, and their fastest pages are
compared (the least disturbed runs, as timeit advises; the machine is shared).
"""
from __future__ import annotations

import json
import time

from unified_ticketing.app import create_app
from unified_ticketing.engine.executor import Account, Engine, Options
from unified_ticketing.schemas.ticketing import MODELS
from unified_ticketing.state import secrets
from unified_ticketing.state.traversals import Traversals

from . import baseline
from .common import SECRET_KEY, Context, Figure

LIMIT = 100
REPEATS = 300  # pairs (service, hand-written) timed alternately; each side its fastest: the host's speed swings
TICKET_ID = "BENCHCHAT"


class CannedUpstream:
    """Answers every call with one stored upstream response, as the list's last page (no next page: a
    full unified page would otherwise read the same canned page again)."""

    def __init__(self, data: dict):
        self.data = {k: v for k, v in data.items() if k not in ("next_page_id", "previous_page_id")}

    def call(self, *args, **kwargs) -> dict:
        return self.data

    def base_url_for(self, credentials: dict) -> str:
        return "https://api.bench.invalid"


class MemoryTraversals(Traversals):
    """Paging state in memory: what the engine keeps in Redis, without the round trips (a first page
    checks nothing in Redis: its dedupe is the request's own; its state would be written)."""

    def __init__(self):
        super().__init__(None, secrets.signer(SECRET_KEY), 3600)

    def save(self, account_id: str, traversal: str, page: int, **state) -> None:
        pass


def upstream_pages(ctx: Context) -> dict[str, dict]:
    """One upstream answer per resource: 100 archives, 100 customers, and the threads of those archives
    (for comments and attachments, which read threads; many threads make a full page of files)."""
    archives = ctx.upstream.call("list_archives", {"limit": 100, "sort_order": "desc", "filters": {}}).json()
    customers = ctx.upstream.call("list_customers", {"limit": 100, "sort_order": "desc", "filters": {}}).json()
    threads = {"threads": [chat["thread"] for chat in archives["chats"]], "found_threads": len(archives["chats"])}
    return {"tickets": archives, "contacts": customers, "comments": threads, "attachments": threads}


def _as_asked(op, data: dict, filters: dict, account) -> dict:
    """The canned threads cut to as many as the mapping's request asks for a page of LIMIT (comments ask
    for fewer threads than records: a thread holds several events), as the upstream would answer it."""
    if "threads" not in data:
        return data
    asked = op.request.prepare(None, filters=filters, limit=LIMIT, version=account.version,
                               base_url="https://api.bench.invalid", account={}).body.get("limit")
    return {**data, "threads": data["threads"][:asked]} if isinstance(asked, int) else data


GOALS = {"tickets": 1.3, "contacts": 1.3, "comments": 2, "attachments": 2}  # issue 16 goal 3

def run(ctx: Context) -> list[Figure]:
    app = create_app({"REDIS_URL": ctx.redis_url, "SECRET_KEY": SECRET_KEY, "ADMIN_TOKEN": "bench",
                      "UPSTREAM_ENV": {"LIVECHAT_API_URL": ctx.sandbox.base_url}})
    real = app.extensions["unified"].engines["livechat"]
    account = Account(id="bench", tenant="bench", version="3.5", auth_type="personal_access_token", credentials={})
    pages = upstream_pages(ctx)
    figures = []
    with app.app_context(), ctx.bar("2. CPU per record", REPEATS * len(pages)) as advance:
        for resource, data in pages.items():
            engine = Engine(real.integration, CannedUpstream(data), MemoryTraversals())
            op = engine.operation(resource, "list", account.version)
            filters = {"ticket_id": TICKET_ID} if resource in ("comments", "attachments") else {}
            data = _as_asked(op, data, filters, account)
            engine.upstream = CannedUpstream(data)

            def service(engine=engine, op=op, filters=filters) -> bytes:
                result = engine.list(account, op, LIMIT, filters, None, Options())
                return app.json.response(result).get_data()

            def hand_written(resource=resource, data=data) -> bytes:
                records = baseline.page(resource, data, LIMIT, TICKET_ID)
                return baseline.serialize(records, None)

            ours, theirs = json.loads(service()), json.loads(hand_written())
            if ours["result"] != theirs["result"]:
                bad = next(i for i, (a, b) in enumerate(zip(ours["result"], theirs["result"], strict=False)) if a != b)
                raise RuntimeError(f"figure 2: the hand-written {resource} mapping differs from the service at "
                                   f"record {bad}: {ours['result'][bad]} != {theirs['result'][bad]}")
            n = ours["result_count"]
            s_times, b_times = [], []
            for _ in range(REPEATS):
                s_times.append(_timed(service))
                b_times.append(_timed(hand_written))
                advance()
            s, b = min(s_times) / n, min(b_times) / n
            figures.append(Figure(
                key=f"cpu_per_record_{resource}", title=f"2. CPU per record, {resource}", value=s / b, unit="×",
                baseline=f"hand-written Python {b * 1e6:.1f} µs/record (service {s * 1e6:.1f} µs)",
                goal=f"≤ {GOALS[resource]}×", met=s / b <= GOALS[resource],
                details={"records_per_page": n, "service_us": round(s * 1e6, 2), "baseline_us": round(b * 1e6, 2),
                         "breakdown_us": _breakdown(app, op, data, filters, n)}))
    return figures


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _breakdown(app, op, data: dict, filters: dict, n: int) -> dict:
    """Where the service's time goes, per record (µs): each stage timed alone, fastest of 20."""
    bindings = {"filters": filters, "limit": LIMIT, "version": "3.5"}
    items = op.items(data, **bindings)
    items = items if isinstance(items, list) else [items]
    records = op.record.each(items[:n], **bindings)
    dumped = [MODELS[op.resource].dump(r) for r in records]
    page = {"result": [{**d, "remote_data": op.remote_data(i) if op.remote_data else i} for d, i in zip(dumped, items,
                                                                                                   strict=False)]}
    stages = {
        "items_expression": lambda: op.items(data, **bindings),
        "record_expression": lambda: op.record.each(items[:n], **bindings),
        "model_dump": lambda: [MODELS[op.resource].dump(r) for r in records],
        "json_response": lambda: app.json.response(page).get_data(),
    }
    return {name: round(min(_timed(fn) for _ in range(20)) / n * 1e6, 2) for name, fn in stages.items()}
