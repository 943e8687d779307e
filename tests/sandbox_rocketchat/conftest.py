"""Rocket.Chat sandboxes over HTTP, a client that signs in with the seeded personal access token,
and the official OpenAPI description to check answers against."""
from __future__ import annotations

import functools
from pathlib import Path

import jsonschema
import pytest
import requests
import yaml

from helpdesk_sandboxes.process import start_sandbox

# Third-party documents stay beside the project, in ../shared/ (the developers' guide), not in the repository.
SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "rocketchat-omnichannel.openapi.yaml"
READ_ROOMS = 120


class Client:
    """Calls one sandbox as a user (the manager unless other headers are given)."""

    def __init__(self, proc, headers: dict | None = None):
        self.proc = proc
        self.base = proc.base_url
        self.session = requests.Session()
        self.headers = headers if headers is not None else proc.admin("GET", "credentials")["headers"]

    def get(self, path: str, params=None, headers: dict | None = None) -> requests.Response:
        return self.session.get(self.base + path, params=params, timeout=30,
                                headers=self.headers if headers is None else headers)

    def post(self, path: str, json=None, headers: dict | None = None, **kw) -> requests.Response:
        return self.session.post(self.base + path, json=json, timeout=30,
                                 headers=self.headers if headers is None else headers, **kw)

    def all_pages(self, path: str, key: str, params: dict | None = None, count: int = 25) -> tuple[list, int]:
        """Every item of a list route, following `offset` until `total` is reached."""
        items, offset, total = [], 0, None
        while total is None or offset < total:
            resp = self.get(path, {**(params or {}), "offset": offset, "count": count})
            assert resp.status_code == 200, resp.text
            body = resp.json()
            # `count` is the items of this page; livechat/:rid/messages answers the page size asked for instead
            assert body["offset"] == offset and body["count"] == (count if key == "messages" else len(body[key]))
            assert total is None or body["total"] == total
            total = body["total"]
            items += body[key]
            if not body[key]:
                break
            offset += len(body[key])
        return items, total


@pytest.fixture(scope="session")
def rc_sandbox():
    """A sandbox that tests only read from: never write to it."""
    proc = start_sandbox("--integration", "rocketchat", "--rooms", str(READ_ROOMS), "--seed", "5")
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def rc_writable():
    proc = start_sandbox("--integration", "rocketchat", "--rooms", "30", "--seed", "9")
    yield proc
    proc.stop()


@pytest.fixture
def rc(rc_sandbox) -> Client:
    return Client(rc_sandbox)


@pytest.fixture
def rcw(rc_writable) -> Client:
    """The writable sandbox, back at its seed with all knobs off."""
    rc_writable.admin("POST", "reset")
    rc_writable.admin("POST", "config", json={"rate_limit": 0, "rate_burst": 0, "latency_ms": 0, "fault_rate": 0})
    return Client(rc_writable)


@functools.cache
def _spec() -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(SPEC.read_text(), Loader=loader)


def _resolve(node, spec: dict):
    while isinstance(node, dict) and "$ref" in node:
        node = functools.reduce(lambda d, k: d[k], node["$ref"].lstrip("#/").split("/"), spec)
    return node


def response_schema(path: str, method: str, status: int) -> dict:
    """The JSON schema the description gives for one answer of one operation."""
    spec = _spec()
    response = _resolve(spec["paths"][path][method.lower()]["responses"][str(status)], spec)
    return response["content"]["application/json"]["schema"]


def shared_response_schema(name: str) -> dict:
    """One of the description's shared answers (`authorizationError`, `permissionError`, ...)."""
    return _spec()["components"]["responses"][name]["content"]["application/json"]["schema"]


def assert_matches_spec(resp: requests.Response, path: str, method: str = "GET") -> None:
    """The answer's status is one the description lists, and its body validates against that schema."""
    schema = response_schema(path, method, resp.status_code)
    jsonschema.Draft7Validator(schema).validate(resp.json())
