"""Custom-field discovery (`GET /unified/ticketing/fields`): which custom fields a helpdesk account holds
for a resource, so a UI can offer them for mapping overrides.

Declared per helpdesk in `mappings/<helpdesk>/custom_fields/<resource>.yaml` (a folder of its own: the
loader reads only `<resource>.<method>.yaml` beside integration.yaml):

    sources:
      - source: prechat_form              # shown with each field it finds
        request: {path: ..., body: ...}   # as in any operation; variables $version, $base_url, $account
        fields: <JSONata over the answer> # [{name, label?, type?, options?, expression?}]
    versions: {"3.6": {sources: [...]}}   # optional, per API version

`expression` is the JSONata (over the helpdesk's object) an override would use to read the field.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .calls import CallSpec, parse_call
from .expressions import Expression, ExpressionFailed, MappingError, compile_expression

VARIABLES = {"version": "", "base_url": "", "account": ""}
RESOURCES = ("contacts", "tickets")


@dataclass(frozen=True)
class Source:
    name: str
    request: CallSpec
    fields: Expression


class _File:
    """What parse_call needs of a mapping file: places for errors and compiled expressions."""

    def __init__(self, name: str):
        self.name = name

    def where(self, node: dict, key: str, label: str) -> str:
        return f"{self.name} ({label})"

    def compile(self, source, node, key, where) -> Expression:
        return compile_expression(source, where, VARIABLES)

    def opt_expr(self, node: dict, key: str, label: str) -> Expression | None:
        return self.compile(node[key], node, key, self.where(node, key, label)) if key in node else None


def _sources(f: _File, node, label: str, default_method: str) -> tuple[Source, ...]:
    items = node.get("sources") if isinstance(node, dict) else None
    if not isinstance(items, list) or not items:
        raise MappingError(f"{f.name} ({label}sources): expected a list of sources")
    out = []
    for i, src in enumerate(items):
        where = f"{label}sources[{i}]"
        if not isinstance(src, dict) or set(src) != {"source", "request", "fields"} or \
                not isinstance(src.get("request"), dict) or "path" not in src["request"]:
            raise MappingError(f"{f.name} ({where}): expected source, request (with path) and fields")
        out.append(Source(str(src["source"]), parse_call(f, src, "request", where + ".request", default_method),
                          f.compile(src["fields"], src, "fields", f.where(src, "fields", where + ".fields"))))
    return tuple(out)


def load(folder: Path, versions: tuple[str, ...], default_method: str) -> dict[tuple[str, str], tuple[Source, ...]]:
    """{(resource, version): sources} of one helpdesk's folder; a bad file is a MappingError at start-up."""
    out = {}
    for resource in RESOURCES:
        path = folder / "custom_fields" / f"{resource}.yaml"
        if not path.exists():
            continue
        f = _File(f"{folder.name}/custom_fields/{path.name}")
        data = yaml.safe_load(path.read_text())
        base = _sources(f, data, "", default_method)
        for version in versions:
            out[(resource, version)] = base
        for version, node in (data.get("versions") or {}).items():
            if str(version) not in versions:
                raise MappingError(f"{f.name} (versions.{version}): not a supported API version")
            out[(resource, str(version))] = _sources(f, node, f"versions.{version}.", default_method)
    return out


def discover(engine, account, sources: tuple[Source, ...]) -> list[dict]:
    """Every field the sources find for the account, once per name (the first source wins)."""
    bindings = {"version": account.version, "base_url": engine._base_url(account), "account": account.context}
    found: dict[str, dict] = {}
    for src in sources:
        answer = engine._call(account, src.request.prepare(None, **bindings))
        try:
            fields = src.fields(answer, **bindings)
        except ExpressionFailed as exc:
            from ..errors import ApiError

            raise ApiError(502, "mapping_error", f"Custom fields could not be read: {exc}") from None
        for item in fields if isinstance(fields, list) else [fields] if fields else []:
            if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"] not in found:
                found[item["name"]] = {"name": item["name"], "label": item.get("label"),
                                       "type": item.get("type"), "options": item.get("options"),
                                       "source": src.name, "expression": item.get("expression")}
    return list(found.values())
