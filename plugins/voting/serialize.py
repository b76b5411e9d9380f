"""What clients receive about polls: the public view (phones, the hall screen), turnout, and
the announcements after commit. A result is public only once published; a secret poll's count
is never sent before it closes."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import Event
from core.realtime import publish_after_commit
from plugins.voting.ballots import format_receipt
from plugins.voting.models import Poll

# Everyone in the event and the hall screens see a poll's state; turnout goes where it is shown.
TURNOUT_AUDIENCE = ("staff", "projector")


def answer_label(answer: str | None, label: str) -> str:
    """A motion's answer in the reader's language; candidates and answers as typed."""
    return {"yes": _("In favour"), "no": _("Against"), "abstain": _("Abstain")}.get(
        answer or "", label)


def remaining_seconds(poll: Poll) -> float | None:
    if poll.status != "open" or poll.closes_at is None:
        return None
    return max(0.0, (poll.closes_at - utcnow()).total_seconds())


def poll_json(poll: Poll, *, voted: int | None = None) -> dict:
    published = poll.status == "published"
    data = {
        "id": poll.id, "title": poll.title, "description": poll.description or "",
        "kind": poll.kind, "mode": poll.mode, "channel": poll.channel, "seats": poll.seats,
        "status": poll.status, "round": poll.round, "base": poll.base,
        "fraction": poll.fraction, "eligible": poll.eligible_count,
        "remaining": remaining_seconds(poll),
        "options": [{"id": o.id, "label": answer_label(o.answer, o.label),
                     "detail": o.detail or "", "answer": o.answer} for o in poll.options],
        "result": poll.result if published else None,
        "note": poll.note if published else None,
    }
    if voted is not None:
        data["voted"] = voted
    elif poll.result and poll.status in ("closed", "published") and poll.channel != "appointed":
        # The final turnout is not a partial count: shown once the poll is closed.
        data["voted"] = (poll.result.get("electronic") or {}).get("returned")
    return data


def turnout_json(db: Session, poll_id: int) -> dict | None:
    from plugins.voting.services import voted_count

    poll = db.get(Poll, poll_id)
    if poll is None:
        return None
    return {"poll": poll.id, "voted": voted_count(db, poll.id), "eligible": poll.eligible_count,
            "status": poll.status}


def announce_poll(event: Event, poll: Poll) -> None:
    """After commit: every client redraws this poll (opened, countdown, closed, published)."""
    from core.db import session

    data = poll_json(poll, voted=None)
    if poll.status == "open":
        from plugins.voting.services import voted_count

        data["voted"] = voted_count(session(), poll.id)
    publish_after_commit(event, "voting:poll", data)


def announce_turnout(event_id: int, poll_id: int, db: Session) -> None:
    """After commit, coalesced: the turnout counted once per flush, however many votes came."""

    def compute() -> dict | None:
        from core.db import session

        return turnout_json(session(), poll_id)

    publish_after_commit(event_id, "voting:turnout", compute, audience=TURNOUT_AUDIENCE,
                         key=f"voting:turnout:{poll_id}", settle=True, db=db)


def receipt_text(receipt: str | None) -> str | None:
    return format_receipt(receipt) if receipt else None
