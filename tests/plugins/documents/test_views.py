"""The documents pages through the Flask test client: every route and the file URL behind the
same read check (roles, visibility, drafts, publication time, other tenants, signed out),
uploads refused or accepted by content, names, versions, downloads and readers counted, order,
publication at a set time, deleting, and the pdf.js files."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select, update

from core.db import session, utcnow
from core.i18n import format_datetime
from plugins.documents import services
from plugins.documents.models import Document, DocumentReader, DocumentVersion
from tests.conftest import build_world, login, make_app
from tests.plugins.documents.conftest import (
    BASE,
    DOCM_MAIN,
    OTHER,
    add_doc,
    docx_bytes,
    encrypted_pdf,
    files_on_disk,
    image_bytes,
    tiny_pdf,
    upload,
    xlsx_bytes,
)

TITLES = {
    "public": "Chương trình Đại hội công khai",
    "delegates": "Dự thảo Nghị quyết cho đại biểu",
    "staff": "Kịch bản điều hành nội bộ",
    "draft": "Bản nháp Báo cáo kiểm điểm",
    "future": "Chương trình hành động hẹn giờ",
}
ALL = set(TITLES)
# Which of the documents above each account reads; None: another tenant (404 everywhere).
AUDIENCE = {
    "a.delegate": {"public", "delegates"},
    "a.guest": {"public"},
    "a.checkin": {"public", "delegates", "staff"},
    "a.credentials": {"public", "delegates", "staff"},
    "a.secretariat": ALL,
    "a.documents": ALL,
    "a.admin": ALL,
    "b.admin": None,
    "b.delegate": None,
    "b.secretariat": None,
}
MANAGERS = {"a.secretariat", "a.documents", "a.admin"}


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def assert_refused(resp, status: int, *titles: str) -> None:
    """A refusal that gives nothing away: no title, no file."""
    assert resp.status_code == status, (resp.status_code, resp.request.path)
    assert b"%PDF" not in resp.data
    for t in titles:
        assert t not in text(resp), (t, resp.request.path)


def count_rows(model) -> int:
    return session().scalar(select(func.count()).select_from(model))


@pytest.fixture
def docs(app, world):
    """One document of each kind of TITLES in event "a"; {key: (id, pdf bytes)}."""
    made = {}
    with app.app_context():
        ev = world.event("a")
        for key, title in TITLES.items():
            raw = tiny_pdf(text=title)
            visibility = key if key in ("public", "delegates", "staff") else "public"
            publish = {"draft": "draft", "future": "future"}.get(key, "now")
            made[key] = (add_doc(ev, title=title, visibility=visibility, raw=raw,
                                 publish=publish), raw)
    return made


def test_every_route_and_the_file_follow_the_read_rules(app, docs, client_for):
    for username, readable in AUDIENCE.items():
        c = client_for(username)
        index = c.get(f"{BASE}/")
        dashboard = c.get("/lao-cai/dai-hoi/")
        if readable is None:
            assert_refused(index, 404, *TITLES.values())
            assert_refused(dashboard, 404, *TITLES.values())
        else:
            assert index.status_code == 200 and dashboard.status_code == 200
            listed = {k for k, t in TITLES.items() if t in text(index)}
            assert listed == readable, username
            # The dashboard's widget lists the same documents (the first six).
            assert {k for k, t in TITLES.items() if t in text(dashboard)} == readable, username
        new = c.get(f"{BASE}/new")
        assert new.status_code == (200 if username in MANAGERS else
                                   404 if readable is None else 403), username
        for key, (doc_id, raw) in docs.items():
            title = TITLES[key]
            show = c.get(f"{BASE}/{doc_id}")
            inline = c.get(f"{BASE}/{doc_id}/v1/file")
            download = c.get(f"{BASE}/{doc_id}/v1/file?download=1")
            edit = c.get(f"{BASE}/{doc_id}/edit")
            if readable is not None and key in readable:
                assert show.status_code == 200 and title in text(show), (username, key)
                assert inline.status_code == 200 and inline.data == raw, (username, key)
                assert inline.headers["Content-Disposition"].startswith("inline")
                assert download.status_code == 200 and download.data == raw
                assert download.headers["Content-Disposition"].startswith("attachment")
            else:
                for resp in (show, inline, download):
                    assert_refused(resp, 404, title)
            if username in MANAGERS:
                assert edit.status_code == 200 and title in text(edit)
            else:
                assert_refused(edit, 404 if readable is None else 403, title)


def test_the_other_tenant_cannot_reach_a_document_through_its_own_event(app, docs,
                                                                         client_for):
    doc_id, raw = docs["public"]
    b = client_for("b.secretariat")
    assert b.get(f"{OTHER}/").status_code == 200
    for path in ("", "/v1/file", "/v1/file?download=1", "/edit"):
        assert_refused(b.get(f"{OTHER}/{doc_id}{path}"), 404, TITLES["public"])
    for path, data in (("/delete", {}), ("/move", {"direction": "up"}),
                       ("/edit", {"title": "Hijack", "category": "other",
                                  "visibility": "public", "publish": "now"}),
                       ("/versions", {})):
        assert b.post(f"{OTHER}/{doc_id}{path}", data=data).status_code == 404, path
    with app.app_context():
        doc = session().get(Document, doc_id)
        assert doc.title == TITLES["public"] and len(doc.versions) == 1
        assert count_rows(Document) == len(TITLES)


def test_signed_out_visitors_are_sent_to_sign_in(app, docs):
    anonymous = app.test_client()
    doc_id, _raw = docs["public"]
    gets = ["/", "/new", f"/{doc_id}", f"/{doc_id}/edit", f"/{doc_id}/v1/file",
            f"/{doc_id}/v1/file?download=1"]
    for path in gets:
        r = anonymous.get(f"{BASE}{path}")
        assert_refused(r, 302, TITLES["public"])
        assert r.headers["Location"].startswith("/login"), path
    for path in ("/new", f"/{doc_id}/versions", f"/{doc_id}/move", f"/{doc_id}/delete",
                 f"/{doc_id}/edit"):
        r = anonymous.post(f"{BASE}{path}", data={"title": "x"})
        assert r.status_code == 302 and r.headers["Location"].startswith("/login"), path
    # Also for a document that does not exist, and another tenant's event.
    assert anonymous.get(f"{BASE}/999/v1/file").headers["Location"].startswith("/login")
    assert anonymous.get(f"{OTHER}/{doc_id}/v1/file").headers["Location"].startswith("/login")
    with app.app_context():
        assert session().get(Document, doc_id).versions[0].downloads == 0
        assert count_rows(DocumentReader) == 0


def test_a_scheduled_document_shows_only_to_managers_until_its_time(app, docs, client_for):
    doc_id, raw = docs["future"]
    delegate, manager = client_for("a.delegate"), client_for("a.documents")
    for path in ("", "/v1/file", "/v1/file?download=1"):
        assert_refused(delegate.get(f"{BASE}/{doc_id}{path}"), 404, TITLES["future"])
    page = text(manager.get(f"{BASE}/{doc_id}"))
    assert "Publishes at" in page and TITLES["future"] in page
    assert "Draft: only the documents' managers see it" in text(
        manager.get(f"{BASE}/{docs['draft'][0]}"))
    # Time passes.
    with app.app_context():
        session().execute(update(Document).where(Document.id == doc_id)
                          .values(publish_at=utcnow() - timedelta(seconds=1)))
        session().commit()
    assert TITLES["future"] in text(delegate.get(f"{BASE}/{doc_id}"))
    assert delegate.get(f"{BASE}/{doc_id}/v1/file").data == raw
    assert TITLES["future"] in text(delegate.get(f"{BASE}/"))


def test_posting_routes_are_for_managers_only(app, docs, client_for):
    doc_id, _raw = docs["public"]
    for username in ("a.delegate", "a.guest", "a.checkin", "a.tellers"):
        c = client_for(username)
        assert upload(c, f"{BASE}/new", tiny_pdf(), "x.pdf").status_code == 403, username
        for path, data in (("/delete", {}), ("/move", {"direction": "up"}),
                           ("/edit", {"title": "Đổi", "category": "other",
                                      "visibility": "staff", "publish": "draft"})):
            assert c.post(f"{BASE}/{doc_id}{path}", data=data).status_code == 403, path
        r = upload(c, f"{BASE}/{doc_id}/versions", tiny_pdf(2), "x.pdf")
        assert r.status_code == 403
    with app.app_context():
        doc = session().get(Document, doc_id)
        assert doc.title == TITLES["public"] and doc.visibility == "public"
        assert len(doc.versions) == 1 and count_rows(Document) == len(TITLES)
        assert len(files_on_disk(app)) == len(TITLES)


def test_a_manager_uploads_a_pdf_with_a_dangerous_name(app, world, client_for, report):
    s = client_for("a.secretariat")
    r = upload(s, f"{BASE}/new", report, "../../etc/Báo cáo: chính*trị?.pdf",
               title="Báo cáo chính trị", category="political_report", visibility="public",
               sections="Phần I\nPhần II\nPhần III", note="Bản trình Đại hội")
    assert r.status_code == 302
    page = text(s.get(r.headers["Location"]))
    assert "Document saved." in page and "Báo cáo chính trị.pdf" in page
    assert "3 pages" in page and "Bản trình Đại hội" in page
    with app.app_context():
        ev = world.event("a")
        doc = session().scalar(select(Document))
        v = doc.current
        assert v.filename == "Báo cáo chính trị.pdf"
        assert not set("/\\:*?") & set(v.filename)
        folder = Path(app.config["FILES_DIR"]) / "documents" / str(ev.id)
        assert files_on_disk(app) == [folder / v.stored_name]
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}\.pdf", v.stored_name)
        assert (folder / v.stored_name).read_bytes() == report
        doc_id = doc.id
    d = client_for("a.delegate").get(f"{BASE}/{doc_id}/v1/file?download=1")
    assert d.data == report and d.mimetype == "application/pdf"
    disposition = d.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert f"filename*=UTF-8''{quote('Báo cáo chính trị.pdf')}" in disposition
    assert "etc" not in disposition and ".." not in disposition
    # A PDF is shown by pdf.js in the page; no sandbox (browsers' PDF viewers need scripts).
    assert "Content-Security-Policy" not in d.headers
    assert d.headers["Cache-Control"] == "private, no-cache"


@pytest.mark.parametrize(("raw", "name", "message"), [
    (b"MZ\x90\x00\x03" + b"\x00" * 300, "bao-cao.pdf",
     "the file is not a PDF, a Word (.docx) or Excel (.xlsx) file"),
    (tiny_pdf(), "bao-cao.docx", "name ends in “.docx” but its content is a PDF file"),
    (docx_bytes(DOCM_MAIN), "chuong-trinh.docx", "files with macros are not accepted"),
    (encrypted_pdf(), "bao-cao.pdf", "the PDF is protected by a password"),
    (b"", "bao-cao.pdf", "the file is empty"),
])
def test_refused_uploads_say_why_and_write_nothing(app, world, client_for, raw, name,
                                                   message):
    s = client_for("a.documents")
    r = upload(s, f"{BASE}/new", raw, name, title="Tệp bị từ chối")
    assert r.status_code == 200
    page = text(r)
    assert "The document was not saved:" in page and message in page
    with app.app_context():
        assert count_rows(Document) == 0 and count_rows(DocumentVersion) == 0
    assert files_on_disk(app) == []


def test_word_excel_and_images_are_accepted(app, world, client_for):
    s = client_for("a.documents")
    uploads = [(docx_bytes(), "Chương trình.docx", "docx", ".docx"),
               (xlsx_bytes(), "Số liệu.xlsx", "xlsx", ".xlsx"),
               (image_bytes("PNG"), "Sơ đồ.png", "image", ".png"),
               (image_bytes("JPEG"), "Ảnh.JPEG", "image", ".jpg")]
    for raw, name, _kind, _ext in uploads:
        assert upload(s, f"{BASE}/new", raw, name, title=name).status_code == 302, name
    with app.app_context():
        versions = list(session().scalars(select(DocumentVersion).order_by(DocumentVersion.id)))
        got = [(v.kind, Path(v.filename).suffix, v.size) for v in versions]
        assert got == [(k, e, len(raw)) for raw, _n, k, e in uploads]
        ids = [v.document_id for v in versions]
    d = client_for("a.delegate")
    docx_page = text(d.get(f"{BASE}/{ids[0]}"))
    assert "opens in Word or Excel" in docx_page and "data-pdf-viewer" not in docx_page
    assert f'src="{BASE}/{ids[2]}/v1/file"' in d.get(f"{BASE}/{ids[2]}").get_data(as_text=True)
    # Office files are always downloaded; images open inline; neither may run anything here.
    r = d.get(f"{BASE}/{ids[0]}/v1/file")
    assert r.data == uploads[0][0] and r.headers["Content-Disposition"].startswith("attachment")
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert r.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    img = d.get(f"{BASE}/{ids[3]}/v1/file")
    assert img.mimetype == "image/jpeg" and img.headers["Content-Disposition"].startswith("inline")
    assert img.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"


@pytest.fixture
def small_app(db_url, tmp_path):
    app = make_app(db_url, tmp_path, DOCUMENT_MAX_MB=1)
    yield app
    app.extensions["daihoi_db"].engine.dispose()


def test_files_over_the_size_limit_are_refused(small_app):
    world = build_world(small_app)
    s = login(small_app.test_client(), "a.documents")
    big = image_bytes("PNG", (700, 560), noise=True)
    assert 1.05 * 2**20 < len(big) < 1.3 * 2**20
    r = upload(s, f"{BASE}/new", big, "so-do.png", title="Quá lớn")
    assert r.status_code == 200
    assert "The document was not saved: the file is larger than 1 MB." in text(r)
    assert files_on_disk(small_app) == []
    with small_app.app_context():
        assert count_rows(Document) == 0
        doc_id = add_doc(world.event("a"), title="Nhỏ")
    # Nor as a new version.
    r = upload(s, f"{BASE}/{doc_id}/versions", big, "so-do.png")
    assert r.status_code == 302
    assert "The new version was not saved: the file is larger than 1 MB." in text(
        s.get(r.headers["Location"]))
    with small_app.app_context():
        assert count_rows(DocumentVersion) == 1
    assert len(files_on_disk(small_app)) == 1
    # Just under the limit passes.
    ok = upload(s, f"{BASE}/new", image_bytes("PNG", (560, 560), noise=True), "vua.png",
                title="Vừa")
    assert ok.status_code == 302


def test_bad_form_input_is_refused_and_nothing_is_written(app, world, client_for):
    s = client_for("a.secretariat")
    cases = [
        ({"file": None}, "The document was not saved: choose a file to upload."),
        ({"category": "secret"}, "Check the fields marked below."),
        ({"visibility": "everyone"}, "Check the fields marked below."),
        ({"title": "T" * 301}, "Check the fields marked below."),
        ({"title": ""}, "Check the fields marked below."),
        ({"publish": "at", "publish_at": ""},
         "The document was not saved: give the time to publish at."),
    ]
    for changes, message in cases:
        if "file" in changes:
            r = s.post(f"{BASE}/new", data={"title": "T", "category": "other",
                                             "visibility": "public", "publish": "now"},
                       content_type="multipart/form-data")
        else:
            r = upload(s, f"{BASE}/new", tiny_pdf(), "a.pdf", **changes)
        assert r.status_code == 200, changes
        assert message in text(r), changes
    assert files_on_disk(app) == []
    with app.app_context():
        assert count_rows(Document) == 0
        doc_id = add_doc(world.event("a"), title="Có sẵn")
    # Editing with bad fields changes nothing either.
    r = s.post(f"{BASE}/{doc_id}/edit", data={"title": "Đổi", "category": "nope",
                                             "visibility": "public", "publish": "now"})
    assert r.status_code == 200 and "Check the fields marked below." in text(r)
    r = s.post(f"{BASE}/{doc_id}/versions", data={}, content_type="multipart/form-data")
    assert "The new version was not saved: choose a file to upload." in text(
        s.get(r.headers["Location"]))
    with app.app_context():
        doc = session().get(Document, doc_id)
        assert (doc.title, doc.category, len(doc.versions)) == ("Có sẵn", "other", 1)
    assert len(files_on_disk(app)) == 1


def test_a_new_version_keeps_the_history(app, world, client_for):
    first, second = tiny_pdf(1, text="v1"), tiny_pdf(2, text="v2")
    with app.app_context():
        doc_id = add_doc(world.event("a"), title="Dự thảo Nghị quyết", raw=first,
                         filename="nghi-quyet.pdf", note="Bản đầu tiên")
    s = client_for("a.documents")
    r = upload(s, f"{BASE}/{doc_id}/versions", second, "nghi-quyet-sua.pdf",
               note="Sửa mục tiêu phần III")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/documents/{doc_id}")
    page = text(s.get(r.headers["Location"]))
    assert "Version 2 saved; readers now see it." in page
    with app.app_context():
        doc = session().get(Document, doc_id)
        v2, v1 = doc.versions
        assert (v2.number, v1.number) == (2, 1) and doc.current.id == v2.id
        dates = [format_datetime(v2.uploaded_at), format_datetime(v1.uploaded_at)]
        assert v2.sha256 == hashlib.sha256(second).hexdigest()
        assert v1.sha256 == hashlib.sha256(first).hexdigest()
    versions = page[page.index("<h2>Versions</h2>"):]
    assert versions.index("Version 2") < versions.index("current") < versions.index("Version 1")
    for needle in ("Sửa mục tiêu phần III", "Bản đầu tiên", "nghi-quyet-sua.pdf",
                   "nghi-quyet.pdf", *dates):
        assert needle in versions, needle
    assert f'data-src="{BASE}/{doc_id}/v2/file"' in page
    d = client_for("a.delegate")
    assert d.get(f"{BASE}/{doc_id}/v1/file?download=1").data == first
    assert d.get(f"{BASE}/{doc_id}/v2/file").data == second
    assert d.get(f"{BASE}/{doc_id}/v3/file").status_code == 404
    # Delegates see the history too, but not the managers' figures.
    reader_page = text(d.get(f"{BASE}/{doc_id}"))
    assert "Version 1" in reader_page and "Bản đầu tiên" in reader_page
    assert "downloads" not in reader_page and "Upload a new version" not in reader_page


def test_downloads_and_readers_are_counted(app, world, client_for):
    with app.app_context():
        ev = world.event("a")
        pdf_id = add_doc(ev, title="Đếm PDF", visibility="public")
        docx_id = add_doc(ev, title="Đếm DOCX", raw=docx_bytes(), filename="a.docx")

    def downloads(doc_id):
        with app.app_context():
            return session().get(Document, doc_id).current.downloads

    d = client_for("a.delegate")
    assert d.get(f"{BASE}/{pdf_id}/v1/file").status_code == 200
    assert downloads(pdf_id) == 0  # viewed in the page
    assert d.get(f"{BASE}/{pdf_id}/v1/file?download=1").status_code == 200
    assert downloads(pdf_id) == 1
    ranged = d.get(f"{BASE}/{pdf_id}/v1/file?download=1", headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.data) == 100
    assert downloads(pdf_id) == 1  # a resumed part is not another download
    client_for("a.guest").get(f"{BASE}/{pdf_id}/v1/file?download=1")
    assert downloads(pdf_id) == 2
    # The browser's copy still good (304) or only the headers asked for: nothing sent.
    etag = ranged.headers["ETag"]
    again = d.get(f"{BASE}/{pdf_id}/v1/file?download=1", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert d.head(f"{BASE}/{pdf_id}/v1/file?download=1").status_code == 200
    assert downloads(pdf_id) == 2
    # Word files have no in-page view: opening one is a download.
    d.get(f"{BASE}/{docx_id}/v1/file")
    assert downloads(docx_id) == 1
    # Readers: once per person, however often they open it; opening the file is not reading.
    for _ in range(3):
        assert d.get(f"{BASE}/{pdf_id}").status_code == 200
    client_for("a.guest").get(f"{BASE}/{pdf_id}")
    client_for("a.guest").get(f"{BASE}/{pdf_id}")
    client_for("a.secretariat").get(f"{BASE}/{pdf_id}")  # who publishes it is not a reader
    with app.app_context():
        readers = session().scalars(select(DocumentReader.user_id).where(
            DocumentReader.document_id == pdf_id))
        assert sorted(readers) == sorted([world.user("a.delegate").id,
                                          world.user("a.guest").id])
        assert count_rows(DocumentReader) == 2
    index = text(client_for("a.secretariat").get(f"{BASE}/"))
    assert "read by 2 · 2 downloads" in index and "read by 0 · 1 downloads" in index
    # Readers do not see the counts.
    assert "read by" not in text(d.get(f"{BASE}/"))


def test_moving_changes_the_order(app, world, client_for):
    with app.app_context():
        ids = [add_doc(world.event("a"), title=t) for t in ("Alpha", "Bravo", "Charlie")]
    s = client_for("a.documents")

    def order(client=s):
        page = text(client.get(f"{BASE}/"))
        return sorted(("Alpha", "Bravo", "Charlie"), key=page.index)

    r = s.post(f"{BASE}/{ids[2]}/move", data={"direction": "up"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/documents/")
    assert order() == ["Alpha", "Charlie", "Bravo"]
    s.post(f"{BASE}/{ids[0]}/move", data={"direction": "down"})
    assert order() == ["Charlie", "Alpha", "Bravo"]
    assert order(client_for("a.delegate")) == ["Charlie", "Alpha", "Bravo"]
    with app.app_context():
        assert [session().get(Document, i).position for i in ids] == [2, 3, 1]


def test_publishing_at_a_set_time_stores_utc(app, world, client_for):
    s = client_for("a.secretariat")
    r = upload(s, f"{BASE}/new", tiny_pdf(), "lich.pdf", title="Lịch làm việc",
               publish="at", publish_at="2031-01-15T09:30", visibility="public")
    assert r.status_code == 302
    with app.app_context():
        doc = session().scalar(select(Document))
        assert app.config["BABEL_DEFAULT_TIMEZONE"] == "Asia/Ho_Chi_Minh"
        assert doc.publish_at == datetime(2031, 1, 15, 2, 30)  # 09:30 in Hà Nội, UTC+7
        doc_id = doc.id
    edit = s.get(f"{BASE}/{doc_id}/edit").get_data(as_text=True)
    assert 'value="2031-01-15T09:30"' in edit
    assert re.search(r'<option selected value="at">|<option value="at" selected', edit)
    assert "09:30 15/01/2031" in text(s.get(f"{BASE}/"))
    assert_refused(client_for("a.guest").get(f"{BASE}/{doc_id}"), 404, "Lịch làm việc")
    # Publishing now from the edit form opens it to readers at once.
    r = s.post(f"{BASE}/{doc_id}/edit", data={"title": "Lịch làm việc", "category": "other",
                                             "visibility": "public", "publish": "now"})
    assert r.status_code == 302
    assert "Lịch làm việc" in text(client_for("a.guest").get(f"{BASE}/{doc_id}"))
    with app.app_context():
        published_at = session().get(Document, doc_id).publish_at
        assert abs(published_at - utcnow()) < timedelta(minutes=1)
    # Saving a published one again keeps its publication time; a draft hides it again.
    s.post(f"{BASE}/{doc_id}/edit", data={"title": "Lịch làm việc (sửa)", "category": "other",
                                         "visibility": "public", "publish": "now"})
    with app.app_context():
        assert session().get(Document, doc_id).publish_at == published_at
    s.post(f"{BASE}/{doc_id}/edit", data={"title": "Lịch làm việc", "category": "other",
                                         "visibility": "public", "publish": "draft"})
    assert client_for("a.guest").get(f"{BASE}/{doc_id}").status_code == 404


def test_deleting_a_document_removes_it_and_its_files(app, world, client_for):
    with app.app_context():
        ev = world.event("a")
        doc_id = add_doc(ev, title="Tài liệu thừa")
        services.add_version(session(), ev, session().get(Document, doc_id), actor=None,
                             filename="b.pdf", raw=tiny_pdf(2))
        session().commit()
        kept = add_doc(ev, title="Giữ lại")
    assert len(files_on_disk(app)) == 3
    s = client_for("a.documents")
    r = s.post(f"{BASE}/{doc_id}/delete")
    assert r.status_code == 302 and r.headers["Location"].endswith("/documents/")
    assert "Document deleted." in text(s.get(r.headers["Location"]))
    assert len(files_on_disk(app)) == 1
    with app.app_context():
        assert session().get(Document, doc_id) is None
        assert [d.id for d in session().scalars(select(Document))] == [kept]
        assert count_rows(DocumentVersion) == 1
    assert s.get(f"{BASE}/{doc_id}").status_code == 404
    assert s.get(f"{BASE}/{doc_id}/v1/file").status_code == 404


def test_a_document_with_comments_is_not_deleted(app, world, client_for):
    from plugins.forum import services as forum
    from plugins.forum.models import ForumComment

    with app.app_context():
        ev = world.event("a")
        doc_id = add_doc(ev, title="Đang góp ý", sections="Phần I\nPhần II")
        topic = forum.set_commenting(session(), ev, session().get(Document, doc_id), True,
                                     actor=None)
        forum.post_comment(session(), ev, topic, author=world.user("a.delegate"),
                           roles={"delegate"}, body="Đề nghị làm rõ chỉ tiêu.", page=1)
        session().commit()
    before = files_on_disk(app)
    s = client_for("a.documents")
    r = s.post(f"{BASE}/{doc_id}/delete")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/documents/{doc_id}")
    page = text(s.get(r.headers["Location"]))
    assert "The document was not deleted: others have written about this document" in page
    assert files_on_disk(app) == before and len(before) == 1
    with app.app_context():
        assert session().get(Document, doc_id).current is not None
        assert count_rows(ForumComment) == 1
    assert client_for("a.delegate").get(f"{BASE}/{doc_id}/v1/file").status_code == 200


def test_a_missing_file_is_not_found(app, world, client_for):
    with app.app_context():
        doc_id = add_doc(world.event("a"), title="Mất tệp")
    for path in files_on_disk(app):
        path.unlink()
    d = client_for("a.delegate")
    assert d.get(f"{BASE}/{doc_id}/v1/file").status_code == 404
    assert d.get(f"{BASE}/{doc_id}").status_code == 200


def test_the_pdf_viewer_scripts_are_served_and_nothing_else(app):
    c = app.test_client()
    for name in ("pdf.mjs", "pdf.worker.mjs"):
        r = c.get(f"/vendor/{name}")
        assert r.status_code == 200, name
        assert r.mimetype == "text/javascript" and len(r.data) > 10_000
    assert c.get("/vendor/pdf-cmaps/78-H.bcmap").status_code == 200
    for path in ("/vendor/pdf-cmaps/../../package.json", "/vendor/pdf-cmaps/..%2f..%2fpackage.json",
                 "/vendor/pdf-fonts/../../../pdfjs-dist/package.json", "/vendor/package.json",
                 "/vendor/pdfjs-dist/package.json", "/vendor/pdf-cmaps/"):
        r = c.get(path)
        assert r.status_code == 404, path
        assert b'"name"' not in r.data
    viewer = c.get("/modules/documents/static/viewer.mjs")
    assert viewer.status_code == 200 and viewer.mimetype == "text/javascript"
