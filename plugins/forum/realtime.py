"""Socket.IO events of the forum (listed in docs/realtime.md)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_socketio import join_room

from core.db import session
from core.errors import NotFound
from core.realtime import SocketContext, SocketHandler, not_found, room
from plugins.forum import services
from plugins.forum.live import reader_kind, watch_room


def watch_topic(ctx: SocketContext, payload: dict) -> dict:
    """Join the room of a topic the caller may read, for their kind of reader: its new
    comments are pushed there while that kind may read it."""
    topic_id = payload.get("topic")
    if not isinstance(topic_id, int) or isinstance(topic_id, bool):
        return {"ok": False, "error": "bad_request", "message": _("Name the topic by its number.")}
    try:
        services.get_topic(session(), ctx.event, topic_id, ctx.roles)
    except NotFound:
        return not_found()
    join_room(room(ctx.event_id, watch_room(topic_id, reader_kind(ctx.roles))))
    return {"ok": True}


def handlers() -> list[SocketHandler]:
    return [SocketHandler("forum:watch", watch_topic, module="forum")]
