"""openapi.yaml is valid, matches the app's routes, and the live app keeps to it (schemathesis)."""
import re
from pathlib import Path

import jsonschema
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import positive_data_acceptance

from tests.conftest import new_tenant
from unified_ticketing.config import DEFAULT_MAPPINGS
from unified_ticketing.engine.loader import RESOURCES, load_all

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
SPEC = yaml.safe_load(SPEC_PATH.read_text())
OPERATIONS = {(r, m) for (r, m, _) in load_all(DEFAULT_MAPPINGS)["livechat"].operations}


def test_openapi_document_is_valid():
    validate(SPEC)


def test_every_route_is_in_the_contract_and_back(service):
    from unified_ticketing.app import create_app

    app = create_app({"REDIS_URL": "redis://127.0.0.1:1"})  # routes only; nothing connects
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        methods = rule.methods - {"HEAD", "OPTIONS"}
        for m in methods:
            if path in ("/unified/ticketing/{resource}", "/unified/ticketing/{resource}/{record_id}"):
                # one documented path per resource whose mapping has that method
                verb = {"GET": "get" if "{record_id}" in path else "list", "POST": "create"}[m]
                routes |= {(path.replace("{resource}", r).replace("{record_id}", "{id}"), m.lower())
                           for r in RESOURCES if (r, verb) in OPERATIONS}
            else:
                routes.add((path.replace("{record_id}", "{id}"), m.lower()))
    documented = {(p, m) for p, ops in SPEC["paths"].items() for m in ops if m != "parameters"}
    assert routes == documented


def test_served_contract_is_the_file(service):
    import requests

    assert requests.get(f"{service}/openapi.yaml", timeout=10).text == SPEC_PATH.read_text()
    assert "/openapi.yaml" in requests.get(f"{service}/docs", timeout=10).text


@pytest.fixture(scope="module")
def contract_client(service, sandbox):
    from tests.conftest import connect_pat

    client = new_tenant(service, "contract")
    return client, connect_pat(client, sandbox)


def test_live_app_keeps_the_contract(service, contract_client, writable_service, writer):
    """schemathesis generates requests for every operation; none may 500 or break the contract.

    Writes go to a service over a writable sandbox: the shared one stays as seeded for other tests."""
    loaded = schemathesis.openapi.from_path(SPEC_PATH)
    checked = []
    for result in loaded.get_all_operations():
        operation = result.ok()
        if operation.method.upper() == "DELETE" or operation.path in ("/admin/api-keys", "/unified/ticketing/export"):
            continue  # deletes fixtures, mints keys or exports everything: each has its own tests
        if operation.method.upper() in ("POST", "PATCH") and operation.path.startswith("/unified/"):
            client, account = writer
            _check_operation(operation, writable_service, client.api_key, account)
        else:
            client, account = contract_client
            _check_operation(operation, service, client.api_key, account)
        checked.append(f"{operation.method} {operation.path}")
    assert len(checked) >= 17


def _check_operation(operation, service: str, api_key: str, account: str) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        if case.query and "integrated_account_id" in case.query:
            case.query["integrated_account_id"] = account
        response = case.call(base_url=service, headers={"Authorization": f"Bearer {api_key}"})
        assert response.status_code != 500, response.text  # 501-504 are honest answers (unsupported, upstream, config)
        # Opaque cursors (and filters sent with one) are 400 by design, which the schema cannot express.
        case.validate_response(response, excluded_checks=[positive_data_acceptance])
        unified = operation.path.startswith("/unified/") and not operation.path.endswith("/download")
        if unified and response.status_code in (200, 201) and (case.query or {}).get("format") != "raw":
            _validate_unified(operation.path, response.json(), one=operation.method.upper() != "GET")

    check()


MODELS = {"tickets": "Ticket", "comments": "Comment", "contacts": "Contact", "attachments": "Attachment",
          "users": "User", "teams": "Team", "tags": "Tag"}


def _validate_unified(path: str, body, one: bool = False) -> None:
    """Unified answers (not format=raw) must fit the strict model, not just "an object"."""
    parts = path.strip("/").split("/")
    if parts[2] not in MODELS or len(parts) > 4:  # meta, export and other non-record answers
        return
    model = {"$ref": f"#/components/schemas/{MODELS[parts[2]]}", "components": SPEC["components"]}
    for record in body["result"] if len(parts) == 3 and not one else [body]:
        jsonschema.validate(record, model)


def test_live_app_keeps_the_contract_on_rocket_chat(service, rc_sandbox, redis_server_url):
    """The unified operations, on a Rocket.Chat account: reads against the shared read-only sandbox, writes
    against a sandbox of this test's own. Unsupported writes must be honest 4xx, never a 500."""
    from helpdesk_sandboxes.process import start_sandbox
    from tests.conftest import connect_rocketchat

    reader = new_tenant(service, "contract-rc")
    read_account = connect_rocketchat(reader, rc_sandbox)
    writable = start_sandbox("--integration", "rocketchat", "--rooms", "20", "--seed", "13")
    try:
        writer = new_tenant(service, "contract-rc-writer")
        write_account = connect_rocketchat(writer, writable)
        loaded = schemathesis.openapi.from_path(SPEC_PATH)
        checked = 0
        for result in loaded.get_all_operations():
            operation = result.ok()
            if not operation.path.startswith("/unified/ticketing/") or operation.path.endswith("/export"):
                continue
            if operation.method.upper() in ("POST", "PATCH"):
                _check_operation(operation, service, writer.api_key, write_account)
            else:
                _check_operation(operation, service, reader.api_key, read_account)
            checked += 1
        assert checked >= 15
    finally:
        writable.stop()
