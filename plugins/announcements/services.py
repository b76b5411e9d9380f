"""Rules for announcements: who sees which, posting and withdrawing."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.db import utcnow
from core.errors import NotFound, ServiceError
from core.models import PARTICIPANT_ROLES, Event, User
from core.realtime import publish_after_commit
from core.rights import is_staff
from plugins.announcements.models import AUDIENCES, Announcement
from tenants.services import nfc

MAX_TITLE = 200
MAX_BODY = 5000


def audiences_for(roles) -> tuple[str, ...]:
    """Which audiences a viewer with `roles` belongs to."""
    seen = ["all"]
    if is_staff(roles):
        seen += ["delegates", "staff"]
    elif set(roles) & PARTICIPANT_ROLES:
        seen.append("delegates")
    return tuple(seen)


def _visible(event: Event, roles):
    return select(Announcement).where(
        Announcement.event_id == event.id,
        Announcement.withdrawn_at.is_(None),
        Announcement.audience.in_(audiences_for(roles)),
    )


def latest(db: Session, event: Event, roles, limit: int = 50) -> list[Announcement]:
    stmt = _visible(event, roles).order_by(Announcement.created_at.desc(), Announcement.id.desc())
    return list(db.scalars(stmt.limit(limit)))


def count(db: Session, event: Event) -> int:
    return db.scalar(select(func.count()).select_from(Announcement).where(
        Announcement.event_id == event.id, Announcement.withdrawn_at.is_(None)))


# Rooms each audience is sent to; staff see what delegates see.
ROOMS = {"all": ("all",), "delegates": ("delegates", "staff"), "staff": ("staff",)}


def to_json(a: Announcement) -> dict:
    return {"id": a.id, "title": a.title, "body": a.body, "audience": a.audience,
            "created_at": a.created_at.isoformat(timespec="seconds") + "Z"}


def post(db: Session, event: Event, *, author: User | None, title: str, body: str,
         audience: str = "all") -> Announcement:
    title, body = nfc(title or ""), nfc(body or "")
    if not title:
        raise ServiceError(_("the announcement needs a title"))
    if len(title) > MAX_TITLE or len(body) > MAX_BODY:
        raise ServiceError(_("the announcement is too long"))
    if audience not in AUDIENCES:
        raise ServiceError(_("unknown audience"))
    a = Announcement(event_id=event.id, title=title, body=body, audience=audience,
                     author_id=author.id if author else None)
    db.add(a)
    db.flush()
    audit.record("announcement.post", actor=author, event=event,
                 detail={"id": a.id, "title": title, "audience": audience})
    publish_after_commit(event, "announcements:new", to_json(a), audience=ROOMS[audience], db=db)
    return a


def withdraw(db: Session, event: Event, announcement_id: int, *, actor: User | None) -> None:
    a = db.scalar(select(Announcement).where(Announcement.id == announcement_id,
                                             Announcement.event_id == event.id,
                                             Announcement.withdrawn_at.is_(None)))
    if a is None:
        raise NotFound()
    a.withdrawn_at = utcnow()
    audit.record("announcement.withdraw", actor=actor, event=event, detail={"id": a.id})
    publish_after_commit(event, "announcements:withdrawn", {"id": a.id},
                         audience=ROOMS[a.audience], db=db)
