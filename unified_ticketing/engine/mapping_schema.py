"""The mapping format's contract: `schema/mapping.schema.json` (JSON Schema, Draft 2020-12).

`check` validates one loaded file against its kind's schema and turns the first error into a
MappingError naming file:line (key); `contexts` says, for every expression in the file, which
context (`x-context`) it is evaluated in, so the loader can check the variables it names.
Editors use the entry files beside it (`list.schema.json`, ...) through each mapping file's
`# yaml-language-server: $schema=` line.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, relevance

from .expressions import MappingError

SCHEMA_DIR = Path(__file__).with_name("schema")
KINDS = {"integration": "integration", "list": "list_operation", "get": "get_operation", "write": "write_operation",
         "events": "events"}  # entry file (<kind>.schema.json) -> definition
_TYPES = {"object": "a mapping", "array": "a list", "string": "a string", "boolean": "true or false",
          "integer": "an integer", "number": "a number"}


@cache
def root() -> dict:
    return json.loads((SCHEMA_DIR / "mapping.schema.json").read_text())


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(root())


def definition(name: str) -> dict:
    return root()["$defs"][name]


def variables(context: str) -> dict[str, str]:
    """The variables (name -> what it holds) an expression evaluated in `context` may use."""
    return root()["x-contexts"][context]["variables"]


def _resolve(schema):
    while isinstance(schema, dict) and "$ref" in schema and set(schema) <= {"$ref", "description"}:
        schema = definition(schema["$ref"].rsplit("/", 1)[1])
    return schema


def _valid(schema, instance) -> bool:
    return _validator().evolve(schema=schema).is_valid(instance)


def _applicable(schema: dict, instance):
    """The subschemas that apply to `instance` beside `schema` itself: $ref, allOf, the matching if-branch,
    the oneOf/anyOf alternatives it satisfies."""
    if "$ref" in schema:
        yield definition(schema["$ref"].rsplit("/", 1)[1])
    yield from schema.get("allOf", ())
    if "if" in schema:
        branch = schema.get("then" if _valid(schema["if"], instance) else "else")
        if branch is not None:
            yield branch
    for key in ("oneOf", "anyOf"):
        yield from (s for s in schema.get(key, ()) if _valid(s, instance))


def keys(schema, instance) -> set[str]:
    """The keys `schema` defines for this mapping (through $ref, allOf and the branches that apply)."""
    if not isinstance(schema, dict):
        return set()
    out = set(schema.get("properties", {}))
    for sub in _applicable(schema, instance):
        out |= keys(sub, instance)
    return out


def contexts(kind: str, data: dict) -> dict[tuple[int, object], tuple[str, object]]:
    """(id(parent node), key) -> (context, expression kind) for every expression in a valid file; the kind is
    True (JSONata), "template" (a path with {JSONata} parts) or "file" (a record file's name)."""
    out: dict = {}
    _walk({"$ref": f"#/$defs/{KINDS[kind]}"}, data, "none", None, None, out)
    return out


def _walk(schema, instance, ctx: str, parent, key, out: dict) -> None:
    if not isinstance(schema, dict):
        return
    ctx = schema.get("x-context", ctx)
    if schema.get("x-expression") and isinstance(instance, str):
        out[(id(parent), key)] = (ctx, schema["x-expression"])
    for sub in _applicable(schema, instance):
        _walk(sub, instance, ctx, parent, key, out)
    if isinstance(instance, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for k, v in instance.items():
            if k in props:
                _walk(props[k], v, ctx, instance, k, out)
            elif isinstance(extra, dict):
                _walk(extra, v, ctx, instance, k, out)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(instance):
            _walk(schema["items"], v, ctx, instance, i, out)


def check(kind: str, f) -> None:
    """Validate `f.data` (the loader's _File) against the schema of `kind`; the first error as a MappingError."""
    validator = _validator().evolve(schema={"$ref": f"#/$defs/{KINDS[kind]}"})
    errors = list(validator.iter_errors(f.data))
    if errors:
        raise MappingError(describe(f, min(errors, key=_rank)))


def _rank(error: ValidationError):
    """An unknown key first (a typo also makes the key it meant missing), then a missing key, then the deepest."""
    order = {"additionalProperties": 0, "unevaluatedProperties": 0, "required": 1}
    return order.get(error.validator, 2), -len(error.absolute_path), relevance(error)


def _deepest(error: ValidationError) -> ValidationError:
    """For a oneOf/anyOf: the error inside the one alternative whose shape matched (all its errors are deeper),
    else the error itself when it has its own message, else the error of the alternative that got furthest."""
    while error.context:
        by_branch: dict = {}
        for e in error.context:
            by_branch.setdefault(e.relative_schema_path[0], []).append(e)
        deeper = [errs for errs in by_branch.values() if all(e.relative_path for e in errs)]
        if len(deeper) == 1:
            error = min(deeper[0], key=_rank)
        elif _expect(error) or _message(error):
            return error
        else:
            error = min(error.context, key=lambda e: (-len(e.absolute_path), relevance(e)))
    return error


def _message(error: ValidationError) -> str | None:
    """A composite's own message (`x-message-oneOf`, `x-message-not`): a whole sentence."""
    return error.schema.get(f"x-message-{error.validator}") if isinstance(error.schema, dict) else None


def _expect(error: ValidationError) -> str | None:
    """What the schema expects there (`x-expect`), said after "expected"."""
    if error.parent is not None and error.parent.validator == "not":
        return None
    return error.schema.get("x-expect") if isinstance(error.schema, dict) else None


def _label(data, path) -> str:
    """`steps[2] send.request.path`: keys joined by dots, list indices in brackets, a step's id after its index."""
    out, node = "", data
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                out += f" {node['id']}"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def _node(data, path):
    for part in path:
        data = data[part]
    return data


def describe(f, error: ValidationError) -> str:
    """The error as `file:line (key): what is wrong; what is expected`."""
    error = _deepest(error)
    path = list(error.absolute_path)
    if error.validator in ("additionalProperties", "unevaluatedProperties") and isinstance(error.instance, dict):
        known = keys(error.schema, error.instance)
        extra = next((k for k in error.instance if k not in known), next(iter(error.instance)))
        return (f"{f.where(error.instance, extra, _label(f.data, [*path, extra]))}: unknown key; expected one of "
                f"{', '.join(sorted(known))}")
    if error.validator == "required":
        missing = next(k for k in error.validator_value if k not in error.instance)
        return f"{f.name} ({_label(f.data, path) or 'top level'}): missing key {missing}"
    expect = _expect(error)
    message = _message(error)
    if expect is None and message is None:
        if error.validator == "type":
            types = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
            expect = " or ".join(_TYPES.get(t, t) for t in types)
        elif error.validator in ("enum", "const"):
            values = error.validator_value if error.validator == "enum" else [error.validator_value]
            expect = "one of " + ", ".join(str(v) for v in values)
    what = message or (f"expected {expect}" if expect else error.message)
    if not path:
        return f"{f.name}: {what}"
    return f"{f.where(_node(f.data, path[:-1]), path[-1], _label(f.data, path))}: {what}"
