"""Congress documents (văn kiện), their file versions and who has read them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow

CATEGORIES = ("political_report", "review_report", "action_programme", "draft_resolution",
              "programme", "rules", "other")
VISIBILITIES = ("public", "delegates", "staff")
KINDS = ("pdf", "docx", "xlsx", "image")


class Document(Base):
    """A document of an event; its file is the newest of its versions."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("visibility IN ('public', 'delegates', 'staff')", name="known_visibility"),
        CheckConstraint(
            "category IN ('political_report', 'review_report', 'action_programme', "
            "'draft_resolution', 'programme', 'rules', 'other')", name="known_category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(30), default="other")
    description: Mapped[str | None] = mapped_column(Text)
    # The parts a comment can be anchored to, one title per line ("Phần I. …").
    sections: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(12), default="delegates")
    position: Mapped[int] = mapped_column(Integer, default=0)
    # None: a draft only its managers see; otherwise readers see it from this moment (UTC).
    publish_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="document", order_by="DocumentVersion.number.desc()",
        cascade="all, delete-orphan", lazy="selectin")

    @property
    def current(self) -> DocumentVersion | None:
        return self.versions[0] if self.versions else None

    @property
    def section_list(self) -> list[str]:
        return [s.strip() for s in (self.sections or "").splitlines() if s.strip()]


class DocumentVersion(Base):
    """One uploaded file of a document. A new version never replaces the file of an old one."""

    __tablename__ = "document_versions"
    __table_args__ = (
        UniqueConstraint("document_id", "number"),
        CheckConstraint("kind IN ('pdf', 'docx', 'xlsx', 'image')", name="known_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"),
                                             index=True)
    number: Mapped[int] = mapped_column(Integer)
    # The name readers download it as (sanitized); the file on disk has a random name.
    filename: Mapped[str] = mapped_column(String(200))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    mimetype: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    pages: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)  # what changed in this version
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    document: Mapped[Document] = relationship(back_populates="versions")


class DocumentReader(Base):
    """Someone opened a document (once per person): the "read by" figure."""

    __tablename__ = "document_readers"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"),
                                             primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    first_read_at: Mapped[datetime] = mapped_column(default=utcnow)
