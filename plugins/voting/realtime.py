"""Socket.IO events of the voting module (listed in docs/realtime.md).

`voting:vote` is acknowledged only after the vote is committed (the vote writer's batch), so a
phone that gets no answer sends it again with the same nonce and is told "recorded", never
"already voted".
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _

from core.db import session
from core.errors import ServiceError
from core.group_commit import WriterBusy
from core.realtime import SocketContext, SocketHandler
from plugins.voting import ballots, serialize, services

NAME = "voting"
VISIBLE = ("open", "closed", "published")


def _bad(message: str, code: str = "bad_request") -> dict:
    return {"ok": False, "error": code, "message": message}


def _int(payload: dict, key: str) -> int | None:
    value = payload.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def my_polls(db, event, user) -> dict:
    """The polls a delegate's phone shows, with whether they may vote and have voted."""
    services.settle_deadlines(db, event)
    db.commit()
    delegate = services.delegate_of(db, event, user)
    polls = []
    for poll in services.list_polls(db, event, statuses=VISIBLE):
        data = serialize.poll_json(poll)
        if delegate is not None and poll.status != "draft":
            data["me"] = {"eligible": services.is_eligible(db, poll.id, delegate.id),
                          "voted": services.has_voted(db, poll.id, delegate.id)}
        polls.append(data)
    return {"polls": polls, "delegate": delegate is not None}


def state(ctx: SocketContext, payload: dict) -> dict:
    return {"ok": True, **my_polls(session(), ctx.event, ctx.user)}


def vote(ctx: SocketContext, payload: dict) -> dict:
    """A vote: acknowledged once the process's vote writer has committed it."""
    poll_id = _int(payload, "poll")
    if poll_id is None or ctx.user_id is None:
        return _bad(_("Choose the poll to vote in."), "not_found")
    try:
        item = ballots.vote_input(user_id=ctx.user_id, choices=payload.get("choices"),
                                  nonce=payload.get("nonce"), receipt=payload.get("receipt"))
    except ServiceError as exc:
        return _bad(exc.message, exc.code)
    session().rollback()  # nothing is held while the writer works
    try:
        result = ballots.cast_votes(current_app._get_current_object(), ctx.event_id, poll_id,
                                    [item])[0]
    except WriterBusy:
        return _bad(_("The server is busy; your vote is kept on this phone and will be sent "
                      "again."), "busy")
    return vote_answer(result)


def vote_answer(result: ballots.VoteResult) -> dict:
    answer = {"ok": result.ok, "status": result.status,
              "message": ballots.result_message(result)}
    if result.ok:
        answer["receipt"] = serialize.receipt_text(result.receipt)
    else:
        answer["error"] = result.status
    return answer


def turnout(ctx: SocketContext, payload: dict) -> dict:
    poll_id = _int(payload, "poll")
    db = session()
    try:
        poll = services.get_poll(db, ctx.event, poll_id or 0)
    except ServiceError:
        return _bad(_("Choose the poll."), "not_found")
    return {"ok": True, "turnout": serialize.turnout_json(db, poll.id)}


def handlers() -> list[SocketHandler]:
    return [
        SocketHandler("voting:state", state, module=NAME),
        SocketHandler("voting:vote", vote, module=NAME),
        # Turnout is what the hall screen shows anyway.
        SocketHandler("voting:turnout", turnout, module=NAME),
    ]
