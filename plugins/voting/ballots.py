"""Casting votes: a ballot judged, "has voted" and the ballot written in one transaction, the
answer given only after commit.

All votes of a process go through one group commit (core.group_commit): a thousand delegates
pressing "vote" at once cost a few transactions, not a thousand. The writer judges a ballot
from what it cached when it first saw the poll open (the frozen eligible list, the options):
no query per vote. What can change while a poll is open (closed, cancelled, a countdown) is
read once per batch, from the poll row the batch locks; closing takes that row exclusively, so
a batch is either wholly before the close (and counted) or after it (and refused).
"""

from __future__ import annotations

import random
import re
import secrets
from dataclasses import dataclass

from flask import Flask
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.db import insert_skipping_conflicts, is_postgresql, utcnow
from core.errors import ServiceError
from core.group_commit import GroupCommit, group_commit
from plugins.voting.models import Ballot, Poll, PollEligible, PollVoter

RECEIPT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed back
RECEIPT_LENGTH = 10
RECEIPT_RE = re.compile(f"^[{RECEIPT_ALPHABET}]{{{RECEIPT_LENGTH}}}$")
NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# Ballot shuffling in a batch uses the system's randomness, not a seedable generator.
_shuffle = random.SystemRandom().shuffle


def new_receipt() -> str:
    return "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))


def format_receipt(receipt: str) -> str:
    half = RECEIPT_LENGTH // 2
    return f"{receipt[:half]}-{receipt[half:]}"


def normalize_receipt(text: str) -> str:
    return re.sub(r"[\s-]", "", text or "").upper()


@dataclass(frozen=True)
class VoteInput:
    user_id: int
    choices: tuple[int, ...]
    nonce: str
    # Made by the device and kept there before sending, so a lost answer loses no receipt.
    receipt: str | None = None


@dataclass
class VoteResult:
    # recorded | replay | already_voted | not_eligible | not_open | closed | invalid |
    # not_found | paper
    status: str
    receipt: str | None = None
    reason: str | None = None
    # The seats of the poll, for "keep at most N names".
    limit: int | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("recorded", "replay")


def vote_input(*, user_id: int, choices, nonce, receipt=None) -> VoteInput:
    """Check a vote's shape (not yet its content); bad input raises ServiceError."""
    if not isinstance(nonce, str) or not NONCE_RE.match(nonce):
        raise ServiceError(_("The vote could not be read; reload the page and vote again."),
                           code="bad_request")
    if (not isinstance(choices, list | tuple) or len(choices) > 500
            or not all(isinstance(c, int) and not isinstance(c, bool) for c in choices)):
        raise ServiceError(_("The vote could not be read; reload the page and vote again."),
                           code="bad_request")
    if receipt is not None and (not isinstance(receipt, str) or not RECEIPT_RE.match(receipt)):
        receipt = None
    return VoteInput(user_id=user_id, choices=tuple(sorted(set(choices))), nonce=nonce,
                     receipt=receipt)


@dataclass(frozen=True)
class OpenPoll:
    """What the writer needs to judge ballots of one open poll; fixed while it is open."""

    id: int
    event_id: int
    kind: str
    mode: str
    channel: str
    seats: int
    options: frozenset[int]
    eligible: dict[int, int]  # account id -> delegate id


def judge(poll: OpenPoll, choices: tuple[int, ...]) -> tuple[bool, str | None]:
    """(valid, refusal): a ballot the server refuses, or accepts as valid or as invalid.

    Refused: an option not on the ballot, more names kept than seats, a motion or choice
    ballot with no answer. Accepted as invalid, as on paper: an election ballot with every
    name struck when there is more than one candidate.
    """
    if any(c not in poll.options for c in choices):
        return False, "unknown_option"
    if poll.kind == "motion":
        return True, None if len(choices) == 1 else "one_answer"
    if len(choices) > poll.seats:
        return False, "too_many"
    if not choices:
        if poll.kind == "choice":
            return False, "no_answer"
        return len(poll.options) == 1, None
    return True, None


def refusal_message(reason: str | None, seats: int | None = None) -> str:
    return {
        "unknown_option": _("This ballot has a name or answer that is not on it; reload the "
                            "page."),
        "one_answer": _("Choose exactly one answer."),
        "too_many": _("Keep at most %(n)s names: the ballot would be invalid.",
                      n=seats or 1),
        "no_answer": _("Choose an answer."),
    }.get(reason or "", _("This ballot cannot be accepted."))


def result_message(result: VoteResult) -> str:
    return {
        "recorded": _("Your vote is recorded."),
        "replay": _("Your vote was already recorded."),
        "already_voted": _("You have already voted in this poll; a vote cannot be changed."),
        "not_eligible": _("You may not vote in this poll: only approved delegates checked in "
                          "when it opened may vote."),
        "closed": _("This poll is closed; the vote was not recorded."),
        "not_open": _("This poll is not open yet."),
        "not_found": _("This poll does not exist in this event."),
        "paper": _("This poll is voted on paper ballots."),
        "invalid": refusal_message(result.reason, result.limit),
    }[result.status]


def load_open_poll(db: Session, poll: Poll) -> OpenPoll:
    eligible = {u: d for u, d in db.execute(select(PollEligible.user_id,
                                                   PollEligible.delegate_id)
                                            .where(PollEligible.poll_id == poll.id))}
    return OpenPoll(id=poll.id, event_id=poll.event_id, kind=poll.kind, mode=poll.mode,
                    channel=poll.channel, seats=poll.seats,
                    options=frozenset(o.id for o in poll.options), eligible=eligible)


def _lock_status(db: Session, poll_id: int):
    """The poll's status and countdown, with the row held until commit: shared on PostgreSQL
    (batches of several processes run side by side, a close waits for them), SQLite's one
    write lock on SQLite."""
    table = Poll.__table__
    if is_postgresql(db):
        return db.execute(select(table.c.status, table.c.closes_at)
                          .where(table.c.id == poll_id).with_for_update(read=True)).first()
    return db.execute(update(table).where(table.c.id == poll_id).values(id=table.c.id)
                      .returning(table.c.status, table.c.closes_at)).first()


def _insert(db: Session, table, rows: list[dict], conflict: list[str], returning) -> set:
    return set(insert_skipping_conflicts(db, table, rows, conflict, returning).scalars())


def record_votes(db: Session, poll: OpenPoll, items: list[VoteInput]) -> list[VoteResult]:
    """Record votes once each, in one transaction the caller commits; answers in input order.

    The "has voted" rows go in first: the primary key (poll, delegate) lets one in per
    delegate, whichever process or device comes first. Ballots follow only for the rows that
    went in, shuffled in a secret poll so the batch's order says nothing, with a random id,
    no time and no voter.
    """
    if poll.channel != "electronic":
        return [VoteResult("paper") for _ in items]
    row = _lock_status(db, poll.id)
    if row is None:
        return [VoteResult("not_found") for _ in items]
    now = utcnow()
    if row.status != "open" or (row.closes_at is not None and now > row.closes_at):
        return [VoteResult("closed") for _ in items]
    results: list[VoteResult | None] = [None] * len(items)
    first: dict[int, int] = {}  # delegate id -> index of the batch's first vote of theirs
    valid_of: dict[int, bool] = {}
    for n, item in enumerate(items):
        delegate_id = poll.eligible.get(item.user_id)
        if delegate_id is None:
            results[n] = VoteResult("not_eligible")
            continue
        valid, refusal = judge(poll, item.choices)
        if refusal is not None:
            results[n] = VoteResult("invalid", reason=refusal, limit=poll.seats)
            continue
        if delegate_id in first:
            continue  # answered below, once the first is decided
        first[delegate_id] = n
        valid_of[n] = valid
    inserted = _insert(db, PollVoter.__table__,
                       [{"poll_id": poll.id, "delegate_id": d, "nonce": items[n].nonce}
                        for d, n in first.items()],
                       ["poll_id", "delegate_id"], PollVoter.__table__.c.delegate_id
                       ) if first else set()
    earlier = {}
    if len(inserted) < len(first):
        earlier = {d: nonce for d, nonce in db.execute(
            select(PollVoter.delegate_id, PollVoter.nonce)
            .where(PollVoter.poll_id == poll.id,
                   PollVoter.delegate_id.in_(set(first) - inserted)))}
    ballots = []
    for delegate_id, n in first.items():
        if delegate_id in inserted:
            receipt = items[n].receipt or new_receipt()
            results[n] = VoteResult("recorded", receipt=receipt)
            ballots.append({"id": secrets.token_hex(16), "poll_id": poll.id, "receipt": receipt,
                            "choices": ",".join(map(str, items[n].choices)),
                            "valid": valid_of[n],
                            "delegate_id": delegate_id if poll.mode == "named" else None,
                            "cast_at": now if poll.mode == "named" else None, "_n": n})
        else:
            same = earlier.get(delegate_id) == items[n].nonce
            results[n] = VoteResult("replay" if same else "already_voted")
    _insert_ballots(db, poll, ballots, results)
    # A second vote of the same delegate in this batch: a resend of the first, or a second
    # device, refused.
    for n, item in enumerate(items):
        if results[n] is None:
            d = poll.eligible[item.user_id]
            first_n = first[d]
            same = items[first_n].nonce == item.nonce and results[first_n].ok
            results[n] = VoteResult("replay", receipt=results[first_n].receipt) if same \
                else VoteResult("already_voted")
    return results


def _insert_ballots(db: Session, poll: OpenPoll, ballots: list[dict],
                    results: list[VoteResult | None]) -> None:
    if poll.mode == "secret":
        _shuffle(ballots)
    table = Ballot.__table__
    for _attempt in range(5):
        if not ballots:
            return
        seen: set[str] = set()
        for b in ballots:  # two devices offering one receipt in a batch: the second gets new
            while b["receipt"] in seen:
                b["receipt"] = new_receipt()
            seen.add(b["receipt"])
        done = _insert(db, table, [{k: v for k, v in b.items() if k != "_n"} for b in ballots],
                       ["poll_id", "receipt"], table.c.receipt)
        left = []
        for b in ballots:
            if b["receipt"] not in done:  # a receipt already on a ballot of this poll
                b["receipt"] = new_receipt()
                results[b["_n"]].receipt = b["receipt"]
                left.append(b)
        ballots = left
    raise RuntimeError("could not give ballots unique receipts")


# ---------------------------------------------------------------- the writer

class VoteWriter:
    """This process's group commit for votes, with the open polls it has seen."""

    def __init__(self, app: Flask) -> None:
        self._polls: dict[int, OpenPoll] = {}
        self.commit: GroupCommit = group_commit(app, "vote-writer", self._write)

    def cast(self, event_id: int, poll_id: int, items: list[VoteInput],
             timeout: float = 15.0) -> list[VoteResult]:
        """Queue votes, wait until committed; their results in order (WriterBusy: no answer,
        the device keeps the vote and sends it again with the same nonce)."""
        return self.commit.submit((event_id, poll_id), items, timeout)

    def forget(self, poll_id: int) -> None:
        self._polls.pop(poll_id, None)

    def _write(self, db: Session, key: tuple[int, int], items: list[VoteInput]
               ) -> list[VoteResult]:
        from plugins.voting.serialize import announce_turnout

        event_id, poll_id = key
        poll = self._polls.get(poll_id)
        if poll is None:
            row = db.get(Poll, poll_id)
            if row is None or row.event_id != event_id:
                return [VoteResult("not_found") for _ in items]
            if row.status == "draft":
                return [VoteResult("not_open") for _ in items]
            if row.status != "open":
                return [VoteResult("closed") for _ in items]
            # Fixed from now until it closes: the eligible list and the options.
            poll = self._polls[poll_id] = load_open_poll(db, row)
        if poll.event_id != event_id:
            return [VoteResult("not_found") for _ in items]
        results = record_votes(db, poll, items)
        # A replay too: the vote it repeats may have been committed by a process that died
        # before announcing it, and then the hall screen's count would stay behind
        # (tests/test_cluster.py). Coalesced, so a resend costs one count per flush at most.
        if any(r.status in ("recorded", "replay") for r in results):
            announce_turnout(poll.event_id, poll.id, db)
        elif all(r.status in ("closed", "not_found") for r in results):
            self._polls.pop(poll_id, None)
        return results


def writer(app: Flask) -> VoteWriter:
    found = app.extensions.get("voting_writer")
    if found is None:
        found = app.extensions.setdefault("voting_writer", VoteWriter(app))
    return found


def cast_votes(app: Flask, event_id: int, poll_id: int, items: list[VoteInput]
               ) -> list[VoteResult]:
    return writer(app).cast(event_id, poll_id, items)

