"""Voting tables: polls and their options, the frozen eligible list, who has voted, ballots,
and the counting board's paper figures.

Secrecy is a property of the tables, not of the screens. `PollVoter` ("has voted") and
`Ballot` are written in one transaction, but nothing joins them: the voter row has no time and
no ballot reference, the ballot of a secret poll has a random id, no time and no voter. On
SQLite both tables are WITHOUT ROWID (stored in key order, not arrival order); closing a
secret poll rewrites both in key order, so neither the row order nor PostgreSQL's row versions
(xmin, ctid) keep the order of arrival (services.close_poll, docs/voting.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow

KINDS = ("motion", "election", "choice")
MODES = ("named", "secret")
# appointed: the result was recorded without a vote (chỉ định).
CHANNELS = ("electronic", "paper", "appointed")
STATUSES = ("draft", "open", "closed", "published", "cancelled")
# What "more than half" is counted of.
BASES = ("returned", "valid", "present", "convened")
# (numerator, denominator, strictly more); "plurality": the most votes, no threshold.
FRACTIONS: dict[str, tuple[int, int, bool] | None] = {
    "gt_1_2": (1, 2, True),
    "ge_1_2": (1, 2, False),
    "ge_2_3": (2, 3, False),
    "gt_2_3": (2, 3, True),
    "ge_3_4": (3, 4, False),
    "plurality": None,
}
# The three answers of a motion, in ballot order.
MOTION_ANSWERS = ("yes", "no", "abstain")


class Poll(Base):
    """A motion, an election or a simple choice, from draft to published minutes."""

    __tablename__ = "polls"
    __table_args__ = (
        CheckConstraint("kind IN ('motion', 'election', 'choice')", name="known_kind"),
        CheckConstraint("mode IN ('named', 'secret')", name="known_mode"),
        CheckConstraint("channel IN ('electronic', 'paper', 'appointed')", name="known_channel"),
        CheckConstraint("status IN ('draft', 'open', 'closed', 'published', 'cancelled')",
                        name="known_status"),
        CheckConstraint("seats >= 1", name="seats_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    # The session whose checked-in delegates may vote; none: the session open for check-in.
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("event_sessions.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10), default="motion")
    mode: Mapped[str] = mapped_column(String(6), default="named")
    channel: Mapped[str] = mapped_column(String(10), default="electronic")
    # Election: seats (names a ballot may keep); choice: answers a ballot may tick.
    seats: Mapped[int] = mapped_column(Integer, default=1)
    base: Mapped[str] = mapped_column(String(10), default="returned")
    fraction: Mapped[str] = mapped_column(String(10), default="gt_1_2")
    status: Mapped[str] = mapped_column(String(10), default="draft")
    # Frozen when the poll opens, kept with the result.
    eligible_count: Mapped[int | None] = mapped_column(Integer)
    convened_count: Mapped[int | None] = mapped_column(Integer)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime)
    # A countdown: votes after this are refused and the poll closes.
    closes_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # A new round (a tie at the last seat, seats left empty) links to the poll before it.
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("polls.id", ondelete="SET NULL"))
    round: Mapped[int] = mapped_column(Integer, default=1)
    # The count as published (see rules.count); None until the poll is closed.
    result: Mapped[dict | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    options: Mapped[list[PollOption]] = relationship(
        back_populates="poll", order_by="PollOption.position", cascade="all, delete-orphan",
        lazy="selectin")


class PollOption(Base):
    """A motion's answer, an election's candidate or a choice's answer."""

    __tablename__ = "poll_options"

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(300))
    # A candidate's unit and position, shown under the name.
    detail: Mapped[str | None] = mapped_column(String(300))
    # yes / no / abstain for a motion's answers.
    answer: Mapped[str | None] = mapped_column(String(10))
    delegate_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegates.id", ondelete="SET NULL"))
    # Named in an appointed result (chỉ định).
    appointed: Mapped[bool] = mapped_column(Boolean, default=False)

    poll: Mapped[Poll] = relationship(back_populates="options")


class PollEligible(Base):
    """A delegate who may vote in a poll: approved and present when it opened."""

    __tablename__ = "poll_eligible"
    __table_args__ = (PrimaryKeyConstraint("poll_id", "delegate_id"),)

    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    delegate_id: Mapped[int] = mapped_column(ForeignKey("delegates.id"))
    # The account that votes for the delegate, so a vote needs no lookup.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class PollVoter(Base):
    """Has voted. The primary key is the one-vote-per-delegate rule; no time, no ballot."""

    __tablename__ = "poll_voters"
    __table_args__ = (PrimaryKeyConstraint("poll_id", "delegate_id"),
                      {"sqlite_with_rowid": False})

    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    delegate_id: Mapped[int] = mapped_column(ForeignKey("delegates.id"))
    # The device's request id while the poll is open: a resend of an acknowledged vote is
    # answered "recorded" rather than "already voted". Cleared at close.
    nonce: Mapped[str | None] = mapped_column(String(64))


class Ballot(Base):
    """A counted ballot. In a secret poll: a random id, the receipt, the choices, nothing else."""

    __tablename__ = "poll_ballots"
    __table_args__ = (UniqueConstraint("poll_id", "receipt"), {"sqlite_with_rowid": False})

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    receipt: Mapped[str] = mapped_column(String(16))
    # The chosen options' ids, ascending, comma-separated ("" when every name is struck).
    choices: Mapped[str] = mapped_column(String(2000), default="")
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    # Named polls only: who cast it and when.
    delegate_id: Mapped[int | None] = mapped_column(ForeignKey("delegates.id"))
    cast_at: Mapped[datetime | None] = mapped_column(DateTime)


class PaperCount(Base):
    """Figures of paper ballots the counting board counted by hand, for one poll."""

    __tablename__ = "poll_paper_counts"
    __table_args__ = (
        CheckConstraint("issued >= 0 AND returned >= 0 AND invalid >= 0", name="not_negative"),
    )

    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"),
                                         primary_key=True)
    issued: Mapped[int] = mapped_column(Integer, default=0)
    returned: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    # {option id (as text): votes}
    votes: Mapped[dict] = mapped_column(JSON, default=dict)
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
