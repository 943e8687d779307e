"""Runs a write operation (see steps.py): its steps in order against the upstream, then a read of
the written record through the get operation.

Every upstream write goes with `idempotent=False`, so it is never retried blindly. When its
outcome is unknown (the answer was lost: a timeout or a dropped connection after sending), the
step's `reconcile` lookup decides whether it happened; if that cannot tell, the caller gets a 504
saying what is known. A retry of such a request (`reconcile_first`) looks before it writes again.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

from ..errors import ApiError
from .calls import CallSpec
from .executor import Account, Engine, Options
from .expressions import ExpressionFailed
from .steps import Step, WriteOperation

log = logging.getLogger(__name__)
FAILURE_TYPES = {400: "invalid_request", 404: "not_found", 409: "conflict", 413: "too_large", 422: "invalid_request"}


@dataclass
class Upload:
    """An uploaded file, held in memory (the upstream's limit keeps it small)."""
    name: str
    content_type: str
    data: bytes

    def describe(self) -> dict:
        return {"name": self.name, "content_type": self.content_type, "size": len(self.data)}

    def fingerprint(self) -> dict:
        return {**self.describe(), "sha256": hashlib.sha256(self.data).hexdigest()}


@dataclass
class _Run:
    engine: Engine
    account: Account
    op: WriteOperation
    uploads: dict[str, Upload]
    reconcile_first: bool
    bindings: dict
    done: list[str] = field(default_factory=list)  # upstream writes that succeeded, in order

    @property
    def title(self) -> str:
        return self.engine.integration.title

    # --- expressions --------------------------------------------------------------------------
    def eval(self, expr, data=None, **extra):
        try:
            return expr(data, **self.bindings, **extra)
        except ExpressionFailed as exc:
            log.error("write mapping failed: %s", exc)
            raise ApiError(502, "mapping_error", f"A {self.title} write could not be prepared or read: {exc}",
                           remote=self._known()) from None

    def _known(self) -> dict | None:
        return {"completed": list(self.done)} if self.done else None

    # --- steps --------------------------------------------------------------------------------
    def run(self) -> None:
        for step in self.op.steps:
            if step.id not in self.op.handlers:
                self.step(step)

    def step(self, step: Step) -> None:
        if step.when is not None and not self.eval(step.when):
            return
        steps = self.bindings["steps"]
        if step.kind == "set":
            steps[step.id] = self.eval(step.value)
        elif step.kind == "fail":
            raise self.failure(step.fail)
        elif step.for_each is not None:
            items = self.eval(step.for_each)
            items = [] if items is None else items if isinstance(items, list) else [items]
            steps[step.id] = [self.request(step, {"item": item}) for item in items]
        else:
            answer = self.request(step, {})
            if answer is not None:
                steps[step.id] = answer

    def failure(self, spec, **extra) -> ApiError:
        message = self.eval(spec.message, **extra)
        if self.done:
            message = f"{message}. Already applied before this: {', '.join(self.done)}"
        return ApiError(spec.status, FAILURE_TYPES.get(spec.status, "request_failed"), str(message), param=spec.param,
                        remote=self._known())

    def request(self, step: Step, extra: dict):
        req = step.request
        if step.reads:  # a lookup: retried like any read, and nothing to reconcile
            try:
                return self.call(req, extra, write=False)
            except ApiError as err:
                return self.recover(step, extra, err)
        if self.reconcile_first and step.reconcile is not None:
            found = self.reconcile(step, extra)
            if found is not None:
                log.info("%s: found the earlier write of step %s; not writing again", self.op.source, step.id)
                self.done.append(req.name)
                return found
        try:
            answer = self.call(req, extra, write=True)
        except ApiError as err:
            return self.recover(step, extra, err)
        self.done.append(req.name)
        return answer

    def recover(self, step: Step, extra: dict, err: ApiError):
        """What the step's on_error rules say about an upstream error, else reconcile or re-raise."""
        remote = err.remote or {}
        rule = step.on_error.get(remote.get("type"))
        if rule is not None:
            if rule.action == "ignore":
                return None
            if rule.action == "fail":
                raise self.failure(rule.fail, error=remote, **extra) from None
            self.step(self.op.step(rule.run))
            return None
        if step.reads or not outcome_unknown(err):
            raise err
        action = step.request.name
        if step.reconcile is not None:
            try:
                found = self.reconcile(step, extra)
            except ApiError as lookup_err:
                log.warning("reconcile of %s failed: %s", action, lookup_err.message)
                found = None
            if found is not None:
                log.info("%s: %s answered nothing, but the write is there", self.op.source, action)
                self.done.append(action)
                return found
            advice = ("It was not found yet. Retry with the same Idempotency-Key: the retry looks for this write "
                      "first and does not repeat it if it landed.")
        else:
            advice = "Check the record before retrying: a retry repeats this call."
        before = f" Completed before it: {', '.join(self.done)}." if self.done else ""
        raise ApiError(504, "write_outcome_unknown", f"It is not known whether {self.title} applied {action}: "
                       f"{err.message}.{before} {advice}", remote={**remote, **(self._known() or {})}) from None

    def reconcile(self, step: Step, extra: dict):
        """The earlier write of this step, or None when the lookup says it is not there."""
        rec = step.reconcile
        try:
            data = self.call(rec.request, extra, write=False)
        except ApiError as err:
            if err.status == 404 and err.remote:  # the helpdesk says there is no such record: it did not land
                return None
            raise
        return self.eval(rec.result, data, **extra)

    def call(self, req: CallSpec, extra: dict, write: bool):
        try:
            request = req.prepare(None, **self.bindings, **extra)
        except ExpressionFailed as exc:
            log.error("write mapping failed: %s", exc)
            raise ApiError(502, "mapping_error", f"A {self.title} write could not be prepared: {exc}",
                           remote=self._known()) from None
        files = None
        if req.files:
            files = {}
            for part, input_field in req.files.items():
                up = self.uploads[input_field]
                files[part] = (up.name, up.data, up.content_type)
        log.debug("upstream %s %s", request.name, request.path)
        return self.engine.upstream.call(self.account, request, idempotent=not write, files=files)


def outcome_unknown(err: ApiError) -> bool:
    """The request may have been applied but no answer says so: a lost answer or a server failure."""
    if getattr(err, "sent", None) is False:
        return False  # never reached the upstream
    return err.status >= 500 and err.type != "mapping_error"


def steps_run(engine: Engine, account: Account, op: WriteOperation, bindings: dict) -> _Run:
    """Run steps outside a unified write (registering webhooks, say); the run keeps the answers."""
    state = _Run(engine, account, op, {}, False, bindings)
    state.run()
    return state


def write_id(account: Account, idempotency_key: str) -> str:
    """24 hex digits naming one write of one account: for helpdesks that take a client-chosen record
    id, so that a repeated write is refused as a duplicate instead of applied twice."""
    return hashlib.sha256(f"{account.id}\n{idempotency_key}".encode()).hexdigest()[:24]


def run(engine: Engine, account: Account, op: WriteOperation, *, payload: dict, record_id: str | None,
        idempotency_key: str, uploads: dict[str, Upload] | None = None, reconcile_first: bool = False,
        options: Options | None = None) -> dict:
    """Apply a write and return the written record, read back as the get operation maps it."""
    if op.unsupported:
        raise ApiError(422, "unsupported_operation", op.unsupported)
    uploads = uploads or {}
    described = {**payload, **{name: up.describe() for name, up in uploads.items()}}
    bindings = {"input": described, "id": record_id, "version": account.version,
                "idempotency_key": idempotency_key, "write_id": write_id(account, idempotency_key),
                "base_url": engine.upstream.base_url_for(account.credentials), "account": account.context, "steps": {}}
    state = _Run(engine, account, op, uploads, reconcile_first, bindings)
    state.run()
    written = state.eval(op.result_id)
    if not isinstance(written, str) or not written:
        raise ApiError(502, "mapping_error", f"{engine.integration.title} did not answer the id of the written "
                       f"{op.result_resource} ({op.source}: result.id)", remote=state._known())
    try:
        return engine.get(account, op.result_resource, written, options or Options())
    except ApiError as err:
        raise ApiError(502, "read_after_write_failed", f"The write succeeded ({op.result_resource} id {written}) "
                       f"but reading it back failed: {err.message}. GET /unified/ticketing/{op.result_resource}/"
                       f"{written} later.", remote=state._known()) from None
