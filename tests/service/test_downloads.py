"""Attachment downloads go only to the helpdesk's own file hosts (issue 14, "Also"): a file URL that
names another host, or a host that resolves to a private address in production, is never fetched."""
import contextlib

from tests.conftest import connect_pat, error, new_tenant, running_service, service_overrides


@contextlib.contextmanager
def livechat_service(sandbox, redis_url, file_origins: str, **config):
    overrides = service_overrides(sandbox, redis_url, **config)
    overrides["UPSTREAM_ENV"]["LIVECHAT_FILE_ORIGINS"] = file_origins
    with running_service(overrides) as (_, base):
        client = new_tenant(base, "downloads")
        yield client, connect_pat(client, sandbox)


def first_attachment(client, account) -> dict:
    tickets = client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=100).json()["result"]
    for ticket in tickets:
        found = client.get("/unified/ticketing/attachments", integrated_account_id=account,
                           ticket_id=ticket["id"]).json()["result"]
        if found:
            return found[0]
    raise AssertionError("the sandbox's first 100 tickets carry no file")


def test_a_file_on_a_host_that_is_not_the_helpdesks_cdn_is_not_downloaded(sandbox, redis_server_url):
    # The sandbox's files live on its own origin; a service that knows only LiveChat's real CDN must refuse them.
    with livechat_service(sandbox, redis_server_url, "https://cdn.livechat-files.com") as (client, account):
        attachment = first_attachment(client, account)
        assert attachment["file_url"].startswith(sandbox.base_url)
        resp = client.get(f"/unified/ticketing/attachments/{attachment['id']}/download", integrated_account_id=account)
        err = error(resp, 502)
        assert "not one of LiveChat's file hosts" in err["message"] and "127.0.0.1" in err["message"]


def test_the_configured_cdn_downloads(sandbox, redis_server_url):
    with livechat_service(sandbox, redis_server_url, f"https://cdn.livechat-files.com {sandbox.base_url}") \
            as (client, account):
        attachment = first_attachment(client, account)
        resp = client.get(f"/unified/ticketing/attachments/{attachment['id']}/download", integrated_account_id=account)
        assert resp.status_code == 200, resp.text
        assert len(resp.content) == attachment["file_size"]


def test_production_does_not_fetch_a_file_host_on_a_private_address(sandbox, redis_server_url):
    with livechat_service(sandbox, redis_server_url, sandbox.base_url, ALLOW_PRIVATE_UPSTREAMS=False) \
            as (client, account):
        attachment = first_attachment(client, account)
        resp = client.get(f"/unified/ticketing/attachments/{attachment['id']}/download", integrated_account_id=account)
        err = error(resp, 502)
        assert "non-public address" in err["message"]
