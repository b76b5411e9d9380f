"""End to end in headless Chromium: two delegates vote from phone-sized pages, the board opens,
closes and publishes from its console, and the hall screen in another context shows the
turnout live, then "counting", then the result — none of it reloaded."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_checkin_e2e import LIVE_TIMEOUT_MS, open_hall
from tests.browser.test_e2e import no_horizontal_overflow, sign_in
from tests.conftest import PASSWORD

EVENT = "/lao-cai/dai-hoi"
CANDIDATES = (("Lò Văn Sơn", "Bí thư Huyện đoàn Bát Xát"), ("Giàng Thị Mỷ", "Thành đoàn Lào Cai"),
              ("Vàng A Páo", None))


def prepare(server, world) -> int:
    """DB0001 (a.delegate) and DB0002 (a.delegate2) checked in; a secret election prepared."""
    import uuid

    from core.accounts import create_account
    from core.db import session
    from plugins.checkin import services as checkin
    from plugins.delegates.services import adopt_account
    from plugins.voting import services
    from tests.plugins.checkin.conftest import person

    hall = open_hall(server, world)
    with server.app.app_context():
        db = session()
        ev = world.event("a")
        adopt_account(db, ev, "DB0001", world.user("a.delegate"))
        adopt_account(db, ev, "DB0002", create_account(
            db, actor=None, unit=None, username="a.delegate2", full_name="x",
            password=PASSWORD))
        lst = checkin.get_list(db, ev, hall.list_id)
        for code in ("DB0001", "DB0002"):
            checkin.record_scan(db, ev, lst, nonce=uuid.uuid4().hex,
                                code=person(ev, code).checkin_secret)
        poll = services.create_poll(db, ev, services.PollInput(
            title="Bầu Bí thư Tỉnh đoàn", kind="election", mode="secret", seats=1,
            options=CANDIDATES), actor=None)
        db.commit()
        return poll.id, hall.projector_token


def phone(new_context, server, username: str) -> Page:
    page = new_context(server.url, **PHONE).new_page()
    sign_in(page, username)
    page.goto(f"{EVENT}/voting/ballot")
    expect(page.locator("[data-live-status]")).to_have_attribute("data-online", "1",
                                                                 timeout=LIVE_TIMEOUT_MS)
    page.on("dialog", lambda d: d.accept())
    return page


def vote(page: Page, poll_id: int, name: str) -> str:
    form = page.locator(f'form[data-ballot="{poll_id}"]')
    expect(form).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    no_horizontal_overflow(page)
    form.locator("label", has_text=name).click()
    expect(form.locator("[data-kept]")).to_have_text("1")
    form.get_by_role("button", name="Cast my vote").click()
    section = page.locator(f'[data-ballot-poll="{poll_id}"]')
    expect(section).to_contain_text("You have voted.", timeout=LIVE_TIMEOUT_MS)
    receipt = section.locator(f'[data-receipt-for="{poll_id}"]')
    expect(receipt).to_have_attribute("data-receipt", re.compile(r"^[A-Z2-9]{5}-[A-Z2-9]{5}$"))
    return receipt.get_attribute("data-receipt")


@pytest.mark.browser
def test_two_phones_vote_and_the_hall_screen_follows(serve, new_context, shot):
    server, world = serve()
    poll_id, token = prepare(server, world)

    screen = new_context(server.url, viewport={"width": 1280, "height": 720}).new_page()
    screen.goto(f"/p/{token}")
    expect(screen.locator("[data-live-status]")).to_have_attribute("data-online", "1",
                                                                  timeout=LIVE_TIMEOUT_MS)
    screen.evaluate("window.__notReloaded = true")
    panel = screen.locator("[data-vote-screen]")

    first = phone(new_context, server, "a.delegate")
    second = phone(new_context, server, "a.delegate2")
    expect(first.locator("[data-no-poll]")).to_be_visible()

    board = new_context(server.url, viewport=DESKTOP).new_page()
    board.on("dialog", lambda d: d.accept())
    sign_in(board, "a.secretariat")
    board.goto(f"{EVENT}/voting/polls/{poll_id}")
    board.get_by_role("button", name="Open voting").click()
    expect(board.locator("[data-poll-status]")).to_have_text("Voting open")

    # The ballot appears on the phones without a reload; the screen shows 0 of 2.
    expect(panel.locator("[data-voted]")).to_have_text("0", timeout=LIVE_TIMEOUT_MS)
    expect(panel.locator("[data-eligible]")).to_have_text("2")
    expect(panel.locator("[data-vote-title]")).to_have_text("Bầu Bí thư Tỉnh đoàn")
    # The second phone starts filling in its ballot before the first votes: the live update
    # that follows must not reset it.
    second.locator(f'form[data-ballot="{poll_id}"] label', has_text="Giàng Thị Mỷ").click()

    receipt1 = vote(first, poll_id, "Lò Văn Sơn")
    expect(panel.locator("[data-voted]")).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
    expect(second.locator(f'form[data-ballot="{poll_id}"] [data-kept]')).to_have_text("1")
    shot(first, "40-phone-voted")
    shot(screen, "41-screen-turnout")
    # Switch to the other candidate, then vote.
    form2 = second.locator(f'form[data-ballot="{poll_id}"]')
    form2.locator("label", has_text="Giàng Thị Mỷ").click()
    receipt2 = vote(second, poll_id, "Lò Văn Sơn")
    assert receipt1 != receipt2
    expect(panel.locator("[data-voted]")).to_have_text("2", timeout=LIVE_TIMEOUT_MS)
    # No partial count reached the screen.
    expect(panel.locator("[data-vote-result]")).to_be_hidden()

    board.get_by_role("button", name="Close now").click()
    expect(board.locator("[data-poll-status]")).to_have_text("Counting")
    expect(panel.locator("[data-vote-counting]")).to_be_visible(timeout=LIVE_TIMEOUT_MS)

    tellers = new_context(server.url, viewport=DESKTOP).new_page()
    tellers.on("dialog", lambda d: d.accept())
    sign_in(tellers, "a.tellers")
    tellers.goto(f"{EVENT}/voting/polls/{poll_id}")
    tellers.get_by_role("button", name="Publish the result").click()
    expect(tellers.locator("[data-poll-status]")).to_have_text("Published")

    result = panel.locator("[data-vote-result]")
    expect(result).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    elected = result.locator("li.elected")
    expect(elected).to_have_count(1)
    expect(elected).to_contain_text("Lò Văn Sơn")
    expect(elected).to_contain_text("2 · 100.00%")
    assert screen.evaluate("window.__notReloaded") is True
    shot(screen, "42-screen-result")

    # The phones show the result too, and each finds its receipt among the counted ballots.
    expect(first.locator(f'[data-ballot-poll="{poll_id}"]')).to_contain_text(
        "elected", timeout=LIVE_TIMEOUT_MS)
    first.get_by_role("link", name="Find my receipt in the counted ballots").click()
    first.fill("[data-receipt-input]", receipt1)
    first.get_by_role("button", name="Find").click()
    expect(first.locator("[data-found]")).to_contain_text(receipt1)
    no_horizontal_overflow(first)
    shot(first, "43-phone-receipt")
