"""Figure 4: the refresh herd. An OAuth account whose access token has expired, 32 requests at once
on 4 worker processes: how many times does the service refresh the token (goal: once)?

The account is connected with a token the sandbox issued with a 4-second lifetime; the sandbox then
goes back to 8-hour tokens, so the refreshed token is an ordinary one (a short-lived refreshed
token would be refreshed again at once, inside UNIFIED_REFRESH_MARGIN, and blur the count).
The sandbox's `pkce` client rotates refresh tokens, so a second refresh with the same token fails:
a herd shows up as failed requests as well as extra refreshes."""
from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from .common import (
    Context,
    Figure,
    configure,
    connect_oauth,
    new_tenant,
    oauth_tokens,
    reset_stats,
    start_service,
    stats,
)

CONCURRENT = 32
WORKERS = 4
TOKEN_TTL = 4  # seconds: long enough to connect the account, short enough to wait out


def run(ctx: Context) -> list[Figure]:
    service = start_service(ctx.sandbox, ctx.redis_url, workers=WORKERS)
    try:
        client = new_tenant(service, "bench-herd")
        configure(ctx.sandbox, token_ttl=TOKEN_TTL)
        tokens = oauth_tokens(ctx.sandbox)
        expires = time.monotonic() + tokens["expires_in"]
        account_id = connect_oauth(client, tokens)
        configure(ctx.sandbox)
        with ctx.bar("4. refresh herd: waiting for the token to expire", TOKEN_TTL + 1) as advance:
            while time.monotonic() < expires + 1:
                time.sleep(0.25)
                advance(0.25)
        reset_stats(ctx.sandbox)
        barrier = threading.Barrier(CONCURRENT)

        def one(_) -> int:
            session = requests.Session()
            barrier.wait(timeout=30)
            return client.get("/unified/ticketing/tickets", session=session, integrated_account_id=account_id,
                              limit=10).status_code

        with ThreadPoolExecutor(CONCURRENT) as pool:
            statuses = Counter(pool.map(one, range(CONCURRENT)))
        counted = stats(ctx.sandbox)
    finally:
        configure(ctx.sandbox)
        service.stop()
    refreshes = counted["token_refreshes"]
    ok = statuses.get(200, 0)
    failed = CONCURRENT - ok
    note = f"{ok}/{CONCURRENT} requests succeeded; statuses {dict(sorted(statuses.items()))}"
    if refreshes == 0:
        note += "; the service does not refresh expired tokens yet (issue 4)"
    return [Figure(
        key="refresh_herd", title="4. Refresh herd (32 requests, 4 workers)", value=refreshes, unit="refreshes",
        baseline=f"{CONCURRENT} concurrent requests on an expired token; {failed} failed",
        goal="1", met=refreshes == 1 and failed == 0, note=note,
        details={"statuses": dict(statuses), "token_refreshes": refreshes, "upstream_errors": counted["errors"],
                 "upstream_calls": counted["total_calls"], "workers": WORKERS})]
