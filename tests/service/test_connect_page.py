"""The connect page (issue 18 item 4) over plain HTTP, as a browser without JavaScript uses it: a link
lists its integrations, token integrations get a form from the integration file, errors come back
next to their field, success sends the user back with integrated_account_id."""
import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.conftest import error, new_tenant

BACK = "https://app.example/done"


class Page(HTMLParser):
    """The elements of a page by id, with their attributes, and its text."""

    def __init__(self, html: str):
        super().__init__()
        self.by_id, self.inputs, self.links, self.text = {}, [], [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.by_id[attrs["id"]] = (tag, attrs)
        if tag == "input":
            self.inputs.append(attrs)
        if tag == "a":
            self.links.append(attrs.get("href"))

    def handle_data(self, data):
        self.text.append(data)

    def field(self, name: str) -> dict:
        return self.by_id[name][1]

    def said(self) -> str:
        return " ".join(" ".join(self.text).split())


@pytest.fixture(scope="module")
def tenant_link(service):
    client = new_tenant(service, "connect-page-co")
    made = client.post("/link-tokens", json={"redirect_uri": BACK})
    assert made.status_code == 201, made.text
    return client, made.json()


def open_page(service, token: str, **params):
    return requests.get(f"{service}/connect", params={"link_token": token, **params}, timeout=30)


def submit(service, integration: str, token: str, fields: dict, **extra):
    form = {"link_token": token, "auth_type": "personal_access_token", "embedded": "0", **extra,
            **{f"credentials.{k}": v for k, v in fields.items()}}
    return requests.post(f"{service}/connect/{integration}", data=form, allow_redirects=False, timeout=60)


def test_a_link_shows_each_integration_with_oauth_or_a_form_from_its_integration_file(service, tenant_link):
    _, link = tenant_link
    assert urlsplit(link["url"]).path == "/connect" and parse_qs(urlsplit(link["url"]).query)["link_token"]
    resp = open_page(service, link["link_token"])
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
    page = Page(resp.text)
    assert "LiveChat" in page.said() and "Rocket.Chat" in page.said()
    oauth = [href for href in page.links if href.startswith("/connect/livechat?")]
    assert oauth and parse_qs(urlsplit(oauth[0]).query)["redirect_uri"] == [BACK]  # OAuth: the existing flow
    authorize = requests.get(service + oauth[0], allow_redirects=False, timeout=30)
    assert authorize.status_code == 302 and "code_challenge=" in authorize.headers["Location"]
    for field, kind in (("livechat-personal_access_token-account_id", "text"),
                        ("livechat-personal_access_token-token", "password"),
                        ("rocketchat-personal_access_token-server_url", "url"),
                        ("rocketchat-personal_access_token-auth_token", "password")):
        attrs = page.field(field)
        assert attrs["type"] == kind and "required" in attrs
        assert f'<label for="{field}">' in resp.text  # every input has its label
        assert attrs["aria-describedby"] == f"{field}-help" and page.by_id[f"{field}-help"]
    assert "Workspace URL" in page.said() and "Personal Access Tokens" in page.said()  # labels and help text
    policy = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert re.findall(r"https?://[^ ;]+", policy) == ["https://app.example", "https://app.example"]  # form, frame
    assert resp.headers["Referrer-Policy"] == "no-referrer"  # the link token is in the URL
    assert not re.search(r"""(src|href)=["']https?:""", resp.text)  # no external assets


def test_a_link_for_one_integration_offers_only_it(service, tenant_link):
    client, _ = tenant_link
    token = client.post("/link-tokens", json={"integration": "rocketchat"}).json()["link_token"]
    page = Page(open_page(service, token).text)
    assert "Rocket.Chat" in page.said() and "LiveChat" not in page.said()
    refused = submit(service, "livechat", token, {"account_id": "a", "token": "b"})
    assert refused.status_code == 400 and "does not connect livechat" in refused.text


def test_missing_and_rejected_credentials_are_shown_next_to_their_field(service, tenant_link, credentials):
    _, link = tenant_link
    missing = submit(service, "livechat", link["link_token"], {"account_id": credentials["account_id"], "token": ""})
    assert missing.status_code == 422
    page = Page(missing.text)
    token = page.field("livechat-personal_access_token-token")
    assert token["aria-invalid"] == "true" and "autofocus" in token
    assert "livechat-personal_access_token-token-error" in token["aria-describedby"].split()
    assert "Enter the Personal access token" in page.said()
    assert page.field("livechat-personal_access_token-account_id")["value"] == credentials["account_id"]
    assert "aria-invalid" not in page.field("livechat-personal_access_token-account_id")

    wrong = "dal:not-the-token-0123456789"
    rejected = submit(service, "livechat", link["link_token"], {"account_id": credentials["account_id"],
                                                                "token": wrong})
    assert rejected.status_code == 422
    page = Page(rejected.text)
    assert "did not accept these credentials" in page.said()
    assert page.field("livechat-personal_access_token-token")["aria-invalid"] == "true"
    assert wrong not in rejected.text  # a secret is never echoed back
    assert page.by_id["livechat-personal_access_token-token-error"]


def test_a_server_that_cannot_be_reached_is_an_error_on_the_server_url(service, tenant_link):
    _, link = tenant_link
    resp = submit(service, "rocketchat", link["link_token"], {
        "server_url": "http://127.0.0.1:9", "user_id": "u1", "auth_token": "secret-token-value-42"})
    assert resp.status_code == 422
    page = Page(resp.text)
    assert page.field("rocketchat-personal_access_token-server_url")["aria-invalid"] == "true"
    assert "could not be reached" in page.said() and "secret-token-value-42" not in resp.text


def test_connecting_sends_the_user_back_with_the_account(service, tenant_link, credentials):
    client, link = tenant_link
    resp = submit(service, "livechat", link["link_token"], {
        "account_id": credentials["account_id"], "token": credentials["personal_access_token"]},
        state="abc", redirect_uri="https://evil.example/steal")  # the link's own redirect_uri wins
    assert resp.status_code == 303, resp.text
    back = urlsplit(resp.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == BACK
    params = parse_qs(back.query)
    assert params["state"] == ["abc"]
    account = params["integrated_account_id"][0]
    assert client.get(f"/integrated-accounts/{account}").json()["integration"] == "livechat"


def test_an_embedded_page_answers_with_a_page_that_posts_the_account(service, tenant_link, rc_sandbox):
    client, link = tenant_link
    creds = rc_sandbox.admin("GET", "credentials")
    resp = submit(service, "rocketchat", link["link_token"], {
        "server_url": creds["server_url"], "user_id": creds["user_id"], "auth_token": creds["auth_token"]},
        embedded="1")
    assert resp.status_code == 200, resp.text
    main = Page(resp.text).field("main")
    assert main["data-origin"] == "https://app.example"  # postMessage's target origin: the app's, no other
    assert client.get(f"/integrated-accounts/{main['data-connected']}").json()["integration"] == "rocketchat"
    assert "frame-ancestors https://app.example" in resp.headers["Content-Security-Policy"]


def test_without_a_redirect_uri_the_page_says_it_is_done(service, tenant_link, credentials):
    client, _ = tenant_link
    token = client.post("/link-tokens", json={"integration": "livechat"}).json()["link_token"]
    page = Page(open_page(service, token).text)
    assert "frame-ancestors 'none'" in open_page(service, token).headers["Content-Security-Policy"]
    assert not [i for i in page.inputs if i.get("name") == "redirect_uri"]
    resp = submit(service, "livechat", token, {"account_id": credentials["account_id"],
                                               "token": credentials["personal_access_token"]})
    assert resp.status_code == 200 and "LiveChat is connected" in Page(resp.text).said()


@pytest.mark.parametrize("change", ["tampered", "oauth2", "unknown auth"])
def test_a_bad_link_or_form_is_a_page_saying_so(service, tenant_link, change):
    _, link = tenant_link
    if change == "tampered":
        resp = open_page(service, link["link_token"][:-2] + "zz")
        assert resp.status_code == 401 and "link_token is not valid" in Page(resp.text).said()
        assert submit(service, "livechat", link["link_token"][:-2] + "zz", {}).status_code == 401
        return
    auth_type = "oauth2" if change == "oauth2" else "magic"
    resp = submit(service, "livechat", link["link_token"], {"access_token": "x"}, auth_type=auth_type)
    assert resp.status_code == 400 and resp.headers["Content-Type"].startswith("text/html")


def test_link_tokens_check_what_they_carry(service, tenant_link):
    client, _ = tenant_link
    assert error(client.post("/link-tokens", json={"integration": "zendesk"}), 400, "integration")
    assert error(client.post("/link-tokens", json={"redirect_uri": "javascript:alert(1)"}), 400, "redirect_uri")
