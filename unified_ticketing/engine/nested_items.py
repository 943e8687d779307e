"""`response.items` as a mapping, for records that live inside their parents (the events of each thread):
the engine walks `parents` and each parent's `children` over the page's own Python objects and builds each
item as `{**fields, child_key: child}` (the child itself, not a copy), with no JSONata for the flattening.

Why, measured on figure 2's page (100 threads, 800 events, 23 of them files; bench/cpu.py; load 4.7): the
JSONata form `[threads.($t := id; events[...].{"chat_id": ..., "thread_id": $t, "event": $})]` takes 1.56 ms
a page for comments (jlens builds a wrapper per event and converts each back to Python) and 0.28 ms for
attachments; this walk 0.24 ms and 0.13 ms.

`where` keeps the children it holds for. A predicate of plain paths compared with literals (`=`, `!=`),
`and`, `or`, `$not(...)` and parentheses runs in Python as JSONata would (a missing field compares false,
`1 = true` is false), generated as one lambda; a child where such a path meets a list (JSONata may read a
one-element list as its element), and any other predicate, goes to jlens as `$boolean(where)`. Measured
over the 800 events: jlens per child 0.41 ms; jlens once per parent, answering the indices or booleans of
the children that pass, 0.7-1.1 ms; once per page 0.48 ms; Python 0.06 ms.

`fields` are JSONata over the parent; one that reads nothing of its input (`$filters.ticket_id`) is
evaluated once per page. A field that is null or undefined is left out (jlens answers both as None).
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from .expressions import Expression, compile_expression

_MISSING = object()  # a path that reaches nothing (JSONata: undefined)
_TOKEN = re.compile(r"""\s*(?:("[^"\\]*"|'[^'\\]*')|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(!=|=|\(|\))"""
                    r"""|(\$not\b|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*))""")
_LITERALS = {"true": True, "false": False, "null": None}


class Undecided(Exception):
    """The Python predicate met a list where it compares: JSONata decides for this child."""


def walk(data, names: tuple[str, ...]) -> list:
    """A plain path as JSONata reads it, over the input's own objects: a list met on the way is read
    element by element and the answers flattened. Read-only: one name of a dict answers the dict's own list."""
    if len(names) == 1 and isinstance(data, dict):  # children of a parent: a third of the time otherwise
        found = data.get(names[0], _MISSING)
        return found if isinstance(found, list) else [] if found is _MISSING else [found]
    values = data if isinstance(data, list) else [data]
    for name in names:
        out = []
        for value in values:
            if isinstance(value, dict) and name in value:
                found = value[name]
                out.extend(found) if isinstance(found, list) else out.append(found)
        values = out
    return values


@dataclass(frozen=True)
class Where:
    """A child predicate: `fast` (Python; raises Undecided) when the source is simple, else jlens."""
    expression: Expression  # `$boolean(where)`
    fast: Callable | None = None
    fast_kept: Callable | None = None  # `fast` over a list of children (no call per child)

    def kept(self, children: list, bindings: dict) -> list:
        if self.fast_kept is not None or self.fast is not None:
            try:
                if self.fast_kept is not None:
                    return self.fast_kept(children)
                return [child for child in children if self.fast(child)]
            except Undecided:
                pass
        return [child for child in children if self.holds(child, bindings)]

    def holds(self, child, bindings: dict) -> bool:
        if self.fast is not None:
            try:
                return self.fast(child)
            except Undecided:
                pass
        return bool(self.expression(child, **bindings))


@dataclass(frozen=True)
class NestedItems:
    """`items(data, **bindings)`: the items of one upstream page, as a list."""
    parents: tuple[str, ...]
    children: tuple[str, ...]
    where: Where | None = None
    fields: tuple[tuple[str, Expression, str], ...] = ()  # (key, expression, when: "page", "parent" or
    # "lookup": a plain path of the parent, which needs no bindings)
    child_key: str | None = None  # None: the item is the child itself

    def __call__(self, data, **bindings) -> list:
        parents = walk(data, self.parents)
        if not parents:
            return []
        once = {name: expr(None, **bindings) for name, expr, when in self.fields if when == "page"}
        out, key = [], self.child_key
        scan = self._scan
        for parent, children in scan(parents, bindings) if scan is not None else self._kept(parents, bindings):
            if key is None:
                out += children
                continue
            item = {}
            for name, expr, when in self.fields:
                value = once[name] if when == "page" else expr(parent) if when == "lookup" else expr(parent, **bindings)
                if value is not None:
                    item[name] = value
            for child in children:  # a copy and a store: 40% less than {**item, key: child}
                one = item.copy()
                one[key] = child
                out.append(one)
        return out

    def _kept(self, parents: list, bindings: dict):
        """(parent, its children that `where` keeps), for each parent that keeps any."""
        for parent in parents:
            children = walk(parent, self.children)
            if children and self.where is not None:
                children = self.where.kept(children, bindings)
            if children:
                yield parent, children

    @cached_property
    def _scan(self) -> Callable | None:
        """`_kept` as one generated loop over the parents, the children of one name (`events`) and the Python
        predicate inline: no call per parent nor per child, a fifth less for a sparse `where` (attachments:
        23 files in 800 events, 116 → 92 µs a page). A parent whose children Python leaves to JSONata
        (Undecided, or a child that is no object) is decided child by child (`Where.holds`). None without
        such a predicate."""
        code = getattr(self.where.fast_kept, "code", None) if self.where is not None else None
        if code is None or len(self.children) != 1:
            return None
        env = {"M": _MISSING, "get": _get, "walk": walk, "Undecided": Undecided, "undecided": _undecided,
               "holds": self.where.holds}
        exec(f"""def scan(parents, bindings):
    out = []
    for p in parents:
        if isinstance(p, dict):
            cs = p.get({self.children[0]!r}, M)
            if not isinstance(cs, list):
                cs = [] if cs is M else [cs]
        else:
            cs = walk(p, {self.children!r})
        if not cs:
            continue
        ks = []
        try:
            for c in cs:
                if {code}:
                    ks.append(c)
        except (Undecided, AttributeError):
            ks = [c for c in cs if holds(c, bindings)]
        if ks:
            out.append((p, ks))
    return out""", env)  # noqa: S102 (built from the predicate's tokens)
        return env["scan"]


def parse(f, node: dict, label: str) -> NestedItems:
    """The mapping form of `response.items` (its shape checked by the schema), compiled with the variables
    of its context; `f` is the loader's _File."""
    where = None
    if "where" in node:
        raw = f.expr(node, "where", f"{label}.where")
        where = Where(compile_expression(f"$boolean(({raw.source}\n))", raw.where), predicate(raw.source),
                      predicate(raw.source, kept=True))
    fields = node.get("fields") or {}
    compiled = ((str(k), f.expr(fields, k, f"{label}.fields.{k}")) for k in fields)
    return NestedItems(tuple(node["parents"].split(".")), tuple(node["children"].split(".")), where,
                       tuple((k, e, _when(e)) for k, e in compiled), node.get("child_key"))


def _when(field: Expression) -> str:
    if field.lookup is not None:
        return "lookup"
    return "parent" if field.compiled.reads().get("input") else "page"


def predicate(source: str, kept: bool = False) -> Callable | None:
    """`source` as a Python function of the child, or None when it is not made only of `path = literal`,
    `path != literal`, `and`, `or`, `$not(...)` and parentheses. The function is generated as one Python
    lambda (names and literals through repr): combining closures per operator cost 4× more per child.
    With `kept`, a function of a list of children instead, answering those that hold."""
    tokens, pos = [], 0
    while pos < len(source.rstrip()):
        m = _TOKEN.match(source, pos)
        if m is None:
            return None
        string, number, op, name = m.groups()
        if string is not None:
            tokens.append(("literal", string[1:-1]))
        elif number is not None:
            tokens.append(("literal", json.loads(number)))
            if not math.isfinite(tokens[-1][1]):
                return None
        elif name in _LITERALS:
            tokens.append(("literal", _LITERALS[name]))
        elif name in ("and", "or", "$not") or op is not None:
            tokens.append((op or name, None))
        else:
            tokens.append(("path", tuple(name.split("."))))
        pos = m.end()
    try:
        code, rest = _or(tokens)
    except (IndexError, ValueError):
        return None
    if rest:
        return None
    env = {"M": _MISSING, "get": _get, "undecided": _undecided}
    if not kept:
        return eval(f"lambda c: (({code}) if isinstance(c, dict) else undecided())", env)  # noqa: S307 (from tokens)
    # every path starts `c.get(...)`, so the first comparison of a child that is no object raises AttributeError
    # (only dicts have `get` among JSON values): no test per child
    exec(f"def kept(cs):\n    try:\n        return [c for c in cs if {code}]\n"  # noqa: S102 (from tokens)
         "    except AttributeError:\n        undecided()", env)
    env["kept"].code = code  # (NestedItems._scan writes it into its loop)
    return env["kept"]


def _chain(tokens, word: str, operand) -> tuple[str, list]:
    """`operand (word operand)*` as Python, left to right (`word`: and, or)."""
    code, tokens = operand(tokens)
    while tokens and tokens[0][0] == word:
        right, tokens = operand(tokens[1:])
        code = f"({code} {word} {right})"
    return code, tokens


def _or(tokens) -> tuple[str, list]:
    return _chain(tokens, "or", _and)


def _and(tokens) -> tuple[str, list]:
    return _chain(tokens, "and", _unary)


def _unary(tokens) -> tuple[str, list]:
    kind = tokens[0][0]
    if kind == "$not" and tokens[1][0] == "(" or kind == "(":
        inner, rest = _or(tokens[2:] if kind == "$not" else tokens[1:])
        if rest[0][0] != ")":
            raise ValueError
        return (f"(not {inner})" if kind == "$not" else inner), rest[1:]
    (k1, path), (op, _), (k2, literal) = tokens[:3]
    if k1 != "path" or op not in ("=", "!=") or k2 != "literal":
        raise ValueError
    return _comparison(path, literal, op == "="), tokens[3:]


def _comparison(path: tuple[str, ...], literal, equal: bool) -> str:
    """`path = literal` (or `!=`) as JSONata compares a scalar: a missing field compares false, = and != alike;
    no coercion between types (`1 = true`, `"1" = 1` are false); a list (which JSONata may read as its one
    element): Undecided. An object never equals a scalar. The common case first: one test per miss."""
    value = f"c.get({path[0]!r}, M)" if len(path) == 1 else f"get(c.get({path[0]!r}, M), {path[1:]!r})"
    if literal is None or isinstance(literal, bool):
        same = f"v is {literal!r}"
    else:
        same = f"v == {literal!r} and type(v) {'is str' if isinstance(literal, str) else 'in (int, float)'}"
    if equal:
        return f"(({same}) if type(v := {value}) is not list else undecided())"
    return f"(v is not M and not ({same}) if type(v := {value}) is not list else undecided())"


def _get(value, path: tuple[str, ...]):
    for name in path:
        if not isinstance(value, dict):
            return _undecided() if isinstance(value, list) else _MISSING
        value = value.get(name, _MISSING)
    return value


def _undecided():
    raise Undecided
