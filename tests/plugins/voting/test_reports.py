"""The counting board's documents read back: the minutes PDF (figures, who is elected, the
rule, the board's names), the results workbook (numbers, ballots by receipt, never a voter of a
secret poll), an appointed result's minutes, and who may download them."""

from __future__ import annotations

import io
import unicodedata

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from core.accounts import create_account
from core.db import session
from core.errors import ServiceError
from core.events import add_member
from core.i18n import local_time
from plugins.voting import reports, services
from plugins.voting.ballots import format_receipt
from tests.conftest import PASSWORD
from tests.plugins.checkin.conftest import person
from tests.plugins.voting.conftest import PRESENT, cast, make_poll, opened, option_ids

EV = "/lao-cai/dai-hoi"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CANDIDATES = (("Nguyễn Văn An", "Thành đoàn"), ("Trần Thị Bình", None),
              ("Lê Văn Cường", None), ("Phạm Thị Dung", None))
TELLER = "Vũ Thị Hồng"


def pdf_text(data: bytes) -> str:
    pdf = PdfReader(io.BytesIO(data))
    assert pdf.pages[0].mediabox.width == pytest.approx(595, abs=1)      # A4
    text = " ".join(page.extract_text() for page in pdf.pages)
    return unicodedata.normalize("NFC", " ".join(text.split()))


def cells(wb) -> list:
    return [c for ws in wb.worksheets for row in ws.iter_rows(values_only=True)
            for c in row if c is not None]


def block(ws, title: str) -> dict:
    """A poll's rows on the results sheet, from its title to the blank rows after it:
    {label: the rest of the row}."""
    rows = list(ws.iter_rows(values_only=True))
    start = next(n for n, row in enumerate(rows) if row[0] == title)
    out = {}
    for row in rows[start + 1:]:
        if all(c is None for c in row):
            if out.get("_blank"):
                break
            out["_blank"] = True
            continue
        out["_blank"] = False
        out[row[0] if not isinstance(row[0], int) else (row[0], row[1])] = list(row[1:])
    return out


@pytest.fixture
def counted(app, assembly):
    """A secret election for two seats in event "a", counted on phones and on paper and
    published; a second teller on the board."""
    with app.app_context():
        ev = assembly.event("a")
        db = session()
        teller = create_account(db, actor=None, unit=ev.unit, username="a.teller2",
                                full_name=TELLER, password=PASSWORD)
        add_member(db, ev, actor=None, username=teller.username, role="tellers")
        poll = opened(ev, kind="election", mode="secret", title="Bầu Ban Chấp hành",
                      options=CANDIDATES, seats=2, base="returned", fraction="ge_1_2")
        a, b, c, d = option_ids(poll)
        votes = [[a, b], [a, b], [a, c], [a, c], [b, c], [a], [d]]
        receipts = [cast(ev, poll, code, v).receipt for code, v in zip(PRESENT, votes,
                                                                       strict=False)]
        services.close_poll(db, ev, poll, actor=None)
        db.commit()
        services.enter_paper(db, ev, poll, issued=3, returned=3, invalid=1,
                             votes={a: 1, b: 2}, actor=None)
        services.publish_poll(db, ev, poll, actor=None)
        db.commit()
        names = {person(ev, code).full_name for code in PRESENT}
        return {"poll": poll.id, "ids": (a, b, c, d), "receipts": receipts, "names": names,
                "span": (local_time(poll.opened_at), local_time(poll.closed_at))}


def named_motion(ev):
    poll = opened(ev, kind="motion", mode="named", title="Thông qua Quy chế",
                  base="present", fraction="gt_2_3")
    yes, no, abstain = option_ids(poll)
    for code, choice in zip(PRESENT, [yes] * 7 + [no, abstain], strict=False):
        cast(ev, poll, code, [choice])
    services.close_poll(session(), ev, poll, actor=None)
    session().commit()
    return poll


# ---------------------------------------------------------------- PDF

def test_minutes_state_the_figures_the_elected_and_the_rule(app, counted, client_for):
    r = client_for("a.tellers").get(f"{EV}/voting/polls/{counted['poll']}/minutes.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.data.startswith(b"%PDF")
    assert r.headers["Content-Disposition"] == \
        'inline; filename="bien-ban-kiem-phieu-bau-ban-chap-hanh.pdf"'
    text = pdf_text(r.data)
    for words in ("TỈNH ĐOÀN LÀO CAI", "ĐOÀN TNCS HỒ CHÍ MINH", "BIÊN BẢN KIỂM PHIẾU",
                  "Đại hội lao-cai", "Bầu Ban Chấp hành", "Loại Bầu cử",
                  "Hình thức Bỏ phiếu kín; điện tử và phiếu giấy",
                  "Số lượng cần bầu 2", "Số đại biểu được triệu tập 10",
                  "Số đại biểu có mặt (chốt khi bắt đầu) 10",
                  "từ 1/2 (50%) trở lên tổng số phiếu thu về (10), tức ít nhất 5 phiếu"):
        assert words in text, words
    # Phones, paper and the total: 7 + 3 issued, one paper ballot invalid.
    assert "Phiếu Điện tử Phiếu giấy Tổng số" in text
    for figures in ("Số phiếu phát ra 7 3 10", "Số phiếu thu về 7 3 10",
                    "Số phiếu hợp lệ 7 2 9", "Số phiếu không hợp lệ 0 1 1"):
        assert figures in text, figures
    # An: 5 on phones + 1 on paper of 10 returned; Bình 3 + 2.
    assert "5 1 6 60,00 Trúng cử" in text
    assert "3 2 5 50,00 Trúng cử" in text
    assert "Lê Văn Cường 3 0 3 30,00" in text
    first = text.index("Nguyễn Văn An: 6 phiếu, đạt 60,00%")
    assert text.index("Trần Thị Bình: 5 phiếu, đạt 50,00%") > first      # most votes first
    assert "Tỉ lệ tính trên tổng số phiếu thu về (10)." in text
    assert "Số lượng trúng cử: 2/2." in text
    opened_at, closed_at = counted["span"]
    assert f"từ {opened_at:%H:%M} đến {closed_at:%H:%M} ngày {closed_at:%d/%m/%Y}" in text
    for words in ("TM. BAN KIỂM PHIẾU", "TRƯỞNG BAN", "CÁC THÀNH VIÊN", "A Tellers", TELLER):
        assert words in text, words
    # The minutes list no voter.
    assert not any(name in text for name in counted["names"])


def test_a_tie_is_flagged_for_a_new_round(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = opened(ev, kind="election", mode="secret", title="Bầu Bí thư",
                      options=CANDIDATES[:3], seats=1, fraction="plurality")
        a, b, c = option_ids(poll)
        for code, choice in zip(PRESENT, [a, a, b, b, c], strict=False):
            cast(ev, poll, code, [choice])
        services.close_poll(session(), ev, poll, actor=None)
        session().commit()
        text = pdf_text(reports.minutes_pdf(session(), ev, poll))
    assert "Theo nguyên tắc nhiều phiếu nhất" in text
    assert "Không có người trúng cử." in text
    assert "Nguyễn Văn An Thành đoàn 2 40,00 Bằng phiếu" in text
    assert "Trần Thị Bình 2 40,00 Bằng phiếu" in text
    assert "đề nghị biểu quyết lại ở vòng mới: Nguyễn Văn An, Trần Thị Bình" in text
    assert "số lượng còn thiếu: 1" in text
    # No paper figures: one column of figures.
    assert "Số phiếu thu về 5" in text and "Phiếu giấy" not in text


def test_a_motion_passes_or_not(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = named_motion(ev)
        text = pdf_text(reports.minutes_pdf(session(), ev, poll))
    assert "Biểu quyết" in text and "Công khai" in text
    assert "quá 2/3 tổng số đại biểu có mặt (10), tức ít nhất 7 phiếu" in text
    assert "Tán thành 7 70,00" in text and "Không tán thành 1 10,00" in text
    assert "Không biểu quyết 1 10,00" in text
    assert "Nội dung “Thông qua Quy chế”: THÔNG QUA" in text
    assert "KHÔNG THÔNG QUA" not in text


def test_appointed_minutes_name_the_appointed_and_the_decision(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = make_poll(ev, kind="election", options=CANDIDATES, seats=3,
                         title="Ban Chấp hành lâm thời")
        a, b, _c, _d = option_ids(poll)
        services.record_appointment(session(), ev, poll, [a, b], "Quyết định số 12-QĐ/TWĐTN",
                                    actor=None)
        session().commit()
        text = pdf_text(reports.minutes_pdf(session(), ev, poll))
    assert "II. KẾT QUẢ CHỈ ĐỊNH" in text
    assert "Căn cứ: Quyết định số 12-QĐ/TWĐTN" in text
    assert "Nguyễn Văn An Thành đoàn" in text and "Trần Thị Bình" in text
    assert "Lê Văn Cường" not in text
    assert "Số lượng được chỉ định: 2/3; số lượng còn thiếu: 1." in text
    assert "Số phiếu" not in text and "Nguyên tắc" not in text


def test_no_minutes_before_the_poll_closes_or_when_cancelled(app, assembly, client_for):
    with app.app_context():
        ev = assembly.event("a")
        poll = opened(ev)
        cast(ev, poll, "DB0001", [option_ids(poll)[0]])
        with pytest.raises(ServiceError) as err:
            reports.minutes_pdf(session(), ev, poll)
        assert err.value.code == "not_closed"
        with pytest.raises(ServiceError):
            reports.results_workbook(session(), ev, [poll])
        other = opened(ev, title="Hủy")
        services.cancel_poll(session(), ev, other, "nhầm", actor=None)
        session().commit()
        with pytest.raises(ServiceError) as err:
            reports.minutes_pdf(session(), ev, other)
        assert err.value.code == "cancelled"
        paper = opened(ev, channel="paper", title="Phiếu giấy")
        services.close_poll(session(), ev, paper, actor=None)
        session().commit()
        with pytest.raises(ServiceError) as err:   # closed, but the paper count is not in
            reports.minutes_pdf(session(), ev, paper)
        assert err.value.code == "no_paper"
        poll_id = poll.id
    c = client_for("a.tellers")
    for kind in ("minutes.pdf", "results.xlsx"):
        r = c.get(f"{EV}/voting/polls/{poll_id}/{kind}")
        if "voting.poll" in app.view_functions:
            assert r.status_code == 302
            assert r.headers["Location"].endswith(f"{EV}/voting/polls/{poll_id}")
        else:
            assert r.status_code == 400
            assert b"once the poll is closed" in r.data


def test_a_refused_download_goes_back_to_the_poll_with_the_reason(app, assembly, client_for):
    if "voting.poll" not in app.view_functions:
        # The poll's page is written elsewhere; a stand-in at its address until it lands.
        app.add_url_rule("/<unit_code>/<event_slug>/voting/polls/<int:poll_id>", "voting.poll",
                         lambda **kw: "poll")
    with app.app_context():
        poll_id = opened(assembly.event("a")).id
    c = client_for("a.tellers")
    r = c.get(f"{EV}/voting/polls/{poll_id}/minutes.pdf")
    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"{EV}/voting/polls/{poll_id}")
    with c.session_transaction() as s:
        assert ("error", "The minutes are made once the poll is closed.") in s["_flashes"]


# ---------------------------------------------------------------- XLSX

def workbook(client, path):
    r = client.get(f"{EV}/voting/{path}")
    assert r.status_code == 200, r.data[:300]
    assert r.mimetype == XLSX and r.headers["Cache-Control"] == "no-store"
    return r, load_workbook(io.BytesIO(r.data))


def test_results_workbook_has_the_numbers(app, counted, client_for):
    r, wb = workbook(client_for("a.tellers"), f"polls/{counted['poll']}/results.xlsx")
    assert "ket-qua-bau-ban-chap-hanh.xlsx" in r.headers["Content-Disposition"]
    assert wb.sheetnames == ["Kết quả", "Phiếu"]
    b = block(wb["Kết quả"], "Bầu Ban Chấp hành")
    assert b["Kind"][0] == "Election" and b["Ballot"][0] == "Secret ballot"
    assert b["Seats"][0] == 2 and b["Delegates present (eligible)"][0] == 10
    assert b["Result"][0] == "Nguyễn Văn An, Trần Thị Bình"
    assert b["Ballots"][:3] == ["Total", "Electronic", "Paper"]
    assert b["Issued"][:3] == [10, 7, 3] and b["Returned"][:3] == [10, 7, 3]
    assert b["Valid"][:3] == [9, 7, 2] and b["Invalid"][:3] == [1, 0, 1]
    rows = [v for k, v in b.items() if isinstance(k, tuple)]
    assert [(row[0], row[2], row[4] or "") for row in rows] == [
        ("Nguyễn Văn An", 6, "Elected"), ("Trần Thị Bình", 5, "Elected"),
        ("Lê Văn Cường", 3, ""), ("Phạm Thị Dung", 1, "")]
    assert [row[3] for row in rows] == pytest.approx([0.6, 0.5, 0.3, 0.1])


def test_a_secret_polls_workbook_names_no_voter(app, counted, client_for):
    _r, wb = workbook(client_for("a.tellers"), f"polls/{counted['poll']}/results.xlsx")
    ws = wb["Phiếu"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, row, strict=True)) for row in ws.iter_rows(min_row=2,
                                                                        values_only=True)]
    # The electronic ballots only (paper ones are figures), by receipt.
    assert [row["Receipt"] for row in rows] == sorted(format_receipt(x)
                                                      for x in counted["receipts"])
    assert all(not row["Code"] and not row["Full name"] for row in rows)
    assert sorted(row["Choices"] for row in rows) == sorted([
        "Nguyễn Văn An; Trần Thị Bình", "Nguyễn Văn An; Trần Thị Bình",
        "Nguyễn Văn An; Lê Văn Cường", "Nguyễn Văn An; Lê Văn Cường",
        "Trần Thị Bình; Lê Văn Cường", "Nguyễn Văn An", "Phạm Thị Dung"])
    for value in cells(wb):
        text = str(value)
        assert not any(name in text for name in counted["names"]), text
        assert not any(code in text for code in PRESENT), text


def test_a_named_polls_workbook_lists_the_voters(app, assembly, client_for):
    with app.app_context():
        ev = assembly.event("a")
        poll = named_motion(ev)
        names = {code: person(ev, code).full_name for code in PRESENT}
        poll_id = poll.id
    _r, wb = workbook(client_for("a.tellers"), f"polls/{poll_id}/results.xlsx")
    ws = wb["Phiếu"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, row, strict=True)) for row in ws.iter_rows(min_row=2,
                                                                        values_only=True)]
    assert len(rows) == 9
    assert {row["Code"]: row["Full name"] for row in rows} == \
        {code: names[code] for code in PRESENT[:9]}
    by_code = {row["Code"]: row for row in rows}
    assert by_code["DB0001"]["Choices"] == "In favour"
    assert by_code["DB0008"]["Choices"] == "Against"
    assert all(row["Ballot"] == "Valid" for row in rows)
    b = block(wb["Kết quả"], "Thông qua Quy chế")
    assert b["Result"][0] == "Passed"
    assert [v[2] for k, v in b.items() if isinstance(k, tuple)] == [7, 1, 1]


def test_the_events_results_list_every_counted_poll_in_agenda_order(app, assembly, counted,
                                                                   client_for):
    with app.app_context():
        ev = assembly.event("a")
        motion = named_motion(ev)
        motion.position = 0    # first on the agenda, though made last
        make_poll(ev, title="Chưa mở")
        opened(ev, title="Đang mở")
        session().commit()
    _r, wb = workbook(client_for("a.tellers"), "results.xlsx")
    titles = [row[0] for row in wb["Kết quả"].iter_rows(values_only=True)
              if row[0] in ("Thông qua Quy chế", "Bầu Ban Chấp hành", "Chưa mở", "Đang mở")]
    assert titles == ["Thông qua Quy chế", "Bầu Ban Chấp hành"]
    rows = list(wb["Phiếu"].iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in rows] == list(range(1, 17))
    assert [row[1] for row in rows] == ["Thông qua Quy chế"] * 9 + ["Bầu Ban Chấp hành"] * 7
    assert all(row[5] and row[6] for row in rows[:9])
    assert not any(row[5] or row[6] for row in rows[9:])


# ---------------------------------------------------------------- who may

@pytest.mark.parametrize(("user", "status"), [
    ("a.tellers", 200), ("a.secretariat", 200), ("a.admin", 200),
    ("a.delegate", 403), ("a.checkin", 403), ("b.admin", 404)])
def test_who_may_download(app, counted, client_for, user, status):
    c = client_for(user)
    for path in (f"polls/{counted['poll']}/minutes.pdf", f"polls/{counted['poll']}/results.xlsx",
                 "results.xlsx"):
        r = c.get(f"{EV}/voting/{path}")
        assert r.status_code == status, (path, r.status_code)
    if status == 200:
        assert r.mimetype == XLSX


def test_a_poll_of_another_event_is_not_found(app, assembly, client_for):
    with app.app_context():
        ev = assembly.event("b")
        poll = services.create_poll(session(), ev, services.PollInput(title="Khác"), actor=None)
        session().commit()
        poll_id = poll.id
    c = client_for("a.tellers")
    assert c.get(f"{EV}/voting/polls/{poll_id}/minutes.pdf").status_code == 404
    assert c.get(f"{EV}/voting/polls/{poll_id}/results.xlsx").status_code == 404
    assert c.get(f"{EV}/voting/polls/999999/minutes.pdf").status_code == 404
