"""Rules for delegates: records, personal sign-in, corrections, credentials decisions."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.db import utcnow
from core.errors import NotFound, ServiceError
from core.models import Event, EventMember, User
from plugins.delegates.models import CORRECTABLE, CorrectionRequest, Delegate, RetiredBadge

# More than this share of the convened delegates appointed (chỉ định) draws a warning.
APPOINTED_WARN_SHARE = 0.05


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def get_delegate(db: Session, event: Event, delegate_id: int) -> Delegate:
    d = db.scalar(select(Delegate).where(Delegate.id == delegate_id,
                                         Delegate.event_id == event.id))
    if d is None:
        raise NotFound()
    return d


def delegate_of(db: Session, event: Event, user: User | None) -> Delegate | None:
    if user is None:
        return None
    return db.scalar(select(Delegate).where(Delegate.event_id == event.id,
                                            Delegate.user_id == user.id))


def units_of(db: Session, event: Event, user_ids) -> dict[int, str]:
    """The unit each account speaks for in `event`: a delegate's or guest's unit from the
    roster, a staff account's own union unit."""
    ids = set(user_ids)
    if not ids:
        return {}
    out = {u.id: u.unit.name for u in db.scalars(select(User).where(User.id.in_(ids)))
           if u.unit is not None}
    out.update(db.execute(select(Delegate.user_id, Delegate.unit_name).where(
        Delegate.event_id == event.id, Delegate.user_id.in_(ids),
        Delegate.unit_name.is_not(None))).all())
    return out


def by_checkin_secret(db: Session, event: Event, secret: str) -> Delegate | None:
    """The delegate a badge QR names — only within `event`, whatever another event holds."""
    if not secret or len(secret) > 64:
        return None
    return db.scalar(select(Delegate).where(Delegate.event_id == event.id,
                                            Delegate.checkin_secret == secret))


def roster(db: Session, event: Event, kind: str | None = None) -> list[Delegate]:
    from plugins.delegates.vietnamese import name_sort_key

    stmt = select(Delegate).where(Delegate.event_id == event.id)
    if kind:
        stmt = stmt.where(Delegate.kind == kind)
    return sorted(db.scalars(stmt), key=lambda d: name_sort_key(d.full_name))


def counts(db: Session, event: Event) -> dict[str, int]:
    rows = db.execute(select(Delegate.kind, Delegate.status, func.count())
                      .where(Delegate.event_id == event.id)
                      .group_by(Delegate.kind, Delegate.status)).all()
    out = {"delegates": 0, "guests": 0, "approved": 0, "rejected": 0, "convened": 0,
           "replaced": 0, "pending_corrections": 0}
    for kind, status, n in rows:
        out["guests" if kind == "guest" else "delegates"] += n
        if kind == "delegate":
            out[status] += n
    out["pending_corrections"] = db.scalar(
        select(func.count()).select_from(CorrectionRequest).join(Delegate)
        .where(Delegate.event_id == event.id, CorrectionRequest.status == "pending"))
    return out


def participant_account(event: Event, full_name: str, email: str | None) -> User:
    """The account a roster person signs in with: no password, no unit (added by the caller)."""
    return User(username=f"e{event.id}-{secrets.token_hex(6)}", full_name=full_name,
                email=email, password_hash=None, unit_id=None)


def create_participant(db: Session, event: Event, d: Delegate) -> None:
    """Give a new delegate the account it signs in with and its role in the event."""
    user = participant_account(event, d.full_name, d.email)
    db.add(user)
    db.flush()
    d.user_id = user.id
    db.add(EventMember(event_id=event.id, user_id=user.id, role=d.kind))


def _drop_roles(db: Session, event: Event, user_id: int) -> None:
    db.execute(EventMember.__table__.delete().where(EventMember.event_id == event.id,
                                                    EventMember.user_id == user_id))


def codes(db: Session, event: Event) -> set[str]:
    return set(db.scalars(select(Delegate.code).where(Delegate.event_id == event.id)))


def by_code(db: Session, event: Event, code: str) -> Delegate | None:
    return db.scalar(select(Delegate).where(Delegate.event_id == event.id,
                                            Delegate.code == code.strip().upper()))


def set_kind(db: Session, event: Event, d: Delegate, kind: str) -> None:
    """Keep the event role in step when a record moves between delegate and guest."""
    if d.kind == kind:
        return
    member = db.scalar(select(EventMember).where(EventMember.event_id == event.id,
                                                 EventMember.user_id == d.user_id,
                                                 EventMember.role == d.kind))
    if member is not None:
        member.role = kind
    d.kind = kind


def remove_delegate(db: Session, event: Event, delegate_id: int, *, actor: User | None) -> None:
    d = get_delegate(db, event, delegate_id)
    _drop_roles(db, event, d.user_id)
    user = db.get(User, d.user_id)
    user.active = False
    user.session_version += 1
    audit.record("delegate.remove", actor=actor, event=event,
                 detail={"code": d.code, "name": d.full_name})
    db.delete(d)
    from core.realtime import evict_after_commit

    evict_after_commit("user", user.id, db)


def regenerate_badge(db: Session, event: Event, d: Delegate, *, actor: User | None) -> None:
    """A new QR secret: the old printed badge stops working at once."""
    db.add(RetiredBadge(secret=d.checkin_secret, delegate_id=d.id))
    d.checkin_secret = new_secret()
    audit.record("delegate.badge_regenerate", actor=actor, event=event, detail={"code": d.code})


# ---------------------------------------------------------------- personal sign-in

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="daihoi.delegate")


def signin_token(d: Delegate) -> str:
    return _serializer().dumps({"d": d.id, "n": d.signin_nonce})


def link_expiry(event: Event) -> datetime | None:
    """Links work until the day after the event ends (none set: until revoked)."""
    if event.ends_on is None:
        return None
    return datetime.combine(event.ends_on + timedelta(days=1), datetime.min.time())


def resolve_signin_token(db: Session, token: str) -> Delegate | None:
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    d = db.get(Delegate, data.get("d"))
    if d is None or d.signin_nonce != data.get("n") or d.status in ("rejected", "replaced"):
        return None
    event = db.get(Event, d.event_id)
    expiry = link_expiry(event)
    if expiry is not None and utcnow() >= expiry:
        return None
    return d


def check_second_factor(d: Delegate, answer: str) -> bool:
    """The delegate's date of birth, dd/mm/yyyy (d/m/yyyy accepted)."""
    from plugins.delegates.vietnamese import parse_vn_date

    given = parse_vn_date(answer or "")
    return given is not None and d.birth_date is not None and given == d.birth_date


def revoke_signin_link(db: Session, event: Event, d: Delegate, *, actor: User | None) -> None:
    d.signin_nonce = new_secret()
    user = db.get(User, d.user_id)
    user.session_version += 1
    audit.record("delegate.link_revoke", actor=actor, event=event, detail={"code": d.code})
    from core.realtime import evict_after_commit

    evict_after_commit("user", user.id, db)


# ---------------------------------------------------------------- self-check and corrections

def confirm(db: Session, event: Event, d: Delegate) -> None:
    d.confirmed_at = utcnow()
    audit.record("delegate.confirm", actor=d.user, event=event, detail={"code": d.code})


def display_value(d: Delegate, field: str) -> str:
    from plugins.delegates.vietnamese import display

    return display(field, getattr(d, field))


def request_correction(db: Session, event: Event, d: Delegate, *, field: str, new_value: str,
                       note: str = "") -> CorrectionRequest:
    from plugins.delegates.vietnamese import parse_field

    if field not in CORRECTABLE:
        raise ServiceError(_("this field cannot be corrected here"))
    new_value = (new_value or "").strip()
    if not new_value:
        raise ServiceError(_("write the correct value"))
    if len(new_value) > 300 or len(note or "") > 1000:
        raise ServiceError(_("the correction is too long"))
    parse_field(field, new_value)  # raises ServiceError with the reason
    if db.scalar(select(CorrectionRequest.id).where(
            CorrectionRequest.delegate_id == d.id, CorrectionRequest.field == field,
            CorrectionRequest.status == "pending")):
        raise ServiceError(_("a correction of this field is already waiting"))
    req = CorrectionRequest(delegate_id=d.id, field=field, old_value=display_value(d, field),
                            new_value=new_value, note=(note or "").strip() or None)
    db.add(req)
    db.flush()
    audit.record("delegate.correction_request", actor=d.user, event=event,
                 detail={"code": d.code, "field": field})
    return req


def pending_corrections(db: Session, event: Event) -> list[CorrectionRequest]:
    return list(db.scalars(select(CorrectionRequest).join(Delegate)
                           .where(Delegate.event_id == event.id,
                                  CorrectionRequest.status == "pending")
                           .order_by(CorrectionRequest.created_at)))


def corrections_of(db: Session, d: Delegate) -> list[CorrectionRequest]:
    return list(db.scalars(select(CorrectionRequest).where(CorrectionRequest.delegate_id == d.id)
                           .order_by(CorrectionRequest.created_at.desc())))


def decide_correction(db: Session, event: Event, request_id: int, *, accept: bool,
                      reason: str = "", actor: User | None) -> CorrectionRequest:
    from plugins.delegates.vietnamese import parse_field

    req = db.scalar(select(CorrectionRequest).join(Delegate).where(
        CorrectionRequest.id == request_id, Delegate.event_id == event.id))
    if req is None or req.status != "pending":
        raise NotFound()
    if not accept and not (reason or "").strip():
        raise ServiceError(_("give the reason for refusing"))
    if accept:
        setattr(req.delegate, req.field, parse_field(req.field, req.new_value))
        if req.field == "full_name":
            db.get(User, req.delegate.user_id).full_name = req.delegate.full_name
    req.status = "accepted" if accept else "rejected"
    req.reason = (reason or "").strip() or None
    req.decided_by_id = actor.id if actor else None
    req.decided_at = utcnow()
    audit.record("delegate.correction_" + req.status, actor=actor, event=event,
                 detail={"code": req.delegate.code, "field": req.field,
                         "value": req.new_value if accept else None, "reason": req.reason})
    return req


# ---------------------------------------------------------------- credentials decisions

def set_status(db: Session, event: Event, d: Delegate, status: str, *, actor: User | None,
               reason: str = "") -> None:
    if status not in ("approved", "rejected", "convened"):
        raise ServiceError(_("unknown status"))
    if status == "rejected" and not (reason or "").strip():
        raise ServiceError(_("give the reason for rejecting"))
    before = d.status
    d.status, d.status_reason = status, (reason or "").strip() or None
    audit.record("delegate.status", actor=actor, event=event,
                 detail={"code": d.code, "from": before, "to": status, "reason": d.status_reason})


def approve_many(db: Session, event: Event, delegate_ids: list[int], *,
                 actor: User | None) -> int:
    """Accept the credentials of the chosen delegates still waiting (the committee usually
    accepts the whole list at once, after dealing with the few problems one by one)."""
    chosen = db.scalars(select(Delegate).where(
        Delegate.event_id == event.id, Delegate.id.in_(delegate_ids),
        Delegate.kind == "delegate", Delegate.status == "convened")).all()
    for d in chosen:
        set_status(db, event, d, "approved", actor=actor)
    return len(chosen)


def replace_with_alternate(db: Session, event: Event, d: Delegate, alternate: Delegate, *,
                           actor: User | None, reason: str = "") -> None:
    if alternate.id == d.id or alternate.event_id != event.id:
        raise ServiceError(_("choose another person of this event as the alternate"))
    if alternate.status in ("rejected", "replaced"):
        raise ServiceError(_("the alternate is rejected or already replaced"))
    d.status, d.replaced_by_id = "replaced", alternate.id
    d.status_reason = (reason or "").strip() or None
    set_kind(db, event, alternate, "delegate")
    audit.record("delegate.replace", actor=actor, event=event,
                 detail={"code": d.code, "alternate": alternate.code, "reason": d.status_reason})


def appointed_share(db: Session, event: Event) -> tuple[int, float, bool]:
    """Appointed delegates, their share of the convened count, and whether it passes 5%."""
    n = db.scalar(select(func.count()).select_from(Delegate).where(
        Delegate.event_id == event.id, Delegate.kind == "delegate",
        Delegate.delegate_type == "appointed", Delegate.status.in_(("convened", "approved"))))
    base = event.convened_count or db.scalar(select(func.count()).select_from(Delegate).where(
        Delegate.event_id == event.id, Delegate.kind == "delegate")) or 0
    share = n / base if base else 0.0
    return n, share, share > APPOINTED_WARN_SHARE


def mark_appointed(db: Session, event: Event, d: Delegate, *, actor: User | None) -> bool:
    """Mark a delegate appointed (chỉ định); returns True when the 5% warning now applies."""
    d.delegate_type = "appointed"
    audit.record("delegate.appointed", actor=actor, event=event, detail={"code": d.code})
    db.flush()
    return appointed_share(db, event)[2]



# ---------------------------------------------------------------- manual add and edit

EDITABLE = ("full_name", "birth_date", "gender", "ethnicity", "religion", "unit_name",
            "position", "education", "political_theory", "party_member", "delegate_type",
            "group", "phone", "email")


def save_delegate(db: Session, event: Event, d: Delegate | None, data: dict[str, str], *,
                  actor: User | None) -> Delegate:
    """Add (d=None) or edit one person from form text; every problem names its field."""
    from plugins.delegates.roster_import import FIELDS
    from plugins.delegates.vietnamese import TYPE_IN, fold, parse_field

    code = (data.get("code") or "").strip().upper()
    if not code or len(code) > 40:
        raise ServiceError(_("the delegate code is empty or too long"))
    other = db.scalar(select(Delegate.id).where(Delegate.event_id == event.id,
                                                Delegate.code == code))
    if other is not None and (d is None or other != d.id):
        raise ServiceError(_("code %(code)s is already used in this event", code=code))
    kind = data.get("kind") or "delegate"
    if kind not in ("delegate", "guest"):
        raise ServiceError(_("unknown kind"))
    values = {}
    for f in EDITABLE:
        text = data.get(f) or ""
        try:
            if f == "delegate_type":
                values[f] = TYPE_IN.get(fold(text)) if kind == "delegate" else None
            else:
                values[f] = parse_field(f, text)
        except ServiceError as exc:
            raise ServiceError(f"{FIELDS[f][0]}: {exc.message}") from exc
    if values["birth_date"] is None:
        raise ServiceError(_("the date of birth is needed: delegates sign in with it"))
    if d is None:
        d = Delegate(event_id=event.id, code=code, kind=kind, checkin_secret=new_secret(),
                     signin_nonce=new_secret(), **values)
        create_participant(db, event, d)
        db.add(d)
        action = "delegate.add"
    else:
        d.code = code
        set_kind(db, event, d, kind)
        for f, v in values.items():
            setattr(d, f, v)
        db.get(User, d.user_id).full_name = d.full_name
        action = "delegate.edit"
    db.flush()
    audit.record(action, actor=actor, event=event, detail={"code": code, "name": d.full_name})
    return d


def adopt_account(db: Session, event: Event, code: str, account: User) -> Delegate:
    """Let an existing account (with its own password) be this roster person's account."""
    d = by_code(db, event, code)
    if d is None:
        raise NotFound()
    old = db.get(User, d.user_id)
    _drop_roles(db, event, old.id)
    if not db.scalar(select(EventMember.id).where(EventMember.event_id == event.id,
                                                  EventMember.user_id == account.id,
                                                  EventMember.role == d.kind)):
        db.add(EventMember(event_id=event.id, user_id=account.id, role=d.kind))
    d.user_id = account.id
    account.full_name = d.full_name
    db.flush()
    db.delete(old)
    db.flush()
    return d
