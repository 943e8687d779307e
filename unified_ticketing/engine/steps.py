"""Write operations (`<resource>.create.yaml`, `<resource>.update.yaml`): a short list of steps, then
a read of the written record through the resource's get operation.

```yaml
steps:
  - id: send                      # the step's answer is $steps.send in later expressions
    when: <JSONata>               # optional: skip the step unless it holds
    # one of:
    request: {method?, path, query?, body?, files?}   # an upstream write (see calls.py)
    fail: {status, message, param?}        # stop with this error (message is JSONata)
    set: <JSONata>                         # a computed value, for later steps
    read: true                    # request steps: a lookup (default for GET): retried, never reconciled
    for_each: <JSONata>           # request steps: one call per item ($item); the answers as an array
    on_error:                     # upstream error type -> ignore | {run: <step id>} | {fail: {...}}
      some_error_type: {run: other_step}   # a step named by `run` runs only through its rule
    reconcile:                    # how to find this write when its outcome is unknown (timeout)
      request: {method?, path, query?, body?}
      result: <JSONata>           # on the lookup's answer: the step's answer, or nothing if not written
result:
  resource: comments              # optional: read back as another resource
  id: <JSONata>                   # the unified id of the written record
file_size_limit_bytes: 10485760   # optional, with `files`: larger uploads are a 413 before any call
```

An operation the upstream cannot do on some version is `unsupported: <message>` (a 422).
Expressions see `$input` (the validated body; an uploaded file as {name, content_type, size}),
`$id` (the record of an update), `$steps`, `$item`, `$error` (in on_error fail messages),
`$idempotency_key`, `$write_id` (a stable id derived from the account and the key), `$version`,
`$base_url` (the account's API base URL) and `$account` (the account's context: what the
integration's `identity` call learnt when it connected, such as `$account.agent_id`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .calls import CallSpec, parse_call
from .expressions import Expression, MappingError

STEP_KEYS = {"id", "when", "request", "read", "fail", "set", "for_each", "on_error", "reconcile"}
KINDS = ("request", "fail", "set")


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


def parse_write_operation(f, d: dict, resource: str, method: str, prefix: str, resources: tuple,
                          default_method: str) -> WriteOperation:
    """A write operation (or one version's override) from its YAML node; `f` is the loader's _File."""
    if "unsupported" in d:
        f.keys(d, prefix + "operation", {"unsupported", "versions"}, {"unsupported"})
        if not isinstance(d["unsupported"], str) or not d["unsupported"].strip():
            raise MappingError(f"{f.where(d, 'unsupported', prefix + 'unsupported')}: expected a message saying "
                               "why and what to do instead")
        return WriteOperation(resource, method, f.name, unsupported=d["unsupported"].strip())
    f.keys(d, prefix + "operation", {"steps", "result", "file_size_limit_bytes", "versions"}, {"steps", "result"})
    steps, handlers = parse_steps(f, d, "steps", prefix, default_method)
    result = f.section(d, "result", prefix + "result", {"resource", "id"}, {"id"})
    result_resource = result.get("resource", resource)
    if result_resource not in resources:
        raise MappingError(f"{f.where(result, 'resource', prefix + 'result.resource')}: expected one of "
                           f"{', '.join(resources)}")
    op = WriteOperation(resource, method, f.name, steps, handlers, result_resource,
                        f.expr(result, "id", prefix + "result.id"))
    limit = d.get("file_size_limit_bytes")
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            raise MappingError(f"{f.where(d, 'file_size_limit_bytes', prefix + 'file_size_limit_bytes')}: "
                               "expected a positive number of bytes")
        if not op.file_fields:
            raise MappingError(f"{f.where(d, 'file_size_limit_bytes', prefix + 'file_size_limit_bytes')}: no step "
                               "sends files")
        op = replace(op, file_size_limit_bytes=limit)
    return op


def parse_steps(f, d: dict, key: str, prefix: str, default_method: str) -> tuple[tuple[Step, ...], frozenset]:
    """A list of steps under `d[key]` and the ids of the steps that run only through on_error rules."""
    raw_steps = d[key]
    if not isinstance(raw_steps, list) or not raw_steps:
        raise MappingError(f"{f.where(d, key, prefix + key)}: expected a list of steps")
    steps, seen = [], {}
    for i, node in enumerate(raw_steps):
        label = f"{prefix}{key}[{i}]"
        if not isinstance(node, dict):
            raise MappingError(f"{f.where(d, key, label)}: expected a mapping")
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
            where = f.where(node["on_error"], err_type, f"{prefix}{key}[{i}].on_error.{err_type}")
            if rule.run not in seen:
                raise MappingError(f"{where}: no step with id {rule.run}")
            if seen[rule.run] <= i:
                raise MappingError(f"{where}: step {rule.run} must come after step {step.id}")
            handlers.add(rule.run)
    return tuple(steps), frozenset(handlers)


def _step(f, node: dict, label: str, default_method: str) -> Step:
    step_id = node.get("id")
    if not isinstance(step_id, str) or not step_id.isidentifier():
        raise MappingError(f"{f.where(node, 'id', label + '.id')}: every step needs an id, a name such as "
                           "send_message")
    label = f"{label} {step_id}"
    f.keys(node, label, STEP_KEYS)
    kinds = [k for k in KINDS if k in node]
    if len(kinds) != 1:
        raise MappingError(f"{f.where(node, 'id', label)}: a step has exactly one of {', '.join(KINDS)}")
    kind = kinds[0]
    if kind != "request":
        for key in ("for_each", "on_error", "reconcile", "read"):
            if key in node:
                raise MappingError(f"{f.where(node, key, label + '.' + key)}: only request steps take {key}")
    if node.get("read") not in (None, True, False):
        raise MappingError(f"{f.where(node, 'read', label + '.read')}: expected true or false")
    if node.get("read") and "reconcile" in node:
        raise MappingError(f"{f.where(node, 'reconcile', label + '.reconcile')}: a read step has nothing to reconcile")
    if "for_each" in node and "reconcile" in node:
        raise MappingError(f"{f.where(node, 'reconcile', label + '.reconcile')}: a for_each step cannot reconcile")
    on_error = {}
    if "on_error" in node:
        rules = node["on_error"]
        if not isinstance(rules, dict) or not rules:
            raise MappingError(f"{f.where(node, 'on_error', label + '.on_error')}: expected a mapping of upstream "
                               "error types to ignore, {run: step} or {fail: {...}}")
        for err_type, rule in rules.items():
            on_error[str(err_type)] = _rule(f, rules, err_type, rule, f"{label}.on_error.{err_type}")
        if "for_each" in node and any(r.action == "run" for r in on_error.values()):
            raise MappingError(f"{f.where(node, 'on_error', label + '.on_error')}: a for_each step cannot run "
                               "another step on error")
    reconcile = None
    if "reconcile" in node:
        rec = f.section(node, "reconcile", label + ".reconcile", {"request", "result"}, {"request", "result"})
        reconcile = Reconcile(parse_call(f, rec, "request", label + ".reconcile.request", default_method),
                              f.expr(rec, "result", label + ".reconcile.result"))
    step = Step(
        id=step_id, kind=kind, when=f.opt_expr(node, "when", label + ".when"),
        request=parse_call(f, node, "request", label + ".request", default_method, files=True)
        if kind == "request" else None,
        fail=parse_failure(f, node, "fail", label + ".fail") if kind == "fail" else None,
        value=f.expr(node, "set", label + ".set") if kind == "set" else None,
        for_each=f.opt_expr(node, "for_each", label + ".for_each"),
        on_error=on_error, reconcile=reconcile,
    )
    if step.request is not None:
        step = replace(step, reads=node.get("read", step.request.method == "GET"))
    return step


def parse_failure(f, node: dict, key: str, label: str) -> Failure:
    spec = f.section(node, key, label, {"status", "message", "param"}, {"status", "message"})
    status = spec["status"]
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        raise MappingError(f"{f.where(spec, 'status', label + '.status')}: expected an HTTP error status")
    return Failure(status, f.expr(spec, "message", label + ".message"), spec.get("param"))


def _rule(f, rules: dict, err_type, rule, label: str) -> ErrorRule:
    if rule == "ignore":
        return ErrorRule("ignore")
    if isinstance(rule, dict) and set(rule) == {"run"} and isinstance(rule["run"], str):
        return ErrorRule("run", run=rule["run"])
    if isinstance(rule, dict) and set(rule) == {"fail"}:
        return ErrorRule("fail", fail=parse_failure(f, rule, "fail", label + ".fail"))
    raise MappingError(f"{f.where(rules, err_type, label)}: expected ignore, {{run: <step id>}} or "
                       "{fail: {status, message}}")
