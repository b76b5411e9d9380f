"""What stations, consoles and screens receive: scans, people and attendance as JSON, with the
verdict worded in the reader's language, and the broadcasts that follow a change."""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.db import session
from core.i18n import format_time
from core.models import Event
from core.realtime import publish_after_commit
from plugins.checkin import services
from plugins.checkin.models import CheckinList, CheckinScan, Presence
from plugins.delegates.models import Delegate

REASON_TEXT = {
    "unknown": _l("Unknown code: not a badge of this congress."),
    "revoked": _l("This badge was replaced by a new one and no longer works."),
    "other_event": _l("This badge belongs to another event."),
    "rejected": _l("The credentials of this delegate were not accepted."),
    "replaced": _l("This delegate was replaced by another person."),
    "not_admitted": _l("Not admitted to this session."),
    "not_approved": _l("Credentials not yet accepted; this session admits accepted delegates "
                       "only."),
    "closed": _l("Check-in for this session is not open."),
    "not_present": _l("Cannot check out: not checked in."),
    "no_exit": _l("This session does not record check-out."),
}


def station_label(station: str, method: str) -> str:
    """Where a scan was made, for people: a station's name, or "self check-in"."""
    return _("self check-in") if method == "self" else station


def person_json(d: Delegate, presence: Presence | None = None) -> dict:
    return {
        "id": d.id, "code": d.code, "name": d.full_name, "unit": d.unit_name or "",
        "group": d.group or "", "kind": d.kind, "status": d.status,
        "photo": url_for("delegates_badges.photo_image", delegate_id=d.id) if d.photo else None,
        "present": bool(presence and presence.present),
        "since": format_time(presence.first_in_at) if presence else "",
    }


def message(result: services.ScanResult) -> str:
    scan, d, p = result.scan, result.delegate, result.presence
    if scan.verdict == "refused":
        return str(REASON_TEXT.get(scan.reason or "unknown", REASON_TEXT["unknown"]))
    if scan.verdict == "again" and p is not None:
        station = station_label(p.first_station, p.first_method)
        return _("Already checked in at %(time)s (%(station)s).", time=format_time(p.first_in_at),
                 station=station)
    if scan.verdict == "out":
        return _("Checked out.")
    return _("Checked in.") if d is None or d.kind == "delegate" else _("Guest checked in.")


def scan_json(result: services.ScanResult) -> dict:
    scan, d = result.scan, result.delegate
    # A refused code of another event names nobody; a revoked badge of this event does.
    person = person_json(d, result.presence) if d is not None else None
    return {
        "scan_id": scan.id, "nonce": scan.nonce, "verdict": scan.verdict,
        "reason": scan.reason, "message": message(result), "replay": result.replay,
        "conflict": result.conflict, "direction": scan.direction, "method": scan.method,
        "station": scan.station, "scanned_at": scan.scanned_at.isoformat() + "Z",
        "time": format_time(scan.scanned_at), "undone": scan.undone_at is not None,
        "list_id": scan.list_id, "person": person,
    }


def recent_json(scan: CheckinScan, d: Delegate | None) -> dict:
    return {"scan_id": scan.id, "verdict": scan.verdict, "reason": scan.reason,
            "reason_text": str(REASON_TEXT[scan.reason]) if scan.reason in REASON_TEXT else "",
            "direction": scan.direction, "method": scan.method,
            "station": station_label(scan.station, scan.method),
            "time": format_time(scan.scanned_at), "undone": scan.undone_at is not None,
            "name": d.full_name if d is not None else "", "code": d.code if d is not None else ""}


def announce_change(event: Event, lst: CheckinList) -> None:
    """After commit: the attendance to consoles and the hall screen, the feed to staff.

    Both are keyed, and computed when sent, so a burst of scans costs one count per flush.
    """
    event_id, list_id = event.id, lst.id

    def attendance():
        db = session()
        ev, current = db.get(Event, event_id), db.get(CheckinList, list_id)
        return services.attendance(db, ev, current)

    def recent():
        db = session()
        ev, current = db.get(Event, event_id), db.get(CheckinList, list_id)
        return {"list_id": list_id,
                "scans": [recent_json(s, d) for s, d in services.recent_scans(db, ev, current)]}

    publish_after_commit(event_id, "checkin:attendance", attendance,
                         audience=("staff", "projector"), key=f"checkin:{list_id}", settle=True)
    publish_after_commit(event_id, "checkin:recent", recent, audience="staff",
                         key=f"checkin:recent:{list_id}")


def announce_current(event: Event) -> None:
    """After a list opens, closes or changes: which list the hall screen shows now."""
    event_id = event.id

    def current():
        db = session()
        ev = db.get(Event, event_id)
        lst = services.current_list(db, ev)
        return {"attendance": services.attendance(db, ev, lst) if lst else None}

    publish_after_commit(event_id, "checkin:current", current,
                         audience=("staff", "projector"), key="checkin:current")
