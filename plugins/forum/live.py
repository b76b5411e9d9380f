"""Live updates of a topic, pushed: new comments rendered once per update for everyone
watching, instead of fetched by every reader (measured: fetching broke at a few hundred
readers, docs/benchmarks.md "Documents and forum").

Watchers sit in one room per kind of reader (`forum:<topic>:<kind>`), so each update goes, with
the comments, only to the kinds that may read the topic at that moment: a document set back to
draft or narrowed to staff stops reaching delegates' open pages at once. The comments are
rendered without anything personal (no forms, no "You"): each page adds its own buttons from a
template it was given for its reader. What a reader may see beyond that (a hidden comment for
its author and the moderators) still comes by fetching, as do the comments changed after they
were shown.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.realtime import PerRoom, room
from core.rights import is_staff
from plugins.documents import services as documents
from plugins.forum.models import ForumComment, ForumTopic
from plugins.forum.services import CommentView, author_labels, is_anonymous, is_moderator

KINDS = ("manager", "staff", "delegate", "guest")
# A role each kind holds, to ask the documents module whether that kind may read a document.
SAMPLE_ROLES = {"manager": frozenset({"organiser"}), "staff": frozenset({"checkin"}),
                "delegate": frozenset({"delegate"}), "guest": frozenset({"guest"})}
MAX_PUSHED = 50
# A process that has pushed nothing of a topic yet starts with this much of its comments.
FIRST_WINDOW = timedelta(seconds=60)

_lock = threading.Lock()


def _pushed_upto() -> dict[int, int]:
    """topic id -> the newest comment id this process (this app) has pushed."""
    return current_app.extensions.setdefault("daihoi_forum_pushed", {})


def reader_kind(roles: Iterable[str]) -> str:
    roles = frozenset(roles)
    if documents.is_manager(roles) or is_moderator(roles):
        return "manager"
    if is_staff(roles):
        return "staff"
    return "delegate" if "delegate" in roles else "guest"


def watch_room(topic_id: int, kind: str) -> str:
    return f"forum:{topic_id}:{kind}"


def kinds_reading(db: Session, topic: ForumTopic) -> list[str]:
    """The kinds of reader that may read `topic` now."""
    if topic.hidden_at is not None:
        return ["manager"]
    if topic.document_id is None:
        return list(KINDS)
    from plugins.documents.models import Document

    doc = db.get(Document, topic.document_id)
    if doc is None:
        return []
    return [k for k in KINDS if documents.may_read(doc, SAMPLE_ROLES[k])]


def payloads(db: Session, event_id: int, topic_id: int, changed: list[int]) -> PerRoom:
    """One update of a topic for each kind of reader that may read it now:
    `{"topic", "changed", "after", "html": {locale: list items}}` where the items are every
    visible comment newer than `after` (at most the newest 50)."""
    from core.models import Event

    topic = db.get(ForumTopic, topic_id)
    event = db.get(Event, event_id)
    if topic is None or event is None:
        return PerRoom()
    with _lock:
        after = _pushed_upto().get(topic_id)
    if after is None:
        # This process has pushed nothing of the topic yet: start with the last minute's
        # comments; a page that has less than that fetches the gap itself.
        after = db.scalar(select(func.max(ForumComment.id)).where(
            ForumComment.topic_id == topic_id,
            ForumComment.created_at < utcnow() - FIRST_WINDOW)) or 0
    rows = list(db.scalars(select(ForumComment).where(
        ForumComment.topic_id == topic_id, ForumComment.id > after,
        ForumComment.hidden_at.is_(None)).order_by(ForumComment.id.desc())
        .limit(MAX_PUSHED + 1)))[::-1]
    if len(rows) > MAX_PUSHED:
        after = rows[0].id
        rows = rows[1:]
    if rows:
        with _lock:
            pushed = _pushed_upto()
            pushed[topic_id] = max(pushed.get(topic_id, 0), rows[-1].id)
    html = {}
    if rows:
        labels = author_labels(db, event, rows)
        anonymous = is_anonymous(event)
        for locale in current_app.config["LANGUAGES"]:
            with force_locale(locale):
                unnamed = (_("A delegate"), None)
                views = []
                for c in rows:
                    name, unit = labels.get(c.author_id, unnamed)
                    views.append(CommentView(comment=c, author=name, unit=unit, agrees=0,
                                             agreed=False, mine=False, can_edit=False))
                html[locale] = render_template(
                    "forum/_fresh.html", items=views, topic=topic, may_comment=False,
                    moderator=False, may_answer=False, anonymous=anonymous,
                    resolution_labels={})
    update = {"topic": topic_id, "changed": changed, "after": after, "html": html}
    return PerRoom({_room(event_id, topic_id, k): update for k in kinds_reading(db, topic)})


def _room(event_id: int, topic_id: int, kind: str) -> str:
    return room(event_id, watch_room(topic_id, kind))
