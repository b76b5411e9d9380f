"""Attendance reports of a session through the Flask test client: the XLSX workbook, the PDF
ready to sign and the absentees page, checked against the services' own count."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from core.db import session, utcnow
from plugins.checkin import reports, services
from plugins.delegates.services import set_kind
from tests.conftest import login
from tests.plugins.checkin.conftest import nonce, person, scan

EV = "/lao-cai/dai-hoi"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BADGE = ("DB0001", "DB0002", "DB0150")    # checked in by badge at the east gate
MANUAL = "DB0007"                         # checked in by hand, no badge at hand
GUEST = "DB0300"                          # made a guest: 299 delegates convened


@pytest.fixture
def checked_in(app, hall):
    """Four delegates and a guest in the official session; the badges scanned 40 minutes ago,
    on the second, so the times read back exactly."""
    with app.app_context():
        ev = hall.event("a")
        guest = person(ev, GUEST)
        set_kind(session(), ev, guest, "guest")
        lst = services.ensure_lists(session(), ev)[1]
        at = (utcnow() - timedelta(minutes=40)).replace(microsecond=0)
        for code in BADGE:
            r = scan(ev, lst, person(ev, code).checkin_secret, station="Cổng Đông",
                     scanned_at=at.isoformat() + "Z")
            assert r.verdict == "in"
        manual = services.record_manual(session(), ev, lst, delegate_id=person(ev, MANUAL).id,
                                        reason="quên thẻ", nonce=nonce(), station="Bàn 2",
                                        user=None)
        assert scan(ev, lst, guest.checkin_secret, station="Cổng Đông").verdict == "in"
        session().commit()
        att = services.attendance(session(), ev, lst)
        assert att["present"] == 4 and att["guests_present"] == 1
        return {"list": lst.id, "at": at, "att": att, "guest": guest.code,
                "manual_at": manual.presence.first_in_at,
                "names": {d.code: d.full_name for d, _p in services.roll(session(), ev, lst)},
                "order": [d.code for d, _p in services.roll(session(), ev, lst)]}


def url(data, kind):
    return f"{EV}/checkin/lists/{data['list']}/{kind}"


def workbook(app, data, user="a.checkin"):
    r = login(app.test_client(), user).get(url(data, "attendance.xlsx"))
    assert r.status_code == 200
    return r, load_workbook(io.BytesIO(r.data))


def rows_of(ws):
    header = [c.value for c in ws[1]]
    return header, [dict(zip(header, row, strict=True))
                    for row in ws.iter_rows(min_row=2, values_only=True)]


def summary_of(ws) -> dict:
    return {row[0]: row[1] for row in ws.iter_rows(min_row=2, max_col=2, values_only=True)
            if row[0] is not None}


# ---------------------------------------------------------------- XLSX

def test_xlsx_lists_everyone_convened_with_their_presence(app, checked_in):
    r, wb = workbook(app, checked_in)
    assert r.mimetype == XLSX
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert 'filename=diem-danh-phien-chinh-thuc.xlsx' in r.headers["Content-Disposition"]
    assert r.headers["Cache-Control"] == "no-store"
    assert wb.sheetnames == ["Attendance", "Guests", "Summary"]

    ws = wb["Attendance"]
    assert ws.freeze_panes == "A2"
    assert all(c.font.bold for c in ws[1])
    assert ws.column_dimensions["C"].width == 28
    header, rows = rows_of(ws)
    assert header == ["No.", "Code", "Full name", "Delegation", "Discussion group", "Status",
                      "Time of entry", "How", "Station"]        # no exits recorded: no columns
    assert len(rows) == checked_in["att"]["convened"] == 299
    assert [row["Code"] for row in rows] == checked_in["order"]     # name order
    assert [row["No."] for row in rows] == list(range(1, 300))
    present = {row["Code"] for row in rows if row["Status"] == "Present"}
    assert present == {*BADGE, MANUAL}
    absent = [row for row in rows if row["Status"] == "Absent"]
    assert len(absent) == 295
    assert all(row["Time of entry"] is None and not row["How"] for row in absent)
    by_code = {row["Code"]: row for row in rows}
    assert by_code["DB0001"]["Full name"] == checked_in["names"]["DB0001"]
    assert (by_code["DB0001"]["How"], by_code["DB0001"]["Station"]) == ("Badge scan", "Cổng Đông")
    assert (by_code[MANUAL]["How"], by_code[MANUAL]["Station"]) == ("Manual entry", "Bàn 2")

    guests = rows_of(wb["Guests"])[1]
    assert [g["Code"] for g in guests] == [checked_in["guest"]]


def test_xlsx_times_are_local_time(app, checked_in):
    """Stored as UTC, written as Vietnam's wall-clock time (UTC+7), shown as a date-time."""
    _r, wb = workbook(app, checked_in)
    ws = wb["Attendance"]
    _header, rows = rows_of(ws)
    for row in rows:
        if row["Code"] in BADGE:
            assert row["Time of entry"] == checked_in["at"] + timedelta(hours=7)
    manual = next(r["Time of entry"] for r in rows if r["Code"] == MANUAL)
    # openpyxl reads times back to the millisecond
    assert abs(manual - (checked_in["manual_at"] + timedelta(hours=7))) < timedelta(seconds=1)
    cell = ws.cell(row=2, column=7)
    assert "hh:mm" in cell.number_format
    assert "UTC+07:00" in summary_of(wb["Summary"])["Times are in"]


def test_xlsx_summary_equals_the_attendance_count(app, checked_in):
    _r, wb = workbook(app, checked_in)
    att = checked_in["att"]
    ws = wb["Summary"]
    s = summary_of(ws)
    assert s["Session"] == "Phiên chính thức"
    assert (s["Delegates convened"], s["Present"], s["Absent"], s["Guests present"]) == \
        (att["convened"], att["present"], att["convened"] - att["present"],
         att["guests_present"])
    assert s["Attendance rate"] == pytest.approx(4 / 299)
    assert s["Quorum"] == "Quorum not reached"
    assert s["Quorum rule"] == "at least 2/3 of the delegates convened: needs 200 of 299"
    assert isinstance(s["Generated at"], type(checked_in["at"]))
    # The breakdowns: each table's rows sum to the totals and match the service.
    tables, current = {}, None
    for row in ws.iter_rows(min_row=2, values_only=True):
        if row[1] == "Present" and row[2] == "Convened":
            current = tables.setdefault(row[0], [])
        elif current is not None and row[0] is not None:
            current.append(row)
        elif row[0] is None:
            current = None
    assert set(tables) == {"Discussion group", "Delegation"}
    for title, key in (("Discussion group", "by_group"), ("Delegation", "by_unit")):
        got = {name: (p, n) for name, p, n, _a, _rate in tables[title]}
        want = {t["name"] or ("No group" if key == "by_group" else "Not stated"):
                (t["present"], t["convened"]) for t in att[key]}
        assert got == want, title
        assert sum(p for p, _n in got.values()) == att["present"]
        assert sum(n for _p, n in got.values()) == att["convened"]
    groups = [row[0] for row in tables["Discussion group"]]
    assert groups.index("Tổ 2") < groups.index("Tổ 10")          # natural order


def test_xlsx_follows_the_ui_language(app, checked_in):
    c = login(app.test_client(), "a.checkin")
    c.post("/lang/vi", data={"next": "/"})
    wb = load_workbook(io.BytesIO(c.get(url(checked_in, "attendance.xlsx")).data))
    assert wb.sheetnames == ["Attendance", "Guests", "Summary"]     # names stay ASCII
    assert wb["Attendance"]["C1"].value == "Họ và tên"


def test_a_list_recording_exits_reports_who_left(app, hall):
    """Who entered and left is absent, with the time they left; the rule counting delegations
    shows in the summary; a station typed like a formula stays text."""
    with app.app_context():
        ev = hall.event("a")
        lst = services.ensure_lists(session(), ev)[0]
        lst.track_exit = True
        session().commit()
        d = person(ev, "DB0003")
        scan(ev, lst, d.checkin_secret, station='=HYPERLINK("http://x")')
        scan(ev, lst, d.checkin_secret, station="Cổng Tây", direction="out")
        scan(ev, lst, person(ev, "DB0004").checkin_secret, station="Cổng Tây")
        services.set_quorum_rule(session(), ev, fraction="1/2", units=True, actor=None)
        session().commit()
        data = {"list": lst.id, "att": services.attendance(session(), ev, lst),
                "left": d.full_name}
    assert data["att"]["present"] == 1
    _r, wb = workbook(app, data, "a.secretariat")
    header, rows = rows_of(wb["Attendance"])
    assert header[-2:] == ["Check-out", "Time of exit"]
    by_code = {row["Code"]: row for row in rows}
    left = by_code["DB0003"]
    assert (left["Status"], left["Check-out"]) == ("Absent", "Left")
    assert left["Time of exit"] >= left["Time of entry"]
    assert left["Station"] == '=HYPERLINK("http://x")'
    cell = next(c for c in wb["Attendance"]["I"] if c.value and c.value.startswith("="))
    assert cell.data_type == "s"
    assert (by_code["DB0004"]["Status"], by_code["DB0004"]["Check-out"]) == \
        ("Present", "In the hall")
    assert by_code["DB0005"]["Check-out"] is None                    # never came
    assert rows_of(wb["Guests"])[1] == []
    q = data["att"]["quorum"]
    assert summary_of(wb["Summary"])["Delegations represented"] == \
        f"1 of {q['units_total']} delegations, needs {q['units_needed']}"

    c = login(app.test_client(), "a.checkin")
    html = c.get(url(data, "absentees")).get_data(as_text=True)
    row = html.split('data-code="DB0003"', 1)[1].split("</tr>", 1)[0]
    assert "entered" in row and "left" in row
    flat = pdf_text(c.get(url(data, "attendance.pdf")).data)
    assert "1/300" in flat
    assert flat.rindex(data["left"]) > flat.index("III.")              # among the absentees


# ---------------------------------------------------------------- PDF

def pdf_text(data: bytes) -> str:
    pdf = PdfReader(io.BytesIO(data))
    assert pdf.pages[0].mediabox.width == pytest.approx(595, abs=1)      # A4
    return " ".join(" ".join(page.extract_text() for page in pdf.pages).split())


def test_pdf_lists_present_and_absent_ready_to_sign(app, checked_in):
    c = login(app.test_client(), "a.checkin")
    r = c.get(url(checked_in, "attendance.pdf"))
    assert r.status_code == 200
    assert r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    assert r.headers["Content-Disposition"] == 'inline; filename="diem-danh-phien-chinh-thuc.pdf"'
    assert r.headers["Cache-Control"] == "no-store"
    flat = pdf_text(r.data)
    assert "DANH SÁCH ĐIỂM DANH ĐẠI BIỂU" in flat
    assert "ĐOÀN TNCS HỒ CHÍ MINH" in flat and "TỈNH ĐOÀN LÀO CAI" in flat
    assert "Đại hội lao-cai" in flat and "Phiên chính thức" in flat
    assert "4/299 (1,3%)" in flat                                        # Vietnamese decimals
    names = checked_in["names"]
    present, absentee = names["DB0150"], names["DB0200"]
    absent_at = flat.index("III.")
    assert flat.index(present) < absent_at < flat.rindex(absentee)
    assert "NGƯỜI LẬP BIỂU" in flat and "TM. BAN TỔ CHỨC" in flat
    assert "Lào Cai, ngày" in flat
    # every absentee is numbered: the last one is number 295
    assert " 295 " in flat[absent_at:]


def test_pdf_of_an_empty_list(app, hall):
    with app.app_context():
        lst = services.ensure_lists(session(), hall.event("a"))[0]
        data = {"list": lst.id}
    r = login(app.test_client(), "a.admin").get(url(data, "attendance.pdf"))
    assert r.status_code == 200
    assert "0/300 (0,0%)" in pdf_text(r.data)


# ---------------------------------------------------------------- absentees page

def test_absentees_page_lists_exactly_the_absentees(app, checked_in):
    c = login(app.test_client(), "a.checkin")
    r = c.get(url(checked_in, "absentees"))
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    listed = {part.split('"', 1)[0] for part in html.split('data-code="')[1:]}
    assert listed == set(checked_in["order"]) - {*BADGE, MANUAL}
    assert len(listed) == 295
    assert "attendance.pdf" in html and "attendance.xlsx" in html


# ---------------------------------------------------------------- who may see them

@pytest.fixture
def empty_list(app, world):
    """The official session of event "a" with no delegate yet: the fast way to ask who may
    see the reports."""
    with app.app_context():
        lst = services.ensure_lists(session(), world.event("a"))[1]
        session().commit()
        return {"list": lst.id}


@pytest.mark.parametrize("user", ["a.admin", "a.secretariat", "a.checkin", "a.credentials"])
def test_organisers_and_staff_get_the_reports(app, empty_list, user):
    c = login(app.test_client(), user)
    r = c.get(url(empty_list, "attendance.xlsx"))
    assert (r.status_code, r.mimetype) == (200, XLSX)
    r = c.get(url(empty_list, "attendance.pdf"))
    assert (r.status_code, r.mimetype) == (200, "application/pdf")
    assert "0/0 (0,0%)" in pdf_text(r.data)
    assert c.get(url(empty_list, "absentees")).status_code == 200


@pytest.mark.parametrize("kind", ["attendance.xlsx", "attendance.pdf", "absentees"])
def test_others_do_not(app, empty_list, kind):
    assert login(app.test_client(), "a.delegate").get(url(empty_list, kind)).status_code == 403
    assert login(app.test_client(), "a.tellers").get(url(empty_list, kind)).status_code == 403
    # The other province's staff: no role in this event, and this list is not of theirs.
    for user in ("b.admin", "b.checkin"):
        other = login(app.test_client(), user)
        assert other.get(url(empty_list, kind)).status_code == 404
        assert other.get(
            f"/yen-bai/dai-hoi/checkin/lists/{empty_list['list']}/{kind}").status_code == 404
    r = app.test_client().get(url(empty_list, kind))
    assert r.status_code == 302 and "/login" in r.headers["Location"]


# ---------------------------------------------------------------- helpers

def test_file_stem_is_ascii(app, hall):
    with app.app_context():
        lst = services.ensure_lists(session(), hall.event("a"))[0]
        assert reports.file_stem(lst) == "diem-danh-phien-tru-bi"
        lst.session.name = "Đại hội — phiên bế mạc!"
        assert reports.file_stem(lst) == "diem-danh-dai-hoi-phien-be-mac"
        lst.session.name = "———"
        assert reports.file_stem(lst) == f"diem-danh-phien-{lst.session_id}"
        session().rollback()
