"""JSONata expressions, compiled once at load (engine: `jlens`, Rust-backed; chosen by measurement,
see README). A bad expression fails at start-up naming its file and line.

A plain lookup (`chats`, `error.type`, `$`) is also compiled to a walk over the Python objects:
handing a whole upstream page to jlens and back only to read one field costs milliseconds
(`chats` of 100 archives: 2.9 ms; see bench/RESULTS.md). The walk gives jlens's answer, except
that it returns the input's own objects (treat results as read-only) with their numbers as the
upstream sent them (jlens writes an integral 1.0 as 1). Anything else goes to jlens, as does a
lookup that meets an array before its last step (JSONata maps over arrays).

A plain lookup in a variable (`$version` in a request path, `$filters.ticket_id`) is walked the same
way over the binding, when the call has it (else the name may be a JSONata function's: `$now`).

Bindings the source never reads (`$filters` in an expression that does not mention it) are not
handed to jlens: each costs a conversion per call (~5 µs per comment record with the engine's
three bindings). Which ones it reads comes from jlens's parse tree (`reads()`): free variables
only, not JSONata's own functions nor `$x := ...` or function parameters. The same answer checks
at load that an expression names only the variables of its context.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from itertools import repeat

import jlens

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_LOOKUP = re.compile(rf"\s*({_NAME}(?:\.{_NAME})*)\s*")
_KEYWORDS = {"and", "or", "in", "true", "false", "null", "function"}
_JLENS = object()  # the walk cannot answer: ask jlens


class MappingError(Exception):
    """A mapping file is wrong. Raised only while loading, never per request."""


@dataclass(frozen=True)
class Expression:
    source: str
    where: str  # "mappings/acme/tickets.list.yaml:12 (request.body)"
    compiled: jlens.Expression
    lookup: tuple[str, ...] | None = field(default=None, compare=False)  # ("error", "type"); () for `$`
    names: frozenset[str] | None = field(default=None, compare=False)  # the variables it reads; None: any
    binding: tuple[str, ...] | None = field(default=None, compare=False)  # `$filters.ticket_id`: ("filters", ...)

    def __call__(self, data=None, **bindings):
        lookup = self.lookup
        if lookup is not None:
            if len(lookup) == 1 and type(data) is dict:  # a field of a record (remote_data: `event`)
                return data.get(lookup[0])
            value = _walk(data, lookup)
            if value is not _JLENS:
                return value
        elif self.binding is not None and self.binding[0] in bindings:  # (else a JSONata function: `$now`)
            value = _walk(bindings[self.binding[0]], self.binding[1:])
            if value is not _JLENS and type(value) is not float:  # (jlens writes an integral 1.0 as 1)
                return value
        if bindings and self.names is not None:
            bindings = {k: v for k, v in bindings.items() if k in self.names}
        try:
            return self.compiled.evaluate(data, bindings=bindings or None)
        except jlens.JlensError as exc:
            raise ExpressionFailed(f"{self.where}: {exc}") from None


    def each(self, items: list, **bindings) -> list:
        """The expression applied to each of `items`, in one evaluation: a jlens call costs about 5 µs
        before any work (bench figure 2), so a page of records is mapped in one. An item whose result is
        undefined gives None, as a call on it alone would; an expression that reads the root (`$$`) is
        evaluated item by item, since `$$` would be the whole list."""
        if len(items) < 2 or self._each is None or not all(map(isinstance, items, repeat(dict))):
            return [self(item, **bindings) for item in items]  # (a path over arrays would flatten them)
        if bindings and self.names is not None:
            bindings = {k: v for k, v in bindings.items() if k in self.names}
        try:
            out = self._each.evaluate(items, bindings=bindings or None)
        except jlens.JlensError as exc:
            raise ExpressionFailed(f"{self.where}: {exc}") from None
        return list(map(dict.get, out, repeat("r")))

    @cached_property
    def _each(self) -> jlens.Expression | None:
        if self.lookup is not None or "$$" in self.source:
            return None
        return jlens.Expression(f'[$.{{"r": ({self.source}\n)}}]')  # \n: a trailing // or /* comment stays closed


def _walk(data, names: tuple[str, ...]):
    for name in names:
        if isinstance(data, dict):
            data = data.get(name)
        elif isinstance(data, list):
            return _JLENS
        else:
            return None
    return data


def _lookup(source: str) -> tuple[str, ...] | None:
    """The field names of a plain dotted lookup, () for the context `$`, None for anything else."""
    if source.strip() == "$":
        return ()
    m = _LOOKUP.fullmatch(source)
    if m is None:
        return None
    names = tuple(m.group(1).split("."))
    return None if _KEYWORDS.intersection(names) else names


def _binding(source: str) -> tuple[str, ...] | None:
    """A plain lookup in a variable (`$version`, `$filters.ticket_id`): the variable's name, then the fields."""
    stripped = source.strip()
    if not stripped.startswith("$") or stripped.startswith("$$"):
        return None
    names = _lookup(stripped[1:])
    return names or None


def _reads(compiled: jlens.Expression) -> frozenset[str] | None:
    """The free variables the expression reads; None if it could read any (`$eval`)."""
    reads = compiled.reads()
    return None if reads.get("everyBinding") else frozenset(reads.get("bindings", ()))


class ExpressionFailed(Exception):
    """An expression raised while evaluating upstream data (the upstream sent something unexpected)."""


def compile_expression(source: str, where: str, variables: dict | None = None) -> Expression:
    """Compile `source`; with `variables` (the names its context provides), naming any other is a MappingError."""
    if not isinstance(source, str) or not source.strip():
        raise MappingError(f"{where}: expected a JSONata expression")
    try:
        compiled = jlens.Expression(source)
    except jlens.JlensError as exc:
        pos = getattr(exc, "position", None)
        line = source[:pos].count("\n") + 1 if isinstance(pos, int) else None
        at = f", expression line {line}" if line else ""
        raise MappingError(f"{where}{at}: {exc}") from None
    names = _reads(compiled)
    unknown = sorted((names or set()) - set(variables)) if variables is not None else []
    if unknown:
        allowed = ", ".join(f"${v}" for v in sorted(variables)) or "none (JSONata over the input alone)"
        raise MappingError(f"{where}: unknown variable {', '.join('$' + u for u in unknown)}; variables here: "
                           f"{allowed}")
    return Expression(source, where, compiled, _lookup(source), names, _binding(source))
