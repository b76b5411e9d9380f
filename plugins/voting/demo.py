"""The demo congress's polls: the usual first motions and an election, ready to open."""

from __future__ import annotations

from sqlalchemy import select

from core.db import session
from core.models import Event, User
from plugins.delegates.models import Delegate
from plugins.voting.services import PollInput, create_poll


def demo_polls(event: Event, accounts: dict[str, User]) -> None:
    db = session()
    actor = accounts.get("organiser")
    official = next((s for s in event.sessions if s.kind == "official"), None)
    sid = official.id if official else None
    create_poll(db, event, PollInput(
        title="Thông qua Chương trình làm việc của Đại hội", kind="motion", mode="named",
        base="present", fraction="gt_1_2", session_id=sid), actor=actor)
    create_poll(db, event, PollInput(
        title="Thông qua Quy chế làm việc của Đại hội", kind="motion", mode="named",
        base="present", fraction="gt_1_2", session_id=sid), actor=actor)
    people = list(db.scalars(select(Delegate).where(Delegate.event_id == event.id,
                                                    Delegate.kind == "delegate")
                             .order_by(Delegate.code).limit(7)))
    if len(people) >= 2:
        poll = create_poll(db, event, PollInput(
            title="Bầu Ban Chấp hành Tỉnh đoàn khóa XVI", kind="election", mode="secret",
            seats=max(1, len(people) - 2), base="returned", fraction="gt_1_2",
            session_id=sid,
            options=tuple((d.full_name, d.unit_name) for d in people)), actor=actor)
        for option, d in zip(poll.options, people, strict=True):
            option.delegate_id = d.id
