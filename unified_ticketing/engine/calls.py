"""Upstream requests as mapping files describe them (the schema's `request`, docs/mapping-format.md),
and how they become HTTP requests: `{JSONata}` path parts evaluated and URL-quoted, query values
encoded by `encode_query` (null left out, an array repeats the parameter, an object is JSON text,
true/false as `true`/`false`). Without `name`, a request's label is the path's last fixed segment.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from .expressions import Expression, ExpressionFailed

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True)
class Prepared:
    """One request ready to send: the path after the base URL, query pairs, JSON body."""
    name: str
    method: str
    path: str
    params: list[tuple[str, str]] = field(default_factory=list)
    body: dict | None = None
    files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CallSpec:
    name: str
    method: str
    path: tuple  # literal strings and Expressions, in order
    query: Expression | None = None
    body: Expression | None = None
    files: dict[str, str] = field(default_factory=dict)

    @property
    def expressions(self) -> list[Expression]:
        """Every expression the request evaluates (path parts, query, body)."""
        return [e for e in (*self.path, self.query, self.body) if isinstance(e, Expression)]

    def prepare(self, data=None, **bindings) -> Prepared:
        """Evaluate the request's expressions; ExpressionFailed if they cannot be (a bad id, say)."""
        parts = []
        for part in self.path:
            if isinstance(part, str):
                parts.append(part)
                continue
            value = part(data, **bindings)
            if value is None or isinstance(value, dict | list) or value in ("", ".", ".."):
                raise ExpressionFailed(f"{part.where}: no usable value for a path part ({value!r})")
            parts.append(quote(_text(value), safe=""))
        query = self.query(data, **bindings) if self.query is not None else None
        if query is not None and not isinstance(query, dict):
            raise ExpressionFailed(f"{self.query.where}: expected an object of query parameters")
        body = self.body(data, **bindings) if self.body is not None else None
        if body is not None and not isinstance(body, dict):
            raise ExpressionFailed(f"{self.body.where}: expected an object")
        return Prepared(self.name, self.method, "".join(parts), encode_query(query or {}), body, self.files)


def encode_query(query: dict) -> list[tuple[str, str]]:
    pairs = []
    for key, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                pairs.append((key, _text(item)))
    return pairs


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def parse_call(f, node: dict, key: str, label: str, default_method: str) -> CallSpec:
    """A request spec from `node[key]` (schema-valid); `f` is the loader's _File (file:line, variables)."""
    req = node[key]
    method = str(req.get("method", default_method)).upper()
    template = req["path"]
    where = f.where(req, "path", label + ".path")
    path, pos = [], 0
    for m in _PLACEHOLDER.finditer(template):
        path.append(template[pos:m.start()])
        path.append(f.compile(m.group(1), req, "path", where))
        pos = m.end()
    path.append(template[pos:])
    fixed = [seg for seg in _PLACEHOLDER.sub("/", template).split("/") if seg]
    name = str(req.get("name") or (fixed[-1] if fixed else method))
    return CallSpec(name, method, tuple(p for p in path if p != ""), f.opt_expr(req, "query", label + ".query"),
                    f.opt_expr(req, "body", label + ".body"), dict(req.get("files") or {}))
