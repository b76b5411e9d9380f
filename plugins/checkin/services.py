"""Rules of check-in: lists per session, scans recorded once, presence, attendance and quorum.

A scan is written first (unique by its client nonce), then the person's presence in the list
is recomputed from all their scans. Recomputing rather than patching makes the answer the same
whatever order scans arrive in: an offline station syncing an hour late, two stations scanning
one badge at once, or an undo, all converge on "present since the earliest entry; in or out by
the latest scan".
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.db import insert_skipping_conflicts, is_postgresql, utcnow
from core.errors import NotFound, ServiceError
from core.models import Event, User
from plugins.checkin.models import CheckinList, CheckinScan, Presence
from plugins.delegates.models import Delegate, RetiredBadge
from plugins.delegates.report import natural_key

# Delegates counted as convened (được triệu tập): not rejected, not replaced by someone else.
CONVENED_STATUSES = ("convened", "approved")
QUORUM_FRACTIONS = ("2/3", "1/2", "3/4")
DEFAULT_QUORUM = {"fraction": "2/3", "units": False}
STATION_MAX = 80


# ---------------------------------------------------------------- lists

def ensure_lists(db: Session, event: Event, *, commit: bool = False) -> list[CheckinList]:
    """Every session of the event has its check-in list; new ones get the usual rules.

    Pages that only read (the hall screen, a reconnecting client) pass `commit=True`, so a
    list they create is there for the scans that follow rather than rolled back with the
    request.
    """
    existing = {lst.session_id: lst for lst in db.scalars(
        select(CheckinList).where(CheckinList.event_id == event.id))}
    missing = [s for s in event.sessions if s.id not in existing]
    if missing:
        for s in missing:
            # The preparatory session comes before the credentials report, so delegates whose
            # credentials are not yet accepted must be able to enter it.
            existing[s.id] = CheckinList(
                event_id=event.id, session_id=s.id,
                admit_delegates="convened" if s.kind == "preparatory" else "approved")
            db.add(existing[s.id])
        try:
            db.flush()
            if commit:
                db.commit()
        except IntegrityError:
            # Another request made them at the same moment: use theirs.
            db.rollback()
            return ensure_lists(db, event, commit=commit)
    return [existing[s.id] for s in event.sessions]


def get_list(db: Session, event: Event, list_id: int) -> CheckinList:
    lst = db.scalar(select(CheckinList).where(CheckinList.id == list_id,
                                              CheckinList.event_id == event.id))
    if lst is None:
        raise NotFound()
    return lst


def is_open(lst: CheckinList, at: datetime | None = None) -> bool:
    at = at or utcnow()
    return (lst.opens_at is not None and lst.opens_at <= at
            and (lst.closes_at is None or at < lst.closes_at))


def current_list(db: Session, event: Event) -> CheckinList | None:
    """The list the hall screen shows: the one open now, else the latest opened, else the first."""
    lists = ensure_lists(db, event, commit=True)
    if not lists:
        return None
    now = utcnow()
    open_now = [lst for lst in lists if is_open(lst, now)]
    if open_now:
        return max(open_now, key=lambda lst: lst.opens_at)
    started = [lst for lst in lists if lst.opens_at is not None and lst.opens_at <= now]
    if started:
        return max(started, key=lambda lst: lst.opens_at)
    return lists[0]


def open_list(db: Session, event: Event, lst: CheckinList, *, actor: User | None) -> None:
    lst.opens_at = utcnow() if not is_open(lst) else lst.opens_at
    lst.closes_at = None
    _forget_list(db, lst)
    audit.record("checkin.open", actor=actor, event=event, detail={"session": lst.session.name})


def close_list(db: Session, event: Event, lst: CheckinList, *, actor: User | None) -> None:
    if not is_open(lst):
        raise ServiceError(_("Check-in for this session is not open."))
    lst.closes_at = utcnow()
    _forget_list(db, lst)
    audit.record("checkin.close", actor=actor, event=event, detail={"session": lst.session.name})


def update_list(db: Session, event: Event, lst: CheckinList, *, admit_delegates: str,
                admit_guests: bool, track_exit: bool, self_checkin: bool,
                opens_at: datetime | None, closes_at: datetime | None,
                actor: User | None) -> None:
    if admit_delegates not in ("approved", "convened", "none"):
        raise ServiceError(_("Choose who may enter."))
    if opens_at and closes_at and closes_at <= opens_at:
        raise ServiceError(_("Check-in must close after it opens."))
    lst.admit_delegates = admit_delegates
    lst.admit_guests = admit_guests
    lst.track_exit = track_exit
    lst.self_checkin = self_checkin
    lst.opens_at = opens_at
    lst.closes_at = closes_at
    _forget_list(db, lst)
    audit.record("checkin.settings", actor=actor, event=event,
                 detail={"session": lst.session.name, "admit_delegates": admit_delegates,
                         "admit_guests": admit_guests, "track_exit": track_exit,
                         "self_checkin": self_checkin})


def _forget_list(db: Session, lst: CheckinList) -> None:
    from plugins.checkin.writer import forget_list_after_commit

    forget_list_after_commit(db, lst.id)


# ---------------------------------------------------------------- quorum rule

def quorum_rule(event: Event) -> dict:
    rule = dict(DEFAULT_QUORUM)
    rule.update((event.settings or {}).get("checkin", {}).get("quorum", {}))
    return rule


def set_quorum_rule(db: Session, event: Event, *, fraction: str, units: bool,
                    actor: User | None) -> None:
    if fraction not in QUORUM_FRACTIONS:
        raise ServiceError(_("Choose a quorum fraction from the list."))
    settings = dict(event.settings or {})
    checkin = dict(settings.get("checkin", {}))
    checkin["quorum"] = {"fraction": fraction, "units": bool(units)}
    settings["checkin"] = checkin
    event.settings = settings  # a new dict, so the JSON column is marked changed
    audit.record("checkin.quorum_rule", actor=actor, event=event,
                 detail={"fraction": fraction, "units": bool(units)})


def needed(total: int, fraction: str) -> int:
    """The smallest count that is at least `fraction` of `total` (exactly 2/3 passes)."""
    f = Fraction(fraction)
    return math.ceil(f * total)


# ---------------------------------------------------------------- scans

@dataclass
class ScanResult:
    scan: CheckinScan | ScanRecord
    delegate: Delegate | None
    presence: Presence | None
    replay: bool = False

    @property
    def verdict(self) -> str:
        return self.scan.verdict or "refused"

    @property
    def reason(self) -> str | None:
        return self.scan.reason

    @property
    def conflict(self) -> bool:
        return self.presence is not None and self.presence.stations > 1


def parse_scanned_at(value, received: datetime) -> datetime:
    """The station's scan time as naive UTC; a time ahead of the server counts as now."""
    if value is None or value == "":
        return received
    if not isinstance(value, str):
        raise ServiceError(_("The scan time is not a date and time."), code="bad_request")
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ServiceError(_("The scan time is not a date and time."),
                           code="bad_request") from exc
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    # A station's clock may run ahead of the server's; a scan is never later than its arrival.
    return min(at, received)


def check_nonce(nonce) -> str:
    if not isinstance(nonce, str) or not 8 <= len(nonce) <= 64:
        raise ServiceError(_("Each scan needs a nonce of 8 to 64 characters."), code="bad_request")
    return nonce


def _admission(lst: CheckinList, d: Delegate) -> str | None:
    """Why `d` may not enter `lst`, or None."""
    if d.kind == "guest":
        return None if lst.admit_guests else "not_admitted"
    if d.status == "rejected":
        return "rejected"
    if d.status == "replaced":
        return "replaced"
    if lst.admit_delegates == "none":
        return "not_admitted"
    if lst.admit_delegates == "approved" and d.status != "approved":
        return "not_approved"
    return None


def resolve_code(db: Session, event: Event, code) -> tuple[Delegate | None, str | None]:
    """The person a badge QR names in `event`, or why it names nobody here."""
    from plugins.delegates.services import by_checkin_secret

    if not isinstance(code, str):
        return None, "unknown"
    code = code.strip()
    d = by_checkin_secret(db, event, code)
    if d is not None:
        return d, None
    if not code or len(code) > 64:
        return None, "unknown"
    retired = db.execute(select(RetiredBadge.delegate_id, Delegate.event_id)
                         .join(Delegate, Delegate.id == RetiredBadge.delegate_id)
                         .where(RetiredBadge.secret == code)).first()
    if retired is not None:
        if retired.event_id == event.id:
            return db.get(Delegate, retired.delegate_id), "revoked"
        return None, "other_event"
    # A badge of another event (another unit's too) is named as such, never who it is.
    if db.scalar(select(Delegate.id).where(Delegate.checkin_secret == code)) is not None:
        return None, "other_event"
    return None, "unknown"


def _insert_scans(db: Session, rows: list[dict]) -> dict[str, int]:
    """Insert scans, skipping nonces already recorded: {nonce: id} of the rows written."""
    if not rows:
        return {}
    written = insert_skipping_conflicts(db, CheckinScan.__table__, rows, ["event_id", "nonce"],
                                        CheckinScan.id, CheckinScan.nonce)
    return {nonce: scan_id for scan_id, nonce in written}


def presence_of(db: Session, list_id: int, delegate_id: int) -> Presence | None:
    return db.scalar(select(Presence).where(Presence.list_id == list_id,
                                            Presence.delegate_id == delegate_id))


def _presence_state(lst: CheckinList, scans: list[CheckinScan]) -> dict | None:
    """Presence from a person's accepted, not undone scans (any order), or None if no entry."""
    scans = sorted(scans, key=lambda s: (s.scanned_at, s.id))
    entries = [s for s in scans if s.direction == "in"]
    if not entries:
        return None
    first = entries[0]
    present, state_at = True, first.scanned_at
    if lst.track_exit:
        # The latest scan decides; an exit before any entry changes nothing.
        for s in scans:
            if s.scanned_at >= first.scanned_at:
                present, state_at = s.direction == "in", s.scanned_at
    return {"present": present, "first_in_at": first.scanned_at, "first_station": first.station,
            "first_method": first.method, "state_at": state_at,
            "stations": len({(s.method, s.station) for s in entries})}


def _apply_presence(db: Session, lst: CheckinList, delegate_id: int, row: Presence | None,
                    state: dict | None) -> Presence | None:
    if state is None:
        if row is not None:
            db.delete(row)
        return None
    if row is None:
        row = Presence(list_id=lst.id, delegate_id=delegate_id)
        db.add(row)
    for key, value in state.items():
        setattr(row, key, value)
    return row


def _accepted_scans(db: Session, lst: CheckinList, delegate_ids) -> dict[int, list]:
    by_person: dict[int, list] = {i: [] for i in delegate_ids}
    for s in db.execute(select(CheckinScan.id, CheckinScan.delegate_id, CheckinScan.direction,
                               CheckinScan.method, CheckinScan.station,
                               CheckinScan.scanned_at).where(
            CheckinScan.list_id == lst.id, CheckinScan.delegate_id.in_(list(delegate_ids)),
            CheckinScan.verdict.in_(("in", "again", "out")),
            CheckinScan.undone_at.is_(None))):
        by_person[s.delegate_id].append(s)
    return by_person


def recompute_presence(db: Session, lst: CheckinList, delegate_id: int) -> Presence | None:
    """Presence from every accepted, not undone scan of the person, in scan-time order."""
    scans = _accepted_scans(db, lst, [delegate_id])[delegate_id]
    row = _apply_presence(db, lst, delegate_id, presence_of(db, lst.id, delegate_id),
                          _presence_state(lst, scans))
    db.flush()
    return row


@dataclass
class ScanInput:
    """One scan as a station, a phone or a staff member sent it, checked and normalised."""

    nonce: str
    scanned_at: datetime
    received_at: datetime
    code: str | None = None
    delegate: Delegate | None = None
    direction: str = "in"
    method: str = "badge"
    station: str = ""
    user_id: int | None = None
    note: str | None = None


def scan_input(*, nonce, code=None, delegate: Delegate | None = None, scanned_at=None,
               direction="in", method: str = "badge", station="", user_id: int | None = None,
               note: str | None = None) -> ScanInput:
    """Check what a client sent; a malformed scan is refused here, before anything is written."""
    nonce = check_nonce(nonce)
    if direction not in ("in", "out"):
        raise ServiceError(_("A scan is an entry or an exit."), code="bad_request")
    received = utcnow()
    station = station.strip()[:STATION_MAX] if isinstance(station, str) else ""
    return ScanInput(nonce=nonce, scanned_at=parse_scanned_at(scanned_at, received),
                     received_at=received, code=code, delegate=delegate, direction=direction,
                     method=method, station=station, user_id=user_id, note=note)


def _resolve_many(db: Session, event: Event, items: list[ScanInput]) -> list[tuple]:
    """(delegate, reason) per item: one query for all the badges of this event."""
    secrets = {i.code.strip() for i in items
               if i.delegate is None and isinstance(i.code, str) and 0 < len(i.code.strip()) <= 64}
    found = {d.checkin_secret: d for d in db.scalars(select(Delegate).where(
        Delegate.event_id == event.id, Delegate.checkin_secret.in_(secrets)))} if secrets else {}
    out = []
    for i in items:
        if i.delegate is not None:
            out.append((i.delegate, None))
        elif isinstance(i.code, str) and i.code.strip() in found:
            out.append((found[i.code.strip()], None))
        else:
            out.append(resolve_code(db, event, i.code))
    return out


@dataclass
class ScanRecord:
    """A scan as written by `record_scans`: the row's values, without an ORM object."""

    id: int
    nonce: str
    list_id: int
    delegate_id: int | None
    direction: str
    method: str
    scanned_at: datetime
    received_at: datetime
    station: str
    user_id: int | None
    verdict: str
    reason: str | None
    note: str | None
    undone_at: datetime | None = None


def record_scans(db: Session, event: Event, lst: CheckinList,
                 items: list[ScanInput]) -> list[ScanResult]:
    """Record scans once each, in one transaction the caller commits; answers in input order.

    A handful of statements for the whole batch, whatever its size, each compiled once: the
    badges resolved, the people named locked (PostgreSQL, in id order, FOR NO KEY UPDATE: two
    processes scanning one badge queue instead of both reading "absent") and their presence
    read; the verdicts follow arrival order; the scans are inserted with one executemany (a
    nonce already recorded is skipped and answered from its first record); then the presence of
    everyone named is recomputed from all their scans, which is what makes any arrival order
    right.
    On SQLite the batch first takes the database's write lock with a no-op update.
    """
    if not is_postgresql(db):
        # SQLite: take the database's one write lock now, so what is read below cannot change
        # before the insert (a manual or self check-in in another thread, say).
        table = CheckinList.__table__
        db.execute(update(table).where(table.c.id == lst.id)
                   .values(id=table.c.id))
    first_of: dict[str, int] = {}
    for n, item in enumerate(items):
        first_of.setdefault(item.nonce, n)
    # A nonce already recorded is skipped by the insert and answered from its first record.
    fresh = [n for n, item in enumerate(items) if first_of[item.nonce] == n]
    judged: dict[int, tuple[Delegate | None, str | None]] = {}
    for n, (delegate, reason) in zip(fresh, _resolve_many(db, event, [items[n] for n in fresh]),
                                     strict=True):
        item = items[n]
        if reason is None and delegate is not None:
            reason = _admission(lst, delegate)
        if reason is None and not is_open(lst, item.scanned_at):
            reason = "closed"
        if reason is None and item.direction == "out" and not lst.track_exit:
            reason = "no_exit"
        judged[n] = (delegate, reason)
    people = sorted({d.id for d, reason in judged.values() if reason is None})
    presence: dict[int, Presence] = {}
    if people:
        if is_postgresql(db):
            db.execute(select(Delegate.id).where(Delegate.id.in_(people))
                       .order_by(Delegate.id).with_for_update(key_share=True))
        presence = {p.delegate_id: p for p in db.scalars(select(Presence).where(
            Presence.list_id == lst.id, Presence.delegate_id.in_(people)))}
    # The verdict each station sees follows arrival order: present before this scan or not.
    present_now = {i: (i in presence and presence[i].present) for i in people}
    rows = []
    for n in fresh:
        item, (delegate, reason) = items[n], judged[n]
        verdict = "refused" if reason else None
        if reason is None:
            was_present = present_now[delegate.id]
            if item.direction == "out":
                verdict, reason = ("out", None) if was_present else ("refused", "not_present")
                present_now[delegate.id] = False
            else:
                verdict = "again" if was_present else "in"
                present_now[delegate.id] = True
        rows.append({
            "event_id": event.id, "list_id": lst.id, "nonce": item.nonce,
            "delegate_id": delegate.id if delegate is not None else None,
            "direction": item.direction, "method": item.method, "scanned_at": item.scanned_at,
            "received_at": item.received_at, "station": item.station, "user_id": item.user_id,
            "verdict": verdict, "reason": reason, "note": item.note})
    ids = _insert_scans(db, rows)
    records: dict[int, ScanRecord] = {}
    for n, row in zip(fresh, rows, strict=True):
        if row["nonce"] in ids:  # else: the same nonce committed meanwhile by another process
            values = {k: v for k, v in row.items() if k != "event_id"}
            records[n] = ScanRecord(id=ids[row["nonce"]], **values)
    newly_present = []
    if people:
        new_entries: dict[int, list] = {}
        for r in records.values():
            if r.verdict in ("in", "again", "out"):
                new_entries.setdefault(r.delegate_id, []).append(r)
        # Someone with no presence yet has no accepted entry on record, so without check-out
        # their presence follows from this batch alone; everyone else is recomputed from all
        # their scans.
        first_time = {i for i in people if i not in presence and not lst.track_exit}
        history = _accepted_scans(db, lst, [i for i in people if i not in first_time]) \
            if len(first_time) < len(people) else {}
        for person_id in people:
            scans = new_entries.get(person_id, []) if person_id in first_time \
                else history[person_id]
            before = presence.get(person_id)
            row = _apply_presence(db, lst, person_id, before, _presence_state(lst, scans))
            presence[person_id] = row
            if before is None and row is not None and row.present:
                newly_present.append(person_id)
        db.flush()
    if newly_present:
        delegates = {d.id: d for d, _r in judged.values() if d is not None}
        _announce_checked_in(event, lst, [
            (delegates[i], next(r.method for r in records.values()
                                if r.delegate_id == i and r.verdict == "in"))
            for i in newly_present])
    results: list[ScanResult] = []
    for n, item in enumerate(items):
        record = records.get(n)
        if record is None:
            results.append(_replay(db, event, item.nonce))
            continue
        delegate = judged[n][0]
        results.append(ScanResult(record, delegate,
                                  presence.get(delegate.id) if delegate is not None else None))
    return results


def record_scan(db: Session, event: Event, lst: CheckinList, *, nonce: str,
                code: str | None = None, delegate: Delegate | None = None,
                scanned_at=None, direction: str = "in", method: str = "badge",
                station: str = "", user: User | None = None,
                note: str | None = None) -> ScanResult:
    """Record one scan once. The caller commits; a repeated nonce returns the first answer."""
    item = scan_input(nonce=nonce, code=code, delegate=delegate, scanned_at=scanned_at,
                      direction=direction, method=method, station=station,
                      user_id=user.id if user else None, note=note)
    return record_scans(db, event, lst, [item])[0]


def _replay(db: Session, event: Event, nonce: str) -> ScanResult:
    scan = db.scalar(select(CheckinScan).where(CheckinScan.event_id == event.id,
                                               CheckinScan.nonce == nonce))
    delegate = db.get(Delegate, scan.delegate_id) if scan.delegate_id else None
    presence = presence_of(db, scan.list_id, delegate.id) if delegate is not None else None
    return ScanResult(scan, delegate, presence, replay=True)


def _announce_checked_in(event: Event, lst: CheckinList,
                         people: list[tuple[Delegate, str]]) -> None:
    from core.plugins import event_hook, get_pm

    if not get_pm().hook.daihoi_delegate_checked_in.get_hookimpls():
        return  # nobody listens: skip building the caller at the rush
    hook = event_hook(event, "daihoi_delegate_checked_in")
    for delegate, method in people:
        hook(event=event, delegate=delegate, session=lst.session, method=method)


def record_manual(db: Session, event: Event, lst: CheckinList, *, delegate_id: int,
                  reason: str, nonce: str, direction: str = "in", station: str = "",
                  user: User | None) -> ScanResult:
    """Staff enter a person by hand (no badge at hand); the reason goes to the audit log."""
    from plugins.delegates.services import get_delegate

    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Give the reason for a manual check-in."))
    d = get_delegate(db, event, delegate_id)
    result = record_scan(db, event, lst, nonce=nonce, delegate=d, direction=direction,
                         method="manual", station=station, user=user, note=reason[:500])
    if not result.replay:
        audit.record("checkin.manual", actor=user, event=event,
                     detail={"session": lst.session.name, "code": d.code,
                             "direction": direction, "verdict": result.verdict,
                             "reason": reason[:500]})
    return result


def undo_scan(db: Session, event: Event, scan_id: int, *, actor: User | None) -> ScanResult:
    """Take back a wrong scan: it stays in the log, marked undone, and presence is recomputed."""
    scan = db.scalar(select(CheckinScan).where(CheckinScan.id == scan_id,
                                               CheckinScan.event_id == event.id))
    if scan is None:
        raise NotFound()
    if scan.undone_at is not None:
        raise ServiceError(_("This scan was already undone."))
    if scan.verdict == "refused" or scan.delegate_id is None:
        raise ServiceError(_("A refused scan changed nothing; there is nothing to undo."))
    lst = db.get(CheckinList, scan.list_id)
    d = db.get(Delegate, scan.delegate_id)
    if is_postgresql(db):
        db.execute(select(Delegate.id).where(Delegate.id == d.id).with_for_update(key_share=True))
    scan.undone_at = utcnow()
    scan.undone_by_id = actor.id if actor else None
    db.flush()
    presence = recompute_presence(db, lst, d.id)
    audit.record("checkin.undo", actor=actor, event=event,
                 detail={"session": lst.session.name, "code": d.code, "scan": scan.id,
                         "station": scan.station})
    return ScanResult(scan, d, presence)


# ---------------------------------------------------------------- self check-in

SELF_SALT = "daihoi.checkin.self"


def _self_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SELF_SALT)


def self_code(lst: CheckinList) -> str:
    """A short-lived signed code for the hall screen; it names the list and when it was made."""
    return _self_serializer().dumps(lst.id)


def self_code_ttl() -> int:
    return current_app.config["CHECKIN_SELF_CODE_TTL"]


def read_self_code(db: Session, event: Event, token: str) -> CheckinList:
    """The list a screen code names, if it is genuine, recent and of this event."""
    try:
        list_id = _self_serializer().loads(token, max_age=self_code_ttl())
    except SignatureExpired as exc:
        raise ServiceError(_("This code has expired. Scan the code on the screen in the hall "
                             "again."), code="expired") from exc
    except BadSignature as exc:
        raise ServiceError(_("This is not a check-in code of this congress."),
                           code="invalid") from exc
    lst = db.scalar(select(CheckinList).where(CheckinList.id == list_id,
                                              CheckinList.event_id == event.id))
    if lst is None or not isinstance(list_id, int):
        raise ServiceError(_("This is not a check-in code of this congress."), code="invalid")
    if not lst.self_checkin:
        raise ServiceError(_("Self check-in is off for this session; go to a check-in desk."),
                           code="invalid")
    return lst


def self_checkin(db: Session, event: Event, token: str, user: User) -> ScanResult:
    """A signed-in delegate checks in with the code shown on the hall screen."""
    from plugins.delegates.services import delegate_of

    lst = read_self_code(db, event, token)
    d = delegate_of(db, event, user)
    if d is None:
        raise ServiceError(_("Only delegates and guests of this congress can check in."),
                           code="forbidden")
    # One code, one person, one scan: reloading the page does not add a second entry.
    digest = hashlib.sha256(f"{d.id}:{token}".encode()).hexdigest()[:40]
    return record_scan(db, event, lst, nonce=f"self-{digest}", delegate=d, method="self",
                       station="self", user=user)


# ---------------------------------------------------------------- attendance

def attendance(db: Session, event: Event, lst: CheckinList) -> dict:
    """Present / convened in total, by discussion group and by delegation, with the quorum."""
    rows = db.execute(
        select(Delegate.group, Delegate.unit_name, func.count(Delegate.id),
               func.count(Presence.id))
        .select_from(Delegate)
        .outerjoin(Presence, and_(Presence.delegate_id == Delegate.id,
                                  Presence.list_id == lst.id, Presence.present.is_(True)))
        .where(Delegate.event_id == event.id, Delegate.kind == "delegate",
               Delegate.status.in_(CONVENED_STATUSES))
        .group_by(Delegate.group, Delegate.unit_name)).all()
    by_group: dict[str, list[int]] = {}
    by_unit: dict[str, list[int]] = {}
    present = convened = 0
    for group, unit_name, n, p in rows:
        convened += n
        present += p
        for table, key in ((by_group, group), (by_unit, unit_name)):
            cell = table.setdefault(key or "", [0, 0])
            cell[0] += p
            cell[1] += n
    guests = db.scalar(
        select(func.count(Presence.id)).join(Delegate, Delegate.id == Presence.delegate_id)
        .where(Presence.list_id == lst.id, Presence.present.is_(True),
               Delegate.kind == "guest")) or 0
    rule = quorum_rule(event)
    units_total = sum(1 for k in by_unit if k)
    units_present = sum(1 for k, (p, _n) in by_unit.items() if k and p)
    quorum = {"fraction": rule["fraction"], "needed": needed(convened, rule["fraction"]),
              "units_rule": bool(rule["units"]),
              "units_needed": needed(units_total, rule["fraction"]),
              "units_present": units_present, "units_total": units_total}
    quorum["met_delegates"] = convened > 0 and present >= quorum["needed"]
    quorum["met_units"] = units_total > 0 and units_present >= quorum["units_needed"]
    quorum["met"] = quorum["met_delegates"] and (quorum["met_units"] or not rule["units"])

    def table(d: dict) -> list[dict]:
        return [{"name": k, "present": v[0], "convened": v[1]}
                for k, v in sorted(d.items(), key=lambda kv: (not kv[0], natural_key(kv[0])))]

    return {"list_id": lst.id, "session": lst.session.name, "open": is_open(lst),
            "self_checkin": lst.self_checkin, "present": present, "convened": convened,
            "guests_present": guests, "quorum": quorum,
            "by_group": table(by_group), "by_unit": table(by_unit)}


def roll(db: Session, event: Event, lst: CheckinList, kind: str = "delegate"
         ) -> list[tuple[Delegate, Presence | None]]:
    """Everyone a report lists, in name order, with their presence (None: absent)."""
    from plugins.delegates.vietnamese import name_sort_key

    stmt = (select(Delegate, Presence)
            .outerjoin(Presence, and_(Presence.delegate_id == Delegate.id,
                                      Presence.list_id == lst.id))
            .where(Delegate.event_id == event.id, Delegate.kind == kind))
    if kind == "delegate":
        stmt = stmt.where(Delegate.status.in_(CONVENED_STATUSES))
    rows = db.execute(stmt).all()
    return sorted(((d, p) for d, p in rows), key=lambda r: name_sort_key(r[0].full_name))


def absentees(db: Session, event: Event, lst: CheckinList) -> list[Delegate]:
    return [d for d, p in roll(db, event, lst) if p is None or not p.present]


def recent_scans(db: Session, event: Event, lst: CheckinList, limit: int = 20
                 ) -> list[tuple[CheckinScan, Delegate | None]]:
    rows = db.execute(
        select(CheckinScan, Delegate).outerjoin(Delegate, Delegate.id == CheckinScan.delegate_id)
        .where(CheckinScan.list_id == lst.id)
        .order_by(CheckinScan.received_at.desc(), CheckinScan.id.desc()).limit(limit)).all()
    return [(s, d) for s, d in rows]


def conflicts(db: Session, event: Event, lst: CheckinList) -> list[tuple[Delegate, list]]:
    """People whose entry was recorded by more than one station, with those scans."""
    rows = db.execute(
        select(Delegate, Presence).join(Presence, Presence.delegate_id == Delegate.id)
        .where(Presence.list_id == lst.id, Presence.stations > 1)).all()
    out = []
    for d, _p in rows:
        scans = db.scalars(select(CheckinScan).where(
            CheckinScan.list_id == lst.id, CheckinScan.delegate_id == d.id,
            CheckinScan.direction == "in", CheckinScan.verdict.in_(("in", "again")),
            CheckinScan.undone_at.is_(None)).order_by(CheckinScan.scanned_at)).all()
        out.append((d, scans))
    return out


def search(db: Session, event: Event, lst: CheckinList, query: str, limit: int = 20
           ) -> list[tuple[Delegate, Presence | None]]:
    """People whose name or code matches `query`, accents ignored (for the manual fallback)."""
    from plugins.delegates.vietnamese import fold

    q = fold(query or "").strip()
    if len(q) < 2:
        return []
    out = []
    for d, p in roll(db, event, lst, "delegate") + roll(db, event, lst, "guest"):
        if q in fold(d.full_name) or q in d.code.lower():
            out.append((d, p))
            if len(out) >= limit:
                break
    return out
