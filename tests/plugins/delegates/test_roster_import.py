"""Roster import: the sample file, errors refused whole, idempotent re-import, encodings, XLSX,
column mapping, and the import pages."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from core.db import session
from core.errors import ServiceError
from core.models import EventMember
from plugins.delegates.demo import generate_roster
from plugins.delegates.models import Delegate
from plugins.delegates.roster_import import apply_roster, parse_roster
from tests.conftest import login
from tests.plugins.conftest import ROSTER

EV = "/lao-cai/dai-hoi"
HEADER = ROSTER.read_text(encoding="utf-8-sig").splitlines()[0]


def with_cell(line: str, index: int, value: str) -> str:
    cells = next(csv.reader([line]))
    cells[index] = value
    return ",".join(cells)


TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def to_cp1258(text: str) -> bytes:
    """Encode as Windows-1258 does: letters like ă, ơ stay whole, tone marks are combining."""
    import unicodedata

    out = []
    for ch in text:
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES))
        out.append(base + "".join(c for c in parts if c in TONES))
    return "".join(out).encode("cp1258")


def count(kind=None):
    stmt = select(func.count()).select_from(Delegate)
    if kind:
        stmt = stmt.where(Delegate.kind == kind)
    return session().scalar(stmt)


def test_the_sample_roster_imports(ctx, world):
    preview = parse_roster(ROSTER.read_bytes(), ROSTER.name)
    assert preview.ok and len(preview.rows) == 300
    result = apply_roster(session(), world.event("a"), preview, actor=None)
    session().commit()
    assert (result.created, result.updated, result.unchanged) == (300, 0, 0)
    first = session().scalar(select(Delegate).where(Delegate.code == "DB0001"))
    src = next(csv.DictReader(io.StringIO(ROSTER.read_text(encoding="utf-8-sig"))))
    assert first.full_name == src["Họ và tên"]
    assert first.birth_date.strftime("%d/%m/%Y") == src["Ngày sinh"]
    assert first.delegate_type == "ex_officio" and first.party_member is True
    assert first.status == "convened" and len(first.checkin_secret) >= 32
    roles = session().scalars(select(EventMember.role).where(
        EventMember.user_id == first.user_id)).all()
    assert roles == ["delegate"]


def test_reimport_is_idempotent_and_updates_by_code(ctx, world):
    raw = ROSTER.read_bytes()
    apply_roster(session(), world.event("a"), parse_roster(raw, "r.csv"), actor=None)
    session().commit()
    secrets_before = dict(session().execute(select(Delegate.code, Delegate.checkin_secret)).all())
    again = apply_roster(session(), world.event("a"), parse_roster(raw, "r.csv"), actor=None)
    session().commit()
    assert (again.created, again.updated, again.unchanged) == (0, 0, 300)
    changed = raw.decode("utf-8-sig").replace("Hoàng Văn Mạnh", "Hoàng Văn Mạnh Hùng", 1)
    third = apply_roster(session(), world.event("a"), parse_roster(changed.encode(), "r.csv"),
                         actor=None)
    session().commit()
    assert (third.created, third.updated, third.unchanged) == (0, 1, 299)
    assert count() == 300
    assert dict(session().execute(select(Delegate.code, Delegate.checkin_secret)).all()) == \
        secrets_before  # badges stay valid


def test_a_file_with_errors_is_refused_whole_with_every_error(ctx, world):
    good = ROSTER.read_text(encoding="utf-8-sig").splitlines()
    bad_rows = [
        good[1],
        good[2].replace("28/09/1994", "31/02/1994"),            # line 3: impossible date
        good[3].split(",", 1)[0] + "," + good[1].split(",", 1)[1],  # fine
        good[1].replace("Hoàng Văn Mạnh", "Someone Else"),     # line 5: duplicate DB0001
        with_cell(good[4], 3, "Robot"),                         # line 6: unknown gender
        with_cell(good[5], 11, "Tự ứng cử"),                    # line 7: unknown delegate type
        ",Không Mã,01/01/1990,Nam,Kinh,Không,X,Y,Đại học,,Có,Được bầu,Tổ 1,0912345678,a@b.vn",
        good[6].replace("@example.vn", "-at-example"),          # line 9: bad email
    ]
    raw = "\n".join([HEADER, *bad_rows]).encode()
    preview = parse_roster(raw, "bad.csv")
    assert not preview.ok
    by_line = {}
    for p in preview.problems:
        by_line.setdefault(p.line, []).append((p.column, p.message))
    assert set(by_line) == {3, 5, 6, 7, 8, 9}, by_line
    assert by_line[3] == [("Date of birth", "not a date in the form dd/mm/yyyy")]
    assert "duplicate code DB0001 (first on line 2)" in by_line[5][0][1]
    assert by_line[6][0][0] == "Gender"
    assert "Tự ứng cử" in by_line[7][0][1]
    assert by_line[8][0] == ("Delegate code", "the delegate code is empty")
    assert by_line[9][0][0] == "Email"
    with pytest.raises(ServiceError):
        apply_roster(session(), world.event("a"), preview, actor=None)
    assert count() == 0


def test_windows_1258_is_converted_and_1252_refused(ctx, world):
    text = "\n".join(ROSTER.read_text(encoding="utf-8-sig").splitlines()[:4])
    preview = parse_roster(to_cp1258(text), "old.csv")
    assert preview.ok and "Windows-1258" in preview.notice
    assert preview.rows[0].values["full_name"] == "Hoàng Văn Mạnh"
    latin = ("Ma dai bieu,Ho va ten,Ngay sinh\nDB1,José Müller,01/01/1990\n").encode("cp1252")
    preview = parse_roster(latin, "latin.csv")
    assert preview.fatal and "not UTF-8" in preview.fatal and "line 2" in preview.fatal


def test_xlsx_with_real_dates_and_numbers(ctx, world):
    from datetime import date

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(HEADER.split(","))
    ws.append(["DB9001", "Lò Thị Mai", date(1995, 3, 8), "Nữ", "Thái", "Không", "Đoàn xã Cốc Ly",
               "Bí thư", "Đại học", "Sơ cấp", "Có", "Đương nhiên", "Tổ 2", 912345678,
               "mai@example.vn"])
    ws.append(["KM0001", "Vàng A Páo", "02/09/1990", "Nam", "Mông", "Không", "Xã Y Tý", "",
               "", "", "Không", "Khách mời", "", "", ""])
    buf = io.BytesIO()
    wb.save(buf)
    preview = parse_roster(buf.getvalue(), "roster.xlsx")
    assert preview.ok, preview.problems
    apply_roster(session(), world.event("a"), preview, actor=None)
    session().commit()
    mai = session().scalar(select(Delegate).where(Delegate.code == "DB9001"))
    assert mai.birth_date == date(1995, 3, 8) and mai.phone == "912345678"
    assert count("guest") == 1 and count("delegate") == 1
    assert parse_roster(b"PK\x03\x04not really a zip", "x.xlsx").fatal


def test_column_mapping_when_headers_differ(ctx, world):
    raw = "Số hiệu,Tên đầy đủ,Sinh ngày\nA1,Nguyễn Văn An,02/03/1991\n".encode()
    preview = parse_roster(raw, "odd.csv")
    assert not preview.ok and set(preview.missing_required) == {"code", "full_name",
                                                                 "birth_date"}
    mapped = parse_roster(raw, "odd.csv", {0: "code", 1: "full_name", 2: "birth_date"})
    assert mapped.ok and mapped.rows[0].values["code"] == "A1"


def test_thousand_rows_preview(ctx, world):
    preview = parse_roster(generate_roster(1000, seed=3, guests=50), "big.csv")
    assert preview.ok and len(preview.rows) == 1050


def test_import_pages_preview_then_confirm(app, world):
    c = login(app.test_client(), "a.secretariat")
    r = c.post(f"{EV}/delegates/import", data={"file": (io.BytesIO(ROSTER.read_bytes()),
                                                        "roster-300.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 302
    preview_url = r.headers["Location"]
    page = c.get(preview_url).get_data(as_text=True)
    assert "300" in page and "Import 300 rows" in page
    with app.app_context():
        assert count() == 0  # nothing written by the preview
    token = preview_url.rstrip("/").rsplit("/", 1)[1]
    form = {"token": token, "apply": "1"}
    r = c.post(preview_url, data=form, follow_redirects=True)
    assert "Imported: 300 new, 0 updated, 0 unchanged." in r.get_data(as_text=True)
    with app.app_context():
        assert count() == 300
    # The token is spent, and another user cannot use someone else's upload.
    assert c.get(preview_url, follow_redirects=True).status_code == 200
    other = login(app.test_client(), "a.admin")
    assert "gone" in other.get(preview_url, follow_redirects=True).get_data(as_text=True)


def test_import_page_lists_problems_and_writes_nothing(app, world):
    c = login(app.test_client(), "a.secretariat")
    raw = (HEADER + "\nDB1,Nguyễn Văn An,32/01/1990,Nam,Kinh,Không,X,Y,Đại học,,Có,Được bầu,"
           "Tổ 1,0912345678,a@b.vn\n").encode()
    r = c.post(f"{EV}/delegates/import", data={"file": (io.BytesIO(raw), "r.csv")},
               content_type="multipart/form-data", follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "not a date in the form dd/mm/yyyy" in page and "Import 1 rows" not in page
    assert login(app.test_client(), "a.delegate").get(f"{EV}/delegates/import").status_code == 403


def test_export_with_links_imports_back_unchanged(app, roster_world):
    from openpyxl import load_workbook

    c = login(app.test_client(), "a.secretariat")
    r = c.get(f"{EV}/delegates/export.xlsx")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    wb = load_workbook(io.BytesIO(r.data))
    rows = list(wb["Đại biểu"].iter_rows(values_only=True))
    assert rows[0][0] == "Mã đại biểu" and len(rows) == 301
    link = rows[1][-1]
    assert "/d/" in link
    # The link in the file opens the page of the person on its row.
    d_client = app.test_client()
    birth = rows[1][2]
    path = link.split("localhost", 1)[1]
    assert d_client.post(path, data={"birth_date": birth}).status_code == 302
    with app.app_context():
        again = parse_roster(r.data, "export.xlsx")
        assert again.ok, again.problems[:3]
        result = apply_roster(session(), roster_world.event("a"), again, actor=None)
        assert (result.created, result.updated) == (0, 0)
    assert login(app.test_client(), "a.checkin").get(
        f"{EV}/delegates/export.xlsx").status_code == 403


def test_unconfirmed_uploads_are_deleted_after_a_day(app, world):
    import os
    import time
    from pathlib import Path

    c = login(app.test_client(), "a.secretariat")
    c.post(f"{EV}/delegates/import", data={"file": (io.BytesIO(ROSTER.read_bytes()), "r.csv")},
           content_type="multipart/form-data")
    folder = Path(app.instance_path) / "uploads" / str(world.ids["a"])
    (old,) = list(folder.glob("*.bin"))
    day_ago = time.time() - 25 * 3600
    os.utime(old, (day_ago, day_ago))
    c.post(f"{EV}/delegates/import", data={"file": (io.BytesIO(ROSTER.read_bytes()), "r.csv")},
           content_type="multipart/form-data")
    remaining = list(folder.glob("*.bin"))
    assert len(remaining) == 1 and remaining[0] != old
