"""Headless Chromium (Debian's `chromium` and `chromium-driver`, installed by .ci/run) driven by Selenium.

Flags keep the browser from calling home: on a closed network its background requests would fail
or hang, and a test that checks "no request leaves localhost" must see only the page's own.
"""
import contextlib
import shutil
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,900"]


@contextlib.contextmanager
def chromium(javascript: bool = True):
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        raise RuntimeError("The browser tests need Debian's chromium and chromium-driver: "
                           "apt-get install -y chromium chromium-driver (.ci/run does)")
    profile = tempfile.mkdtemp(prefix="ut-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser():
    with chromium() as driver:
        yield driver


@pytest.fixture
def browser_without_js():
    with chromium(javascript=False) as driver:
        yield driver


class _App(BaseHTTPRequestHandler):
    """The tenant's own app: where the connect page sends the user back, and a page framing it."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path.startswith("/frame"):
            target = self.path.split("src=", 1)[1]
            from urllib.parse import unquote

            body = (f'<!doctype html><title>app</title><script>window.messages = [];'
                    f'addEventListener("message", e => messages.push({{origin: e.origin, data: e.data}}));</script>'
                    f'<iframe id="connect" src="{unquote(target)}" width="800" height="800"></iframe>')
        else:
            body = "<!doctype html><title>back in the app</title><h1>Back in the app</h1>"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_):
        pass


@pytest.fixture(scope="session")
def app_site():
    """Base URL of a local stand-in for the tenant's app."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _App)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
