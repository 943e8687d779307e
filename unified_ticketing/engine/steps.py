"""Write operations (`<resource>.create.yaml`, `<resource>.update.yaml`): a short list of steps, then
a read of the written record through the resource's get operation. The format (keys, step kinds,
variables) is the mapping schema's `write_operation` (docs/mapping-format.md); this module builds
the objects and checks what a schema cannot: step references and which keys a step kind takes.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .calls import CallSpec, parse_call
from .expressions import Expression, MappingError

ONLY_REQUESTS = ("for_each", "on_error", "reconcile", "read")  # keys only request steps take


@dataclass(frozen=True)
class Failure:
    status: int
    message: Expression
    param: str | None = None


@dataclass(frozen=True)
class ErrorRule:
    action: str  # "ignore" | "run" | "fail"
    run: str | None = None
    fail: Failure | None = None


@dataclass(frozen=True)
class Reconcile:
    request: CallSpec
    result: Expression


@dataclass(frozen=True)
class Step:
    id: str
    kind: str  # "request" | "fail" | "set"
    when: Expression | None = None
    request: CallSpec | None = None
    fail: Failure | None = None
    value: Expression | None = None
    for_each: Expression | None = None
    on_error: dict[str, ErrorRule] = field(default_factory=dict)
    reconcile: Reconcile | None = None
    reads: bool = False  # a lookup (a GET, or `read: true`): retried like reads, never reconciled


@dataclass(frozen=True)
class WriteOperation:
    resource: str
    method: str  # "create" | "update"
    source: str
    steps: tuple[Step, ...] = ()
    handlers: frozenset = frozenset()  # steps that run only through an on_error rule
    result_resource: str | None = None
    result_id: Expression | None = None
    unsupported: str | None = None
    file_size_limit_bytes: int | None = None

    @property
    def file_fields(self) -> set[str]:
        """Input fields that are uploaded files."""
        return {name for s in self.steps if s.request for name in s.request.files.values()}

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)


def parse_write_operation(f, d: dict, resource: str, method: str, prefix: str, default_method: str) -> WriteOperation:
    """A write operation (or one version's override) from its schema-valid node; `f` is the loader's _File."""
    if "unsupported" in d:
        return WriteOperation(resource, method, f.name, unsupported=d["unsupported"].strip())
    steps, handlers = parse_steps(f, d, "steps", prefix, default_method)
    result = d["result"]
    op = WriteOperation(resource, method, f.name, steps, handlers, result.get("resource", resource),
                        f.expr(result, "id", prefix + "result.id"))
    limit = d.get("file_size_limit_bytes")
    if limit is not None:
        if not op.file_fields:
            raise MappingError(f"{f.where(d, 'file_size_limit_bytes', prefix + 'file_size_limit_bytes')}: no step "
                               "sends files")
        op = replace(op, file_size_limit_bytes=limit)
    return op


def parse_steps(f, d: dict, key: str, prefix: str, default_method: str) -> tuple[tuple[Step, ...], frozenset]:
    """A list of steps under `d[key]` and the ids of the steps that run only through on_error rules."""
    raw_steps = d[key]
    steps, seen = [], {}
    for i, node in enumerate(raw_steps):
        label = f"{prefix}{key}[{i}] {node['id']}"
        step = _step(f, node, label, default_method)
        if step.id in seen:
            raise MappingError(f"{f.where(node, 'id', label + '.id')}: step id {step.id} is used twice")
        seen[step.id] = i
        steps.append(step)
    handlers = set()
    for i, (step, node) in enumerate(zip(steps, raw_steps, strict=True)):
        for err_type, rule in step.on_error.items():
            if rule.action != "run":
                continue
            where = f.where(node["on_error"], err_type, f"{prefix}{key}[{i}] {step.id}.on_error.{err_type}")
            if rule.run not in seen:
                raise MappingError(f"{where}: no step with id {rule.run}")
            if seen[rule.run] <= i:
                raise MappingError(f"{where}: step {rule.run} must come after step {step.id}")
            handlers.add(rule.run)
    return tuple(steps), frozenset(handlers)


def _request_step(f, node: dict, label: str, default_method: str) -> dict:
    if node.get("read") and "reconcile" in node:
        raise MappingError(f"{f.where(node, 'reconcile', label + '.reconcile')}: a read step has nothing to reconcile")
    if "for_each" in node and "reconcile" in node:
        raise MappingError(f"{f.where(node, 'reconcile', label + '.reconcile')}: a for_each step cannot reconcile")
    on_error = {str(t): _rule(f, node["on_error"], t, rule, f"{label}.on_error.{t}")
                for t, rule in node.get("on_error", {}).items()}
    if "for_each" in node and any(r.action == "run" for r in on_error.values()):
        raise MappingError(f"{f.where(node, 'on_error', label + '.on_error')}: a for_each step cannot run "
                           "another step on error")
    reconcile = None
    if "reconcile" in node:
        rec = node["reconcile"]
        reconcile = Reconcile(parse_call(f, rec, "request", label + ".reconcile.request", default_method),
                              f.expr(rec, "result", label + ".reconcile.result"))
    request = parse_call(f, node, "request", label + ".request", default_method)
    return {"request": request, "for_each": f.opt_expr(node, "for_each", label + ".for_each"), "on_error": on_error,
            "reconcile": reconcile, "reads": node.get("read", request.method == "GET")}


STEP_KINDS = {
    "request": _request_step,
    "fail": lambda f, node, label, default_method: {"fail": parse_failure(f, node, "fail", label + ".fail")},
    "set": lambda f, node, label, default_method: {"value": f.expr(node, "set", label + ".set")},
}
"""step kind -> the Step fields it builds; a step has exactly one kind (the schema checks it)."""


def _step(f, node: dict, label: str, default_method: str) -> Step:
    kind = next(k for k in STEP_KINDS if k in node)
    if kind != "request":
        for key in ONLY_REQUESTS:
            if key in node:
                raise MappingError(f"{f.where(node, key, label + '.' + key)}: only request steps take {key}")
    return Step(id=node["id"], kind=kind, when=f.opt_expr(node, "when", label + ".when"),
                **STEP_KINDS[kind](f, node, label, default_method))


def parse_failure(f, node: dict, key: str, label: str) -> Failure:
    spec = node[key]
    return Failure(spec["status"], f.expr(spec, "message", label + ".message"), spec.get("param"))


def _rule(f, rules: dict, err_type, rule, label: str) -> ErrorRule:
    if rule == "ignore":
        return ErrorRule("ignore")
    if "run" in rule:
        return ErrorRule("run", run=rule["run"])
    return ErrorRule("fail", fail=parse_failure(f, rule, "fail", label + ".fail"))
