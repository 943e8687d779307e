"""The connect page in a real browser (issue 18 item 4): a token integration's form against the
sandbox (inline error for a wrong token, then success back in the app with integrated_account_id),
keyboard only, without JavaScript, and framed by the app (postMessage to the app's origin)."""
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import new_tenant

TOKEN_ID, ACCOUNT_ID = "livechat-personal_access_token-token", "livechat-personal_access_token-account_id"


@pytest.fixture(scope="module")
def client(service):
    return new_tenant(service, "browser-connect")


def link_page(client, service, app_site) -> str:
    made = client.post("/link-tokens", json={"integration": "livechat", "redirect_uri": f"{app_site}/done"})
    assert made.status_code == 201, made.text
    return f"{service}/connect?link_token={made.json()['link_token']}"


def back_in_app(driver, app_site) -> str:
    """The integrated account id the app got back."""
    WebDriverWait(driver, 60).until(lambda d: d.current_url.startswith(f"{app_site}/done"))
    return parse_qs(urlsplit(driver.current_url).query)["integrated_account_id"][0]


def fill(driver, field_id: str, text: str) -> None:
    box = driver.find_element(By.ID, field_id)
    box.clear()
    box.send_keys(text)


def test_wrong_token_is_shown_inline_then_connecting_returns_to_the_app(browser, client, service, app_site,
                                                                        credentials):
    browser.get(link_page(client, service, app_site))
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("class") == "js"  # connect.js ran
    assert browser.find_element(By.CSS_SELECTOR, f"label[for={ACCOUNT_ID}]").text == "Account ID"
    fill(browser, ACCOUNT_ID, credentials["account_id"])
    fill(browser, TOKEN_ID, "dal:wrong-token-123")
    browser.find_element(By.ID, TOKEN_ID).submit()
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.ID, f"{TOKEN_ID}-error"))
    token = browser.find_element(By.ID, TOKEN_ID)
    assert token.get_attribute("aria-invalid") == "true"
    assert browser.switch_to.active_element == token  # focus on the first error
    assert "did not accept these credentials" in browser.find_element(By.ID, f"{TOKEN_ID}-error").text
    assert token.get_attribute("value") == ""  # the secret is not filled back in
    assert browser.find_element(By.ID, ACCOUNT_ID).get_attribute("value") == credentials["account_id"]
    assert browser.find_element(By.CSS_SELECTOR, "[role=alert]").is_displayed()
    fill(browser, TOKEN_ID, credentials["personal_access_token"])
    browser.find_element(By.CSS_SELECTOR, "form[action='/connect/livechat'] button[type=submit]").click()
    account = back_in_app(browser, app_site)
    assert client.get(f"/integrated-accounts/{account}").json()["integration"] == "livechat"


def test_the_form_works_from_the_keyboard_alone(browser, client, service, app_site, credentials):
    browser.get(link_page(client, service, app_site))
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    for _ in range(10):  # past the OAuth link, to the first input
        if browser.switch_to.active_element.get_attribute("id") == ACCOUNT_ID:
            break
        browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == ACCOUNT_ID
    browser.switch_to.active_element.send_keys(credentials["account_id"], Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == TOKEN_ID
    browser.switch_to.active_element.send_keys(credentials["personal_access_token"], Keys.TAB)
    assert browser.switch_to.active_element.tag_name == "button"
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    back_in_app(browser, app_site)


def test_the_form_works_without_javascript(browser_without_js, client, service, app_site, credentials):
    driver = browser_without_js
    driver.get(link_page(client, service, app_site) + "&state=s-42")  # the app's own state, given back
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("class") == ""  # connect.js did not run
    driver.find_element(By.ID, TOKEN_ID).submit()  # nothing filled in: the server says what is missing
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, f"{ACCOUNT_ID}-error"))
    assert driver.switch_to.active_element.get_attribute("id") == ACCOUNT_ID  # autofocus, no script needed
    assert driver.find_element(By.ID, f"{TOKEN_ID}-error").text.endswith("Enter the Personal access token")
    fill(driver, ACCOUNT_ID, credentials["account_id"])
    fill(driver, TOKEN_ID, credentials["personal_access_token"])
    driver.find_element(By.ID, TOKEN_ID).submit()
    account = back_in_app(driver, app_site)
    assert parse_qs(urlsplit(driver.current_url).query)["state"] == ["s-42"]
    assert client.get(f"/integrated-accounts/{account}").status_code == 200


def test_a_framed_page_posts_the_account_to_the_app(browser, client, service, app_site, credentials):
    browser.get(f"{app_site}/frame?src={quote(link_page(client, service, app_site), safe='')}")
    browser.switch_to.frame(browser.find_element(By.ID, "connect"))
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.ID, TOKEN_ID))
    fill(browser, ACCOUNT_ID, credentials["account_id"])
    fill(browser, TOKEN_ID, credentials["personal_access_token"])
    browser.find_element(By.ID, TOKEN_ID).submit()
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.ID, "integrated-account-id"))
    account = browser.find_element(By.ID, "integrated-account-id").text
    browser.switch_to.default_content()
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return window.messages.length"))
    [message] = browser.execute_script("return window.messages")
    assert message["origin"] == service
    assert message["data"] == {"type": "unified-ticketing.connected", "integrated_account_id": account,
                               "state": None}
