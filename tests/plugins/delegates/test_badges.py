"""Badges: the QR code read back from the rendered PDF by a real decoder, layouts, the
background job through the page, and who may fetch what."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp
from pypdf import PdfReader
from sqlalchemy import func, select

from core.db import session
from core.models import AuditEntry
from plugins.delegates import badges, services
from plugins.delegates.demo import HEADER
from plugins.delegates.models import BadgeJob, Delegate
from plugins.delegates.roster_import import apply_roster, parse_roster
from tests.conftest import wait_for

A = "/lao-cai/dai-hoi/badges"
B_EVENT = "/yen-bai/dai-hoi/badges"
MM = 72 / 25.4  # PDF points per millimetre


# ---------------------------------------------------------------- helpers

def qr_texts(pdf: bytes, page: int = 0, dpi: int = 200) -> list[str]:
    """Every QR code on a PDF page, rendered at `dpi`, in reading order (rows, then left to
    right)."""
    doc = pdfium.PdfDocument(pdf)
    try:
        image = doc[page].render(scale=dpi / 72).to_pil()
    finally:
        doc.close()
    found = [r for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]
    row = dpi  # badges are 54 mm high: one inch of slack keeps a row together
    found.sort(key=lambda r: (r.position.top_left.y // row, r.position.top_left.x))
    return [r.text for r in found]


def pages_of(pdf: bytes) -> list:
    return PdfReader(io.BytesIO(pdf)).pages


def people(app, event, *codes) -> list[Delegate]:
    with app.app_context():
        rows = {d.code: d for d in session().scalars(
            select(Delegate).where(Delegate.event_id == event, Delegate.code.in_(codes)))}
        return [rows[c] for c in codes]


def add_guests(app, world, n: int = 3) -> None:
    lines = [",".join(HEADER)]
    for i in range(1, n + 1):
        lines.append(f"KM09{i:02d},Lò Thị Khách {i},01/02/1990,Nữ,Thái,Không,"
                     "Ban Tuyên giáo Tỉnh ủy,,,,Không,Khách mời,,,")
    with app.app_context():
        preview = parse_roster("\n".join(lines).encode(), "guests.csv")
        assert preview.ok, preview.problems
        apply_roster(session(), world.event("a"), preview, actor=None)
        session().commit()


def roster_in_b(app, world) -> list[int]:
    """A few delegates in the other union's congress, for the 404 checks."""
    from plugins.delegates.demo import generate_roster

    with app.app_context():
        preview = parse_roster(generate_roster(5, seed=9), "b.csv")
        apply_roster(session(), world.event("b"), preview, actor=None)
        session().commit()
        return list(session().scalars(select(Delegate.id).where(
            Delegate.event_id == world.ids["b"])))


def wait_job(client, job_id: int, timeout: float = 120) -> dict:
    seen = []

    def finished():
        r = client.get(f"{A}/jobs/{job_id}")
        assert r.status_code == 200, r.data[:300]
        seen.append(r.json)
        return r.json["status"] in ("done", "failed")

    assert wait_for(finished, timeout), seen[-1:]
    return seen[-1] | {"_seen": seen}


# ---------------------------------------------------------------- QR codes

def test_qr_is_one_pixel_per_module_and_decodes_with_the_fixed_mask():
    secret = services.new_secret()
    png = badges.qr_png(secret)
    from PIL import Image

    img = Image.open(io.BytesIO(png))
    # A 32-character secret fits version 3 (29 modules) at level M; one module of border.
    assert img.size == (31, 31) and img.mode == "1"
    for _ in range(150):  # the fixed mask pattern must never make a code unreadable
        secret = services.new_secret()
        big = Image.open(io.BytesIO(badges.qr_png(secret))).resize((31 * 6, 31 * 6),
                                                                    Image.Resampling.NEAREST)
        framed = Image.new("L", (31 * 6 + 40, 31 * 6 + 40), 255)
        framed.paste(big, (20, 20))
        assert [r.text for r in zxingcpp.read_barcodes(framed)] == [secret]


def test_badge_pdf_qr_resolves_to_that_delegate_only_in_its_event(app, roster_world):
    d, = people(app, roster_world.ids["a"], "DB0007")
    with app.app_context():
        event = roster_world.event("a")
        pdf = badges.one_badge_pdf(d, event, app.instance_path)
        assert len(pages_of(pdf)) == 1
        box = pages_of(pdf)[0].mediabox
        assert (round(float(box.width) / MM, 1), round(float(box.height) / MM, 1)) == (85.6, 54.0)
        texts = qr_texts(pdf)
        assert texts == [d.checkin_secret]
        secret = texts[0]
        assert len(secret) >= 32 and not secret.isdigit()  # random, not the record's id
        found = services.by_checkin_secret(session(), event, secret)
        assert found is not None and found.id == d.id
        # The same secret names nobody in another union's congress.
        assert services.by_checkin_secret(session(), roster_world.event("b"), secret) is None
        text = pages_of(pdf)[0].extract_text()
    for part in (d.full_name, d.unit_name, d.code, d.group, "ĐẠI BIỂU", "ĐẠI HỘI LAO-CAI"):
        assert part in text, part


def test_guest_badge_says_khach_moi(app, roster_world):
    add_guests(app, roster_world)
    g, = people(app, roster_world.ids["a"], "KM0901")
    with app.app_context():
        pdf = badges.one_badge_pdf(g, roster_world.event("a"), app.instance_path)
    text = pages_of(pdf)[0].extract_text()
    assert "KHÁCH MỜI" in text and "ĐẠI BIỂU" not in text and "Lò Thị Khách 1" in text
    assert qr_texts(pdf) == [g.checkin_secret]


def test_regenerated_secret_revokes_the_printed_badge(app, roster_world):
    d, = people(app, roster_world.ids["a"], "DB0002")
    with app.app_context():
        event = roster_world.event("a")
        old = qr_texts(badges.one_badge_pdf(d, event, app.instance_path))[0]
        assert services.by_checkin_secret(session(), event, old).id == d.id
        fresh = session().get(Delegate, d.id)
        services.regenerate_badge(session(), event, fresh, actor=roster_world.user("a.admin"))
        session().commit()
        assert services.by_checkin_secret(session(), event, old) is None
        new = qr_texts(badges.one_badge_pdf(fresh, event, app.instance_path))[0]
        assert new != old and services.by_checkin_secret(session(), event, new).id == d.id
        assert session().scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "delegate.badge_regenerate")) == 1


def test_sheet_holds_ten_badges_with_cut_marks_and_card_one_per_page(app, roster_world):
    codes = [f"DB{i:04d}" for i in range(1, 24)]
    ds = people(app, roster_world.ids["a"], *codes)
    data = [badges.badge_data(d, app.instance_path) for d in ds]
    sheet = badges.render_pdf(data, "sheet", "Đại hội")
    pages = pages_of(sheet)
    assert len(pages) == 3  # 10 + 10 + 3
    box = pages[0].mediabox
    assert (round(float(box.width) / MM), round(float(box.height) / MM)) == (210, 297)  # A4
    assert qr_texts(sheet, 0) == [d.checkin_secret for d in ds[:10]]
    assert qr_texts(sheet, 2) == [d.checkin_secret for d in ds[20:]]
    assert len(badges.cut_marks(badges.LAYOUTS["sheet"])) == 18
    card = badges.render_pdf(data[:4], "card", "Đại hội")
    assert len(pages_of(card)) == 4
    assert [qr_texts(card, i) for i in range(4)] == [[d.checkin_secret] for d in ds[:4]]


def test_photo_is_printed_when_the_delegate_has_one(app, roster_world):
    from PIL import Image

    from plugins.delegates import photos

    d, e = people(app, roster_world.ids["a"], "DB0010", "DB0011")
    raw = io.BytesIO()
    Image.new("RGB", (900, 1200), (200, 30, 30)).save(raw, "JPEG")
    with app.app_context():
        event = roster_world.event("a")
        d = session().get(Delegate, d.id)
        photos.save_photo(session(), event, d, raw.getvalue(), instance_path=app.instance_path,
                          actor=None)
        session().commit()
        with_photo = badges.one_badge_pdf(d, event, app.instance_path)
        without = badges.one_badge_pdf(e, event, app.instance_path)

    def images(pdf):
        return len(pages_of(pdf)[0].images)

    assert images(with_photo) == 2 and images(without) == 1  # photo + QR, QR only
    doc = pdfium.PdfDocument(with_photo)
    try:
        img = doc[0].render(scale=200 / 72).to_pil().convert("RGB")
    finally:
        doc.close()
    # The photo sits left of the name, 1.5 + 2.5 mm in and 1.5 + 10.5 mm down: sample its middle.
    x, y = round((1.5 + 2.5 + 10) * 200 / 25.4), round((1.5 + 10.5 + 14) * 200 / 25.4)
    r, g, b = img.getpixel((x, y))
    assert r > 150 and g < 80 and b < 80
    assert qr_texts(with_photo) == [d.checkin_secret]


def test_many_badges_in_a_process_pool_keep_their_order(app, roster_world):
    codes = [f"DB{i:04d}" for i in range(1, 46)]
    ds = people(app, roster_world.ids["a"], *codes)
    data = [badges.badge_data(d, app.instance_path) for d in ds]
    progress = []
    pdf, stats = badges.render_many(data, "sheet", "Đại hội", workers=2,
                                    progress=lambda done, total: progress.append((done, total)))
    assert stats.chunk_sizes == [20, 20, 5] and stats.workers == 2
    assert stats.pages == 5 and len(pages_of(pdf)) == 5
    assert [p[1] for p in progress] == [45] * 3
    assert [p[0] for p in progress] == sorted(p[0] for p in progress) and progress[-1][0] == 45
    assert qr_texts(pdf, 0) == [d.checkin_secret for d in ds[:10]]
    assert qr_texts(pdf, 2) == [d.checkin_secret for d in ds[20:30]]
    assert qr_texts(pdf, 4) == [d.checkin_secret for d in ds[40:]]
    assert stats.qr > 0 and stats.layout > 0


def test_plan_chunks_cuts_whole_pages():
    for total in (1, 9, 10, 11, 299, 300, 1000, 2345):
        for per_page in (1, 10):
            sizes = badges.plan_chunks(total, per_page, 2)
            assert sum(sizes) == total
            assert all(s % per_page == 0 for s in sizes[:-1])
    assert badges.plan_chunks(1000, 10, 2) == [130] * 7 + [90]
    assert badges.plan_chunks(1000, 1, 2) == [125] * 8
    assert badges.plan_chunks(300, 10, 2) == [40] * 7 + [20]
    assert badges.plan_chunks(10_000, 10, 2) == [200] * 50
    assert badges.plan_chunks(0, 10, 2) == []


def test_choice_of_people(app, roster_world):
    add_guests(app, roster_world, 2)
    roster_in_b(app, roster_world)  # the same codes in the other congress change nothing
    with app.app_context():
        db, event = session(), roster_world.event("a")
        rejected = db.scalar(select(Delegate).where(Delegate.event_id == event.id,
                                                    Delegate.code == "DB0005"))
        services.set_status(db, event, rejected, "rejected", actor=None, reason="sai tuổi")
        db.flush()
        every = badges.select_delegates(db, event, "all")
        assert len(every) == 301 and "DB0005" not in {d.code for d in every}
        assert [d.code for d in every[-2:]] == ["KM0901", "KM0902"]  # guests after delegates
        assert len(badges.select_delegates(db, event, "delegates")) == 299
        assert [d.code for d in badges.select_delegates(db, event, "guests")] == \
            ["KM0901", "KM0902"]
        codes = badges.parse_codes("db0009, DB0003;\nKM0902  db0009")
        assert codes == ["DB0009", "DB0003", "KM0902"]
        assert [d.code for d in badges.select_delegates(db, event, "codes", codes)] == codes
        from core.errors import ServiceError

        with pytest.raises(ServiceError, match="DB9999"):
            badges.select_delegates(db, event, "codes", ["DB0001", "DB9999"])
        with pytest.raises(ServiceError, match="DB0005"):
            badges.select_delegates(db, event, "codes", ["DB0005"])
        assert {d.event_id for d in badges.select_delegates(db, event, "codes", ["DB0001"])} \
            == {event.id}


# ---------------------------------------------------------------- the desk

def test_desk_badge_route(app, roster_world, client_for):
    d, = people(app, roster_world.ids["a"], "DB0001")
    foreign = roster_in_b(app, roster_world)
    c = client_for("a.checkin")
    r = c.get(f"{A}/one/{d.id}.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert "no-store" in r.headers["Cache-Control"]
    assert qr_texts(r.data) == [d.checkin_secret]
    sheet = c.get(f"{A}/one/{d.id}.pdf?layout=sheet")
    assert round(float(pages_of(sheet.data)[0].mediabox.width) / MM) == 210
    assert c.get(f"{A}/one/{d.id}.pdf?layout=poster").status_code == 404
    # By code, as the desk types it.
    r = c.get(f"{A}/one?code=db0001")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/one/{d.id}.pdf?layout=card")
    assert c.get(f"{A}/one?code=NOPE").status_code == 302
    # Another union's delegate through our own event: 404; their event: 404.
    for other in foreign:
        assert c.get(f"{A}/one/{other}.pdf").status_code == 404
        assert c.get(f"{B_EVENT}/one/{other}.pdf").status_code == 404
    assert client_for("b.secretariat").get(f"{A}/one/{d.id}.pdf").status_code == 404
    assert client_for("a.delegate").get(f"{A}/one/{d.id}.pdf").status_code == 403
    assert client_for("a.credentials").get(f"{A}/one/{d.id}.pdf").status_code == 403
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "delegate.badge_print")) == 2


# ---------------------------------------------------------------- the job through the page

def test_whole_congress_job_end_to_end(app, roster_world, client_for, monkeypatch):
    import core.realtime

    sent = []
    monkeypatch.setattr(core.realtime, "publish",
                        lambda event, name, data, **kw: sent.append((event, name, data, kw)))
    c = client_for("a.secretariat")
    page = c.get(f"{A}/")
    assert page.status_code == 200 and "Make the PDF" in page.get_data(as_text=True)
    r = c.post(f"{A}/jobs", data={"scope": "all", "layout": "sheet", "codes": ""})
    assert r.status_code == 302
    with app.app_context():
        job = session().scalar(select(BadgeJob).where(BadgeJob.event_id == roster_world.ids["a"]))
    assert r.headers["Location"].endswith(f"/badges/?job={job.id}")
    page = c.get(f"{A}/?job={job.id}").get_data(as_text=True)
    assert f'data-badge-job="{job.id}"' in page and "<progress" in page
    assert f"{A}/script.js" in page
    final = wait_job(c, job.id)
    assert final["status"] == "done", final
    assert final["total"] == final["done"] == 300
    assert final["url"] == f"{A}/jobs/{job.id}/file"
    # Progress went to the staff room: coalesced per job while running, the end at once.
    assert all(e == roster_world.ids["a"] and n == "delegates:badge_job"
               and kw["audience"] == "staff" for e, n, _d, kw in sent)
    running = [(d, kw) for _e, _n, d, kw in sent if d["status"] == "running"]
    assert len(running) >= 3 and all(kw["key"] == f"badge_job:{job.id}" for _d, kw in running)
    assert [d["done"] for d, _kw in running][-1] == 300
    assert sent[-1][2]["status"] == "done" and sent[-1][3]["key"] is None

    r = c.get(final["url"])
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert "attachment" in r.headers["Content-Disposition"]
    assert "no-store" in r.headers["Cache-Control"]
    pdf = r.data
    assert len(pages_of(pdf)) == 30
    with app.app_context():
        first = session().scalar(select(Delegate).where(Delegate.event_id == job.event_id,
                                                        Delegate.code == "DB0001"))
        assert qr_texts(pdf, 0)[0] == first.checkin_secret
        job = session().get(BadgeJob, job.id)
        # The file sits under instance/badges/<event>/ with a random name, served only here.
        path = Path(app.instance_path) / "badges" / str(job.event_id) / job.file
        assert path.is_file() and len(job.file) > 20  # random, not guessable from the id
        assert session().scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action.in_(("delegates.badges_print", "delegates.badges_download")))) == 2

    # Only people with the badges right of THIS event may fetch it.
    assert client_for("a.checkin").get(final["url"]).status_code == 200
    assert client_for("a.admin").get(final["url"]).status_code == 200
    assert client_for("a.delegate").get(final["url"]).status_code in (403, 404)
    assert client_for("a.credentials").get(final["url"]).status_code == 403
    for user in ("b.secretariat", "b.admin"):
        other = client_for(user)
        assert other.get(final["url"]).status_code == 404
        assert other.get(f"{A}/jobs/{job.id}").status_code == 404
        assert other.get(f"{B_EVENT}/jobs/{job.id}/file").status_code == 404
        assert other.get(f"{B_EVENT}/jobs/{job.id}").status_code == 404
    assert app.test_client().get(final["url"]).status_code == 302  # signed out: to sign-in


def test_job_for_chosen_codes_and_refused_choices(app, roster_world, client_for):
    c = client_for("a.checkin")
    r = c.post(f"{A}/jobs", data={"scope": "codes", "layout": "card",
                                  "codes": "DB0003, db0001"})
    assert r.status_code == 302
    with app.app_context():
        job = session().scalar(select(BadgeJob))
    final = wait_job(c, job.id)
    assert final["status"] == "done" and final["total"] == 2
    pdf = c.get(final["url"]).data
    d3, d1 = people(app, roster_world.ids["a"], "DB0003", "DB0001")
    assert [qr_texts(pdf, i) for i in range(2)] == [[d3.checkin_secret], [d1.checkin_secret]]

    r = c.post(f"{A}/jobs", data={"scope": "codes", "layout": "sheet", "codes": "DB0001 ZZ77"},
               follow_redirects=True)
    assert "ZZ77" in r.get_data(as_text=True)
    r = c.post(f"{A}/jobs", data={"scope": "everyone", "layout": "sheet"}, follow_redirects=True)
    assert "Choose who and which layout." in r.get_data(as_text=True)
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(BadgeJob)) == 1


def test_job_that_cannot_be_queued_is_failed_at_once(app, roster_world, client_for,
                                                     monkeypatch):
    def refuse(*_a, **_k):
        raise ConnectionError("redis down")

    monkeypatch.setattr(badges, "start_job", refuse)
    c = client_for("a.secretariat")
    r = c.post(f"{A}/jobs", data={"scope": "guests", "layout": "sheet"}, follow_redirects=True)
    assert "nobody to print" in r.get_data(as_text=True)  # no guests in the sample roster
    r = c.post(f"{A}/jobs", data={"scope": "all", "layout": "sheet"}, follow_redirects=True)
    assert "could not be started" in r.get_data(as_text=True)
    with app.app_context():
        job = session().scalar(select(BadgeJob))
        assert job.status == "failed" and job.error


def test_a_job_whose_process_died_shows_failed(app, roster_world, client_for):
    import os

    from core import jobs

    with app.app_context():
        rows = [BadgeJob(event_id=roster_world.ids["a"], status=s, total=300, done=120)
                for s in ("running", "running", "running", "queued")]
        session().add_all(rows)
        session().commit()
        ids = [j.id for j in rows]
    c = client_for("a.secretariat")
    # 1: its heartbeat stopped long ago (the process was killed mid-run).
    stale = jobs.heartbeat_path(app, badges.job_key(ids[0]))
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.touch()
    old = time.time() - 10 * jobs.STALE_SECONDS
    os.utime(stale, (old, old))
    # 2: still beating: left alone.
    jobs.Heartbeat(app, badges.job_key(ids[1])).beat()
    # 3 and 4: no heartbeat at all, no queue (in-process mode): the server restarted.
    states = {i: c.get(f"{A}/jobs/{i}").json for i in ids}
    assert states[ids[0]]["status"] == "failed" and "stopped" in states[ids[0]]["error"]
    assert states[ids[1]]["status"] == "running" and states[ids[1]]["done"] == 120
    assert states[ids[2]]["status"] == "failed" and states[ids[3]]["status"] == "failed"
    assert states[ids[0]]["url"] is None
    # The page's list shows them failed too, never "in progress" forever.
    assert "failed" in c.get(f"{A}/").get_data(as_text=True)
    # A worker that comes back late cannot claim a failed job.
    with app.app_context():
        assert badges.run_job(ids[3], ["DB0001"]) is None
        assert session().get(BadgeJob, ids[3]).status == "failed"


def test_old_files_are_pruned(app, roster_world):
    with app.app_context():
        made = []
        for _ in range(badges.KEEP_FILES + 2):
            job, codes = badges.create_job(session(), roster_world.event("a"), scope="codes",
                                           codes=["DB0001"], layout="card", actor=None)
            session().commit()
            badges.run_job(job.id, codes)
            made.append(job.id)
        session().expire_all()
        kept = [badges.job_file(app.instance_path, session().get(BadgeJob, i)) for i in made]
    assert [p is not None for p in kept] == [False, False] + [True] * badges.KEEP_FILES
    folder = Path(app.instance_path) / "badges" / str(roster_world.ids["a"])
    assert len(list(folder.glob("*.pdf"))) == badges.KEEP_FILES


def test_script_and_pages_need_the_badges_right(app, roster_world, client_for):
    c = client_for("a.checkin")
    r = c.get(f"{A}/script.js")
    assert r.status_code == 200 and "delegates:badge_job" in r.get_data(as_text=True)
    assert client_for("a.delegate").get(f"{A}/").status_code == 403
    assert client_for("a.credentials").get(f"{A}/").status_code == 403
    assert client_for("b.secretariat").get(f"{A}/").status_code == 404
    assert client_for("a.delegate").post(f"{A}/jobs", data={"scope": "all",
                                                            "layout": "sheet"}).status_code == 403
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(BadgeJob)) == 0
