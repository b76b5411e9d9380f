"""Events (congress spaces), their sessions, members and projector links."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.db import utcnow
from core.errors import Forbidden, NotFound, ServiceError
from core.models import (
    EVENT_KINDS,
    EVENT_ROLES,
    SESSION_KINDS,
    Event,
    EventMember,
    EventSession,
    ProjectorLink,
    User,
)
from core.plugins import get_pm
from core.rights import can_manage_events, can_view_reports, is_above_or_same
from tenants.models import Unit
from tenants.services import nfc, subtree_filter

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")
RESERVED_SLUGS = frozenset({"admin", "new-event", "overview"})


def get_event(db: Session, unit_code: str, slug: str) -> Event | None:
    return db.scalar(
        select(Event).join(Unit, Event.unit_id == Unit.id).where(
            Unit.code == unit_code, Event.slug == slug)
    )


def _validate(db: Session, *, name: str, kind: str, starts_on: date | None,
              ends_on: date | None, convened_count: int) -> None:
    if not nfc(name):
        raise ServiceError(_("the event needs a name"))
    if kind not in EVENT_KINDS:
        raise ServiceError(_("unknown kind of event"))
    if starts_on and ends_on and ends_on < starts_on:
        raise ServiceError(_("the event cannot end before it starts"))
    if convened_count < 0 or convened_count > 100_000:
        raise ServiceError(_("the number of convened delegates must be between 0 and 100000"))


def create_event(
    db: Session,
    *,
    actor: User | None,
    unit: Unit,
    name: str,
    slug: str,
    kind: str = "congress",
    starts_on: date | None = None,
    ends_on: date | None = None,
    venue: str | None = None,
    convened_count: int = 0,
    sessions: list[tuple[str, str]] | None = None,
) -> Event:
    if actor is not None and not can_manage_events(actor, unit):
        raise Forbidden(_("you may create events only for your own unit"))
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug) or slug in RESERVED_SLUGS:
        raise ServiceError(_("the short name may use lower-case letters, digits and hyphens"))
    _validate(db, name=name, kind=kind, starts_on=starts_on, ends_on=ends_on,
              convened_count=convened_count)
    if db.scalar(select(Event.id).where(Event.unit_id == unit.id, Event.slug == slug)):
        raise ServiceError(_("this unit already has an event with the short name %(s)s", s=slug))
    event = Event(unit=unit, slug=slug, name=nfc(name), kind=kind, starts_on=starts_on,
                  ends_on=ends_on, venue=nfc(venue or "") or None,
                  convened_count=convened_count, settings={},
                  created_by_id=actor.id if actor else None)
    db.add(event)
    db.flush()
    for i, (sname, skind) in enumerate(sessions or []):
        add_session(db, event, actor=None, name=sname, kind=skind, position=i, log=False)
    audit.record("event.create", actor=actor, event=event,
                 detail={"slug": slug, "name": event.name})
    get_pm().hook.daihoi_event_created(event=event, actor=actor)
    return event


def update_event(db: Session, event: Event, *, actor: User | None, name: str, kind: str,
                 starts_on: date | None, ends_on: date | None, venue: str | None,
                 convened_count: int) -> None:
    _validate(db, name=name, kind=kind, starts_on=starts_on, ends_on=ends_on,
              convened_count=convened_count)
    before = {"name": event.name, "convened_count": event.convened_count}
    event.name, event.kind = nfc(name), kind
    event.starts_on, event.ends_on = starts_on, ends_on
    event.venue = nfc(venue or "") or None
    event.convened_count = convened_count
    audit.record("event.update", actor=actor, event=event,
                 detail={"before": before, "after": {"name": event.name,
                                                     "convened_count": convened_count}})


def add_session(db: Session, event: Event, *, actor: User | None, name: str, kind: str,
                starts_at: datetime | None = None, position: int | None = None,
                log: bool = True) -> EventSession:
    if not nfc(name):
        raise ServiceError(_("the session needs a name"))
    if kind not in SESSION_KINDS:
        raise ServiceError(_("unknown kind of session"))
    if position is None:
        position = (db.scalar(select(func.max(EventSession.position))
                              .where(EventSession.event_id == event.id)) or 0) + 1
    s = EventSession(event=event, name=nfc(name), kind=kind, starts_at=starts_at,
                     position=position)
    db.add(s)
    db.flush()
    if log:
        audit.record("session.add", actor=actor, event=event, detail={"name": s.name})
    return s


def remove_session(db: Session, event: Event, session_id: int, *, actor: User | None) -> None:
    s = db.scalar(select(EventSession).where(EventSession.id == session_id,
                                             EventSession.event_id == event.id))
    if s is None:
        raise NotFound()
    db.delete(s)
    audit.record("session.remove", actor=actor, event=event, detail={"name": s.name})


def add_member(db: Session, event: Event, *, actor: User | None, username: str,
               role: str) -> EventMember:
    """Give an account a role in the event.

    Staff from the event's unit or the units below it can serve; participant accounts
    (without a unit) can be delegates or guests.
    """
    if role not in EVENT_ROLES:
        raise ServiceError(_("unknown role"))
    user = db.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise ServiceError(_("no account %(u)s", u=username))
    if user.unit is not None and not is_above_or_same(event.unit, user.unit):
        raise ServiceError(_("%(u)s belongs to a unit outside this event's unit", u=username))
    if db.scalar(select(EventMember.id).where(EventMember.event_id == event.id,
                                              EventMember.user_id == user.id,
                                              EventMember.role == role)):
        raise ServiceError(_("%(u)s already has this role", u=username))
    m = EventMember(event_id=event.id, user_id=user.id, role=role)
    db.add(m)
    db.flush()
    from core.realtime import forget_socket_contexts_after_commit

    # Open connections resolve the new role at their next call, not at their next reconnect.
    forget_socket_contexts_after_commit(db)
    audit.record("member.add", actor=actor, event=event,
                 detail={"username": user.username, "role": role})
    return m


def remove_member(db: Session, event: Event, member_id: int, *, actor: User | None) -> None:
    m = db.scalar(select(EventMember).where(EventMember.id == member_id,
                                            EventMember.event_id == event.id))
    if m is None:
        raise NotFound()
    db.delete(m)
    audit.record("member.remove", actor=actor, event=event,
                 detail={"username": m.user.username, "role": m.role})
    from core.realtime import evict_after_commit

    # Its open connections sit in this event's rooms; they reconnect and rejoin what they may.
    evict_after_commit("user", m.user_id, db)


def members(db: Session, event: Event) -> list[EventMember]:
    return list(db.scalars(select(EventMember).where(EventMember.event_id == event.id)
                           .order_by(EventMember.role, EventMember.id)))


def events_in_subtree(db: Session, unit: Unit) -> list[Event]:
    return list(db.scalars(select(Event).join(Unit, Event.unit_id == Unit.id)
                           .where(subtree_filter(unit)).order_by(Unit.path, Event.starts_on)))


def visible_events(db: Session, user: User) -> list[Event]:
    """Events the user can enter: by a role in it, or by running its unit's events."""
    ids = set(db.scalars(select(EventMember.event_id).where(EventMember.user_id == user.id)))
    if user.unit is not None and user.right_names & {"admin", "events"}:
        ids |= set(db.scalars(select(Event.id).where(Event.unit_id == user.unit_id)))
    if not ids:
        return []
    return list(db.scalars(select(Event).where(Event.id.in_(ids)).order_by(Event.starts_on)))


def check_reports_access(user: User, unit: Unit) -> None:
    if not can_view_reports(user, unit):
        raise NotFound()


# ---------------------------------------------------------------- projector links

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="daihoi.projector")


def create_projector_link(db: Session, event: Event, *, actor: User | None,
                          label: str) -> tuple[ProjectorLink, str]:
    link = ProjectorLink(event_id=event.id, label=nfc(label) or _("Hall screen"),
                         nonce=secrets.token_urlsafe(24),
                         created_by_id=actor.id if actor else None)
    db.add(link)
    db.flush()
    audit.record("projector.create", actor=actor, event=event, detail={"label": link.label})
    return link, projector_token(link)


def projector_token(link: ProjectorLink) -> str:
    return _serializer().dumps({"l": link.id, "n": link.nonce})


def resolve_projector_token(db: Session, token: str) -> ProjectorLink | None:
    """The live link a token names, or None if forged, expired or revoked."""
    max_age = current_app.config["PROJECTOR_LINK_MAX_AGE_DAYS"] * 86400
    try:
        data = _serializer().loads(token, max_age=max_age)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    link = db.get(ProjectorLink, data.get("l"))
    if link is None or link.revoked_at is not None or link.nonce != data.get("n"):
        return None
    return link


def revoke_projector_link(db: Session, event: Event, link_id: int, *, actor: User | None) -> None:
    link = db.scalar(select(ProjectorLink).where(ProjectorLink.id == link_id,
                                                 ProjectorLink.event_id == event.id))
    if link is None:
        raise NotFound()
    link.revoked_at = utcnow()
    audit.record("projector.revoke", actor=actor, event=event, detail={"label": link.label})
    from core.realtime import evict_after_commit

    evict_after_commit("link", link.id, db)


def projector_links(db: Session, event: Event) -> list[ProjectorLink]:
    return list(db.scalars(select(ProjectorLink).where(ProjectorLink.event_id == event.id)
                           .order_by(ProjectorLink.id)))
