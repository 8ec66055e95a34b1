"""The web app in a real browser: Debian's Chromium driven by Playwright.

The browser is the system's (/usr/bin/chromium, installed by
scripts/ensure-system-packages.sh with apt-get when missing); Playwright never
downloads one. A missing browser fails these tests with a message, never skips
them. Screenshots go to tests/artifacts/ for people to look at.
"""

from __future__ import annotations

import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.web.conftest import PASSWORD
from tests.web.server import serving

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
CHAT = ROOT / "tests" / "fixtures" / "whatsapp" / "android_en_gb_24h.txt"


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        subprocess.run(["sh", str(ROOT / "scripts" / "ensure-system-packages.sh")], check=False,
                       timeout=900)
    if not CHROMIUM.exists():
        pytest.fail("Chromium is needed for the browser tests and could not be installed: "
                    "run `apt-get install chromium` (as root), then run the tests again")
    return CHROMIUM


@pytest.fixture
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        launched = playwright.chromium.launch(executable_path=str(chromium), headless=True,
                                              args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def site(app: Any, make_user: Any) -> Iterator[str]:
    make_user("jsmith", "officer", full_name="PC Jane Smith")
    with serving(app) as base:
        yield base


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_an_officer_opens_a_case_uploads_a_chat_filters_opens_an_event_and_exports(
        browser: Browser, site: str, tmp_path: Path) -> None:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(site + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("User name").fill("jsmith")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your cases")).to_be_visible()
    shot(page, "01-signed-in")

    page.get_by_role("link", name="Open a new case").click()
    page.get_by_label("Case reference").fill("OP-1")
    page.get_by_label("Title").fill("Harassment of Alex Morgan")
    page.locator("#victim_name").fill("Alex Morgan")
    page.locator("#suspect_name").fill("Sam Taylor")
    page.locator("#suspect_ids").fill("+44 7700 900123")
    shot(page, "02-new-case-form")
    page.get_by_role("button", name="Open case").click()
    expect(page.get_by_role("heading", name="OP-1: Harassment of Alex Morgan")).to_be_visible()

    page.get_by_role("link", name="Add evidence").first.click()
    page.get_by_label("Received from (name and role)").fill("Alex Morgan (victim)")
    page.get_by_label("How it was obtained").fill("exported from her phone in my presence")
    page.get_by_label("From which device or account").fill("Alex's Android phone")
    page.get_by_label("Consent given by the person handing it over").check()
    page.get_by_label("Files (you can choose several").set_input_files(str(CHAT))
    shot(page, "03-upload-form")
    page.get_by_role("button", name="Store and read the files").click()
    expect(page.get_by_role("heading", name="Evidence added")).to_be_visible()
    expect(page.get_by_text("Read as whatsapp: 10 events")).to_be_visible()
    shot(page, "04-upload-result")

    page.get_by_role("link", name="Open the timeline").click()
    expect(page.locator("table.timeline tbody tr")).to_have_count(10)
    page.get_by_label("Sent by").select_option(label="Sam Taylor (suspect)")
    page.get_by_label("Search the text").fill("alone")
    page.get_by_role("button", name="Show").click()
    rows = page.locator("table.timeline tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Leave me alone")
    shot(page, "05-timeline-filtered")

    rows.first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Where it came from")).to_be_visible()
    expect(page.get_by_label("Original text")).to_contain_text(
        "25/03/2024, 23:59 - +44 7700 900123: Leave me alone")
    page.get_by_label("Add a tag").fill("threat")
    page.get_by_role("button", name="Add tag").click()
    expect(page.locator("#notes + ul")).to_contain_text("threat")
    shot(page, "06-event")

    page.get_by_role("link", name="Export for CPS").click()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Build and download the bundle").click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.name == "OP-1-bundle.zip"
    with zipfile.ZipFile(saved) as bundle:
        originals = [n for n in bundle.namelist() if n.startswith("exhibits/")]
        assert any(bundle.read(n) == CHAT.read_bytes() for n in originals)
    shot(page, "07-export")
    context.close()


def test_the_victim_page_leaves_on_escape_and_works_with_the_keyboard(
        browser: Browser, site: str) -> None:
    officer = browser.new_context()
    page = officer.new_page()
    page.goto(site + "/login")
    page.get_by_label("User name").fill("jsmith")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(site + "/cases/new")
    page.get_by_label("Case reference").fill("OP-2")
    page.get_by_label("Title").fill("Victim link")
    page.get_by_role("button", name="Open case").click()
    page.get_by_role("link", name="Victim upload links").click()
    page.get_by_label("Label (for you").fill("Alex, screenshots")
    page.get_by_role("button", name="Create link").click()
    link = page.get_by_label("Upload link").input_value()
    officer.close()

    victim = browser.new_context()
    # The real exit (a weather page) is answered here: tests never leave this machine.
    victim.route("https://www.bbc.co.uk/**",
                 lambda route: route.fulfill(body="<h1>Weather</h1>", content_type="text/html"))
    page = victim.new_page()
    page.goto(link)
    expect(page.get_by_role("heading", name="Send files to the police")).to_be_visible()
    expect(page.get_by_role("link", name="Leave this site")).to_be_visible()
    shot(page, "08-victim-upload")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Leave this site")).to_be_focused()
    page.keyboard.press("Escape")
    page.wait_for_url("https://www.bbc.co.uk/weather")
    assert victim.cookies() == []
    victim.close()


def test_a_keyboard_user_can_skip_to_the_content(browser: Browser, site: str) -> None:
    page = browser.new_page()
    page.goto(site + "/login")
    # The sign-in form takes the focus itself, so the keyboard starts in the right place.
    expect(page.get_by_label("User name")).to_be_focused()
    page.keyboard.type("jsmith")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your cases")).to_be_visible()
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.close()
