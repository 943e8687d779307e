"""Load `mappings/<helpdesk>/`: validate each file against the mapping schema (`mapping_schema.py`),
compile its expressions (each may name only its context's variables), build the runtime objects.
Any mistake is a MappingError naming the file, line and key, raised at start-up."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from . import also as also_source
from . import filters as filter_specs
from . import mapping_schema, nested_items
from .calls import CallSpec, parse_call
from .expressions import Expression, MappingError, compile_expression
from .filters import FilterSpec
from .pagination import COMMON_KEYS, VARIANTS, Pagination
from .steps import WriteOperation, parse_failure, parse_write_operation

RESOURCES = tuple(mapping_schema.definition("resource")["enum"])
METHODS = ("list", "get")
WRITE_METHODS = ("create", "update")  # see steps.py


class _Map(dict):
    """A YAML mapping that remembers the line of each key."""
    lines: dict


class _Seq(list):
    """A YAML sequence that remembers the line of each item."""
    lines: dict


class _LineLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        out = _Map(super().construct_mapping(node, deep=deep))
        out.lines = {k.value: k.start_mark.line + 1 for k, _ in node.value}
        return out

    def construct_sequence(self, node, deep=False):
        out = _Seq(super().construct_sequence(node, deep=deep))
        out.lines = {i: item.start_mark.line + 1 for i, item in enumerate(node.value)}
        return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _LineLoader.construct_sequence)


class _File:
    """One mapping file being read: validated against its kind's schema (`mapping_schema.KINDS`); names the
    place of every error and compiles each expression with the variables of its context."""

    def __init__(self, path: Path, root: Path, kind: str):
        self.path = path
        self.name = str(path.relative_to(root.parent))
        try:
            self.data = yaml.load(path.read_text(), Loader=_LineLoader)
        except yaml.YAMLError as exc:
            raise MappingError(f"{self.name}: not valid YAML: {exc}") from None
        if not isinstance(self.data, dict):
            raise MappingError(f"{self.name}: expected a mapping at the top level")
        mapping_schema.check(kind, self)
        self.contexts = mapping_schema.contexts(kind, self.data)

    def where(self, node: dict, key: str, label: str) -> str:
        line = getattr(node, "lines", {}).get(key)
        return f"{self.name}:{line} ({label})" if line else f"{self.name} ({label})"

    def section(self, node: dict, key: str, label: str, allowed: set, required: set = frozenset()) -> dict:
        value = node.get(key)
        if not isinstance(value, dict):
            raise MappingError(f"{self.where(node, key, label)}: expected a mapping")
        self.keys(value, label, allowed, required)
        return value

    def keys(self, node: dict, label: str, allowed: set, required: set = frozenset()) -> None:
        for k in node:
            if k not in allowed:
                raise MappingError(f"{self.where(node, k, label + '.' + str(k))}: unknown key; expected one of "
                                   f"{', '.join(sorted(allowed))}")
        for k in required:
            if k not in node:
                raise MappingError(f"{self.name} ({label}): missing key {k}")

    def expr(self, node: dict, key: str, label: str) -> Expression:
        return self.compile(node.get(key), node, key, self.where(node, key, label))

    def compile(self, source: str, node: dict, key: str, where: str) -> Expression:
        """`source` (node[key], a part of it, or the file it names) compiled with the variables of its context."""
        context = self.contexts.get((id(node), key))
        return compile_expression(source, where, mapping_schema.variables(context[0]) if context else None)

    def opt_expr(self, node: dict, key: str, label: str) -> Expression | None:
        return self.expr(node, key, label) if key in node else None


@dataclass(frozen=True)
class Operation:
    resource: str
    method: str
    source: str
    request: CallSpec
    record: Expression
    items: Expression | nested_items.NestedItems | None = None  # list: the upstream items of a page
    item: Expression | None = None  # get: the one upstream item
    remote_data: Expression | None = None  # the raw object kept as remote_data (default: the item)
    dedupe_by: Expression | None = None  # key of an item that must appear once per traversal
    filters: dict[str, FilterSpec] = field(default_factory=dict)
    requires: str | None = None  # what the helpdesk must have for this to work (an edition, a license)
    also: also_source.AlsoSource | None = None  # list: a second source read at the start of a traversal


@dataclass(frozen=True)
class AuthStyle:
    fields: tuple[str, ...]
    headers: dict[str, Expression]
    optional: tuple[str, ...] = ()  # fields an account may be connected without
    refreshes: bool = False  # an OAuth token, refreshed through the integration's `oauth` section
    label: str | None = None  # the connect page's name for this way of connecting
    form: dict = field(default_factory=dict)  # field -> {label, help, secret}: the connect page's inputs


def _static_auth(f, node: dict, label: str, d: dict) -> AuthStyle:
    optional = tuple(node.get("optional", ()))
    if set(optional) - set(node["fields"]):
        raise MappingError(f"{f.where(node, 'optional', label + '.optional')}: optional fields must be among fields")
    form = node.get("form") or {}
    if set(form) - set(node["fields"]):
        raise MappingError(f"{f.where(node, 'form', label + '.form')}: form fields must be among fields "
                           f"({', '.join(node['fields'])})")
    return AuthStyle(tuple(node["fields"]), {h: f.expr(node["headers"], h, f"{label}.headers.{h}")
                                             for h in node["headers"]}, optional,
                     label=node.get("label"), form={n: dict(spec) for n, spec in form.items()})


def _oauth_auth(f, node: dict, label: str, d: dict) -> AuthStyle:
    if "oauth" not in d:
        raise MappingError(f"{f.where(d['auth'], 'oauth2', label)}: oauth2 tokens are refreshed through the "
                           "integration's oauth section, which is missing")
    return replace(_static_auth(f, node, label, d), refreshes=True)


AUTH_KINDS = {"personal_access_token": _static_auth, "api_key": _static_auth, "oauth2": _oauth_auth}
"""auth kind -> constructor; the schema's `auth` keys are these."""


@dataclass(frozen=True)
class ErrorPolicy:
    detect: Expression
    type: Expression
    message: Expression
    statuses: dict[str, int]
    retry_types: frozenset = frozenset()
    rate_limit_types: frozenset = frozenset()
    reauth_types: frozenset = frozenset()
    not_found_types: frozenset = frozenset()  # on a get: the record does not exist (a 404)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 1
    max_seconds: float = 0
    initial_wait: float = 0.2
    max_wait: float = 2


@dataclass(frozen=True)
class Setting:
    """A value read from the environment, with a default: `{env: NAME, default: value}`."""
    env: str
    default: str

    def value(self, env: dict) -> str:
        return env.get(self.env) or self.default


@dataclass(frozen=True)
class RateLimitPolicy:
    requests_per_second: Setting
    burst: Setting
    retry_after_header: str = "Retry-After"
    retry_after_unit: str = "seconds"  # or "epoch_ms" / "epoch_seconds": the moment the quota resets
    default_cooldown_seconds: float = 1


@dataclass(frozen=True)
class OAuthPolicy:
    accounts_url: Setting
    authorize_path: str
    token_path: str
    client_id_env: str
    client_secret_env: str
    license_field: str | None = None


@dataclass(frozen=True)
class IdentityPolicy:
    """Whose credentials an account holds: one call made when the account connects. Each `context`
    value (JSONata on the answer) is kept in the account's context, which mapping expressions see
    as `$account`."""
    request: CallSpec
    context: dict[str, Expression]
    base_url: Setting | None = None  # where the call goes; default: the API's base URL


@dataclass(frozen=True)
class ProxyPolicy:
    post: tuple = ()
    get: tuple = ()
    refused: str = ""  # said with every refusal: what is not forwarded and why


@dataclass(frozen=True)
class FilePolicy:
    """Where attachment downloads may go: `origins` from the environment (space- or comma-separated
    http(s) origins), plus the account's API server when `api_server`; credentials go only to that server,
    and only when `credentials`."""
    origins: Setting | None = None
    api_server: bool = True
    credentials: bool = False


@dataclass(frozen=True)
class BaseUrl:
    """Where the API lives: one URL from the environment, or each account's own (a credential field)."""
    env: str | None = None
    default: str | None = None
    credential: str | None = None


@dataclass
class Integration:
    name: str
    title: str
    base_url: BaseUrl
    default_version: str
    versions: tuple[str, ...]
    http_method: str
    auth: dict[str, AuthStyle]
    verify: CallSpec
    errors: ErrorPolicy
    pagination: Pagination
    retry: RetryPolicy = RetryPolicy()
    rate_limit: RateLimitPolicy | None = None
    oauth: OAuthPolicy | None = None
    proxy: ProxyPolicy = ProxyPolicy()
    files: FilePolicy = FilePolicy()
    identity: IdentityPolicy | None = None
    operations: dict[tuple[str, str, str], Operation | WriteOperation] = field(default_factory=dict)
    # keyed (resource, method, version)
    verify_errors: dict = field(default_factory=dict)  # upstream error type -> Failure, when connecting

    def operation(self, resource: str, method: str, version: str) -> Operation | WriteOperation | None:
        return self.operations.get((resource, method, version))


def _verify_errors(f, node: dict) -> dict:
    """`verify_credentials.on_error`: upstream error type -> the Failure answered when the check fails that way."""
    label = "verify_credentials.on_error"
    return {str(t): parse_failure(f, rule, "fail", f"{label}.{t}.fail") for t, rule in node.get("on_error", {}).items()}


def load_all(root: str | Path) -> dict[str, Integration]:
    root = Path(root)
    if not root.is_dir():
        raise MappingError(f"{root}: mappings folder not found")
    integrations = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        integration = load_integration(folder)
        integrations[integration.name] = integration
    if not integrations:
        raise MappingError(f"{root}: no integration folders")
    return integrations


def load_integration(folder: Path) -> Integration:
    root = folder.parent
    path = folder / "integration.yaml"
    if not path.exists():
        raise MappingError(f"{folder.name}/integration.yaml: missing")
    f = _File(path, root, "integration")
    d = f.data
    auth = {kind: AUTH_KINDS[kind](f, node, f"auth.{kind}", d) for kind, node in d["auth"].items()}
    method = str(d["request"]["method"]).upper()
    verify = parse_call(f, d, "verify_credentials", "verify_credentials", method)
    err = d["errors"]
    integration = Integration(
        name=d["name"], title=d.get("title", d["name"]), base_url=_base_url(f, d, auth),
        default_version=str(d["api_versions"]["default"]),
        versions=tuple(str(v) for v in d["api_versions"]["supported"]),
        http_method=method, auth=auth, verify=verify, verify_errors=_verify_errors(f, d["verify_credentials"]),
        errors=ErrorPolicy(f.expr(err, "detect", "errors.detect"), f.expr(err, "type", "errors.type"),
                           f.expr(err, "message", "errors.message"), dict(err["statuses"]),
                           *(frozenset(err.get(k, ())) for k in ("retry_types", "rate_limit_types", "reauth_types",
                                                                  "not_found_types"))),
        pagination=_pagination(f, d),
        **_policies(f, d, method),
    )
    for path in sorted(folder.glob("*.yaml")):
        if path.name in ("integration.yaml", "events.yaml"):  # events.yaml: see events.py
            continue
        resource, _, method = path.stem.partition(".")
        if resource not in RESOURCES or method not in METHODS + WRITE_METHODS:
            raise MappingError(f"{folder.name}/{path.name}: expected <resource>.<method>.yaml with resource in "
                               f"{', '.join(RESOURCES)} and method in {', '.join(METHODS + WRITE_METHODS)}")
        write = method in WRITE_METHODS
        of = _File(path, root, "write" if write else method)
        if write:
            def build(node, prefix, of=of, resource=resource, method=method):
                return parse_write_operation(of, node, resource, method, prefix, integration.http_method)
        else:
            def build(node, prefix, of=of, resource=resource, method=method):
                return _operation(of, folder, node, resource, method, prefix, integration.http_method)
        base_op = build(of.data, "")
        for version in integration.versions:
            integration.operations[(resource, method, version)] = base_op
        for version, override in (of.data.get("versions") or {}).items():
            if str(version) not in integration.versions:
                raise MappingError(f"{of.where(of.data['versions'], version, 'versions')}: version {version} is not "
                                   f"in api_versions.supported")
            integration.operations[(resource, method, str(version))] = build(override, f"versions.{version}.")
    return integration


def _base_url(f: _File, d: dict, auth: dict) -> BaseUrl:
    node = d["base_url"]
    if "credential" in node:
        missing = [kind for kind, style in auth.items() if node["credential"] not in style.fields]
        if missing:
            raise MappingError(f"{f.where(node, 'credential', 'base_url.credential')}: auth {', '.join(missing)} "
                               f"has no field {node['credential']}")
        return BaseUrl(credential=str(node["credential"]))
    return BaseUrl(env=node["env"], default=node["default"])


def _pagination(f: _File, d: dict) -> Pagination:
    """`pagination:`: `type` picks the variant (pagination.VARIANTS), which says its other keys."""
    every = set().union(COMMON_KEYS, *(v.REQUIRED | v.OPTIONAL for v in VARIANTS.values()))
    node = f.section(d, "pagination", "pagination", every, {"type", "param"})
    variant = VARIANTS.get(node["type"])
    if variant is None:
        raise MappingError(f"{f.where(node, 'type', 'pagination.type')}: expected {' or '.join(VARIANTS)}")
    f.keys(node, "pagination", COMMON_KEYS | variant.REQUIRED | variant.OPTIONAL, variant.REQUIRED)
    location = node.get("in", variant.DEFAULT_IN)
    if location not in ("body", "query"):
        raise MappingError(f"{f.where(node, 'in', 'pagination.in')}: expected body or query")
    return variant.build(node, location)


def _setting(node: dict) -> Setting:
    return Setting(node["env"], str(node["default"]))


def _policies(f: _File, d: dict, default_method: str) -> dict:
    """The optional sections of integration.yaml: retry, rate_limit, oauth, proxy, files, identity."""
    out = {}
    if "identity" in d:
        node = d["identity"]
        context = node["context"]
        out["identity"] = IdentityPolicy(
            parse_call(f, node, "request", "identity.request", default_method),
            {str(k): f.expr(context, k, f"identity.context.{k}") for k in context},
            _setting(node["base_url"]) if "base_url" in node else None)
    if "retry" in d:
        out["retry"] = RetryPolicy(**d["retry"])
    if "rate_limit" in d:
        node = d["rate_limit"]
        out["rate_limit"] = RateLimitPolicy(
            _setting(node["requests_per_second"]), _setting(node["burst"]) if "burst" in node else Setting("", "0"),
            node.get("retry_after_header", "Retry-After"), node.get("retry_after_unit", "seconds"),
            float(node.get("default_cooldown_seconds", 1)))
    if "oauth" in d:
        node = d["oauth"]
        out["oauth"] = OAuthPolicy(_setting(node["accounts_url"]), node["authorize_path"], node["token_path"],
                                   node["client_id_env"], node["client_secret_env"], node.get("license_field"))
    if "proxy" in d:
        node = d["proxy"]
        for method in ("post", "get"):
            for pattern in node.get(method, ()):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise MappingError(f"{f.where(node, method, 'proxy.' + method)}: bad pattern {pattern}: {exc}") \
                        from None
        out["proxy"] = ProxyPolicy(tuple(node.get("post", ())), tuple(node.get("get", ())),
                                   str(node.get("refused", "")))
    if "files" in d:
        node = d["files"]
        out["files"] = FilePolicy(_setting(node["origins"]) if "origins" in node else None,
                                  node.get("api_server", True), node.get("credentials", False))
    return out


def _items(f: _File, resp: dict, label: str) -> Expression | nested_items.NestedItems | None:
    """`response.items`: JSONata, or the mapping form for records inside their parents (nested_items.py)."""
    if isinstance(resp.get("items"), dict):
        return nested_items.parse(f, resp["items"], label)
    return f.opt_expr(resp, "items", label)


def _operation(f: _File, folder: Path, d: dict, resource: str, method: str, prefix: str,
               default_method: str) -> Operation:
    resp = d["response"]
    record_path = folder / resp["record_file"]
    if not record_path.is_file():
        raise MappingError(f"{f.where(resp, 'record_file', prefix + 'response.record_file')}: "
                           f"{resp['record_file']} not found")
    record = f.compile(record_path.read_text(), resp, "record_file", f"{folder.name}/{resp['record_file']}")
    request = parse_call(f, d, "request", prefix + "request", default_method)
    return Operation(
        resource=resource, method=method, source=f.name, request=request, record=record,
        items=_items(f, resp, prefix + "response.items"),
        item=f.opt_expr(resp, "item", prefix + "response.item"),
        remote_data=f.opt_expr(resp, "remote_data", prefix + "response.remote_data"),
        dedupe_by=f.opt_expr(resp, "dedupe_by", prefix + "response.dedupe_by"),
        filters=filter_specs.build(f, d.get("filters"), resource, prefix + "filters", request.expressions),
        requires=d["requires"].strip() if "requires" in d else None,
        also=also_source.parse(f, d["also"], prefix + "also", default_method) if "also" in d else None,
    )
