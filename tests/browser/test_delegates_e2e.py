"""End to end in headless Chromium for the delegates module: the secretariat imports the
roster through the preview, a delegate opens their personal link on a phone, checks their
information and asks for a correction, and the credentials committee accepts it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.test_e2e import no_horizontal_overflow, sign_in
from tests.plugins.conftest import ROSTER

EVENT = "/lao-cai/dai-hoi"


@pytest.mark.browser
def test_roster_import_personal_link_and_correction(serve, new_context, shot):
    server, _world = serve()
    staff = new_context(server.url).new_page()
    sign_in(staff, "a.secretariat", f"{EVENT}/delegates/import")
    staff.set_input_files("input[type=file]", str(ROSTER))
    staff.get_by_role("button", name="Preview").click()
    expect(staff.get_by_role("button", name="Import 300 rows")).to_be_visible()
    shot(staff, "10-roster-preview")
    staff.get_by_role("button", name="Import 300 rows").click()
    expect(staff.locator(".flash-success")).to_contain_text("300 new")
    staff.fill("input[name=q]", "hoang van manh")  # search without diacritics
    staff.get_by_role("button", name="Search").click()
    staff.get_by_role("link", name="Hoàng Văn Mạnh").first.click()
    link = staff.locator("[data-signin-link]").inner_text()
    assert re.search(r"/d/[\w.-]+$", link)

    phone = new_context(server.url, **PHONE).new_page()
    phone.goto(link)
    phone.fill("input[name=birth_date]", "19/06/1992")
    phone.get_by_role("button", name="Open my page").click()
    expect(phone).to_have_url(re.compile(r"/delegates/me$"))
    expect(phone.locator("h1")).to_have_text("Hoàng Văn Mạnh")
    no_horizontal_overflow(phone)
    ethnicity = phone.locator("[data-field=ethnicity]")
    ethnicity.locator("summary").click()
    ethnicity.locator("input[name=new_value]").fill("Tày")
    ethnicity.get_by_role("button", name="Send to the committee").click()
    expect(phone.locator(".flash-success")).to_contain_text("credentials committee")
    phone.get_by_role("button", name="My information is correct").click()
    shot(phone, "11-delegate-me-phone")

    committee = new_context(server.url).new_page()
    sign_in(committee, "a.credentials", f"{EVENT}/delegates/credentials")
    item = committee.locator("[data-correction]").first
    expect(item).to_contain_text("Tày")
    shot(committee, "12-credentials-queue")
    item.get_by_role("button", name="Accept").click()
    expect(committee.locator(".flash-success")).to_contain_text("Decision recorded")

    phone.reload()
    expect(phone.locator("[data-field=ethnicity] dd")).to_contain_text("Tày")
    expect(phone.locator("body")).to_contain_text("accepted")
