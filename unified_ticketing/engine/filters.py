"""A list operation's filters: the product's declarations (`schemas/filters.py`) joined with how the
mapping applies each one, `upstream` (its request reads `$filters.<name>`) or `after_mapping` (checked
on each mapped record: the built-in range check for a datetime filter, else the mapping's JSONata).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..schemas.filters import FILTERS, Filter
from .expressions import Expression, ExpressionFailed, MappingError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COMPARE = {"gte": lambda a, b: a >= b, "lte": lambda a, b: a <= b, "gt": lambda a, b: a > b,
            "lt": lambda a, b: a < b}


@dataclass(frozen=True)
class FilterSpec:
    name: str
    type: str
    ops: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    required: bool = False
    where: Expression | DateRange | None = None  # after mapping: `where(record, value=...)` holds
    # Bounds on a filter checked after mapping (engine/pagination.py's docstring): `until` ends the traversal at
    # the first mapped record for which it holds (the request sorts by the filter's field); `upstream` says how
    # the request narrows the list; `misses` what that narrowing can leave out (absent: the filter is exact).
    until: Expression | None = None
    upstream: str | None = None
    misses: str | None = None

    @property
    def applied(self) -> str:
        return "after_mapping" if self.where is not None else "upstream"


@dataclass(frozen=True)
class DateRange:
    """The built-in check of a datetime filter after mapping: the record's field is within every bound
    given (compared to the millisecond, as JSONata's $toMillis); a record without the field matches none."""
    field: str

    def __call__(self, record: dict, value: dict) -> bool:
        raw = record.get(self.field) if isinstance(record, dict) else None
        moment = None if raw is None else _millis(raw, self.field)
        return all(moment is not None and _COMPARE[op](moment, _millis(bound, op)) for op, bound in value.items())


def _millis(text, what: str) -> int:
    try:
        dt = datetime.fromisoformat(str(text).replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ExpressionFailed(f"{what}: not an ISO 8601 date-time: {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def filters_read(expressions) -> set[str] | None:
    """The `$filters.<name>` the expressions read; None if one reads `$filters` whole."""
    names: set[str] = set()
    for expr in expressions:
        read = expr.compiled.reads().get("bindings", {}).get("filters")
        if read is True:
            return None
        names |= set(read or ())
    return names


def build(f, node: dict, resource: str, label: str, request_expressions) -> dict[str, FilterSpec]:
    """The operation's FilterSpecs from its `filters:` node (already schema-valid); `f` is the loader's _File."""
    declared = {d.name: d for d in FILTERS.get(resource, ())}
    read = filters_read(request_expressions)
    out = {}
    for name, use in (node or {}).items():
        where = f.where(node, name, f"{label}.{name}")
        decl: Filter | None = declared.get(name)
        if decl is None:
            raise MappingError(f"{where}: {resource} have no filter {name}; the product declares "
                               f"{', '.join(declared) or 'none'} (unified_ticketing/schemas/filters.py)")
        bounds = {}
        if isinstance(use, dict):
            if "after_mapping" in use:
                check = f.expr(use, "after_mapping", f"{label}.{name}.after_mapping")
            elif decl.type == "datetime":
                check = DateRange(name)
            else:
                raise MappingError(f"{where}: only datetime filters have a built-in check; give "
                                   f"{{after_mapping: <JSONata with $value>}}")
            bounds = {"until": f.opt_expr(use, "until", f"{label}.{name}.until"),
                      **{k: " ".join(use[k].split()) for k in ("upstream", "misses") if k in use}}
        elif use == "after_mapping":
            if decl.type != "datetime":
                raise MappingError(f"{where}: only datetime filters have a built-in check; give "
                                   f"{{after_mapping: <JSONata with $value>}}")
            check = DateRange(name)
        else:
            check = None
            if read is not None and name not in read:
                raise MappingError(f"{where}: {name} is applied upstream but the request never reads "
                                   f"$filters.{name}; read it in the request or apply it after_mapping")
        out[name] = FilterSpec(name, decl.type, decl.ops, decl.values, decl.required, check, **bounds)
    return out
