"""End to end in headless Chromium: real forms with CSRF tokens, real Socket.IO in the page.

Flow 1: an organiser signs in, switches a module off and on, adds a session, makes a screen
link. Flow 2: a delegate's phone and the hall screen receive, without a reload, the
announcement the secretariat posts. Screenshots land in tmp_path and /tmp/daihoi-shots/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE
from tests.conftest import PASSWORD

EVENT = "/lao-cai/dai-hoi"


def sign_in(page: Page, username: str, path: str = "/login") -> None:
    """Go to `path` (the login page, or a page that sends there) and sign in by the form."""
    page.goto(path)
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def no_horizontal_overflow(page: Page) -> None:
    """Nothing sticks out of the screen. On a phone (`is_mobile`) content wider than the screen
    does not scroll: Chromium widens the layout viewport to it and shows the page zoomed out,
    so the layout's width is checked against the screen's too, not only against itself."""
    screen = page.viewport_size["width"]
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"page is {scroll}px wide in a {inner}px viewport"
    assert inner == screen, f"the page is laid out {inner}px wide on a {screen}px screen"


@pytest.mark.browser
def test_login_page_speaks_vietnamese_by_default(serve, new_context, shot):
    live, _world = serve(DEFAULT_LOCALE="vi")
    page = new_context(live.url, locale="vi-VN").new_page()
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("h1")).to_have_text("Đăng nhập")
    expect(page.get_by_role("button", name="Đăng nhập")).to_be_visible()
    shot(page, "01-login-vi")


@pytest.mark.browser
def test_a_form_without_its_csrf_token_is_refused(serve, new_context):
    live, _world = serve()
    page = new_context(live.url).new_page()
    page.goto("/login")
    page.fill("#username", "a.admin")
    page.fill("#password", PASSWORD)
    page.locator("form:has(#password) input[name=csrf_token]").evaluate("el => el.remove()")
    with page.expect_response(re.compile(r"/login$")) as resp:
        page.get_by_role("button", name="Sign in").click()
    assert resp.value.status == 400
    expect(page.locator("main")).to_contain_text("The form expired")
    # Nobody was signed in: the event still sends to the login page.
    page.goto(f"{EVENT}/")
    expect(page).to_have_url(re.compile(r"/login\?next="))


@pytest.mark.browser
def test_organiser_manages_modules_sessions_and_screens(serve, new_context, shot):
    live, _world = serve()
    page = new_context(live.url).new_page()
    page.goto("/login")
    expect(page.locator("h1")).to_have_text("Sign in")
    shot(page, "01-login")
    sign_in(page, "a.admin")

    page.goto(f"{EVENT}/manage")
    menu = page.locator("nav.event-menu")
    module = page.locator('li.module[data-module="announcements"]')
    expect(menu).to_contain_text("Announcements")
    expect(module).to_have_class(re.compile(r"\bon\b"))

    # Off: gone from the menu, and its pages answer 404.
    module.get_by_role("button", name="Switch off").click()
    expect(page.locator(".flash-success")).to_contain_text("Switched off: Announcements.")
    expect(module).not_to_have_class(re.compile(r"\bon\b"))
    expect(menu).not_to_contain_text("Announcements")
    resp = page.goto(f"{EVENT}/announcements/")
    assert resp.status == 404
    page.goto(f"{EVENT}/")
    expect(page.locator("nav.event-menu")).not_to_contain_text("Announcements")

    # On again.
    page.goto(f"{EVENT}/manage")
    module.get_by_role("button", name="Switch on").click()
    expect(page.locator(".flash-success")).to_contain_text("Switched on: Announcements.")
    expect(module).to_have_class(re.compile(r"\bon\b"))
    expect(menu).to_contain_text("Announcements")
    assert page.goto(f"{EVENT}/announcements/").status == 200

    # A session through the sessions form.
    page.goto(f"{EVENT}/manage")
    sessions = page.locator("#sessions")
    sessions.locator("#s-name").fill("Phiên bế mạc")
    sessions.locator("#s-kind").select_option("other")
    sessions.get_by_role("button", name="Add session").click()
    expect(page.locator(".flash-success")).to_contain_text("Session added.")
    expect(sessions.locator("ol.list > li")).to_have_count(3)
    expect(sessions.locator("ol.list > li").nth(2)).to_contain_text("Phiên bế mạc")

    # A hall-screen link, shown once.
    screens = page.locator("#screens")
    screens.locator("#p-label").fill("Hội trường A")
    screens.get_by_role("button", name="New screen link").click()
    url = page.locator("[data-new-projector-url]")
    expect(url).to_have_text(re.compile(rf"^{re.escape(live.url)}/p/\S+$"))
    screen_url = url.inner_text().strip()
    expect(screens.locator("ul.list")).to_contain_text("Hội trường A")
    shot(page, "03-settings")
    page.reload()
    expect(page.locator("[data-new-projector-url]")).to_have_count(0)

    # The same page at a phone's width: nothing sticks out, and the tabs stay on one line each.
    page.set_viewport_size(PHONE["viewport"])
    no_horizontal_overflow(page)
    tall_tabs = page.evaluate("""() => [...document.querySelectorAll('.tabs a')]
        .filter(a => a.offsetHeight > 1.5 * parseFloat(getComputedStyle(a).lineHeight))
        .map(a => a.textContent)""")
    assert tall_tabs == [], f"settings tabs wrap on a phone: {tall_tabs}"
    shot(page, "03b-settings-phone")

    # The link works in a browser that never signed in.
    hall = new_context(live.url).new_page()
    hall.goto(screen_url)
    expect(hall).to_have_url(f"{live.url}{EVENT}/projector")
    expect(hall.locator("h1")).to_have_text("Đại hội lao-cai")


@pytest.mark.browser
def test_announcement_reaches_phone_and_hall_screen_live(serve, new_context, shot):
    live, world = serve()
    with live.app.app_context():
        from core import events as event_service
        from core.db import session

        _link, token = event_service.create_projector_link(
            session(), world.event("a"), actor=None, label="Hội trường")
        session().commit()

    # The delegate, on a phone: the event sends to the login form, which sends back.
    phone = new_context(live.url, **PHONE).new_page()
    sign_in(phone, "a.delegate", path=f"{EVENT}/")
    expect(phone).to_have_url(re.compile(rf"{EVENT}/\??$"))
    phone_status = phone.locator("[data-live-status]")
    expect(phone_status).to_have_attribute("data-online", "1")
    expect(phone_status).to_have_text("Live")
    phone_list = phone.locator("[data-announcements]")
    expect(phone_list).to_contain_text("No announcement yet.")
    phone.evaluate("window.__notReloaded = true")

    # The hall screen, through its link.
    hall = new_context(live.url, viewport={"width": 1280, "height": 720}).new_page()
    scripts = {}
    hall.on("response", lambda r: scripts.setdefault(r.url.rsplit("/", 1)[-1], r.status))
    hall.goto(f"/p/{token}")
    expect(hall).to_have_url(f"{live.url}{EVENT}/projector")
    expect(hall.locator("[data-live-status]")).to_have_attribute("data-online", "1")
    box = hall.locator("[data-projector-announcement]")
    expect(box).to_be_hidden()
    hall.evaluate("window.__notReloaded = true")

    # The secretariat posts through the form.
    desk = new_context(live.url).new_page()
    sign_in(desk, "a.secretariat")
    desk.goto(f"{EVENT}/announcements/")
    title = "Đổi phòng: phiên chiều họp tại Hội trường B"
    body = "Đại biểu mang theo thẻ đại biểu và tài liệu phiên trù bị."
    desk.fill("#title", title)
    desk.fill("#body", body)
    desk.select_option("#audience", "all")
    desk.get_by_role("button", name="Send").click()
    expect(desk.locator(".flash-success")).to_contain_text("Announcement sent.")
    expect(desk.locator("[data-announcements] li[data-id] strong").first).to_have_text(title)

    # The phone shows it without a reload.
    expect(phone_list.locator("li[data-id] strong").first).to_have_text(title)
    expect(phone_list.locator(".empty")).to_have_count(0)
    assert phone.evaluate("window.__notReloaded") is True
    expect(phone_status).to_have_attribute("data-online", "1")
    no_horizontal_overflow(phone)
    shot(phone, "02-event-home-phone")

    # So does the hall screen, which has no account: its module scripts must load all the same
    # (they were once served inside the event guard, which sent the screen to /login).
    assert scripts.get("announcements.js") == 200, scripts
    expect(box).to_be_visible()
    expect(box.locator("[data-title]")).to_have_text(title)
    expect(box.locator("[data-body]")).to_have_text(body)
    assert hall.evaluate("window.__notReloaded") is True
    shot(hall, "04-projector")
