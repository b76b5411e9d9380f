"""Check-in tables: one list per session, every scan as it was made, and who is present.

`CheckinScan` is the record of truth: one row per scan a station, a delegate's phone or a
staff member made, unique by its client nonce. `Presence` is derived from a person's scans in a
list (see `services.recompute_presence`) so a late, offline or undone scan can always be
replayed into the right answer.
"""

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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from core.models import EventSession

ADMIT_DELEGATES = ("approved", "convened", "none")
DIRECTIONS = ("in", "out")
METHODS = ("badge", "self", "manual")
# in: entered now; again: was already present; out: left; refused: see `reason`.
VERDICTS = ("in", "again", "out", "refused")
REASONS = ("unknown", "revoked", "other_event", "rejected", "replaced", "not_admitted",
           "not_approved", "closed", "not_present", "no_exit")


class CheckinList(Base):
    """The check-in of one session: who may enter, when, and what is recorded."""

    __tablename__ = "checkin_lists"
    __table_args__ = (
        CheckConstraint("admit_delegates IN ('approved', 'convened', 'none')",
                        name="known_admit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("event_sessions.id", ondelete="CASCADE"), unique=True)
    # "convened": delegates whose credentials are not yet decided may enter (the preparatory
    # session comes before the credentials report); "approved": only accepted ones.
    admit_delegates: Mapped[str] = mapped_column(String(10), default="approved")
    admit_guests: Mapped[bool] = mapped_column(Boolean, default=True)
    # Record leaving and coming back; otherwise one entry counts for the whole session.
    track_exit: Mapped[bool] = mapped_column(Boolean, default=False)
    self_checkin: Mapped[bool] = mapped_column(Boolean, default=False)
    opens_at: Mapped[datetime | None] = mapped_column(DateTime)
    closes_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    session: Mapped[EventSession] = relationship(lazy="joined")


class CheckinScan(Base):
    """One scan, manual entry or self check-in, exactly as made; never deleted, only undone."""

    __tablename__ = "checkin_scans"
    __table_args__ = (
        # The client's nonce makes a retried or duplicated upload a no-op.
        UniqueConstraint("event_id", "nonce"),
        CheckConstraint("direction IN ('in', 'out')", name="known_direction"),
        CheckConstraint("method IN ('badge', 'self', 'manual')", name="known_method"),
        Index("ix_checkin_scans_list_delegate", "list_id", "delegate_id"),
        Index("ix_checkin_scans_list_received", "list_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    list_id: Mapped[int] = mapped_column(ForeignKey("checkin_lists.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(64))
    delegate_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegates.id", ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(String(3), default="in")
    method: Mapped[str] = mapped_column(String(6), default="badge")
    # When the scan was made (the station's clock, never later than received_at).
    scanned_at: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    station: Mapped[str] = mapped_column(String(80), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verdict: Mapped[str | None] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime)
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Presence(Base):
    """Whether a person is present in a list, derived from their scans."""

    __tablename__ = "checkin_presence"
    __table_args__ = (UniqueConstraint("list_id", "delegate_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("checkin_lists.id", ondelete="CASCADE"))
    delegate_id: Mapped[int] = mapped_column(ForeignKey("delegates.id", ondelete="CASCADE"),
                                             index=True)
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    # The earliest entry, whichever station uploaded it first.
    first_in_at: Mapped[datetime] = mapped_column(DateTime)
    first_station: Mapped[str] = mapped_column(String(80), default="")
    first_method: Mapped[str] = mapped_column(String(6), default="badge")
    # The scan time of the entry or exit that decided `present`.
    state_at: Mapped[datetime] = mapped_column(DateTime)
    # Entries from more than one station or phone: shown to staff as a conflict.
    stations: Mapped[int] = mapped_column(Integer, default=1)
