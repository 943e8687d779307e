"""URLs that Python's URL, port or IDNA parsers refuse are a 400 naming the field, never a 500 (issue 19
item 4): what we accept is what we can later connect to."""
import pytest

from tests.conftest import error

BAD_URLS = ["http://a..b", "http://.", "http://" + "a" * 64 + ".example.com", "http://x.example.com:99999",
            "http://[::1", "http://[::1]:0", "http://a b.example.com", "http://xn--a.example.com",
            "http://-a.example.com", "http://user@example.com", "ftp://example.com"]


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_server_url_the_parsers_refuse_is_a_400(tenant, url):
    resp = tenant.post("/integrated-accounts", json={"integration": "rocketchat", "credentials": {
        "type": "personal_access_token", "server_url": url, "user_id": "u", "auth_token": "t"}})
    error(resp, 400, "credentials.server_url")


@pytest.mark.parametrize("url", BAD_URLS + ["http://\u2100.example.com/hook"])
def test_a_subscriber_url_the_parsers_refuse_is_a_400(tenant, url):
    error(tenant.post("/webhook-subscriptions", json={"url": url, "events": ["*"]}), 400, "url")
