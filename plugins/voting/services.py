"""Polls from draft to published minutes: preparing, opening (the eligible list frozen),
closing (also on a countdown), cancelling, paper figures, appointed results, new rounds.

Casting votes is in `plugins.voting.ballots`; counting rules in `plugins.voting.rules`.
A closed poll never reopens; every state change is in the audit log; nothing about a single
vote is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from core import audit
from core.db import is_postgresql, utcnow
from core.errors import NotFound, ServiceError
from core.models import Event, EventSession, User
from plugins.delegates.models import Delegate
from plugins.voting import rules
from plugins.voting.models import (
    BASES,
    FRACTIONS,
    KINDS,
    MODES,
    MOTION_ANSWERS,
    Ballot,
    PaperCount,
    Poll,
    PollEligible,
    PollOption,
    PollVoter,
)

logger = logging.getLogger(__name__)

# The Vietnamese words of a motion's answers, as printed on minutes (the UI translates them).
MOTION_LABELS = {"yes": "Tán thành", "no": "Không tán thành", "abstain": "Không biểu quyết"}
MAX_OPTIONS = 200
MAX_COUNTDOWN_SECONDS = 3600


# ---------------------------------------------------------------- reading

def list_polls(db: Session, event: Event, *, statuses: tuple[str, ...] | None = None
               ) -> list[Poll]:
    q = select(Poll).where(Poll.event_id == event.id)
    if statuses is not None:
        q = q.where(Poll.status.in_(statuses))
    return list(db.scalars(q.order_by(Poll.position, Poll.id)))


def get_poll(db: Session, event: Event, poll_id: int, *, for_update: bool = False) -> Poll:
    q = select(Poll).where(Poll.id == poll_id, Poll.event_id == event.id)
    if for_update:
        # Read afresh, not from the session's identity map: the status decides what follows.
        q = q.execution_options(populate_existing=True)
        if is_postgresql(db):
            q = q.with_for_update()
        else:
            # SQLite: take the one write lock before reading what the change depends on.
            table = Poll.__table__
            db.execute(update(table).where(table.c.id == poll_id).values(id=table.c.id))
    poll = db.scalar(q)
    if poll is None:
        raise NotFound()
    return poll


def voted_count(db: Session, poll_id: int) -> int:
    return db.scalar(select(func.count()).select_from(PollVoter)
                     .where(PollVoter.poll_id == poll_id)) or 0


def has_voted(db: Session, poll_id: int, delegate_id: int) -> bool:
    return db.scalar(select(PollVoter.delegate_id).where(
        PollVoter.poll_id == poll_id, PollVoter.delegate_id == delegate_id)) is not None


def is_eligible(db: Session, poll_id: int, delegate_id: int) -> bool:
    return db.scalar(select(PollEligible.delegate_id).where(
        PollEligible.poll_id == poll_id, PollEligible.delegate_id == delegate_id)) is not None


def delegate_of(db: Session, event: Event, user: User | None) -> Delegate | None:
    if user is None:
        return None
    return db.scalar(select(Delegate).where(Delegate.event_id == event.id,
                                            Delegate.user_id == user.id))


def on_screen(db: Session, event: Event) -> Poll | None:
    """The poll the hall screen shows: the latest opened one still open, else the latest one
    closed or published."""
    poll = db.scalar(select(Poll).where(Poll.event_id == event.id, Poll.status == "open")
                     .order_by(Poll.opened_at.desc(), Poll.id.desc()).limit(1))
    if poll is not None:
        return poll
    done = list(db.scalars(select(Poll).where(Poll.event_id == event.id,
                                              Poll.status.in_(("closed", "published")))))
    if not done:
        return None
    return max(done, key=lambda p: (p.published_at or p.closed_at or p.created_at, p.id))


def deadline_passed(poll: Poll, at: datetime | None = None) -> bool:
    return poll.closes_at is not None and (at or utcnow()) > poll.closes_at


# ---------------------------------------------------------------- preparing

@dataclass
class PollInput:
    title: str
    kind: str = "motion"
    mode: str = "named"
    channel: str = "electronic"
    seats: int = 1
    base: str = "returned"
    fraction: str = "gt_1_2"
    description: str | None = None
    session_id: int | None = None
    # (label, detail) of candidates or answers; a motion's answers are fixed.
    options: tuple[tuple[str, str | None], ...] = ()
    position: int | None = None


def _check(db: Session, event: Event, data: PollInput) -> list[tuple[str, str | None]]:
    title = (data.title or "").strip()
    if not title or len(title) > 300:
        raise ServiceError(_("Give the poll a title (at most 300 characters)."))
    if (data.kind not in KINDS or data.mode not in MODES or data.base not in BASES
            or data.fraction not in FRACTIONS or data.channel not in ("electronic", "paper")):
        raise ServiceError(_("Choose the kind, the ballot and the counting rule from the list."))
    if data.session_id is not None and db.scalar(select(EventSession.id).where(
            EventSession.id == data.session_id, EventSession.event_id == event.id)) is None:
        raise ServiceError(_("Choose a session of this event."))
    if data.kind == "motion":
        return [(MOTION_LABELS[a], None) for a in MOTION_ANSWERS]
    options = []
    seen = set()
    for label, detail in data.options:
        label = (label or "").strip()
        if not label:
            continue
        if len(label) > 300 or (detail and len(detail) > 300):
            raise ServiceError(_("A name or answer is longer than 300 characters."))
        if label.casefold() in seen:
            raise ServiceError(_("“%(name)s” is listed twice.", name=label))
        seen.add(label.casefold())
        options.append((label, (detail or "").strip() or None))
    if not options:
        raise ServiceError(_("List at least one candidate or answer.")
                           if data.kind == "election" else _("List at least two answers."))
    if data.kind == "choice" and len(options) < 2:
        raise ServiceError(_("List at least two answers."))
    if len(options) > MAX_OPTIONS:
        raise ServiceError(_("At most %(n)s candidates or answers.", n=MAX_OPTIONS))
    if not 1 <= data.seats <= len(options):
        raise ServiceError(
            _("Seats must be between 1 and the number of candidates (%(n)s).", n=len(options))
            if data.kind == "election" else
            _("The answers a ballot may tick must be between 1 and %(n)s.", n=len(options)))
    return options


def _set_options(poll: Poll, kind: str, options: list[tuple[str, str | None]]) -> None:
    poll.options.clear()
    for n, (label, detail) in enumerate(options):
        poll.options.append(PollOption(position=n, label=label, detail=detail,
                                       answer=MOTION_ANSWERS[n] if kind == "motion" else None))


def create_poll(db: Session, event: Event, data: PollInput, *, actor: User | None) -> Poll:
    options = _check(db, event, data)
    position = data.position
    if position is None:
        position = (db.scalar(select(func.max(Poll.position))
                              .where(Poll.event_id == event.id)) or 0) + 1
    poll = Poll(event_id=event.id, title=data.title.strip(), description=data.description,
                kind=data.kind, mode=data.mode, channel=data.channel,
                seats=1 if data.kind == "motion" else data.seats, base=data.base,
                fraction=data.fraction, session_id=data.session_id, position=position,
                created_by_id=actor.id if actor else None, status="draft")
    _set_options(poll, data.kind, options)
    db.add(poll)
    db.flush()
    audit.record("voting.poll_created", actor=actor, event=event,
                 detail={"poll": poll.id, "title": poll.title, "kind": poll.kind,
                         "mode": poll.mode})
    return poll


def _require_draft(poll: Poll) -> None:
    if poll.status != "draft":
        raise ServiceError(_("Only a poll that has not been opened can be changed."),
                           code="not_draft")


def update_poll(db: Session, event: Event, poll: Poll, data: PollInput, *,
                actor: User | None) -> Poll:
    _require_draft(poll)
    options = _check(db, event, data)
    poll.title, poll.description = data.title.strip(), data.description
    poll.kind, poll.mode, poll.channel = data.kind, data.mode, data.channel
    poll.seats = 1 if data.kind == "motion" else data.seats
    poll.base, poll.fraction, poll.session_id = data.base, data.fraction, data.session_id
    if data.position is not None:
        poll.position = data.position
    _set_options(poll, data.kind, options)
    audit.record("voting.poll_updated", actor=actor, event=event,
                 detail={"poll": poll.id, "title": poll.title})
    return poll


def delete_poll(db: Session, event: Event, poll: Poll, *, actor: User | None) -> None:
    _require_draft(poll)
    audit.record("voting.poll_deleted", actor=actor, event=event,
                 detail={"poll": poll.id, "title": poll.title})
    db.delete(poll)


def _copy(db: Session, event: Event, poll: Poll, *, title: str, options, seats: int,
          actor: User | None) -> Poll:
    data = PollInput(title=title[:300], kind=poll.kind, mode=poll.mode,
                     channel="electronic" if poll.channel == "appointed" else poll.channel,
                     seats=seats, base=poll.base, fraction=poll.fraction,
                     description=poll.description, session_id=poll.session_id,
                     options=tuple(options))
    return create_poll(db, event, data, actor=actor)


def clone_poll(db: Session, event: Event, poll: Poll, *, actor: User | None) -> Poll:
    """A new draft with the same settings and candidates (any status may be cloned)."""
    copy = _copy(db, event, poll, title=_("%(title)s (copy)", title=poll.title),
                 options=[(o.label, o.detail) for o in poll.options], seats=poll.seats,
                 actor=actor)
    for old, new in zip(poll.options, copy.options, strict=False):
        new.delegate_id = old.delegate_id
    return copy


def new_round(db: Session, event: Event, poll: Poll, *, actor: User | None) -> Poll:
    """A new round for the seats a closed election left open: the tied candidates, or (seats
    left empty) everyone not elected."""
    if poll.kind == "motion" or poll.status not in ("closed", "published") or not poll.result:
        raise ServiceError(_("A new round follows a counted election or choice."))
    result = poll.result
    if result["open_seats"] < 1:
        raise ServiceError(_("Every seat is filled; there is nothing to vote on again."))
    ids = set(result["tie"]) or {o["id"] for o in result["options"]} - set(result["elected"])
    options = [o for o in poll.options if o.id in ids]
    if not options:
        raise ServiceError(_("No candidate is left for a new round."))
    seats = min(result["open_seats"], len(options))
    nxt = _copy(db, event, poll,
                title=_("%(title)s – round %(n)s", title=poll.title, n=poll.round + 1),
                options=[(o.label, o.detail) for o in options], seats=seats, actor=actor)
    nxt.previous_id, nxt.round = poll.id, poll.round + 1
    audit.record("voting.new_round", actor=actor, event=event,
                 detail={"poll": nxt.id, "previous": poll.id, "round": nxt.round})
    return nxt


# ---------------------------------------------------------------- eligibility

def voting_session_list(db: Session, event: Event, poll: Poll):
    """The check-in list whose present delegates may vote."""
    from plugins.checkin.models import CheckinList
    from plugins.checkin.services import current_list, ensure_lists

    if poll.session_id is not None:
        ensure_lists(db, event)
        return db.scalar(select(CheckinList).where(CheckinList.session_id == poll.session_id))
    return current_list(db, event)


def eligible_people(db: Session, event: Event, lst) -> list[tuple[int, int]]:
    """(delegate id, account id) of the approved delegates present in check-in list `lst`."""
    from plugins.checkin.models import Presence

    if lst is None:
        raise ServiceError(_("No session is open for check-in, so nobody is present: choose "
                             "the poll's session or open its check-in."), code="no_session")
    rows = db.execute(
        select(Delegate.id, Delegate.user_id)
        .join(Presence, Presence.delegate_id == Delegate.id)
        .where(Presence.list_id == lst.id, Presence.present.is_(True),
               Delegate.event_id == event.id, Delegate.kind == "delegate",
               Delegate.status == "approved")
        .order_by(Delegate.id))
    return [(d, u) for d, u in rows]


# ---------------------------------------------------------------- state changes

def _announce(event: Event, poll: Poll) -> None:
    from plugins.voting.serialize import announce_poll

    announce_poll(event, poll)


def open_poll(db: Session, event: Event, poll: Poll, *, actor: User | None) -> Poll:
    """Open for votes; the eligible list (approved and present) is frozen now."""
    # Before the lock: finding the list may create and commit the event's missing lists.
    lst = voting_session_list(db, event, poll)
    poll = get_poll(db, event, poll.id, for_update=True)
    if poll.status != "draft":
        raise ServiceError(_("This poll has already been opened; a closed poll never reopens. "
                             "Start a new round instead."), code="not_draft")
    if poll.channel == "appointed":
        raise ServiceError(_("This result was appointed; there is nothing to vote on."))
    people = eligible_people(db, event, lst)
    if not people:
        raise ServiceError(_("Nobody may vote: no approved delegate is checked in to the "
                             "session."), code="nobody_eligible")
    db.execute(insert(PollEligible), [{"poll_id": poll.id, "delegate_id": d, "user_id": u}
                                      for d, u in people])
    poll.status, poll.opened_at = "open", utcnow()
    poll.eligible_count, poll.convened_count = len(people), event.convened_count
    audit.record("voting.poll_opened", actor=actor, event=event,
                 detail={"poll": poll.id, "eligible": len(people),
                         "convened": event.convened_count})
    _announce(event, poll)
    return poll


def start_countdown(db: Session, event: Event, poll: Poll, seconds: int, *,
                    actor: User | None) -> Poll:
    """Votes are taken for `seconds` more, then the poll closes by itself."""
    poll = get_poll(db, event, poll.id, for_update=True)
    if poll.status != "open":
        raise ServiceError(_("Only an open poll can be closed."), code="not_open")
    if not 5 <= seconds <= MAX_COUNTDOWN_SECONDS:
        raise ServiceError(_("A countdown lasts between 5 seconds and an hour."))
    poll.closes_at = utcnow() + timedelta(seconds=seconds)
    audit.record("voting.countdown_started", actor=actor, event=event,
                 detail={"poll": poll.id, "seconds": seconds})
    _announce(event, poll)
    return poll


def close_poll(db: Session, event: Event, poll: Poll, *, actor: User | None) -> Poll:
    """Stop taking votes and count them. Waits for votes being written (their transaction
    holds the poll row) so that every acknowledged vote is in the count."""
    poll = get_poll(db, event, poll.id, for_update=True)
    if poll.status != "open":
        raise ServiceError(_("Only an open poll can be closed."), code="not_open")
    now = utcnow()
    poll.status = "closed"
    poll.closed_at = min(now, poll.closes_at) if poll.closes_at else now
    _rewrite_in_key_order(db, poll)
    poll.result = compute_result(db, poll)
    audit.record("voting.poll_closed", actor=actor, event=event,
                 detail={"poll": poll.id, "voted": poll.result["returned"],
                         "eligible": poll.eligible_count, "countdown": poll.closes_at is not None})
    _announce(event, poll)
    if poll.mode == "secret":
        _scrub_after_commit(db)
    return poll


def _rewrite_in_key_order(db: Session, poll: Poll) -> None:
    """Rewrite who voted and the ballots in key order, leaving no trace of arrival order.

    Row order on disk (and, on PostgreSQL, each row's transaction id and position) would let
    whoever reads the database pair the n-th voter with the n-th ballot. Rewritten in one
    transaction, every row carries this transaction and sits in key order: voters by
    delegate, ballots by their random id. The device nonces go too.
    """
    vt, bt = PollVoter.__table__, Ballot.__table__
    if not is_postgresql(db):
        # Overwrite deleted rows' bytes on SQLite's pages instead of leaving them as free space.
        db.connection().exec_driver_sql("PRAGMA secure_delete = ON")
    voters = list(db.scalars(select(vt.c.delegate_id).where(vt.c.poll_id == poll.id)
                             .order_by(vt.c.delegate_id)))
    ballots = [dict(r) for r in db.execute(select(bt).where(bt.c.poll_id == poll.id)
                                           .order_by(bt.c.id)).mappings()]
    db.execute(delete(vt).where(vt.c.poll_id == poll.id))
    db.execute(delete(bt).where(bt.c.poll_id == poll.id))
    if voters:
        db.execute(insert(vt), [{"poll_id": poll.id, "delegate_id": d, "nonce": None}
                                for d in voters])
    if ballots:
        db.execute(insert(bt), ballots)


def _scrub_after_commit(db: Session) -> None:
    """After a secret poll closes: PostgreSQL's dead row versions and SQLite's write-ahead log
    still hold the arrival order; vacuum and checkpoint them away (best effort)."""
    from core.db import after_commit

    engine = db.get_bind()

    def scrub() -> None:
        try:
            with engine.connect() as conn:
                if engine.dialect.name == "postgresql":
                    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                    conn.exec_driver_sql("VACUUM poll_voters, poll_ballots")
                else:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception:  # noqa: BLE001 - the count is committed; this only tidies up
            logger.warning("could not vacuum the ballot tables after a secret poll",
                           exc_info=True)

    after_commit(scrub, db)


def settle_deadlines(db: Session, event: Event) -> list[Poll]:
    """Close every open poll whose countdown has run out (the timer's process may have died)."""
    closed = []
    for poll in db.scalars(select(Poll).where(Poll.event_id == event.id, Poll.status == "open",
                                              Poll.closes_at.is_not(None))):
        if deadline_passed(poll):
            try:
                closed.append(close_poll(db, event, poll, actor=None))
            except ServiceError:
                db.rollback()  # closed meanwhile by another request
    return closed


def cancel_poll(db: Session, event: Event, poll: Poll, reason: str, *,
                actor: User | None) -> Poll:
    """Stop a poll without a result (its ballots are kept, never counted)."""
    poll = get_poll(db, event, poll.id, for_update=True)
    if poll.status not in ("draft", "open"):
        raise ServiceError(_("Only a poll not yet closed can be cancelled."))
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Give the reason for cancelling."))
    poll.status, poll.cancelled_at, poll.cancel_reason = "cancelled", utcnow(), reason[:2000]
    if poll.mode == "secret":
        _rewrite_in_key_order(db, poll)
        _scrub_after_commit(db)
    audit.record("voting.poll_cancelled", actor=actor, event=event,
                 detail={"poll": poll.id, "reason": poll.cancel_reason})
    _announce(event, poll)
    return poll


def publish_poll(db: Session, event: Event, poll: Poll, *, actor: User | None) -> Poll:
    """The counting board announces the result: the hall screen shows it, the minutes print."""
    poll = get_poll(db, event, poll.id, for_update=True)
    if poll.status != "closed":
        raise ServiceError(_("Only a closed poll's result can be published."))
    if poll.channel == "paper" and db.get(PaperCount, poll.id) is None:
        raise ServiceError(_("Enter the paper ballots' figures first."))
    poll.result = compute_result(db, poll)
    poll.status, poll.published_at = "published", utcnow()
    audit.record("voting.poll_published", actor=actor, event=event,
                 detail={"poll": poll.id, "elected": poll.result["elected"],
                         "passed": poll.result["passed"], "returned": poll.result["returned"]})
    _announce(event, poll)
    return poll


# ---------------------------------------------------------------- counting

def electronic_figures(db: Session, poll: Poll) -> rules.Figures:
    votes: dict[int, int] = {}
    returned = invalid = 0
    for choices, valid in db.execute(select(Ballot.choices, Ballot.valid)
                                     .where(Ballot.poll_id == poll.id)):
        returned += 1
        if not valid:
            invalid += 1
            continue
        for part in choices.split(","):
            if part:
                votes[int(part)] = votes.get(int(part), 0) + 1
    issued = poll.eligible_count or 0
    return rules.Figures(issued=issued, returned=returned, invalid=invalid, votes=votes)


def figures(db: Session, poll: Poll) -> tuple[rules.Figures, rules.Figures | None]:
    """Electronic and paper figures (None when the board entered none)."""
    paper = db.get(PaperCount, poll.id)
    paper_f = None
    if paper is not None:
        paper_f = rules.Figures(issued=paper.issued, returned=paper.returned,
                                invalid=paper.invalid,
                                votes={int(k): v for k, v in (paper.votes or {}).items()})
    if poll.channel == "paper":
        return rules.Figures(0, 0, 0, {}), paper_f
    e = electronic_figures(db, poll)
    if paper_f is not None:
        # Paper ballots go to eligible delegates instead of the electronic one.
        e.issued = max(e.issued - paper_f.issued, 0)
    return e, paper_f


def compute_result(db: Session, poll: Poll) -> dict:
    e, paper = figures(db, poll)
    total = rules.Figures(issued=e.issued, returned=e.returned, invalid=e.invalid,
                          votes=dict(e.votes))
    if paper is not None:
        total.issued += paper.issued
        total.returned += paper.returned
        total.invalid += paper.invalid
        for k, v in paper.votes.items():
            total.votes[k] = total.votes.get(k, 0) + v
    options = [{"id": o.id, "label": o.label, "detail": o.detail, "answer": o.answer}
               for o in poll.options]
    result = rules.count(kind=poll.kind, seats=poll.seats, base=poll.base,
                         fraction=poll.fraction, options=options, figures=total,
                         present=poll.eligible_count or 0, convened=poll.convened_count or 0)
    result["electronic"] = None if poll.channel == "paper" else {
        "issued": e.issued, "returned": e.returned, "valid": e.valid, "invalid": e.invalid}
    result["paper"] = None if paper is None else {
        "issued": paper.issued, "returned": paper.returned, "valid": paper.valid,
        "invalid": paper.invalid, "votes": {str(k): v for k, v in paper.votes.items()}}
    return result


def _int(value, what: str) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ServiceError(_("%(what)s must be a whole number.", what=what)) from None
    if n < 0:
        raise ServiceError(_("%(what)s cannot be negative.", what=what))
    return n


def enter_paper(db: Session, event: Event, poll: Poll, *, issued, returned, invalid,
                votes: dict, actor: User | None) -> PaperCount:
    """The board's hand count of paper ballots, for a paper poll or added to an electronic one.
    Checked for consistency; replaces earlier figures until the result is published."""
    poll = get_poll(db, event, poll.id, for_update=True)
    if poll.status != "closed" or poll.channel not in ("electronic", "paper"):
        raise ServiceError(_("Paper figures are entered after the poll is closed and before "
                             "its result is published."))
    issued = _int(issued, _("Ballots issued"))
    returned = _int(returned, _("Ballots returned"))
    invalid = _int(invalid, _("Invalid ballots"))
    counted = {o.id: _int(votes.get(o.id, votes.get(str(o.id), 0)), o.label)
               for o in poll.options}
    e_returned = voted_count(db, poll.id) if poll.channel == "electronic" else 0
    room = (poll.eligible_count or 0) - e_returned
    if issued > room:
        raise ServiceError(_("At most %(n)s paper ballots can be issued: the eligible "
                             "delegates who did not vote electronically.", n=room))
    if returned > issued:
        raise ServiceError(_("More ballots returned than issued."))
    if invalid > returned:
        raise ServiceError(_("More invalid ballots than returned."))
    valid = returned - invalid
    per_ballot = 1 if poll.kind == "motion" else poll.seats
    for option in poll.options:
        if counted[option.id] > valid:
            raise ServiceError(_("%(name)s has more votes than there are valid ballots.",
                                 name=option.label))
    total = sum(counted.values())
    if poll.kind == "motion" and total != valid:
        raise ServiceError(_("The answers must add up to the valid ballots (%(n)s).", n=valid))
    if total > valid * per_ballot:
        raise ServiceError(_("More votes than the valid ballots allow (%(n)s).",
                             n=valid * per_ballot))
    row = db.get(PaperCount, poll.id) or PaperCount(poll_id=poll.id)
    row.issued, row.returned, row.invalid = issued, returned, invalid
    row.votes = {str(k): v for k, v in counted.items()}
    row.entered_at, row.entered_by_id = utcnow(), actor.id if actor else None
    db.add(row)
    db.flush()
    poll.result = compute_result(db, poll)
    audit.record("voting.paper_entered", actor=actor, event=event,
                 detail={"poll": poll.id, "issued": issued, "returned": returned,
                         "invalid": invalid, "votes": row.votes})
    return row


def record_appointment(db: Session, event: Event, poll: Poll, option_ids: list[int],
                       note: str, *, actor: User | None) -> Poll:
    """An appointed result (chỉ định): the named candidates hold the seats, with no vote."""
    poll = get_poll(db, event, poll.id, for_update=True)
    if poll.status != "draft" or poll.kind != "election":
        raise ServiceError(_("An appointed result is recorded for an election not yet "
                             "opened."))
    chosen = [o for o in poll.options if o.id in set(option_ids)]
    if not chosen:
        raise ServiceError(_("Tick who is appointed."))
    if len(chosen) > poll.seats:
        raise ServiceError(_("At most %(n)s people can be appointed.", n=poll.seats))
    for o in poll.options:
        o.appointed = o in chosen
    now = utcnow()
    poll.channel, poll.status = "appointed", "published"
    poll.closed_at = poll.published_at = now
    poll.note = (note or "").strip()[:2000] or None
    poll.result = {"appointed": True, "elected": [o.id for o in chosen], "tie": [],
                   "open_seats": poll.seats - len(chosen), "seats": poll.seats,
                   "options": [{"id": o.id, "label": o.label, "detail": o.detail,
                                "elected": o.appointed} for o in poll.options]}
    audit.record("voting.poll_appointed", actor=actor, event=event,
                 detail={"poll": poll.id, "appointed": [o.id for o in chosen],
                         "note": poll.note})
    _announce(event, poll)
    return poll


def counted_ballots(db: Session, poll: Poll) -> list[Ballot]:
    """The ballots counted, by receipt: what any delegate may check after publication."""
    return list(db.scalars(select(Ballot).where(Ballot.poll_id == poll.id)
                           .order_by(Ballot.receipt)))


def named_votes(db: Session, poll: Poll) -> list[tuple[Delegate, Ballot]]:
    """Who voted what, for the counting board of a named poll (never of a secret one)."""
    if poll.mode != "named":
        return []
    return [(d, b) for d, b in db.execute(
        select(Delegate, Ballot).join(Ballot, Ballot.delegate_id == Delegate.id)
        .where(Ballot.poll_id == poll.id).order_by(Delegate.code))]

