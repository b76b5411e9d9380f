"""Rules of the documents module: who may read what, uploading, versions, order, counts.

Reading: the document's managers (`documents.manage`) see everything, drafts included. Anyone
else sees a document only once it is published (its publish time has come) and only if their
roles match its visibility: `public` — everyone with a role in the event, guests included;
`delegates` — delegates and staff; `staff` — staff only. A hall screen is not a reader.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.db import after_commit, after_rollback, insert_skipping_conflicts, utcnow
from core.errors import NotFound, ServiceError
from core.models import Event, User
from core.rights import has_permission, is_staff
from core.text import nfc
from plugins.documents import files
from plugins.documents.models import (
    CATEGORIES,
    VISIBILITIES,
    Document,
    DocumentReader,
    DocumentVersion,
)

MAX_TITLE = 300
MAX_TEXT = 5000
MAX_SECTIONS = 60
MAX_NOTE = 1000


def _permissions() -> dict:
    return current_app.extensions["daihoi_permissions"]


def is_manager(roles: Iterable[str]) -> bool:
    return has_permission(frozenset(roles), "documents.manage", _permissions())


def is_published(doc: Document, now: datetime | None = None) -> bool:
    return doc.publish_at is not None and doc.publish_at <= (now or utcnow())


def may_read(doc: Document, roles: Iterable[str], now: datetime | None = None) -> bool:
    roles = frozenset(roles)
    if is_manager(roles):
        return True
    if not is_published(doc, now):
        return False
    if doc.visibility == "staff":
        return is_staff(roles)
    if doc.visibility == "delegates":
        return is_staff(roles) or "delegate" in roles
    return is_staff(roles) or bool(roles & {"delegate", "guest"})


def list_documents(db: Session, event: Event, roles: Iterable[str]) -> list[Document]:
    """The documents `roles` may read, in the organisers' order."""
    now = utcnow()
    docs = db.scalars(select(Document).where(Document.event_id == event.id)
                      .order_by(Document.position, Document.id))
    return [d for d in docs if may_read(d, roles, now)]


def get_document(db: Session, event: Event, document_id: int, roles: Iterable[str]) -> Document:
    """The document if `roles` may read it; NotFound otherwise (as if it did not exist)."""
    doc = db.scalar(select(Document).where(Document.id == document_id,
                                           Document.event_id == event.id))
    if doc is None or not may_read(doc, roles):
        raise NotFound()
    return doc


def get_version(doc: Document, number: int) -> DocumentVersion:
    for v in doc.versions:
        if v.number == number:
            return v
    raise NotFound()


def _files_dir() -> Path:
    return Path(current_app.config["FILES_DIR"])


def _max_bytes() -> int:
    return int(current_app.config["DOCUMENT_MAX_MB"]) * 1024 * 1024


def _fields(title: str, category: str, description: str | None, sections: str | None,
            visibility: str) -> dict:
    title = nfc(title)
    if not title:
        raise ServiceError(_("the document needs a title"))
    if len(title) > MAX_TITLE:
        raise ServiceError(_("the title is longer than %(n)s characters", n=MAX_TITLE))
    if category not in CATEGORIES:
        raise ServiceError(_("unknown category"))
    if visibility not in VISIBILITIES:
        raise ServiceError(_("unknown visibility"))
    description = nfc(description) or None
    lines = [nfc(s) for s in (sections or "").splitlines() if nfc(s)]
    if description and len(description) > MAX_TEXT:
        raise ServiceError(_("the description is too long"))
    if len(lines) > MAX_SECTIONS or any(len(s) > 200 for s in lines):
        raise ServiceError(_("at most %(n)s sections of at most 200 characters each",
                             n=MAX_SECTIONS))
    if len(set(lines)) != len(lines):
        raise ServiceError(_("two sections have the same title"))
    return {"title": title, "category": category, "description": description,
            "sections": "\n".join(lines) or None, "visibility": visibility}


def _new_version(db: Session, event: Event, doc: Document, *, actor: User | None,
                 filename: str, raw: bytes, note: str | None) -> DocumentVersion:
    checked = files.check(raw, filename, max_bytes=_max_bytes())
    note = nfc(note) or None
    if note and len(note) > MAX_NOTE:
        raise ServiceError(_("the note is longer than %(n)s characters", n=MAX_NOTE))
    number = (db.scalar(select(func.max(DocumentVersion.number))
                        .where(DocumentVersion.document_id == doc.id)) or 0) + 1
    stored = files.store(_files_dir(), event.id, raw, checked.extension)
    path = files.event_dir(_files_dir(), event.id) / stored
    after_rollback(lambda: path.unlink(missing_ok=True), db)
    version = DocumentVersion(
        document_id=doc.id, number=number, filename=files.clean_filename(filename,
                                                                         checked.extension),
        stored_name=stored, kind=checked.kind, mimetype=checked.mimetype, size=len(raw),
        sha256=checked.sha256, pages=checked.pages, note=note,
        uploaded_by_id=actor.id if actor else None)
    db.add(version)
    db.flush()
    db.refresh(doc, ["versions"])
    return version


def create_document(db: Session, event: Event, *, actor: User | None, title: str,
                    category: str, visibility: str, filename: str, raw: bytes,
                    description: str | None = None, sections: str | None = None,
                    publish_at: datetime | None = None, note: str | None = None) -> Document:
    """A new document with its first version. `publish_at` None keeps it a draft."""
    fields = _fields(title, category, description, sections, visibility)
    position = (db.scalar(select(func.max(Document.position))
                          .where(Document.event_id == event.id)) or 0) + 1
    doc = Document(event_id=event.id, position=position, publish_at=publish_at,
                   created_by_id=actor.id if actor else None, **fields)
    db.add(doc)
    db.flush()
    version = _new_version(db, event, doc, actor=actor, filename=filename, raw=raw, note=note)
    audit.record("document.create", actor=actor, event=event,
                 detail={"id": doc.id, "title": doc.title, "visibility": doc.visibility,
                         "publish_at": _iso(publish_at), "file": version.filename,
                         "sha256": version.sha256})
    return doc


def add_version(db: Session, event: Event, doc: Document, *, actor: User | None,
                filename: str, raw: bytes, note: str | None = None) -> DocumentVersion:
    """A new file for `doc`; the old versions stay, readers see this one as current."""
    version = _new_version(db, event, doc, actor=actor, filename=filename, raw=raw, note=note)
    audit.record("document.version", actor=actor, event=event,
                 detail={"id": doc.id, "number": version.number, "file": version.filename,
                         "sha256": version.sha256, "note": version.note})
    return version


def update_document(db: Session, event: Event, doc: Document, *, actor: User | None,
                    title: str, category: str, visibility: str, description: str | None,
                    sections: str | None, publish_at: datetime | None) -> None:
    fields = _fields(title, category, description, sections, visibility)
    before = {"title": doc.title, "visibility": doc.visibility,
              "publish_at": _iso(doc.publish_at), "category": doc.category}
    for key, value in fields.items():
        setattr(doc, key, value)
    doc.publish_at = publish_at
    audit.record("document.update", actor=actor, event=event,
                 detail={"id": doc.id, "before": before,
                         "after": {"title": doc.title, "visibility": doc.visibility,
                                   "publish_at": _iso(publish_at), "category": doc.category}})


def move(db: Session, event: Event, doc: Document, direction: int, *,
         actor: User | None) -> None:
    """Swap `doc` with its neighbour above (direction -1) or below (+1) in the list."""
    docs = list(db.scalars(select(Document).where(Document.event_id == event.id)
                           .order_by(Document.position, Document.id)))
    i = next(k for k, d in enumerate(docs) if d.id == doc.id)
    j = i + (1 if direction > 0 else -1)
    if not 0 <= j < len(docs):
        return
    docs[i], docs[j] = docs[j], docs[i]
    for position, d in enumerate(docs, start=1):
        d.position = position
    audit.record("document.move", actor=actor, event=event,
                 detail={"id": doc.id, "position": j + 1})


def delete_document(db: Session, event: Event, doc: Document, *, actor: User | None) -> None:
    """Delete a document and its files. Refused while anything refers to it (comments on it):
    unpublish it instead, so nothing anyone wrote is lost. After a refusal the caller rolls
    back."""
    paths = [files.event_dir(_files_dir(), event.id) / v.stored_name for v in doc.versions]
    detail = {"id": doc.id, "title": doc.title, "versions": len(doc.versions)}
    # No savepoint here: SQLite's driver opens none of its own transaction before a SAVEPOINT,
    # so releasing one would commit the deletion at once (before the audit entry, with the
    # files left behind if the caller then rolled back). A refusal is rolled back by the caller.
    try:
        db.delete(doc)
        db.flush()
    except IntegrityError:
        raise ServiceError(_("others have written about this document (comments); it cannot "
                             "be deleted — set it to draft instead")) from None
    audit.record("document.delete", actor=actor, event=event, detail=detail)
    after_commit(lambda: [p.unlink(missing_ok=True) for p in paths], db)


def record_read(db: Session, doc: Document, user: User | None) -> None:
    """Count `user` among the document's readers (once)."""
    if user is None:
        return
    insert_skipping_conflicts(db, DocumentReader.__table__,
                              [{"document_id": doc.id, "user_id": user.id,
                                "first_read_at": utcnow()}],
                              ["document_id", "user_id"], DocumentReader.document_id)


def count_download(db: Session, version: DocumentVersion) -> None:
    # One UPDATE, not read-modify-write: two downloads at once both count.
    db.execute(update(DocumentVersion).where(DocumentVersion.id == version.id)
               .values(downloads=DocumentVersion.downloads + 1))


def reader_counts(db: Session, event: Event) -> dict[int, int]:
    rows = db.execute(select(DocumentReader.document_id, func.count())
                      .join(Document, Document.id == DocumentReader.document_id)
                      .where(Document.event_id == event.id)
                      .group_by(DocumentReader.document_id))
    return dict(rows.all())


def file_path(event: Event, version: DocumentVersion) -> Path | None:
    return files.stored_path(_files_dir(), event.id, version.stored_name)


def count(db: Session, event: Event) -> int:
    """Documents published by now (not drafts, nor those whose time has not come)."""
    return db.scalar(select(func.count()).select_from(Document).where(
        Document.event_id == event.id, Document.publish_at <= utcnow())) or 0


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="minutes") if value else None
