"""The Unified Ticketing API: `/unified/ticketing/<resource>[/<id>]`: reads, writes, downloads."""
import secrets

from flask import Blueprint, Response, current_app, request
from marshmallow import ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from ..engine import files, writes
from ..engine.executor import Options
from ..engine.loader import RESOURCES
from ..engine.query import RESERVED, parse_bool, parse_filters, parse_limit
from ..errors import ApiError, bad_request, not_found
from ..schemas.requests import first_error
from ..schemas.writes import BODIES, file_fields
from ..state import idempotency
from .addresses import check_public_file
from .common import load_body, request_writes, require_account, services
from .integrated_accounts import complete_identity

bp = Blueprint("unified", __name__, url_prefix="/unified/ticketing")


def _context(resource: str, also=None):
    if resource not in RESOURCES:
        raise not_found(f"No resource '{resource}'; resources: {', '.join(RESOURCES)}")
    account = require_account(request.args.get("integrated_account_id"), also)
    engine = services().engine_for(account)
    fmt = request.args.get("format", "unified")
    if fmt not in ("unified", "raw"):
        raise bad_request(f"format must be unified or raw; got '{fmt}'", "format")
    options = Options(include_remote_data=parse_bool(request.args, "include_remote_data", True), raw=fmt == "raw")
    return engine, account, options


@bp.get("/<resource>")
def list_records(resource: str):
    nxt, prev = request.args.get("next_cursor"), request.args.get("prev_cursor")
    if nxt and prev:
        _context(resource)  # its errors (key, resource, account) first
        raise bad_request("Send next_cursor or prev_cursor, not both", "prev_cursor")
    cursor = nxt or prev
    loading = services().traversals.loading(cursor) if cursor else None  # read with the account
    engine, account, options = _context(resource, loading)
    op = engine.operation(resource, "list", account.version)
    # With a cursor, `limit` may change and filters may be repeated (the engine refuses different ones).
    limit = parse_limit(request.args) if not cursor or "limit" in request.args else None
    filters = parse_filters(op, request.args) if not cursor or set(request.args) - RESERVED else None
    if filters is not None and engine.overrides is not None and resource in engine.overrides.filters:
        filters = {**parse_filters(op, engine.overrides.filters[resource]), **filters}  # a mapping override's
    return engine.list(account, op, limit, filters, cursor, options, loading=loading, writes=request_writes())


@bp.get("/<resource>/<path:record_id>")
def get_record(resource: str, record_id: str):
    engine, account, options = _context(resource)
    return engine.get(account, resource, record_id, options)


# --- writes -----------------------------------------------------------------------------------
@bp.post("/<resource>")
def create_record(resource: str):
    return _write(resource, "create", None)


@bp.patch("/tickets/<path:record_id>")
def update_ticket(record_id: str):
    return _write("tickets", "update", record_id)


@bp.patch("/contacts/<path:record_id>")
def update_contact(record_id: str):
    return _write("contacts", "update", record_id)


def _write(resource: str, method: str, record_id: str | None):
    """Validate the body, then run the mapping's steps once per Idempotency-Key."""
    engine, account, options = _context(resource)
    op = engine.operation(resource, method, account.version)
    key = _idempotency_key()
    schema = BODIES[(resource, method)]
    if file_fields(schema):
        payload, uploads = _multipart(schema, op.file_size_limit_bytes, engine.integration.title)
    else:
        payload, uploads = load_body(schema), {}
    if engine.overrides is not None:
        payload = engine.overrides.input(resource, method, payload)
    status = 201 if method == "create" else 200
    complete_identity(engine, account)

    def perform(reconcile_first: bool) -> idempotency.Outcome:
        record = writes.run(engine, account, op, payload=payload, record_id=record_id,
                            idempotency_key=key or secrets.token_urlsafe(16), uploads=uploads,
                            reconcile_first=reconcile_first, options=options)
        return idempotency.Outcome(status, record)

    if key is None:
        return perform(False).body, status
    print_ = idempotency.fingerprint(request.method, request.path, sorted(request.args.items(multi=True)), payload,
                                     {name: up.fingerprint() for name, up in uploads.items()})
    outcome = idempotency.run(services().redis, account.id, key, print_, perform)
    return outcome.body, outcome.status, {idempotency.REPLAY_HEADER: "true"} if outcome.replayed else {}


def _idempotency_key() -> str | None:
    key = request.headers.get(idempotency.HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
        raise bad_request(f"{idempotency.HEADER} must be 1 to 255 printable ASCII characters, such as a UUID",
                          idempotency.HEADER)
    return key


def _multipart(schema, limit: int | None, title: str) -> tuple[dict, dict]:
    """A multipart/form-data body: text fields and files, the files checked against the upstream's size limit."""
    if request.mimetype != "multipart/form-data":
        raise bad_request("Send multipart/form-data with the file in a part named file", "body")
    if limit:
        request.max_content_length = 2 * limit + (1 << 20)  # read enough to say how large the file is
    try:
        form, parts = request.form, request.files
    except RequestEntityTooLarge:
        raise _too_large(title, limit, request.content_length or 0, "the upload") from None
    data = {}
    for name in list(form) + list(parts):
        values = form.getlist(name) + parts.getlist(name)
        if len(values) != 1:
            raise bad_request(f"{name}: send it once", name)
        data[name] = values[0]
    try:
        payload = schema.load(data)
    except ValidationError as exc:
        param, message = first_error(exc.messages)
        raise bad_request(f"{param}: {message}", param) from None
    uploads = {}
    for name in file_fields(schema):
        storage = payload.pop(name)
        content = storage.stream.read((limit + 1) if limit else -1)
        if limit and len(content) > limit:
            raise _too_large(title, limit, len(content) + len(storage.stream.read()), f"'{storage.filename}'")
        uploads[name] = writes.Upload(storage.filename, storage.mimetype or "application/octet-stream", content)
    return payload, uploads


def _too_large(title: str, limit: int | None, size: int, what: str) -> ApiError:
    mb = 1 << 20
    return ApiError(413, "file_too_large", f"{title} accepts files up to {limit / mb:g} MB; {what} is "
                    f"{size / mb:.1f} MB. Send a smaller file", param="file")


@bp.get("/attachments/<path:record_id>/download")
def download_attachment(record_id: str):
    engine, account, _ = _context("attachments")
    record = engine.get(account, "attachments", record_id, Options(include_remote_data=False))
    check = None if current_app.config["ALLOW_PRIVATE_UPSTREAMS"] else check_public_file
    found = files.open_download(engine.upstream, account, record.get("file_url"), record.get("file_name"),
                                record.get("content_type"), check)
    headers = {"Content-Disposition": found.disposition}
    if found.content_length:
        headers["Content-Length"] = found.content_length
    return Response(found.chunks, content_type=found.content_type, headers=headers)
