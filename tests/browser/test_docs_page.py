"""/docs in a real browser (issue 18 item 3): Swagger UI renders every operation from our own assets,
and no request leaves the service (resource timing entries, CSP violations)."""
from urllib.parse import urlsplit

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

# Installed before any page script runs (CDP scripts are not subject to the page's CSP).
WATCH = """window.__violations = [];
document.addEventListener("securitypolicyviolation",
                          e => __violations.push(e.blockedURI + " " + e.violatedDirective));"""


def test_docs_render_the_operations_with_nothing_from_outside(browser, service):
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
    browser.get(f"{service}/docs")
    WebDriverWait(browser, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) > 20)
    paths = {e.get_attribute("data-path") for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/unified/ticketing/tickets", "/integrated-accounts/{account_id}/logs", "/connect"} <= paths
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert any(name.endswith("/docs/assets/swagger-ui-bundle.js") for name in resources)
    assert any(name.endswith("/openapi.yaml") for name in resources)
    ours = urlsplit(service).netloc
    assert [name for name in resources if urlsplit(name).scheme in ("http", "https")
            and urlsplit(name).netloc != ours] == []
    assert browser.execute_script("return window.__violations") == []
