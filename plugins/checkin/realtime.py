"""Socket.IO events of the check-in module (listed in docs/realtime.md).

A station's scan is acknowledged only after it is committed, so a station that gets no answer
keeps the scan in its queue and sends it again with the same nonce; the server records it once.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from core.db import session
from core.errors import ServiceError
from core.realtime import SocketContext, SocketHandler
from plugins.checkin import serialize, services
from plugins.checkin.models import CheckinList

NAME = "checkin"


def _bad(message: str, code: str = "bad_request") -> dict:
    return {"ok": False, "error": code, "message": message}


def _int(payload: dict, key: str) -> int | None:
    value = payload.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _list(ctx: SocketContext, payload: dict) -> CheckinList | None:
    list_id = _int(payload, "list")
    if list_id is None:
        return None
    return session().scalar(select(CheckinList).where(CheckinList.id == list_id,
                                                      CheckinList.event_id == ctx.event_id))


def _station(ctx: SocketContext, payload: dict) -> str:
    station = payload.get("station")
    if isinstance(station, str) and station.strip():
        return station
    return ctx.user.full_name if ctx.user else ""


def _commit_result(ctx: SocketContext, lst, run) -> dict:
    db = session()
    try:
        result = run()
    except ServiceError as exc:
        db.rollback()
        return _bad(exc.message, exc.code)
    if not result.replay:
        serialize.announce_change(ctx.event, lst)
    db.commit()
    return {"ok": True, "result": serialize.scan_json(result)}


def scan(ctx: SocketContext, payload: dict) -> dict:
    """A badge scan: acknowledged once the process's scan writer has committed it."""
    from plugins.checkin.writer import WriterBusy, writer

    list_id = _int(payload, "list")
    if list_id is None:
        return _bad(_("Choose the session to check in to."), "not_found")
    try:
        item = services.scan_input(
            nonce=payload.get("nonce"), code=payload.get("code"),
            scanned_at=payload.get("scanned_at"), direction=payload.get("direction") or "in",
            station=_station(ctx, payload), user_id=ctx.user_id)
    except ServiceError as exc:
        return _bad(exc.message, exc.code)
    # No query here: the writer checks the list belongs to the event, in its own batch.
    session().rollback()  # nothing is held while the writer works
    try:
        result = writer(current_app._get_current_object()).record(ctx.event_id, list_id,
                                                                  [item])[0]
    except ServiceError as exc:
        return _bad(_("Choose the session to check in to.") if exc.code == "not_found"
                    else exc.message, exc.code)
    except WriterBusy:
        return _bad(_("The server is busy; the scan is kept on this device and will be sent "
                      "again."), "busy")
    return {"ok": True, "result": serialize.scan_json(result)}


def manual(ctx: SocketContext, payload: dict) -> dict:
    lst = _list(ctx, payload)
    delegate_id = _int(payload, "delegate")
    if lst is None or delegate_id is None:
        return _bad(_("Choose the session and the person."), "not_found")
    reason = payload.get("reason")
    if not isinstance(reason, str):
        reason = ""
    return _commit_result(ctx, lst, lambda: services.record_manual(
        session(), ctx.event, lst, delegate_id=delegate_id, reason=reason,
        nonce=payload.get("nonce"), direction=payload.get("direction") or "in",
        station=_station(ctx, payload), user=ctx.user))


def undo(ctx: SocketContext, payload: dict) -> dict:
    scan_id = _int(payload, "scan")
    if scan_id is None:
        return _bad(_("Name the scan to undo."))
    db = session()
    try:
        result = services.undo_scan(db, ctx.event, scan_id, actor=ctx.user)
    except ServiceError as exc:
        db.rollback()
        return _bad(exc.message, exc.code)
    lst = services.get_list(db, ctx.event, result.scan.list_id)
    serialize.announce_change(ctx.event, lst)
    db.commit()
    return {"ok": True, "result": serialize.scan_json(result)}


def search(ctx: SocketContext, payload: dict) -> dict:
    lst = _list(ctx, payload)
    query = payload.get("q")
    if lst is None or not isinstance(query, str):
        return _bad(_("Choose the session and type a name."))
    people = services.search(session(), ctx.event, lst, query[:100])
    return {"ok": True, "people": [serialize.person_json(d, p) for d, p in people]}


def attendance(ctx: SocketContext, payload: dict) -> dict:
    lst = _list(ctx, payload) if "list" in payload else services.current_list(session(),
                                                                              ctx.event)
    if lst is None:
        return _bad(_("Choose the session."), "not_found")
    return {"ok": True, "attendance": services.attendance(session(), ctx.event, lst)}


def qr_svg(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10,
                        border=2)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue().decode()


def self_code(ctx: SocketContext, payload: dict) -> dict:
    """A fresh code for the hall screen of the session now open with self check-in on."""
    db = session()
    lst = services.current_list(db, ctx.event)
    if lst is None or not lst.self_checkin or not services.is_open(lst):
        return {"ok": True, "code": None}
    url = url_for("checkin.here", unit_code=ctx.event.unit.code, event_slug=ctx.event.slug,
                  token=services.self_code(lst), _external=True)
    ttl = services.self_code_ttl()
    return {"ok": True, "code": {"list_id": lst.id, "url": url, "svg": qr_svg(url), "ttl": ttl,
                                 "rotate": current_app.config["CHECKIN_SELF_CODE_ROTATE"]}}


def handlers() -> list[SocketHandler]:
    return [
        SocketHandler("checkin:scan", scan, module=NAME, permission="checkin.scan"),
        SocketHandler("checkin:manual", manual, module=NAME, permission="checkin.scan"),
        SocketHandler("checkin:undo", undo, module=NAME, permission="checkin.scan"),
        SocketHandler("checkin:search", search, module=NAME, permission="checkin.scan"),
        # Attendance is what the hall screen shows anyway: anyone in the event may ask.
        SocketHandler("checkin:attendance", attendance, module=NAME),
        SocketHandler("checkin:self_code", self_code, module=NAME, permission="checkin.screen"),
    ]
