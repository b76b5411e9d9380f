"""The structure report, checked against an independent count of the sample roster.

The expected figures come from reading roster-300.csv with the csv module here, not through
the app's roster parser, so a mistake in the import or in the report shows up as a mismatch.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import select

from core.db import session
from plugins.delegates import report as rpt
from plugins.delegates.models import Delegate
from tests.conftest import login
from tests.plugins.conftest import ROSTER

EV = "/lao-cai/dai-hoi"
START = date(2026, 6, 30)  # a fixed congress date, so the ages never drift

EDUCATION = {"Tiến sĩ": "doctorate", "Thạc sĩ": "master", "Đại học": "university",
             "Cao đẳng": "college", "Trung cấp": "intermediate"}
THEORY = {"Cao cấp": "theory_advanced", "Trung cấp": "theory_intermediate",
          "Sơ cấp": "theory_elementary", "": "unknown"}
TYPES = {"Được bầu": "elected", "Đương nhiên": "ex_officio", "Chỉ định": "appointed"}


@pytest.fixture(scope="module")
def rows():
    with ROSTER.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def born(row) -> date:
    d, m, y = (int(p) for p in row["Ngày sinh"].split("/"))
    return date(y, m, d)


def years(birth: date, on: date) -> int:
    n = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        n -= 1
    return n


def band(age: int) -> str:
    if age <= 30:
        return "age_upto_30"
    if age <= 35:
        return "age_31_35"
    if age <= 40:
        return "age_36_40"
    return "age_over_40"


@pytest.fixture
def report_of(app, roster_world):
    """structure() of event "a", its start date fixed at START."""
    with app.app_context():
        roster_world.event("a").starts_on = START
        session().commit()

    def make():
        with app.app_context():
            return rpt.structure(session(), roster_world.event("a"))

    return make


def assert_sums(report):
    for key, b in report.breakdowns.items():
        assert sum(ln.count for ln in b.main) == report.total, key
        assert abs(sum(ln.percent for ln in b.main) - 100) <= 0.05 * len(b.main) + 1e-9, key
        # every group line equals its detail lines
        lines = b.lines
        for i, ln in enumerate(lines):
            if not ln.sub and i + 1 < len(lines) and lines[i + 1].sub:
                detail = []
                for nxt in lines[i + 1:]:
                    if not nxt.sub:
                        break
                    detail.append(nxt.count)
                assert sum(detail) == ln.count, (key, ln.key)


# ---------------------------------------------------------------- figures

def test_totals_and_base(report_of, rows):
    r = report_of()
    assert r.total == len(rows) == 300
    assert (r.approved, r.convened, r.rejected, r.replaced, r.guests) == (0, 300, 0, 0, 0)
    assert r.reference_date == START and r.dated_from_event
    assert list(r.breakdowns) == ["gender", "age", "ethnicity", "religion", "education",
                                  "political_theory", "party", "delegate_type", "group"]
    assert_sums(r)


def test_gender_ethnicity_religion(report_of, rows):
    r = report_of()
    genders = Counter(row["Giới tính"] for row in rows)
    assert r["gender"].count("male") == genders["Nam"]
    assert r["gender"].count("female") == genders["Nữ"]
    assert r["gender"].line("female").percent == round(genders["Nữ"] * 100 / 300, 1)
    assert r["gender"].line("unknown") is None

    eth = Counter(row["Dân tộc"] for row in rows)
    assert r["ethnicity"].count("kinh") == eth["Kinh"]
    assert r["ethnicity"].count("minorities") == 300 - eth["Kinh"]
    minorities = {ln.label: ln.count for ln in r["ethnicity"].lines if ln.sub}
    assert minorities == {k: v for k, v in eth.items() if k != "Kinh"}

    rel = Counter(row["Tôn giáo"] for row in rows)
    assert r["religion"].count("no_religion") == rel["Không"]
    assert r["religion"].count("religious") == 300 - rel["Không"]
    assert {ln.label: ln.count for ln in r["religion"].lines if ln.sub} == \
        {k: v for k, v in rel.items() if k != "Không"}


def test_education_theory_party_type_groups(report_of, rows):
    r = report_of()
    edu = Counter(EDUCATION[row["Trình độ chuyên môn"]] for row in rows)
    assert [ln.key for ln in r["education"].main][:5] == ["doctorate", "master", "university",
                                                         "college", "intermediate"]
    for key, n in edu.items():
        assert r["education"].count(key) == n, key

    theory = Counter(THEORY[row["Lý luận chính trị"]] for row in rows)
    assert theory["unknown"] > 0  # the sample leaves some blank: they must be counted
    for key, n in theory.items():
        assert r["political_theory"].count(key) == n, key
    assert r["political_theory"].count("theory_none") == 0

    party = Counter(row["Đảng viên"] for row in rows)
    assert r["party"].count("party") == party["Có"]
    assert r["party"].count("not_party") == party["Không"]

    types = Counter(TYPES[row["Loại đại biểu"]] for row in rows)
    for key, n in types.items():
        assert r["delegate_type"].count(key) == n, key

    groups = Counter(row["Tổ thảo luận"] for row in rows)
    assert [(ln.label, ln.count) for ln in r["group"].lines] == \
        sorted(groups.items(), key=lambda p: int(p[0].split()[-1]))


def test_ages_youngest_oldest(report_of, rows):
    r = report_of()
    ages = [years(born(row), START) for row in rows]
    bands = Counter(band(a) for a in ages)
    for low_high_key in rpt.AGE_BANDS:
        key = low_high_key[2]
        assert r["age"].count(key) == bands[key], key
    assert r["age"].line("age_unknown") is None
    assert r.ages_known == 300
    assert r.average_age == round(sum(ages) / len(ages), 1)

    latest = max(born(row) for row in rows)
    earliest = min(born(row) for row in rows)
    youngest = {(row["Họ và tên"], row["Đơn vị"]) for row in rows if born(row) == latest}
    oldest = {(row["Họ và tên"], row["Đơn vị"]) for row in rows if born(row) == earliest}
    assert {(p.full_name, p.unit_name) for p in r.youngest} == youngest
    assert {(p.full_name, p.unit_name) for p in r.oldest} == oldest
    assert all(p.birth_date == latest and p.age == years(latest, START) for p in r.youngest)
    assert all(p.birth_date == earliest and p.age == years(earliest, START) for p in r.oldest)


def test_ages_use_today_without_a_start_date(app, roster_world):
    with app.app_context():
        ev = roster_world.event("a")
        ev.starts_on = None
        r = rpt.structure(session(), ev, today=date(2050, 1, 1))
        assert r.reference_date == date(2050, 1, 1) and not r.dated_from_event
        assert r["age"].count("age_over_40") == 300  # everyone born 1986–2005


def test_rejected_replaced_and_guests_leave_the_counts(app, report_of, rows):
    from plugins.delegates.services import replace_with_alternate, set_kind, set_status

    before = report_of()
    with app.app_context():
        db = session()
        ev = db.get(type(before.event), before.event.id)

        def code(c):
            return db.scalar(select(Delegate).where(Delegate.event_id == ev.id,
                                                    Delegate.code == c))

        set_status(db, ev, code("DB0002"), "rejected", actor=None, reason="không đủ điều kiện")
        replace_with_alternate(db, ev, code("DB0003"), code("DB0004"), actor=None)
        set_kind(db, ev, code("DB0005"), "guest")
        set_status(db, ev, code("DB0006"), "approved", actor=None)
        db.commit()
    gone = {row["Mã đại biểu"]: row for row in rows
            if row["Mã đại biểu"] in ("DB0002", "DB0003", "DB0005")}
    after = report_of()
    assert after.total == 297
    assert (after.rejected, after.replaced, after.guests) == (1, 1, 1)
    assert (after.approved, after.convened) == (1, 296)
    assert_sums(after)
    assert after["gender"].count("female") == before["gender"].count("female") - sum(
        1 for row in gone.values() if row["Giới tính"] == "Nữ")
    eth = Counter(row["Dân tộc"] for row in gone.values())
    for name, n in eth.items():
        key = "kinh" if name == "Kinh" else "value"
        label = None if name == "Kinh" else name
        assert after["ethnicity"].count(key, label) == before["ethnicity"].count(key, label) - n
    # percentages are of the new base
    assert after["gender"].line("male").percent == round(
        after["gender"].count("male") * 100 / 297, 1)


def test_blank_and_unusual_values_are_counted_not_dropped(app, report_of):
    with app.app_context():
        db = session()
        ev_id = report_of().event.id
        d = db.scalar(select(Delegate).where(Delegate.event_id == ev_id,
                                             Delegate.code == "DB0010"))
        d.gender = d.ethnicity = d.religion = d.education = d.group = None
        d.birth_date = d.party_member = d.delegate_type = None
        d.political_theory = "Không"
        e = db.scalar(select(Delegate).where(Delegate.event_id == ev_id,
                                             Delegate.code == "DB0011"))
        e.education, e.political_theory, e.religion = "12/12", "Cử nhân chính trị", "Tin lành"
        db.commit()
    r = report_of()
    assert_sums(r)
    for key in ("gender", "ethnicity", "religion", "education", "party", "delegate_type"):
        assert r[key].count("unknown") == 1, key
    assert r["age"].count("age_unknown") == 1 and r.ages_known == 299
    assert r["group"].count("no_group") == 1
    assert r["political_theory"].count("theory_none") == 1
    assert r["education"].count("other") == 1 and r["education"].count("value", "12/12") == 1
    assert r["religion"].count("value", "Tin lành") == 1


def test_helpers():
    assert rpt.format_number(45.666) == "45,7"
    assert rpt.format_number(1234.5, locale="en") == "1,234.5"
    assert rpt.format_number(1234, locale="vi") == "1.234"
    assert rpt.document_date(date(2027, 3, 5)) == "ngày 05 tháng 3 năm 2027"
    assert rpt.document_date(date(2027, 1, 15)) == "ngày 15 tháng 01 năm 2027"
    assert rpt.age_on(date(2000, 7, 1), date(2026, 6, 30)) == 25
    assert rpt.age_on(date(2000, 6, 30), date(2026, 6, 30)) == 26
    assert rpt.education_level("ThS. Quản lý") == "master"
    assert rpt.education_level("Cử nhân Luật") == "university"
    assert rpt.theory_level("chưa qua đào tạo") == "theory_none"


# ---------------------------------------------------------------- page and PDF

def test_page_for_the_committee(app, report_of, rows):
    report_of()
    c = login(app.test_client(), "a.credentials")
    r = c.get(f"{EV}/report/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Structure report" in html and "report.pdf" in html
    female = Counter(row["Giới tính"] for row in rows)["Nữ"]
    assert f"{female * 100 / 300:.1f}" in html          # English: a decimal point
    assert "Hà Nhì" in html and "Tổ 12" in html
    assert 'class="bar"' in html
    for user in ("a.secretariat", "a.admin"):
        assert login(app.test_client(), user).get(f"{EV}/report/").status_code == 200


def test_page_follows_the_ui_language(app, report_of, rows):
    report_of()
    c = login(app.test_client(), "a.credentials")
    c.post("/lang/vi", data={"next": "/"})
    html = c.get(f"{EV}/report/").get_data(as_text=True)
    female = Counter(row["Giới tính"] for row in rows)["Nữ"]
    assert f"{female * 100 / 300:.1f}".replace(".", ",") in html   # Vietnamese: a comma
    assert "Không theo tôn giáo" in html and "Dân tộc thiểu số" in html


@pytest.mark.parametrize("user, url, status", [
    ("a.delegate", f"{EV}/report/", 403),
    ("a.checkin", f"{EV}/report/", 403),
    ("a.delegate", f"{EV}/report/report.pdf", 403),
    ("b.credentials", f"{EV}/report/", 404),
    ("b.credentials", f"{EV}/report/report.pdf", 404),
    ("a.credentials", "/yen-bai/dai-hoi/report/", 404),
    ("a.credentials", "/yen-bai/dai-hoi/report/report.pdf", 404),
])
def test_who_may_see_it(app, roster_world, user, url, status):
    assert login(app.test_client(), user).get(url).status_code == status


def test_module_off_and_signed_out(app, roster_world):
    from core.modules import disable_module

    assert app.test_client().get(f"{EV}/report/").status_code == 302
    with app.app_context():
        disable_module(session(), roster_world.event("a"), "voting", actor=None)  # needs checkin
        disable_module(session(), roster_world.event("a"), "checkin", actor=None)  # needs it
        disable_module(session(), roster_world.event("a"), "forum", actor=None)  # needs it
        disable_module(session(), roster_world.event("a"), "delegates", actor=None)
        session().commit()
    assert login(app.test_client(), "a.credentials").get(f"{EV}/report/").status_code == 404


def test_pdf_is_a_formal_vietnamese_document(app, report_of, rows):
    from pypdf import PdfReader

    report_of()
    c = login(app.test_client(), "a.credentials")   # English UI: the PDF stays Vietnamese
    r = c.get(f"{EV}/report/report.pdf")
    assert r.status_code == 200
    assert r.mimetype == "application/pdf"
    assert r.data.startswith(b"%PDF")
    pdf = PdfReader(io.BytesIO(r.data))
    assert pdf.pages[0].mediabox.width == pytest.approx(595, abs=1)   # A4
    text = "\n".join(page.extract_text() for page in pdf.pages)
    flat = " ".join(text.split())
    assert "BÁO CÁO THẨM TRA" in flat
    assert "ĐOÀN TNCS HỒ CHÍ MINH" in flat and "TỈNH ĐOÀN LÀO CAI" in flat
    assert "Tổng số đại biểu được triệu tập: 300" in flat
    assert "Lào Cai, ngày 30 tháng 6 năm 2026" in flat
    assert "TM. BAN THẨM TRA TƯ CÁCH ĐẠI BIỂU" in flat and "TRƯỞNG BAN" in flat
    female = Counter(row["Giới tính"] for row in rows)["Nữ"]
    assert f"Nữ: {female} đồng chí, chiếm {female * 100 / 300:.1f}%".replace(".", ",") in flat
    assert "Không rõ" in flat          # the blank political theory entries


def test_an_event_without_delegates(app, roster_world):
    c = login(app.test_client(), "b.credentials")
    html = c.get("/yen-bai/dai-hoi/report/").get_data(as_text=True)
    assert "No delegate to count yet." in html
    r = c.get("/yen-bai/dai-hoi/report/report.pdf")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    with app.app_context():
        empty = rpt.structure(session(), roster_world.event("b"), today=START)
    assert empty.total == 0 and empty.average_age is None and not empty.youngest
    assert all(ln.percent == 0.0 for b in empty.breakdowns.values() for ln in b.lines)


def test_appointed_above_five_percent_is_flagged(app, report_of):
    r = report_of()
    with app.app_context():
        db = session()
        elected = db.scalars(select(Delegate).where(Delegate.event_id == r.event.id,
                                                    Delegate.delegate_type == "elected")).all()
        for d in elected[:4]:      # 12 + 4 = 16 appointed of 300 > 5 %
            d.delegate_type = "appointed"
        db.commit()
    c = login(app.test_client(), "a.credentials")
    html = c.get(f"{EV}/report/").get_data(as_text=True)
    assert "Appointed delegates exceed 5%" in html
