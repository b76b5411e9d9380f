"""Socket.IO events of the announcements module (listed in docs/realtime.md)."""

from __future__ import annotations

from flask_babel import gettext as _

from core.db import session
from core.errors import ServiceError
from core.realtime import SocketContext, SocketHandler
from plugins.announcements import services


def list_announcements(ctx: SocketContext, payload: dict) -> dict:
    items = services.latest(session(), ctx.event, ctx.roles)
    return {"ok": True, "items": [services.to_json(a) for a in items]}


def post_announcement(ctx: SocketContext, payload: dict) -> dict:
    fields = {k: payload.get(k) for k in ("title", "body", "audience")}
    if not all(isinstance(v, str | None) for v in fields.values()):
        return {"ok": False, "error": "bad_request", "message": _("Title and text must be text.")}
    try:
        a = services.post(session(), ctx.event, author=ctx.user, title=fields["title"] or "",
                          body=fields["body"] or "", audience=fields["audience"] or "all")
    except ServiceError as exc:
        session().rollback()
        return {"ok": False, "error": exc.code, "message": exc.message}
    session().commit()
    return {"ok": True, "item": services.to_json(a)}


def handlers() -> list[SocketHandler]:
    return [
        SocketHandler("announcements:list", list_announcements, module="announcements"),
        SocketHandler("announcements:post", post_announcement, module="announcements",
                      permission="announcements.post"),
    ]
