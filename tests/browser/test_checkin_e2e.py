"""End to end in headless Chromium for the check-in station: a badge shown to a (fake) camera,
a USB scanner typing into the page on a phone, scans queued offline and sent when the network
returns (also across a reload), a manual check-in found by name, and undo. The hall screen's
attendance counter follows without a reload."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import select

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE, TIMEOUT_MS
from tests.browser.test_e2e import no_horizontal_overflow, sign_in
from tests.plugins.conftest import ROSTER

EVENT = "/lao-cai/dai-hoi"
STATION = f"{EVENT}/checkin/station"
# Decoding starts once the fake camera delivers frames; give it longer than a page wait.
CAMERA_TIMEOUT_MS = 20000
SYNC_TIMEOUT_MS = 15000
# A busy machine (the suite runs beside others) can take seconds to connect or answer.
LIVE_TIMEOUT_MS = 15000


@dataclass
class Hall:
    list_id: int
    secrets: dict[str, str]      # delegate code -> badge secret
    names: dict[str, str]        # delegate code -> full name
    projector_token: str


def open_hall(server, world) -> Hall:
    """The 300-delegate roster in event "a", all accepted, both lists open, a screen link."""
    from core import events as event_service
    from core.db import session
    from plugins.checkin import services
    from plugins.delegates.models import Delegate
    from plugins.delegates.roster_import import apply_roster, parse_roster
    from tests.plugins.checkin.conftest import approve_all, lists_of

    with server.app.app_context():
        ev = world.event("a")
        preview = parse_roster(ROSTER.read_bytes(), ROSTER.name)
        assert preview.ok, preview.problems[:5]
        apply_roster(session(), ev, preview, actor=None)
        session().commit()
        approve_all(ev)
        lists_of(ev)
        current = services.current_list(session(), ev)
        people = session().scalars(select(Delegate).where(
            Delegate.event_id == ev.id, Delegate.code.in_(
                [f"DB{n:04d}" for n in range(1, 11)]))).all()
        _link, token = event_service.create_projector_link(session(), ev, actor=None,
                                                           label="Hội trường")
        session().commit()
        return Hall(list_id=current.id, secrets={d.code: d.checkin_secret for d in people},
                    names={d.code: d.full_name for d in people}, projector_token=token)


def present(server, world, list_id: int) -> int:
    from core.db import session
    from plugins.checkin import services

    with server.app.app_context():
        ev = world.event("a")
        return services.attendance(session(), ev, services.get_list(session(), ev, list_id))[
            "present"]


def badge_video(path: Path, text: str, frames: int = 30) -> Path:
    """A Y4M clip (4:2:0) of a badge QR code on white, for Chromium's fake camera."""
    import qrcode
    from PIL import Image

    qr = qrcode.QRCode(border=4, box_size=10)
    qr.add_data(text)
    code = qr.make_image(fill_color="black", back_color="white").get_image().convert("L")
    code = code.resize((360, 360), Image.NEAREST)
    frame = Image.new("RGB", (640, 480), "white")
    frame.paste(code, ((640 - 360) // 2, (480 - 360) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    planes = (y.tobytes() + cb.resize((320, 240), Image.BILINEAR).tobytes()
              + cr.resize((320, 240), Image.BILINEAR).tobytes())
    with path.open("wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(frames):
            out.write(b"FRAME\n")
            out.write(planes)
    return path


def open_station(page: Page, username: str = "a.checkin") -> list[str]:
    """Sign in on the station page; the list collects the page's script errors."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, username, STATION)
    expect(page).to_have_url(re.compile(rf"{STATION}$"))
    expect(page.locator("[data-live-status]")).to_have_attribute("data-online", "1",
                                                                timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("[data-list-open]")).to_have_attribute("data-open", "1")
    return errors


def wedge_scan(page: Page, code: str) -> None:
    """What a USB scanner does: type into whatever has the focus, then Enter."""
    expect(page.locator("[data-wedge]")).to_be_focused()
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def verdict(page: Page, kind: str, text: str | None = None) -> None:
    box = page.locator("[data-verdict]")
    expect(box).to_have_attribute("data-verdict", kind, timeout=LIVE_TIMEOUT_MS)
    if text:
        expect(box).to_contain_text(text)


@pytest.mark.browser
def test_camera_scan_checks_in_and_hall_screen_counts_live(serve, new_context, browser, shot,
                                                          tmp_path):
    server, world = serve()
    hall = open_hall(server, world)
    video = badge_video(tmp_path / "badge.y4m", hall.secrets["DB0001"])

    # The hall screen, without an account: the counter starts at 0.
    screen = new_context(server.url, viewport={"width": 1280, "height": 720}).new_page()
    screen.goto(f"/p/{hall.projector_token}")
    expect(screen).to_have_url(f"{server.url}{EVENT}/projector")
    expect(screen.locator("[data-live-status]")).to_have_attribute("data-online", "1",
                                                                  timeout=LIVE_TIMEOUT_MS)
    counter = screen.locator("[data-att-present]").first
    expect(counter).to_have_text("0")
    screen.evaluate("window.__notReloaded = true")

    # A Chromium of its own whose camera films the badge.
    camera = browser.browser_type.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=[*CHROMIUM_ARGS, "--use-fake-device-for-media-stream",
              "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={video}"])
    try:
        ctx = camera.new_context(base_url=server.url, locale="en-US", viewport=DESKTOP)
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.grant_permissions(["camera"], origin=server.url)
        page = ctx.new_page()
        errors = open_station(page)
        toggle = page.locator("[data-camera-toggle]")
        toggle.click()
        expect(toggle).to_have_attribute("data-state", "on")
        box = page.locator("[data-verdict]")
        expect(box).to_have_attribute("data-verdict", "in", timeout=CAMERA_TIMEOUT_MS)
        expect(page.locator("[data-person-name]")).to_have_text(hall.names["DB0001"])
        expect(box).to_contain_text("DB0001")
        expect(page.locator("[data-queue-count]")).to_have_text("0")
        shot(page, "30-station-verdict")

        # The badge stays in front of the camera: still one check-in, no second verdict.
        page.wait_for_timeout(1500)
        expect(box).to_have_attribute("data-verdict", "in")
        expect(page.locator("[data-station-recent] li[data-scan]")).to_have_count(1)

        # The hall screen counted it, live.
        expect(counter).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
        assert screen.evaluate("window.__notReloaded") is True
        shot(screen, "31-projector-attendance")

        toggle.click()
        expect(toggle).to_have_attribute("data-state", "off")
        assert page.evaluate("DaiHoiCamera.running()") is False
        assert errors == []
        ctx.close()
    finally:
        camera.close()
    assert present(server, world, hall.list_id) == 1


@pytest.mark.browser
def test_usb_scanner_on_a_phone(serve, new_context, shot):
    server, world = serve()
    hall = open_hall(server, world)
    page = new_context(server.url, **PHONE).new_page()
    errors = open_station(page)
    no_horizontal_overflow(page)

    wedge_scan(page, hall.secrets["DB0002"])
    verdict(page, "in", "Checked in")
    expect(page.locator("[data-person-name]")).to_have_text(hall.names["DB0002"])
    shot(page, "32-station-phone-in")

    wedge_scan(page, hall.secrets["DB0002"])
    verdict(page, "again", "Already checked in")
    expect(page.locator("[data-person-name]")).to_have_text(hall.names["DB0002"])
    shot(page, "33-station-phone-again")

    # Exit: this session does not record check-out, so the server refuses it. A click on a
    # button hands the focus back to the scanner's field.
    page.get_by_role("button", name="Exit").click()
    expect(page.locator("[data-exit-note]")).to_be_visible()
    wedge_scan(page, hall.secrets["DB0002"])
    verdict(page, "refused", "does not record check-out")
    page.get_by_role("button", name="Entry").click()
    expect(page.locator("[data-exit-note]")).to_be_hidden()

    wedge_scan(page, "not-a-badge-of-anyone")
    verdict(page, "refused", "Unknown code")
    expect(page.locator("[data-person-name]")).to_have_text("")
    expect(page.locator("[data-wedge]")).to_have_value("")
    expect(page.locator("[data-wedge]")).to_be_focused()
    no_horizontal_overflow(page)
    shot(page, "34-station-phone-refused")

    # Newest first: two refusals (nothing to undo), then the two entries of DB0002.
    recent = page.locator("[data-station-recent] li[data-scan]")
    expect(recent).to_have_count(4)
    expect(recent.nth(0).locator("[data-undo]")).to_have_count(0)
    expect(recent.nth(1).locator("[data-undo]")).to_have_count(0)
    expect(recent.nth(2).locator("[data-undo]")).to_have_count(1)
    expect(recent.nth(3).locator("[data-undo]")).to_have_count(1)
    assert present(server, world, hall.list_id) == 1
    assert errors == []


def go_offline(page: Page) -> bool:
    """No network. Chromium drops the open websocket then, as a lost Wi-Fi would; should it
    not, the socket is dropped by hand (and must then be reconnected by hand: True)."""
    page.context.set_offline(True)
    try:
        page.wait_for_function("!DaiHoi.socket.connected", timeout=3000)
        dropped_by_hand = False
    except PlaywrightTimeout:
        page.evaluate("DaiHoi.socket.disconnect()")
        dropped_by_hand = True
    expect(page.locator("[data-offline]")).to_be_visible()
    return dropped_by_hand


def go_online(page: Page, dropped_by_hand: bool) -> None:
    page.context.set_offline(False)
    if dropped_by_hand:
        page.evaluate("DaiHoi.socket.connect()")


@pytest.mark.browser
def test_offline_queue_is_kept_and_sent_when_back(serve, new_context, shot):
    server, world = serve()
    hall = open_hall(server, world)
    page = new_context(server.url).new_page()
    errors = open_station(page)
    count = page.locator("[data-queue-count]")
    offline = page.locator("[data-offline]")
    expect(count).to_have_text("0")
    expect(offline).to_be_hidden()

    by_hand = go_offline(page)
    for code in ("DB0003", "DB0004", "DB0005"):
        wedge_scan(page, hall.secrets[code])
        verdict(page, "queued", "saved on this device")
    expect(count).to_have_text("3")
    expect(offline).to_have_text(re.compile(r"Offline — 3 waiting"))
    shot(page, "35-station-offline")
    assert present(server, world, hall.list_id) == 0

    go_online(page, by_hand)
    expect(count).to_have_text("0", timeout=SYNC_TIMEOUT_MS)
    expect(page.locator("[data-sync-summary]")).to_contain_text("Saved scans sent: 3 — 3 recorded")
    expect(page.locator("[data-station-recent] li[data-scan]")).to_have_count(3)
    assert present(server, world, hall.list_id) == 3
    expect(page.locator("[data-live-status]")).to_have_attribute("data-online", "1",
                                                                timeout=SYNC_TIMEOUT_MS)
    expect(offline).to_be_hidden()
    shot(page, "36-station-synced")

    # Two more while the network is down. The network comes back but the upload address does
    # not answer yet, and the page is reloaded: the new page finds both in IndexedDB, and its
    # retry sends them once the address answers.
    go_offline(page)
    wedge_scan(page, hall.secrets["DB0006"])
    wedge_scan(page, hall.secrets["DB0003"])      # already in: reported as a conflict
    expect(count).to_have_text("2")
    uploads = "**/checkin/lists/*/scans"
    page.route(uploads, lambda route: route.abort())
    page.context.set_offline(False)
    page.reload()
    expect(page.locator("[data-live-status]")).to_have_attribute("data-online", "1",
                                                                timeout=LIVE_TIMEOUT_MS)
    expect(count).to_have_text("2")
    page.unroute(uploads)
    expect(page.locator("[data-sync-summary]")).to_contain_text(
        "Saved scans sent: 2 — 1 recorded, 1 already checked in", timeout=SYNC_TIMEOUT_MS)
    expect(count).to_have_text("0")
    conflicts = page.locator("[data-conflicts] li")
    expect(conflicts).to_have_count(1)
    expect(conflicts.first).to_contain_text(hall.names["DB0003"])
    expect(conflicts.first).to_contain_text("Already checked in at")
    assert present(server, world, hall.list_id) == 4
    assert errors == []
    shot(page, "37-station-synced-after-reload")


@pytest.mark.browser
def test_manual_check_in_by_name_and_undo(serve, new_context, shot):
    from core.db import session
    from plugins.checkin.models import CheckinScan

    server, world = serve()
    hall = open_hall(server, world)
    page = new_context(server.url).new_page()
    errors = open_station(page)
    page.locator("[data-station-name]").fill("Cổng A")

    # No badge: found by name without diacritics, entered by hand with a reason.
    page.locator("[data-search]").fill("hoang van manh")
    item = page.locator("[data-search-results] li", has_text="DB0001")
    expect(item).to_contain_text(hall.names["DB0001"])
    expect(item).to_contain_text("not checked in")
    item.locator("[data-manual]").click()
    item.locator("[data-manual-confirm]").click()          # no reason yet: nothing is sent
    expect(page.locator("[data-verdict]")).to_have_attribute("data-verdict", "idle")
    item.locator("[data-manual-reason]").fill("Quên thẻ ở khách sạn")
    shot(page, "38-station-manual")
    item.locator("[data-manual-confirm]").click()
    verdict(page, "in", "Checked in")
    expect(page.locator("[data-person-name]")).to_have_text(hall.names["DB0001"])
    expect(page.locator("[data-search-results] li", has_text="DB0001")).to_contain_text(
        "present since")
    assert present(server, world, hall.list_id) == 1

    # A wrong badge scanned: undone from the station's own list.
    page.locator("[data-wedge]").focus()
    wedge_scan(page, hall.secrets["DB0002"])
    verdict(page, "in")
    expect(page.locator("[data-person-name]")).to_have_text(hall.names["DB0002"])
    assert present(server, world, hall.list_id) == 2
    latest = page.locator("[data-station-recent] li[data-scan]").first
    expect(latest).to_contain_text(hall.names["DB0002"])
    latest.locator("[data-undo]").click()
    latest.locator("[data-undo-confirm]").click()
    verdict(page, "undone", hall.names["DB0002"])
    expect(latest).to_have_class(re.compile(r"\bundone\b"))
    expect(latest.locator("[data-undo]")).to_have_count(0)
    assert present(server, world, hall.list_id) == 1
    shot(page, "39-station-undo")

    with server.app.app_context():
        scans = session().scalars(select(CheckinScan).order_by(CheckinScan.id)).all()
        assert [(s.method, s.station, s.undone_at is not None) for s in scans] == [
            ("manual", "Cổng A", False), ("badge", "Cổng A", True)]
        assert scans[0].note == "Quên thẻ ở khách sạn"
    assert errors == []
