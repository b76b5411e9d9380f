"""The documents services: who may read what, a document and its versions as stored (files
on disk, hashes, history), order, readers and downloads counted, deleting and what keeps a
document from being deleted, and the demo congress's political report."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from core.db import session, utcnow
from core.errors import NotFound, ServiceError
from core.models import AuditEntry
from plugins.documents import services
from plugins.documents.models import Document, DocumentReader, DocumentVersion
from tests.conftest import login
from tests.plugins.documents.conftest import (
    add_doc,
    docx_bytes,
    files_on_disk,
    image_bytes,
    tiny_pdf,
)

READERS = {
    "delegate": {"delegate"},
    "guest": {"guest"},
    "checkin": {"checkin"},
    "credentials": {"credentials"},
    "secretariat": {"secretariat"},
    "documents": {"documents"},
    "organiser": {"organiser"},
    "hall screen": set(),
}
# Who reads a published document of each visibility (managers read drafts too).
EXPECTED = {
    "public": {"delegate", "guest", "checkin", "credentials", "secretariat", "documents",
               "organiser"},
    "delegates": {"delegate", "checkin", "credentials", "secretariat", "documents",
                  "organiser"},
    "staff": {"checkin", "credentials", "secretariat", "documents", "organiser"},
}
MANAGERS = {"secretariat", "documents", "organiser"}


def count_rows(model) -> int:
    return session().scalar(select(func.count()).select_from(model))


def test_who_reads_what(ctx):
    now = utcnow()
    for visibility, readers in EXPECTED.items():
        published = Document(title="x", visibility=visibility, publish_at=now - timedelta(1))
        draft = Document(title="x", visibility=visibility, publish_at=None)
        later = Document(title="x", visibility=visibility, publish_at=now + timedelta(hours=1))
        for who, roles in READERS.items():
            assert services.may_read(published, roles, now) is (who in readers), \
                (visibility, who)
            assert services.may_read(draft, roles, now) is (who in MANAGERS), (visibility, who)
            assert services.may_read(later, roles, now) is (who in MANAGERS), (visibility, who)
            # Once its time has come, the scheduled one reads like a published one.
            assert services.may_read(later, roles, now + timedelta(hours=2)) is \
                (who in readers), (visibility, who)
    # A delegate who is also a guest of the event is still a delegate.
    doc = Document(title="x", visibility="delegates", publish_at=now)
    assert services.may_read(doc, {"guest", "delegate"}, now)
    assert services.is_manager({"documents"}) and not services.is_manager({"checkin"})


def test_a_document_is_stored_with_its_first_version(app, world, report):
    with app.app_context():
        ev = world.event("a")
        author = world.user("a.documents")
        doc_id = add_doc(ev, title="  Dự thảo Báo cáo chính trị ", raw=report, actor=author,
                         filename="../../etc/Báo cáo: chính*trị?.pdf", category="political_report",
                         sections="Phần I. Kết quả\n\n  Phần II. Hạn chế  \n", note="Lần 1")
        doc = session().get(Document, doc_id)
        assert doc.title == "Dự thảo Báo cáo chính trị"
        assert doc.section_list == ["Phần I. Kết quả", "Phần II. Hạn chế"]
        assert doc.position == 1 and doc.created_by_id == author.id
        v = doc.current
        assert (v.number, v.kind, v.mimetype, v.pages) == (1, "pdf", "application/pdf", 3)
        assert v.size == len(report) and v.sha256 == hashlib.sha256(report).hexdigest()
        assert v.filename == "Báo cáo chính trị.pdf" and v.note == "Lần 1"
        assert v.uploaded_by_id == author.id and v.downloads == 0
        folder = Path(app.config["FILES_DIR"]) / "documents" / str(ev.id)
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}\.pdf", v.stored_name)
        assert files_on_disk(app) == [folder / v.stored_name]
        assert (folder / v.stored_name).read_bytes() == report
        assert services.file_path(ev, v) == folder / v.stored_name
        # The next one goes below it.
        assert session().get(Document, add_doc(ev, title="Hai")).position == 2
        entry = session().scalar(select(AuditEntry).where(AuditEntry.action == "document.create"))
        assert entry.detail["id"] == doc_id and entry.detail["sha256"] == v.sha256
        assert entry.event_id == ev.id and entry.actor_id == author.id


def test_a_refused_file_or_field_leaves_nothing_behind(app, world):
    with app.app_context():
        ev = world.event("a")
        base = {"actor": None, "title": "T", "category": "other", "visibility": "public"}
        attempts = [
            ({"filename": "x.pdf", "raw": b"MZ\x90\x00" + b"\x00" * 64}, "not a PDF"),
            ({"filename": "x.docx", "raw": tiny_pdf()}, "but its content is a PDF file"),
            ({"filename": "x.pdf", "raw": b""}, "the file is empty"),
            ({"filename": "x.pdf", "raw": tiny_pdf(), "title": " "}, "needs a title"),
            ({"filename": "x.pdf", "raw": tiny_pdf(), "title": "T" * 301}, "longer than 300"),
            ({"filename": "x.pdf", "raw": tiny_pdf(), "category": "secret"}, "unknown category"),
            ({"filename": "x.pdf", "raw": tiny_pdf(), "visibility": "all"},
             "unknown visibility"),
            ({"filename": "x.pdf", "raw": tiny_pdf(), "sections": "A\nB\nA"},
             "two sections have the same title"),
            ({"filename": "x.pdf", "raw": tiny_pdf(), "sections": "S" * 201},
             "at most 60 sections"),
            ({"filename": "x.pdf", "raw": tiny_pdf(), "note": "n" * 1001}, "note is longer"),
        ]
        for changes, message in attempts:
            with pytest.raises(ServiceError) as info:
                services.create_document(session(), ev, **{**base, **changes})
            assert message in info.value.message, changes
            session().rollback()
            assert count_rows(Document) == 0 and count_rows(DocumentVersion) == 0
            assert files_on_disk(app) == [], changes


def test_a_file_written_for_a_transaction_that_rolls_back_is_removed(app, world):
    with app.app_context():
        ev = world.event("a")
        services.create_document(session(), ev, actor=None, title="T", category="other",
                                 visibility="public", filename="a.pdf", raw=tiny_pdf())
        assert len(files_on_disk(app)) == 1
        session().rollback()
        assert files_on_disk(app) == [] and count_rows(Document) == 0
        # A committed one stays.
        add_doc(ev, title="Kept")
        session().rollback()
        assert len(files_on_disk(app)) == 1


def test_a_new_version_keeps_the_old_one(app, world):
    first, second = tiny_pdf(1), tiny_pdf(2)
    with app.app_context():
        ev = world.event("a")
        doc_id = add_doc(ev, title="Chương trình", raw=first, note="Bản đầu")
        doc = session().get(Document, doc_id)
        v2 = services.add_version(session(), ev, doc, actor=world.user("a.secretariat"),
                                  filename="chuong-trinh-v2.pdf", raw=second, note="Sửa phần II")
        session().commit()
        assert v2.number == 2 and doc.current.id == v2.id
        assert [v.number for v in doc.versions] == [2, 1]
        v1 = doc.versions[1]
        assert services.file_path(ev, v1).read_bytes() == first
        assert services.file_path(ev, v2).read_bytes() == second
        assert v1.stored_name != v2.stored_name
        assert (v1.sha256, v2.sha256) == (hashlib.sha256(first).hexdigest(),
                                          hashlib.sha256(second).hexdigest())
        assert (v1.note, v2.note, v2.pages) == ("Bản đầu", "Sửa phần II", 2)
        # Another kind of file is fine as a new version; a refused one adds nothing.
        v3 = services.add_version(session(), ev, doc, actor=None, filename="anh.png",
                                  raw=image_bytes())
        session().commit()
        assert (v3.number, v3.kind) == (3, "image")
        with pytest.raises(ServiceError):
            services.add_version(session(), ev, doc, actor=None, filename="x.pdf", raw=b"MZ")
        session().rollback()
        assert count_rows(DocumentVersion) == 3 and len(files_on_disk(app)) == 3
        assert services.get_version(doc, 1).id == v1.id
        with pytest.raises(NotFound):
            services.get_version(doc, 4)
        actions = list(session().scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("document.%")).order_by(AuditEntry.id)))
        assert actions == ["document.create", "document.version", "document.version"]


def test_documents_of_another_event_are_not_found(app, world):
    with app.app_context():
        doc_id = add_doc(world.event("a"), title="Lào Cai")
        with pytest.raises(NotFound):
            services.get_document(session(), world.event("b"), doc_id, {"organiser"})
        assert services.list_documents(session(), world.event("b"), {"organiser"}) == []
        doc = services.get_document(session(), world.event("a"), doc_id, {"delegate"})
        assert doc.title == "Lào Cai"


def test_the_list_follows_the_order_and_moving_swaps_neighbours(app, world):
    with app.app_context():
        ev = world.event("a")
        ids = [add_doc(ev, title=t) for t in ("Một", "Hai", "Ba")]

        def titles():
            return [d.title for d in services.list_documents(session(), ev, {"delegate"})]

        assert titles() == ["Một", "Hai", "Ba"]
        services.move(session(), ev, session().get(Document, ids[2]), -1, actor=None)
        session().commit()
        assert titles() == ["Một", "Ba", "Hai"]
        services.move(session(), ev, session().get(Document, ids[0]), 1, actor=None)
        session().commit()
        assert titles() == ["Ba", "Một", "Hai"]
        # At the ends nothing moves.
        services.move(session(), ev, session().get(Document, ids[2]), -1, actor=None)
        services.move(session(), ev, session().get(Document, ids[1]), 1, actor=None)
        session().commit()
        assert titles() == ["Ba", "Một", "Hai"]
        assert [session().get(Document, i).position for i in ids] == [2, 3, 1]


def test_readers_are_counted_once_and_downloads_add_up(app, world):
    with app.app_context():
        ev = world.event("a")
        doc_id = add_doc(ev, title="Đọc")
        doc = session().get(Document, doc_id)
        for username in ("a.delegate", "a.delegate", "a.guest", "a.delegate"):
            services.record_read(session(), doc, world.user(username))
        services.record_read(session(), doc, None)
        session().commit()
        assert count_rows(DocumentReader) == 2
        assert services.reader_counts(session(), ev) == {doc_id: 2}
        assert services.reader_counts(session(), world.event("b")) == {}
        for _ in range(3):
            services.count_download(session(), doc.current)
        session().commit()
        session().expire_all()
        assert session().get(Document, doc_id).current.downloads == 3


def test_published_count_leaves_out_drafts_and_scheduled_ones(app, world):
    with app.app_context():
        ev = world.event("a")
        add_doc(ev, title="Now")
        add_doc(ev, title="Past", publish="past")
        add_doc(ev, title="Draft", publish="draft")
        add_doc(ev, title="Later", publish="future")
        add_doc(world.event("b"), title="Other")
        assert services.count(session(), ev) == 2


def test_a_document_without_comments_is_deleted_with_its_files(app, world):
    with app.app_context():
        ev = world.event("a")
        doc_id = add_doc(ev, title="Xoá", raw=docx_bytes(), filename="a.docx")
        doc = session().get(Document, doc_id)
        services.add_version(session(), ev, doc, actor=None, filename="b.pdf", raw=tiny_pdf())
        services.record_read(session(), doc, world.user("a.delegate"))
        session().commit()
        assert len(files_on_disk(app)) == 2
        # Rolled back: the row and the files stay.
        services.delete_document(session(), ev, doc, actor=None)
        assert len(files_on_disk(app)) == 2
        session().rollback()
        assert len(files_on_disk(app)) == 2 and count_rows(Document) == 1
        doc = session().get(Document, doc_id)
        services.delete_document(session(), ev, doc, actor=world.user("a.documents"))
        assert len(files_on_disk(app)) == 2  # not before the commit
        session().commit()
        assert files_on_disk(app) == []
        assert count_rows(Document) == 0 and count_rows(DocumentVersion) == 0
        assert count_rows(DocumentReader) == 0
        entry = session().scalar(select(AuditEntry).where(AuditEntry.action == "document.delete"))
        assert entry.detail == {"id": doc_id, "title": "Xoá", "versions": 2}


def test_a_document_with_comments_is_not_deleted(app, world):
    from plugins.forum import services as forum
    from plugins.forum.models import ForumComment, ForumTopic

    with app.app_context():
        ev = world.event("a")
        quiet_id = add_doc(ev, title="Mở góp ý, chưa ai viết")
        forum.set_commenting(session(), ev, session().get(Document, quiet_id), True, actor=None)
        doc_id = add_doc(ev, title="Có góp ý", sections="Phần I")
        topic = forum.set_commenting(session(), ev, session().get(Document, doc_id), True,
                                     actor=None)
        forum.post_comment(session(), ev, topic, author=world.user("a.delegate"),
                           roles={"delegate"}, body="Đề nghị bổ sung số liệu.",
                           section="Phần I")
        session().commit()
        before = files_on_disk(app)
        with pytest.raises(ServiceError) as info:
            services.delete_document(session(), ev, session().get(Document, doc_id), actor=None)
        assert "cannot be deleted" in info.value.message
        session().rollback()
        assert session().get(Document, doc_id) is not None
        assert count_rows(ForumComment) == 1 and files_on_disk(app) == before
        # Opened for comments but nobody wrote: it goes, and its empty topic with it.
        services.delete_document(session(), ev, session().get(Document, quiet_id), actor=None)
        session().commit()
        assert session().get(Document, quiet_id) is None
        assert [t.document_id for t in session().scalars(select(ForumTopic))] == [doc_id]
        assert len(files_on_disk(app)) == 1


def test_the_demo_has_the_draft_political_report_as_a_published_pdf(app, report):
    from core.demo import load_demo
    from core.models import Event

    with app.app_context():
        assert load_demo(session(), password="demo-pass-123")
        session().commit()
        event = session().scalar(select(Event).where(Event.slug == "dai-hoi-xvi"))
        docs = services.list_documents(session(), event, {"delegate"})
        assert [d.title for d in docs] == ["Dự thảo Báo cáo chính trị"]
        doc = docs[0]
        assert doc.category == "political_report" and doc.visibility == "delegates"
        assert services.is_published(doc)
        assert doc.section_list == [
            "Phần I. Kết quả thực hiện Nghị quyết Đại hội nhiệm kỳ 2022 – 2027",
            "Phần II. Hạn chế, nguyên nhân và bài học kinh nghiệm",
            "Phần III. Phương hướng, mục tiêu và giải pháp nhiệm kỳ 2027 – 2032"]
        v = doc.current
        assert (v.number, v.kind, v.pages, v.note) == (1, "pdf", 3, "Bản dự thảo lần 1")
        assert v.filename == "Du thao Bao cao chinh tri.pdf"
        raw = services.file_path(event, v).read_bytes()
        assert raw.startswith(b"%PDF-") and hashlib.sha256(raw).hexdigest() == v.sha256
        assert v.uploaded_by_id is not None
        # Guests do not see it (it is for delegates); it counts as published.
        assert services.list_documents(session(), event, {"guest"}) == []
        assert services.count(session(), event) == 1
    phone = app.test_client()
    login(phone, "daibieu.demo", "demo-pass-123")
    r = phone.get(f"/lao-cai/dai-hoi-xvi/documents/{doc.id}/v1/file")
    assert r.status_code == 200 and r.data.startswith(b"%PDF-")


def test_scheduled_documents_appear_when_their_time_comes(app, world):
    with app.app_context():
        ev = world.event("a")
        doc_id = add_doc(ev, title="Sau", publish="future")
        assert services.list_documents(session(), ev, {"delegate"}) == []
        assert [d.id for d in services.list_documents(session(), ev, {"documents"})] == [doc_id]
        session().execute(update(Document).where(Document.id == doc_id)
                          .values(publish_at=utcnow() - timedelta(minutes=1)))
        session().commit()
        assert [d.id for d in services.list_documents(session(), ev, {"delegate"})] == [doc_id]
