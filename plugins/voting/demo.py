"""The demo congress's polls, ready to open: the usual first motions and an election.

So that the demo can be voted in at once, the first 120 delegates (daibieu.demo is DB0001)
have their credentials accepted and are checked in to the preparatory session, whose check-in
the check-in module's demo opens.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from core.db import session, utcnow
from core.models import Event, User
from plugins.checkin import services as checkin
from plugins.delegates.models import Delegate
from plugins.voting.services import PollInput, create_poll

PRESENT = 120


def demo_polls(event: Event, accounts: dict[str, User]) -> None:
    db = session()
    actor = accounts.get("organiser")
    people = list(db.scalars(select(Delegate).where(Delegate.event_id == event.id,
                                                    Delegate.kind == "delegate")
                             .order_by(Delegate.code).limit(PRESENT)))
    lists = checkin.ensure_lists(db, event)
    if lists and people:
        first = lists[0]
        if first.opens_at is None:
            first.opens_at = utcnow()
        for d in people:
            d.status = "approved"
        db.flush()
        for d in people:
            checkin.record_scan(db, event, first, nonce=uuid.uuid4().hex,
                                code=d.checkin_secret, station="Demo")
    for title in ("Thông qua Chương trình làm việc của Đại hội",
                  "Thông qua Quy chế làm việc của Đại hội"):
        create_poll(db, event, PollInput(title=title, kind="motion", mode="named",
                                         base="present", fraction="gt_1_2"), actor=actor)
    candidates = people[:7]
    if len(candidates) >= 2:
        poll = create_poll(db, event, PollInput(
            title="Bầu Ban Chấp hành Tỉnh đoàn khóa XVI", kind="election", mode="secret",
            seats=len(candidates) - 2, base="returned", fraction="gt_1_2",
            options=tuple((d.full_name, d.unit_name) for d in candidates)), actor=actor)
        for option, d in zip(poll.options, candidates, strict=True):
            option.delegate_id = d.id
