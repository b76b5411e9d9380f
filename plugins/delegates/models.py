"""Delegates and guests of an event, their correction requests, and badge jobs."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from core.models import User

KINDS = ("delegate", "guest")
GENDERS = ("male", "female")
DELEGATE_TYPES = ("elected", "ex_officio", "appointed")
STATUSES = ("convened", "approved", "rejected", "replaced")
CORRECTION_STATUSES = ("pending", "accepted", "rejected")

# Fields a delegate may ask the credentials committee to correct, in display order.
CORRECTABLE = ("full_name", "birth_date", "gender", "ethnicity", "religion", "unit_name",
               "position", "education", "political_theory", "party_member", "group", "phone",
               "email")


class Delegate(Base):
    """A person convened to the event (delegate) or invited (guest)."""

    __tablename__ = "delegates"
    __table_args__ = (
        UniqueConstraint("event_id", "code"),
        CheckConstraint("kind IN ('delegate', 'guest')", name="known_kind"),
        CheckConstraint("status IN ('convened', 'approved', 'rejected', 'replaced')",
                        name="known_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    # The participant account the delegate signs in with (personal link + second factor).
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10), default="delegate")
    full_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(10))
    ethnicity: Mapped[str | None] = mapped_column(String(60))
    religion: Mapped[str | None] = mapped_column(String(60))
    unit_name: Mapped[str | None] = mapped_column(String(300))
    position: Mapped[str | None] = mapped_column(String(200))
    education: Mapped[str | None] = mapped_column(String(100))
    political_theory: Mapped[str | None] = mapped_column(String(100))
    party_member: Mapped[bool | None] = mapped_column(Boolean)
    delegate_type: Mapped[str | None] = mapped_column(String(20))
    group: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default="convened")
    status_reason: Mapped[str | None] = mapped_column(Text)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("delegates.id"))
    # Carried by the badge QR code; random, never the database id. Regenerating revokes a badge.
    checkin_secret: Mapped[str] = mapped_column(String(64), unique=True)
    # Signed into the personal sign-in link; changing it revokes the link.
    signin_nonce: Mapped[str] = mapped_column(String(64))
    photo: Mapped[str | None] = mapped_column(String(200))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()


class CorrectionRequest(Base):
    """A delegate's request to correct one field of their record."""

    __tablename__ = "delegate_corrections"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name="known_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delegate_id: Mapped[int] = mapped_column(ForeignKey("delegates.id", ondelete="CASCADE"),
                                             index=True)
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    delegate: Mapped[Delegate] = relationship()


class BadgeJob(Base):
    """A background rendering of many badges, with progress the browser can show."""

    __tablename__ = "delegate_badge_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    layout: Mapped[str] = mapped_column(String(10), default="sheet")
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    file: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class RetiredBadge(Base):
    """A badge secret that was replaced, kept so a scan of the old card says why it is refused."""

    __tablename__ = "delegate_retired_badges"

    secret: Mapped[str] = mapped_column(String(64), primary_key=True)
    delegate_id: Mapped[int] = mapped_column(ForeignKey("delegates.id", ondelete="CASCADE"),
                                             index=True)
    retired_at: Mapped[datetime] = mapped_column(default=utcnow)
