"""JSONata expressions, compiled once at load (engine: `jlens`, Rust-backed; chosen by measurement,
see README). A bad expression fails at start-up naming its file and line."""
from __future__ import annotations

from dataclasses import dataclass

import jlens


class MappingError(Exception):
    """A mapping file is wrong. Raised only while loading, never per request."""


@dataclass(frozen=True)
class Expression:
    source: str
    where: str  # "mappings/acme/tickets.list.yaml:12 (request.body)"
    compiled: jlens.Expression

    def __call__(self, data=None, **bindings):
        try:
            return self.compiled.evaluate(data, bindings=bindings or None)
        except jlens.JlensError as exc:
            raise ExpressionFailed(f"{self.where}: {exc}") from None


class ExpressionFailed(Exception):
    """An expression raised while evaluating upstream data (the upstream sent something unexpected)."""


def compile_expression(source: str, where: str) -> Expression:
    if not isinstance(source, str) or not source.strip():
        raise MappingError(f"{where}: expected a JSONata expression")
    try:
        return Expression(source, where, jlens.Expression(source))
    except jlens.JlensError as exc:
        pos = getattr(exc, "position", None)
        line = source[:pos].count("\n") + 1 if isinstance(pos, int) else None
        at = f", expression line {line}" if line else ""
        raise MappingError(f"{where}{at}: {exc}") from None
