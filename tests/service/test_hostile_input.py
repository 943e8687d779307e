"""Inputs that used to be unhandled 500s (issue 19 item 4) are clear 4xx: non-ASCII secrets, list-valued
webhook actions, and Authorization headers no key could be."""
import pytest
import requests

from tests.conftest import error, running_service, service_overrides

SECRET = "app-secret"


@pytest.fixture(scope="module")
def hooks_service(sandbox, redis_server_url):
    overrides = service_overrides(sandbox, redis_server_url)
    overrides["UPSTREAM_ENV"]["LIVECHAT_WEBHOOK_SECRET"] = SECRET
    with running_service(overrides) as (_, base):
        yield base


def delivery(**changes) -> dict:
    return {"webhook_id": "w1", "secret_key": SECRET, "action": "incoming_chat", "organization_id": "org",
            "additional_data": {}, "payload": {}, **changes}


@pytest.mark.parametrize("secret", ["sécret", "\u202e", "a" * 10000, 7, None, ["app-secret"]])
def test_a_webhook_secret_of_any_shape_is_a_401(hooks_service, secret):
    error(requests.post(f"{hooks_service}/webhooks/livechat", json=delivery(secret_key=secret), timeout=10), 401)


@pytest.mark.parametrize("action", [["incoming_chat"], {"a": 1}, 3, None, "nope"])
def test_a_webhook_action_of_any_shape_is_a_422(hooks_service, action):
    error(requests.post(f"{hooks_service}/webhooks/livechat", json=delivery(action=action), timeout=10), 422,
          "action")


@pytest.mark.parametrize("header", ["Bearer ut_ünïcode", "Bearer \u202e", "Basic x", "Bearer", "bearer  ",
                                    "Bearer " + "x" * 8000])
def test_an_authorization_no_key_could_be_is_a_401(hooks_service, header):
    resp = requests.get(f"{hooks_service}/integrated-accounts", headers={"Authorization": header.encode()},
                        timeout=10)
    error(resp, 401)
