"""A list's `also` source: records an upstream filter would miss, read once at the start of a traversal.

The main request narrows a list by what the helpdesk can filter on (thread creation time, say); some
records changed in the window without matching that narrowing (a long-running active chat with a new
message). `also` lists the candidates (`request`, its pages followed as the integration's `pagination`
says), picks their ids (`ids`, JSONata on each answer) and reads them (`fetch.request`, `$ids` a chunk),
so the traversal costs calls in proportion to those candidates. The fetched answers go through the
operation's own `response`, so `dedupe_by` drops the main request's later copies of the same record.
They come first in the traversal (before the main request's order), and are checked against the filters
applied after mapping; an `until` bound does not end the traversal at them.
"""
from __future__ import annotations

from dataclasses import dataclass

from .calls import CallSpec, parse_call
from .expressions import Expression

DEFAULT_CHUNK = 20


@dataclass(frozen=True)
class AlsoSource:
    when: Expression  # on {}: does this traversal read the source?
    request: CallSpec  # the candidates' first page
    ids: Expression  # one answer of `request` -> ids to fetch
    fetch: CallSpec  # reads a chunk of ids (`$ids`)
    chunk: int = DEFAULT_CHUNK

    def chunks(self, ids: list) -> list[list]:
        return [ids[i:i + self.chunk] for i in range(0, len(ids), self.chunk)]


def parse(f, node: dict, label: str, default_method: str) -> AlsoSource:
    """The `also:` node (schema-valid); `f` is the loader's _File."""
    fetch = node["fetch"]
    return AlsoSource(f.expr(node, "when", label + ".when"), parse_call(f, node, "request", label + ".request",
                                                                        default_method),
                      f.expr(node, "ids", label + ".ids"),
                      parse_call(f, fetch, "request", label + ".fetch.request", default_method),
                      int(fetch.get("chunk", DEFAULT_CHUNK)))
