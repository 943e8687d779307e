"""Load `mappings/<helpdesk>/`: check each file's keys, compile its expressions, build the runtime
objects. Any mistake is a MappingError naming the file, line and key, raised at start-up."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .calls import CallSpec, parse_call
from .expressions import Expression, MappingError, compile_expression
from .steps import WriteOperation, parse_failure, parse_write_operation

RESOURCES = ("tickets", "comments", "contacts", "attachments", "users", "teams", "tags")
METHODS = ("list", "get")
WRITE_METHODS = ("create", "update")  # see steps.py
FILTER_TYPES = ("string", "enum", "datetime")
RANGE_OPS = ("gte", "lte", "gt", "lt")


class _Map(dict):
    """A YAML mapping that remembers the line of each key."""
    lines: dict


class _LineLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        out = _Map(super().construct_mapping(node, deep=deep))
        out.lines = {k.value: k.start_mark.line + 1 for k, _ in node.value}
        return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping)


class _File:
    """One mapping file being read; names the place of every error."""

    def __init__(self, path: Path, root: Path):
        self.path = path
        self.name = str(path.relative_to(root.parent))
        try:
            self.data = yaml.load(path.read_text(), Loader=_LineLoader)
        except yaml.YAMLError as exc:
            raise MappingError(f"{self.name}: not valid YAML: {exc}") from None
        if not isinstance(self.data, dict):
            raise MappingError(f"{self.name}: expected a mapping at the top level")

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
        return compile_expression(node.get(key), self.where(node, key, label))

    def opt_expr(self, node: dict, key: str, label: str) -> Expression | None:
        return self.expr(node, key, label) if key in node else None


@dataclass(frozen=True)
class FilterSpec:
    name: str
    type: str
    ops: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    required: bool = False
    where: Expression | None = None  # checked on the mapped record instead of sent upstream


@dataclass(frozen=True)
class Operation:
    resource: str
    method: str
    source: str
    request: CallSpec
    record: Expression
    items: Expression | None = None  # list: the upstream items of a page
    item: Expression | None = None  # get: the one upstream item
    remote_data: Expression | None = None  # the raw object kept as remote_data (default: the item)
    dedupe_by: Expression | None = None  # key of an item that must appear once per traversal
    filters: dict[str, FilterSpec] = field(default_factory=dict)
    requires: str | None = None  # what the helpdesk must have for this to work (an edition, a license)


@dataclass(frozen=True)
class AuthStyle:
    fields: tuple[str, ...]
    headers: dict[str, Expression]
    optional: tuple[str, ...] = ()  # fields an account may be connected without
    label: str | None = None  # the connect page's name for this way of connecting
    form: dict = field(default_factory=dict)  # field -> {label, help, secret}: the connect page's inputs


@dataclass(frozen=True)
class Pagination:
    """How a list asks for its next page.

    `cursor`: the answer's `next_cursor_path` holds a token (absent on the last page); the next
    request sends it as `param` (in the body: alone, plus the first body's `request_keeps`).
    `offset`: the next request sends `param` = offset + the answer's `count_path`, until `total_path`.
    """
    type: str
    param: str
    location: str  # "body" | "query"
    next_cursor_path: str | None = None
    request_keeps: tuple[str, ...] = ()
    count_path: str | None = None
    total_path: str | None = None


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
    """`verify_credentials.on_error`: upstream error type -> {fail: {status, message, param?}}, the answer
    when the check fails that way (say, which permission the account lacks). `$error` is the upstream error."""
    rules = node.get("on_error", {})
    if not isinstance(rules, dict):
        raise MappingError(f"{f.where(node, 'on_error', 'verify_credentials.on_error')}: expected a mapping of "
                           "upstream error types to {fail: {...}}")
    out = {}
    for err_type, rule in rules.items():
        label = f"verify_credentials.on_error.{err_type}"
        if not isinstance(rule, dict) or set(rule) != {"fail"}:
            raise MappingError(f"{f.where(rules, err_type, label)}: expected {{fail: {{status, message}}}}")
        out[str(err_type)] = parse_failure(f, rule, "fail", label + ".fail")
    return out


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
    f = _File(path, root)
    d = f.data
    f.keys(d, "integration", {"name", "title", "base_url", "api_versions", "request", "auth",
                              "verify_credentials", "errors", "pagination", "retry", "rate_limit", "oauth", "proxy",
                              "files", "identity"},
           {"name", "base_url", "api_versions", "request", "auth", "verify_credentials", "errors", "pagination"})
    versions = f.section(d, "api_versions", "api_versions", {"default", "supported"}, {"default", "supported"})
    req = f.section(d, "request", "request", {"method"}, {"method"})
    auth_node = f.section(d, "auth", "auth", {"personal_access_token", "oauth2", "api_key"})
    auth = {}
    for kind, style in auth_node.items():
        f.keys(style, f"auth.{kind}", {"fields", "headers", "optional", "label", "form"}, {"fields", "headers"})
        optional = tuple(style.get("optional", ()))
        form = f.section(style, "form", f"auth.{kind}.form", set(style["fields"])) if "form" in style else {}
        if set(optional) - set(style["fields"]):
            raise MappingError(f"{f.where(style, 'optional', f'auth.{kind}.optional')}: optional fields must be "
                               "among fields")
        auth[kind] = AuthStyle(tuple(style["fields"]),
                               {h: f.expr(style["headers"], h, f"auth.{kind}.headers.{h}") for h in style["headers"]},
                               optional, style.get("label"),
                               {n: f.section(form, n, f"auth.{kind}.form.{n}", {"label", "help", "secret"})
                                for n in form})
    method = str(req["method"]).upper()
    verify = parse_call(f, d, "verify_credentials", "verify_credentials", method, extra=frozenset({"on_error"}))
    verify_errors = _verify_errors(f, d["verify_credentials"])
    err = f.section(d, "errors", "errors", {"detect", "type", "message", "statuses", "retry_types",
                                            "rate_limit_types", "reauth_types", "not_found_types"},
                    {"detect", "type", "message", "statuses"})
    integration = Integration(
        name=d["name"], title=d.get("title", d["name"]), base_url=_base_url(f, d, auth),
        default_version=str(versions["default"]), versions=tuple(str(v) for v in versions["supported"]),
        http_method=method, auth=auth, verify=verify, verify_errors=verify_errors,
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
        of = _File(path, root)
        if method in WRITE_METHODS:
            def build(node, prefix, of=of, resource=resource, method=method):
                return parse_write_operation(of, node, resource, method, prefix, RESOURCES, integration.http_method)
        else:
            of.keys(of.data, "operation", {"request", "response", "filters", "versions", "requires"},
                    {"request", "response"})

            def build(node, prefix, of=of, resource=resource, method=method):
                return _operation(of, folder, node, resource, method, prefix, integration.http_method)
        base_op = build(of.data, "")
        for version in integration.versions:
            integration.operations[(resource, method, version)] = base_op
        for version, override in (of.data.get("versions") or {}).items():
            if str(version) not in integration.versions:
                raise MappingError(f"{of.where(of.data['versions'], version, 'versions')}: version {version} is not "
                                   f"in api_versions.supported")
            if not isinstance(override, dict) or "versions" in override:
                raise MappingError(f"{of.where(of.data['versions'], version, f'versions.{version}')}: expected the "
                                   "operation's keys (without versions)")
            if method not in WRITE_METHODS:
                of.keys(override, f"versions.{version}", {"request", "response", "filters", "requires"},
                        {"request", "response"})
            integration.operations[(resource, method, str(version))] = build(override, f"versions.{version}.")
    return integration


def _base_url(f: _File, d: dict, auth: dict) -> BaseUrl:
    node = f.section(d, "base_url", "base_url", {"env", "default", "credential"})
    if "credential" in node:
        if set(node) != {"credential"}:
            raise MappingError(f"{f.where(d, 'base_url', 'base_url')}: give credential alone, or env and default")
        missing = [kind for kind, style in auth.items() if node["credential"] not in style.fields]
        if missing:
            raise MappingError(f"{f.where(node, 'credential', 'base_url.credential')}: auth {', '.join(missing)} "
                               f"has no field {node['credential']}")
        return BaseUrl(credential=str(node["credential"]))
    f.keys(node, "base_url", {"env", "default"}, {"env", "default"})
    return BaseUrl(env=node["env"], default=node["default"])


def _pagination(f: _File, d: dict) -> Pagination:
    node = f.section(d, "pagination", "pagination", {"type", "param", "in", "next_cursor_path", "request_keeps",
                                                     "count_path", "total_path"}, {"type", "param"})
    kind = node["type"]
    if kind == "cursor":
        f.keys(node, "pagination", {"type", "param", "in", "next_cursor_path", "request_keeps"},
               {"next_cursor_path"})
    elif kind == "offset":
        f.keys(node, "pagination", {"type", "param", "in", "count_path", "total_path"}, {"count_path", "total_path"})
    else:
        raise MappingError(f"{f.where(node, 'type', 'pagination.type')}: expected cursor or offset")
    location = node.get("in", "body" if kind == "cursor" else "query")
    if location not in ("body", "query"):
        raise MappingError(f"{f.where(node, 'in', 'pagination.in')}: expected body or query")
    return Pagination(kind, node["param"], location, node.get("next_cursor_path"),
                      tuple(node.get("request_keeps", ())), node.get("count_path"), node.get("total_path"))


def _setting(f: _File, node: dict, key: str, label: str) -> Setting:
    value = f.section(node, key, f"{label}.{key}", {"env", "default"}, {"env", "default"})
    return Setting(value["env"], str(value["default"]))


def _policies(f: _File, d: dict, default_method: str) -> dict:
    """The optional sections of integration.yaml: retry, rate_limit, oauth, proxy, files, identity."""
    out = {}
    if "identity" in d:
        node = f.section(d, "identity", "identity", {"base_url", "request", "context"}, {"request", "context"})
        context = node["context"]
        if not isinstance(context, dict) or not context:
            raise MappingError(f"{f.where(node, 'context', 'identity.context')}: expected a mapping of context "
                               "names to JSONata on the answer")
        out["identity"] = IdentityPolicy(
            parse_call(f, node, "request", "identity.request", default_method),
            {str(k): f.expr(context, k, f"identity.context.{k}") for k in context},
            _setting(f, node, "base_url", "identity") if "base_url" in node else None)
    if "retry" in d:
        node = f.section(d, "retry", "retry", {"attempts", "max_seconds", "initial_wait", "max_wait"})
        out["retry"] = RetryPolicy(**node)
    if "rate_limit" in d:
        node = f.section(d, "rate_limit", "rate_limit", {"requests_per_second", "burst", "retry_after_header",
                                                          "retry_after_unit", "default_cooldown_seconds"},
                         {"requests_per_second"})
        unit = node.get("retry_after_unit", "seconds")
        if unit not in ("seconds", "epoch_ms", "epoch_seconds"):
            raise MappingError(f"{f.where(node, 'retry_after_unit', 'rate_limit.retry_after_unit')}: expected "
                               "seconds, epoch_ms or epoch_seconds")
        out["rate_limit"] = RateLimitPolicy(
            _setting(f, node, "requests_per_second", "rate_limit"),
            _setting(f, node, "burst", "rate_limit") if "burst" in node else Setting("", "0"),
            node.get("retry_after_header", "Retry-After"), unit, float(node.get("default_cooldown_seconds", 1)))
    if "oauth" in d:
        node = f.section(d, "oauth", "oauth", {"accounts_url", "authorize_path", "token_path", "client_id_env",
                                                "client_secret_env", "license_field"},
                         {"accounts_url", "authorize_path", "token_path", "client_id_env", "client_secret_env"})
        out["oauth"] = OAuthPolicy(_setting(f, node, "accounts_url", "oauth"), node["authorize_path"],
                                   node["token_path"], node["client_id_env"], node["client_secret_env"],
                                   node.get("license_field"))
    if "proxy" in d:
        node = f.section(d, "proxy", "proxy", {"post", "get", "refused"})
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
        node = f.section(d, "files", "files", {"origins", "api_server", "credentials"})
        for key in ("api_server", "credentials"):
            if not isinstance(node.get(key, False), bool):
                raise MappingError(f"{f.where(node, key, 'files.' + key)}: expected true or false")
        out["files"] = FilePolicy(_setting(f, node, "origins", "files") if "origins" in node else None,
                                  node.get("api_server", True), node.get("credentials", False))
    return out


def _operation(f: _File, folder: Path, d: dict, resource: str, method: str, prefix: str,
               default_method: str) -> Operation:
    shape = "items" if method == "list" else "item"
    allowed = {shape, "record_file", "remote_data"} | ({"dedupe_by"} if method == "list" else set())
    resp = f.section(d, "response", prefix + "response", allowed, {shape, "record_file"})
    record_path = folder / resp["record_file"]
    if not record_path.is_file():
        raise MappingError(f"{f.where(resp, 'record_file', prefix + 'response.record_file')}: "
                           f"{resp['record_file']} not found")
    record = compile_expression(record_path.read_text(), f"{folder.name}/{resp['record_file']}")
    filters = {}
    for name, spec in (d.get("filters") or {}).items():
        label = f"{prefix}filters.{name}"
        f.keys(spec, label, {"type", "ops", "values", "required", "where"}, {"type"})
        if spec["type"] not in FILTER_TYPES:
            raise MappingError(f"{f.where(spec, 'type', label)}: type must be one of {', '.join(FILTER_TYPES)}")
        ops = tuple(spec.get("ops", ()))
        if spec["type"] == "datetime" and (not ops or set(ops) - set(RANGE_OPS)):
            raise MappingError(f"{f.where(spec, 'type', label)}: datetime filters need ops from {RANGE_OPS}")
        filters[name] = FilterSpec(name, spec["type"], ops, tuple(spec.get("values", ())),
                                   bool(spec.get("required")), f.opt_expr(spec, "where", label + ".where"))
    return Operation(
        resource=resource, method=method, source=f.name,
        request=parse_call(f, d, "request", prefix + "request", default_method), record=record,
        items=f.opt_expr(resp, "items", prefix + "response.items"),
        item=f.opt_expr(resp, "item", prefix + "response.item"),
        remote_data=f.opt_expr(resp, "remote_data", prefix + "response.remote_data"),
        dedupe_by=f.opt_expr(resp, "dedupe_by", prefix + "response.dedupe_by"),
        filters=filters, requires=_requires(f, d, prefix),
    )


def _requires(f: _File, d: dict, prefix: str) -> str | None:
    """`requires: <text>`: what the helpdesk must have for the operation (shown by capabilities)."""
    if "requires" not in d:
        return None
    if not isinstance(d["requires"], str) or not d["requires"].strip():
        raise MappingError(f"{f.where(d, 'requires', prefix + 'requires')}: expected a sentence saying what the "
                           "helpdesk needs (an edition, a license)")
    return d["requires"].strip()
