"""The forum: topics (one per commented document, or on the event's general board), comments
and replies, agreements (+1), and the notifications they send."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from core.models import User

RESOLUTIONS = ("accepted", "noted", "answered")
NOTICE_KINDS = ("reply", "hidden", "resolved")


class ForumTopic(Base):
    """A discussion: a document's comments (document_id set) or a topic of the general board."""

    __tablename__ = "forum_topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    # A document's topic goes with the document; a document with comments cannot be deleted
    # (the comments' foreign key to the topic stops it).
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    hidden_at: Mapped[datetime | None] = mapped_column(DateTime)
    hidden_reason: Mapped[str | None] = mapped_column(Text)


class ForumComment(Base):
    """A comment or a reply. The author is always kept, even in an anonymous event: it is what
    lets them edit, and be told of replies; anonymity is how it is shown."""

    __tablename__ = "forum_comments"
    __table_args__ = (
        CheckConstraint("resolution IS NULL OR resolution IN ('accepted', 'noted', 'answered')",
                        name="known_resolution"),
        CheckConstraint("page IS NULL OR page >= 1", name="page_positive"),
        Index("ix_forum_comments_topic_id_id", "topic_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("forum_topics.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("forum_comments.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    # The body without diacritics, lower-case: what the search matches ("tham tra" ~ "thẩm tra").
    body_folded: Mapped[str] = mapped_column(Text)
    # Where in the document it points (top-level comments on a document only).
    section: Mapped[str | None] = mapped_column(String(200))
    page: Mapped[int | None] = mapped_column(Integer)
    paragraph: Mapped[str | None] = mapped_column(String(40))
    version_number: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(DateTime)
    hidden_at: Mapped[datetime | None] = mapped_column(DateTime)
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    # The drafting committee's answer: accepted (tiếp thu), noted (ghi nhận), answered (giải trình).
    resolution: Mapped[str | None] = mapped_column(String(10))
    resolution_reply: Mapped[str | None] = mapped_column(Text)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)

    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="joined")


class ForumAgree(Base):
    """One person agrees (+1) with one comment: the primary key makes it once."""

    __tablename__ = "forum_agrees"

    comment_id: Mapped[int] = mapped_column(ForeignKey("forum_comments.id", ondelete="CASCADE"),
                                            primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ForumNotice(Base):
    """Something a person should see in the app: a reply to them, their comment hidden or
    answered by the committee."""

    __tablename__ = "forum_notices"
    __table_args__ = (
        CheckConstraint("kind IN ('reply', 'hidden', 'resolved')", name="known_kind"),
        Index("ix_forum_notices_user_id_event_id", "user_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    comment_id: Mapped[int] = mapped_column(ForeignKey("forum_comments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)
