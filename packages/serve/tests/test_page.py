"""The listener page in a real headless browser (Debian's chromium driven by Playwright):
ask for a story, read a citation's fact on focus and hover, send feedback, find it stored."""

from __future__ import annotations

import os
import shutil
from urllib.parse import urlsplit

import httpx
import pytest
from linernotes_tuning.store import read_events

REQUIRE = "LINERNOTES_REQUIRE_BROWSER"


def chromium() -> str:
    """The chromium executable: $LINERNOTES_CHROMIUM, else chromium on the PATH."""
    found = os.environ.get("LINERNOTES_CHROMIUM") or next(
        filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None
    )
    if not found:
        reason = "no chromium: install Debian's chromium or set LINERNOTES_CHROMIUM"
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{reason} ({REQUIRE}=1)")
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def browser():
    executable = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(tiny_pipeline, run_server, tmp_path_factory):
    """A server for the tiny pipeline: its URL and feedback folder."""
    from linernotes_serve import create_app

    feedback = tmp_path_factory.mktemp("page") / "feedback"
    with run_server(create_app(tiny_pipeline, feedback_dir=feedback)) as url:
        yield url, feedback


@pytest.fixture
def page(browser, site):
    """A fresh page that records the host of every request it makes, and its script errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.hosts, page.errors = [], []
    page.on("request", lambda r: page.hosts.append(urlsplit(r.url).netloc))
    page.on("pageerror", lambda e: page.errors.append(e))
    yield page
    context.close()


def ask(page, expect):
    """Submit the form; the result JSON the page received."""
    with page.expect_response("**/v1/recommend") as response:
        page.get_by_role("button", name="Write the liner notes").click()
    result = response.value.json()
    expect(page.locator(".picks li")).to_have_count(len(result["picks"]))
    return result


def test_a_listener_story_with_citations_and_a_thumbs_up(page, site):
    from playwright.sync_api import expect

    url, feedback = site
    page.goto(url + "/")
    expect(page).to_have_title("linernotes: what to play next, and why")
    page.get_by_label("Listener", exact=True).select_option("1")
    page.get_by_label("Mood").select_option("calm")
    result = ask(page, expect)

    expect(page.locator("#results")).to_have_attribute("aria-live", "polite")
    names = [p["item"]["name"] for p in result["picks"]]
    expect(page.locator(".pick-name")).to_have_text(names)
    story = result["story"]
    cites = page.locator(".story .cite a")
    expect(cites).to_have_count(story["text"].count("["))
    expect(page.locator(".sources li")).to_have_count(len(story["citations"]))
    facts = {f["id"]: f["text"] for f in result["facts"]["facts"]}

    first = cites.first
    n = first.inner_text().strip("[]")
    fact = facts[story["citations"][n]]
    tip = page.locator(".story .tip").first
    expect(tip).to_be_hidden()
    page.locator(".picks button").last.focus()
    page.keyboard.press("Tab")  # from the last pick, Tab reaches the story's first citation
    expect(first).to_be_focused()
    expect(tip).to_be_visible()
    expect(tip).to_have_text(fact)
    expect(first).to_have_accessible_description(fact)
    page.keyboard.press("Escape")
    expect(tip).to_be_hidden()

    cites.last.hover()
    expect(page.locator(".story .tip").last).to_be_visible()

    page.get_by_role("button", name="Thumbs up").click()
    expect(page.get_by_role("status")).to_have_text("Thanks, your thumbs up is saved.")
    expect(page.get_by_role("button", name="Thumbs up")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name=f"Played {names[0]}").click()
    expect(page.get_by_role("status")).to_have_text(f"Noted: you played {names[0]}.")

    events = read_events(feedback).filter(story_id=story["id"])
    assert sorted(events["event"].to_list()) == ["impression", "play", "thumbs_up"]
    assert set(events["listener"]) == {"1"}
    assert events.filter(event="play")["item"].to_list() == [result["picks"][0]["item"]["id"]]
    impression = events.filter(event="impression").row(0, named=True)
    assert impression["story"] == story["text"]
    assert set(page.hosts) == {urlsplit(url).netloc}  # nothing loaded from elsewhere
    assert not page.errors


def test_inline_artists_on_a_phone(browser, site):
    from playwright.sync_api import expect

    url, feedback = site
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(url + "/")
        page.get_by_label("Artists I name").check()
        page.get_by_label("Artists", exact=True).fill("zzzzqqqq")
        page.get_by_role("button", name="Write the liner notes").click()
        expect(page.get_by_role("alert")).to_contain_text("no artist in the catalog matches")

        page.get_by_label("Artists", exact=True).fill("Rock Artist A, rock artist b")
        page.get_by_label("Activity").select_option("running")
        result = ask(page, expect)
        assert result["request"]["listener"]["id"] is None
        expect(page.get_by_role("alert")).to_be_hidden()
        expect(page.locator(".eyebrow")).to_have_text("Liner notes · running")
        wide = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not wide, "the page scrolls sideways on a phone"

        page.get_by_role("button", name="Thumbs down").click()
        expect(page.get_by_role("status")).to_have_text("Thanks, your thumbs down is saved.")
        events = read_events(feedback).filter(story_id=result["story"]["id"])
        assert sorted(events["event"].to_list()) == ["impression", "thumbs_down"]
        assert set(events["listener"]) == {result["request"]["id"]}  # as impressions are keyed
    finally:
        context.close()


def test_an_api_key_is_asked_for_on_401(browser, tiny_pipeline, run_server):
    from linernotes_serve import create_app
    from playwright.sync_api import expect

    app = create_app(tiny_pipeline, api_keys=["s3cret"])
    with run_server(app) as url:
        assert httpx.get(url + "/v1/contexts").status_code == 401
        page = browser.new_page()
        try:
            page.goto(url + "/")
            expect(page.get_by_role("alert")).to_contain_text("no API key")
            key = page.get_by_label("API key")
            expect(key).to_be_focused()
            key.fill("s3cret")
            page.get_by_role("button", name="Use key").click()
            page.get_by_label("Listener", exact=True).select_option("2")
            ask(page, expect)
            assert page.evaluate("sessionStorage.getItem('linernotes.apiKey')") == "s3cret"
        finally:
            page.close()


def test_the_page_routes(site):
    url, _ = site
    page = httpx.get(url + "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for path in ("/static/app.js", "/static/style.css", "/static/icon.svg"):
        assert httpx.get(url + path).status_code == 200, path
    listeners = httpx.get(url + "/v1/listeners", params={"limit": 3}).json()
    assert listeners["total"] == 40
    assert [x["id"] for x in listeners["listeners"]] == ["1", "2", "3"]
    assert all(x["label"].count(",") == 2 for x in listeners["listeners"])
    assert httpx.get(url + "/v1/listeners", params={"limit": 0}).status_code == 422
    assert "calm" in httpx.get(url + "/v1/contexts").json()["mood"]
    paths = httpx.get(url + "/openapi.json").json()["paths"]
    assert {"/v1/listeners", "/v1/contexts"} <= set(paths) and "/" not in paths
