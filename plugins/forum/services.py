"""Rules of the forum: who reads and writes where, threads, agreeing, editing, moderation,
the committee's answers, notices and search.

Who reads: a document's comments, whoever may read the document (the documents module
decides); the general board, everyone with a role in the event. Who writes: holders of
`forum.comment` (delegates, the secretariat, the documents subcommittee; organisers), and only
where commenting is open. A hidden comment's text is shown to the moderators and its author
only; anyone else sees that a hidden comment stood there only when visible replies hang from it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from core import audit
from core.db import after_commit, insert_skipping_conflicts, utcnow
from core.errors import Forbidden, NotFound, ServiceError
from core.models import Event, User
from core.realtime import publish_after_commit
from core.rights import has_permission
from core.text import fold, like_escape, nfc, search_words
from plugins.documents import services as documents
from plugins.documents.models import Document
from plugins.forum.models import RESOLUTIONS, ForumAgree, ForumComment, ForumNotice, ForumTopic

MAX_BODY = 5000
MAX_TITLE = 300
MAX_REASON = 500
MAX_PARAGRAPH = 40
SEARCH_LIMIT = 50


# ---------------------------------------------------------------- rights and settings

def _has(roles: Iterable[str], permission: str) -> bool:
    return has_permission(frozenset(roles), permission,
                          current_app.extensions["daihoi_permissions"])


def may_comment(roles: Iterable[str]) -> bool:
    return _has(roles, "forum.comment")


def is_moderator(roles: Iterable[str]) -> bool:
    return _has(roles, "forum.moderate")


def may_answer(roles: Iterable[str]) -> bool:
    return _has(roles, "forum.answer")


def is_anonymous(event: Event) -> bool:
    """Whether comments are shown without their authors' names and units (event setting)."""
    return bool((event.settings or {}).get("forum", {}).get("anonymous"))


def set_anonymous(db: Session, event: Event, anonymous: bool, *, actor: User | None) -> None:
    settings = dict(event.settings or {})
    settings["forum"] = {**settings.get("forum", {}), "anonymous": bool(anonymous)}
    event.settings = settings  # a new dict, so the JSON column is written
    audit.record("forum.settings", actor=actor, event=event,
                 detail={"anonymous": bool(anonymous)})


def edit_window() -> timedelta:
    return timedelta(minutes=int(current_app.config["FORUM_EDIT_MINUTES"]))


# ---------------------------------------------------------------- topics

def document_topic(db: Session, doc: Document) -> ForumTopic | None:
    return db.scalar(select(ForumTopic).where(ForumTopic.document_id == doc.id))


def set_commenting(db: Session, event: Event, doc: Document, is_open: bool, *,
                   actor: User | None) -> ForumTopic:
    """Open or close commenting on a document (its topic is made the first time)."""
    topic = document_topic(db, doc)
    if topic is None:
        if not is_open:
            raise ServiceError(_("commenting on this document was never opened"))
        topic = ForumTopic(event_id=event.id, document_id=doc.id, title=doc.title,
                           created_by_id=actor.id if actor else None)
        db.add(topic)
    topic.is_open = is_open
    topic.title = doc.title
    db.flush()
    audit.record("forum.open" if is_open else "forum.close", actor=actor, event=event,
                 detail={"document": doc.id, "topic": topic.id})
    _announce(event, topic, db)
    return topic


def get_topic(db: Session, event: Event, topic_id: int, roles: Iterable[str]) -> ForumTopic:
    """The topic if `roles` may read it; NotFound otherwise."""
    topic = db.scalar(select(ForumTopic).where(ForumTopic.id == topic_id,
                                               ForumTopic.event_id == event.id))
    if topic is None or not may_read_topic(db, event, topic, roles):
        raise NotFound()
    return topic


def may_read_topic(db: Session, event: Event, topic: ForumTopic, roles: Iterable[str]) -> bool:
    roles = frozenset(roles) - {"projector"}
    if not roles:
        return False
    if topic.hidden_at is not None and not is_moderator(roles):
        return False
    if topic.document_id is None:
        return True
    doc = db.get(Document, topic.document_id)
    return doc is not None and documents.may_read(doc, roles)


def topic_titles(db: Session, topics: Iterable[ForumTopic]) -> dict[int, str]:
    """Each topic's title as it reads now: a document's topic is named by the document, whose
    title may have changed since commenting was opened."""
    topics = list(topics)
    doc_ids = {t.document_id for t in topics if t.document_id is not None}
    names = dict(db.execute(select(Document.id, Document.title)
                            .where(Document.id.in_(doc_ids))).all()) if doc_ids else {}
    return {t.id: names.get(t.document_id, t.title) for t in topics}


def topic_document(db: Session, topic: ForumTopic) -> Document | None:
    return db.get(Document, topic.document_id) if topic.document_id else None


def create_topic(db: Session, event: Event, *, author: User, roles: Iterable[str], title: str,
                 body: str) -> ForumTopic:
    """A new topic on the general board, with its first comment."""
    if not may_comment(roles):
        raise Forbidden(_("You may read the forum but not write in it."))
    title = nfc(title)
    if not title:
        raise ServiceError(_("the topic needs a title"))
    if len(title) > MAX_TITLE:
        raise ServiceError(_("the title is longer than %(n)s characters", n=MAX_TITLE))
    topic = ForumTopic(event_id=event.id, title=title, created_by_id=author.id)
    db.add(topic)
    db.flush()
    post_comment(db, event, topic, author=author, roles=roles, body=body)
    return topic


@dataclass
class TopicRow:
    topic: ForumTopic
    comments: int
    last_at: datetime


def board(db: Session, event: Event, roles: Iterable[str]) -> list[TopicRow]:
    """The general board's topics, most recently active first."""
    stmt = select(ForumTopic).where(ForumTopic.event_id == event.id,
                                    ForumTopic.document_id.is_(None))
    if not is_moderator(roles):
        stmt = stmt.where(ForumTopic.hidden_at.is_(None))
    topics = list(db.scalars(stmt.order_by(ForumTopic.last_activity_at.desc())))
    counts = _visible_counts(db, [t.id for t in topics])
    return [TopicRow(t, counts.get(t.id, 0), t.last_activity_at) for t in topics]


def document_rows(db: Session, event: Event, roles: Iterable[str]) -> list[tuple]:
    """(document, topic or None, visible comment count) for the documents `roles` may read."""
    docs = documents.list_documents(db, event, roles)
    topics = {t.document_id: t for t in db.scalars(select(ForumTopic).where(
        ForumTopic.event_id == event.id, ForumTopic.document_id.is_not(None)))}
    counts = _visible_counts(db, [t.id for t in topics.values()])
    return [(d, topics.get(d.id), counts.get(topics[d.id].id, 0) if d.id in topics else 0)
            for d in docs]


def _visible_counts(db: Session, topic_ids: list[int]) -> dict[int, int]:
    if not topic_ids:
        return {}
    rows = db.execute(select(ForumComment.topic_id, func.count()).where(
        ForumComment.topic_id.in_(topic_ids), ForumComment.hidden_at.is_(None))
        .group_by(ForumComment.topic_id))
    return dict(rows.all())


def set_topic_open(db: Session, event: Event, topic: ForumTopic, is_open: bool, *,
                   actor: User | None) -> None:
    topic.is_open = is_open
    audit.record("forum.open" if is_open else "forum.close", actor=actor, event=event,
                 detail={"topic": topic.id, "document": topic.document_id})
    _announce(event, topic, db)


def hide_topic(db: Session, event: Event, topic: ForumTopic, *, actor: User | None,
               reason: str) -> None:
    """Take a board topic off the board (its title was out of place); moderators still see it."""
    reason = _reason(reason)
    if topic.document_id is not None:
        raise ServiceError(_("a document's comments are closed, not hidden"))
    topic.hidden_at, topic.hidden_reason = utcnow(), reason
    audit.record("forum.hide_topic", actor=actor, event=event,
                 detail={"topic": topic.id, "title": topic.title, "reason": reason})


def show_topic(db: Session, event: Event, topic: ForumTopic, *, actor: User | None) -> None:
    """Put a hidden board topic back on the board."""
    if topic.hidden_at is None:
        return
    audit.record("forum.show_topic", actor=actor, event=event,
                 detail={"topic": topic.id, "reason_was": topic.hidden_reason})
    topic.hidden_at = topic.hidden_reason = None


# ---------------------------------------------------------------- comments

def get_comment(db: Session, event: Event, comment_id: int, roles: Iterable[str],
                viewer: User | None) -> ForumComment:
    """The comment if `viewer` may see it (hidden ones: its author and moderators only)."""
    c = db.scalar(select(ForumComment).where(ForumComment.id == comment_id,
                                             ForumComment.event_id == event.id))
    if c is None:
        raise NotFound()
    get_topic(db, event, c.topic_id, roles)
    if c.hidden_at is not None and not (is_moderator(roles) or
                                        (viewer is not None and viewer.id == c.author_id)):
        raise NotFound()
    return c


def _body(body: str) -> str:
    body = nfc(body).replace("\r\n", "\n")
    if not body:
        raise ServiceError(_("the comment is empty"))
    if len(body) > MAX_BODY:
        raise ServiceError(_("the comment is longer than %(n)s characters", n=MAX_BODY))
    return body


def _anchor(doc: Document | None, section: str | None, page, paragraph: str | None) -> dict:
    section, paragraph = nfc(section) or None, nfc(paragraph) or None
    if page in ("", None):
        page = None
    if doc is None:
        if section or page or paragraph:
            raise ServiceError(_("only a comment on a document points to a part of it"))
        return {"section": None, "page": None, "paragraph": None}
    if section is not None and section not in doc.section_list:
        raise ServiceError(_("the document has no section “%(s)s”", s=section[:60]))
    if page is not None:
        try:
            page = int(page)
        except (TypeError, ValueError):
            raise ServiceError(_("the page must be a number")) from None
        pages = doc.current.pages if doc.current else None
        if page < 1 or (pages is not None and page > pages):
            raise ServiceError(_("the document has no page %(n)s", n=page))
    if paragraph is not None and len(paragraph) > MAX_PARAGRAPH:
        raise ServiceError(_("the paragraph is at most %(n)s characters", n=MAX_PARAGRAPH))
    return {"section": section, "page": page, "paragraph": paragraph}


def post_comment(db: Session, event: Event, topic: ForumTopic, *, author: User,
                 roles: Iterable[str], body: str, parent_id: int | None = None,
                 section: str | None = None, page=None,
                 paragraph: str | None = None) -> ForumComment:
    """A comment on `topic` (or a reply to `parent_id` in it). Refused where commenting is
    closed, by someone who may not write, or with an anchor the document does not have."""
    if not may_comment(roles):
        raise Forbidden(_("You may read the forum but not write in it."))
    if not may_read_topic(db, event, topic, roles):
        raise NotFound()
    _require_open(topic)
    body = _body(body)
    doc = topic_document(db, topic)
    parent = None
    if parent_id is not None:
        parent = db.scalar(select(ForumComment).where(ForumComment.id == parent_id,
                                                      ForumComment.topic_id == topic.id))
        if parent is None or parent.hidden_at is not None:
            raise ServiceError(_("the comment you reply to is not there any more"))
        # A reply belongs where its comment points.
        anchor = {"section": parent.section, "page": parent.page, "paragraph": parent.paragraph}
    else:
        anchor = _anchor(doc, section, page, paragraph)
    now = utcnow()
    c = ForumComment(event_id=event.id, topic_id=topic.id, parent_id=parent.id if parent else None,
                     author_id=author.id, body=body, body_folded=fold(body), created_at=now,
                     version_number=doc.current.number if doc and doc.current else None,
                     **anchor)
    # Take the topic's row before the comment gets its id: two comments on one topic are
    # then numbered in the order they commit. Otherwise (PostgreSQL) a comment numbered
    # before another but committed after it is passed over for good by readers who already
    # have the newer one (`?after=`, the pushed updates' `after`). Measured in the forum's
    # benchmark: one comment of 100 never reached 1,000 readers.
    db.execute(select(ForumTopic.id).where(ForumTopic.id == topic.id).with_for_update())
    db.add(c)
    topic.last_activity_at = now
    db.flush()
    if parent is not None and parent.author_id != author.id:
        _notify(db, event, parent.author_id, c.id, "reply")
    _announce(event, topic, db)
    return c


def _require_open(topic: ForumTopic) -> None:
    # Closed means the discussion is over: no new comments, replies, corrections or +1s,
    # so what the committee summarises does not move under it.
    if not topic.is_open or topic.hidden_at is not None:
        raise ServiceError(_("commenting here is closed"), code="closed")


def may_edit(c: ForumComment, user: User | None, now: datetime | None = None) -> bool:
    return (user is not None and c.author_id == user.id and c.hidden_at is None
            and c.resolution is None and (now or utcnow()) - c.created_at <= edit_window())


def edit_comment(db: Session, event: Event, c: ForumComment, *, actor: User,
                 body: str) -> None:
    """The author corrects their comment, within the edit window and before it is answered."""
    if c.author_id != actor.id:
        raise Forbidden(_("Only its author may edit a comment."))
    if not may_edit(c, actor):
        raise ServiceError(_("the time to edit this comment has passed"), code="too_late")
    _require_open(db.get(ForumTopic, c.topic_id))
    c.body = _body(body)
    c.body_folded = fold(c.body)
    c.edited_at = utcnow()
    _announce(event, db.get(ForumTopic, c.topic_id), db, changed=c.id)


def toggle_agree(db: Session, event: Event, c: ForumComment, *, user: User,
                 roles: Iterable[str]) -> bool:
    """Agree with a comment, or take the agreement back; True when the user now agrees."""
    if not may_comment(roles):
        raise Forbidden(_("You may read the forum but not write in it."))
    if c.hidden_at is not None:
        raise ServiceError(_("this comment is hidden"))
    if c.author_id == user.id:
        raise ServiceError(_("you cannot agree with your own comment"))
    _require_open(db.get(ForumTopic, c.topic_id))
    written = insert_skipping_conflicts(
        db, ForumAgree.__table__, [{"comment_id": c.id, "user_id": user.id,
                                    "created_at": utcnow()}],
        ["comment_id", "user_id"], ForumAgree.comment_id).all()
    if not written:
        db.execute(delete(ForumAgree).where(ForumAgree.comment_id == c.id,
                                            ForumAgree.user_id == user.id))
    _announce(event, db.get(ForumTopic, c.topic_id), db, changed=c.id)
    return bool(written)


def _reason(reason: str) -> str:
    reason = nfc(reason)
    if not reason:
        raise ServiceError(_("give the reason"))
    if len(reason) > MAX_REASON:
        raise ServiceError(_("the reason is longer than %(n)s characters", n=MAX_REASON))
    return reason


def hide_comment(db: Session, event: Event, c: ForumComment, *, actor: User,
                 reason: str) -> None:
    """A moderator takes a comment out of view, saying why; the author is told."""
    reason = _reason(reason)
    if c.hidden_at is not None:
        return
    c.hidden_at, c.hidden_by_id, c.hidden_reason = utcnow(), actor.id, reason
    audit.record("forum.hide", actor=actor, event=event,
                 detail={"comment": c.id, "topic": c.topic_id, "author": c.author_id,
                         "reason": reason})
    if c.author_id != actor.id:
        _notify(db, event, c.author_id, c.id, "hidden")
    _announce(event, db.get(ForumTopic, c.topic_id), db, changed=c.id)


def unhide_comment(db: Session, event: Event, c: ForumComment, *, actor: User) -> None:
    if c.hidden_at is None:
        return
    audit.record("forum.unhide", actor=actor, event=event,
                 detail={"comment": c.id, "reason_was": c.hidden_reason})
    c.hidden_at = c.hidden_by_id = c.hidden_reason = None
    # "Your comment was hidden" is no longer true.
    db.execute(delete(ForumNotice).where(ForumNotice.comment_id == c.id,
                                         ForumNotice.kind == "hidden"))
    _notices_changed(db, event, c.author_id)
    _announce(event, db.get(ForumTopic, c.topic_id), db, changed=c.id)


def resolve_comment(db: Session, event: Event, c: ForumComment, *, actor: User,
                    resolution: str | None, reply: str | None = None) -> None:
    """The drafting committee marks a comment accepted, noted or answered (with its answer);
    None clears the mark. The author is told."""
    if resolution is not None and resolution not in RESOLUTIONS:
        raise ServiceError(_("unknown decision"))
    reply = nfc(reply) or None
    if resolution == "answered" and not reply:
        raise ServiceError(_("write the answer"))
    if reply and len(reply) > MAX_BODY:
        raise ServiceError(_("the answer is longer than %(n)s characters", n=MAX_BODY))
    if c.hidden_at is not None:
        raise ServiceError(_("this comment is hidden"))
    if db.get(ForumTopic, c.topic_id).document_id is None:
        raise ServiceError(_("only comments on a document are decided on"))
    c.resolution = resolution
    c.resolution_reply = reply if resolution else None
    c.resolved_by_id = actor.id if resolution else None
    c.resolved_at = utcnow() if resolution else None
    audit.record("forum.resolve", actor=actor, event=event,
                 detail={"comment": c.id, "resolution": resolution})
    if resolution and c.author_id != actor.id:
        _notify(db, event, c.author_id, c.id, "resolved")
    _announce(event, db.get(ForumTopic, c.topic_id), db, changed=c.id)


# ---------------------------------------------------------------- reading a thread

@dataclass
class CommentView:
    comment: ForumComment
    author: str
    unit: str | None
    agrees: int
    agreed: bool
    mine: bool
    can_edit: bool
    # Hidden and shown only as "a hidden comment" (a viewer who may not read it).
    redacted: bool = False
    replies: list[CommentView] = field(default_factory=list)


def author_labels(db: Session, event: Event, comments: list[ForumComment]) -> dict[int, tuple]:
    from plugins.delegates.services import units_of

    if is_anonymous(event):
        return {}
    units = units_of(db, event, {c.author_id for c in comments})
    return {c.author_id: (c.author.full_name, units.get(c.author_id)) for c in comments}


def agree_counts(db: Session, comment_ids: list[int]) -> dict[int, int]:
    if not comment_ids:
        return {}
    return dict(db.execute(select(ForumAgree.comment_id, func.count()).where(
        ForumAgree.comment_id.in_(comment_ids)).group_by(ForumAgree.comment_id)).all())


# A page shows the newest threads (a comment and its replies); the rest on request. Measured:
# a document page with every one of 5,400 comments weighed 8 MB (docs/benchmarks.md).
THREADS_SHOWN = 30


def count_threads(db: Session, topic: ForumTopic) -> int:
    """How many top-level comments (threads) the topic holds, hidden ones included."""
    return db.scalar(select(func.count()).select_from(ForumComment).where(
        ForumComment.topic_id == topic.id, ForumComment.parent_id.is_(None))) or 0


def _newest_threads(db: Session, topic: ForumTopic, n: int) -> list[int]:
    """The ids of every comment in the topic's `n` newest threads."""
    parent_of = dict(db.execute(select(ForumComment.id, ForumComment.parent_id)
                                .where(ForumComment.topic_id == topic.id)).all())
    roots = sorted(i for i, p in parent_of.items() if p is None)[-n:]
    root_of: dict[int, int] = {}

    def root(i: int) -> int:
        if i not in root_of:
            p = parent_of.get(i)
            root_of[i] = i if p is None or p not in parent_of else root(p)
        return root_of[i]

    shown = set(roots)
    return [i for i in parent_of if root(i) in shown]


def in_newest_threads(db: Session, topic: ForumTopic, comment_id: int) -> bool:
    """Whether the comment is on the topic's page as first shown (in its newest threads)."""
    root = db.get(ForumComment, comment_id)
    while root is not None and root.parent_id is not None:
        root = db.get(ForumComment, root.parent_id)
    if root is None:
        return True
    oldest_shown = db.scalar(select(ForumComment.id).where(
        ForumComment.topic_id == topic.id, ForumComment.parent_id.is_(None))
        .order_by(ForumComment.id.desc()).offset(THREADS_SHOWN - 1).limit(1))
    return oldest_shown is None or root.id >= oldest_shown


def thread(db: Session, event: Event, topic: ForumTopic, *, viewer: User | None,
           roles: Iterable[str], after: int = 0, only: Iterable[int] | None = None,
           newest: int | None = None) -> list[CommentView]:
    """The topic's comments as a tree (replies under what they answer), oldest first; with
    `newest`, only that many of the newest threads.

    For live updates, flat lists: with `after`, the visible comments newer than that id; with
    `only`, those comments as this viewer now sees them (a hidden one redacted).
    """
    stmt = select(ForumComment).where(ForumComment.topic_id == topic.id)
    if only is not None:
        stmt = stmt.where(ForumComment.id.in_(list(only)[:100]))
    elif newest is not None and not after:
        stmt = stmt.where(ForumComment.id.in_(_newest_threads(db, topic, newest)))
    else:
        stmt = stmt.where(ForumComment.id > after)
    rows = list(db.scalars(stmt.order_by(ForumComment.id)))
    moderator = is_moderator(roles)
    viewer_id = viewer.id if viewer is not None else None
    ids = [c.id for c in rows]
    agrees = agree_counts(db, ids)
    mine_agreed = set(db.scalars(select(ForumAgree.comment_id).where(
        ForumAgree.comment_id.in_(ids), ForumAgree.user_id == viewer_id))) if ids else set()
    labels = author_labels(db, event, rows)
    anonymous_name = _("A delegate")
    now = utcnow()
    views: dict[int, CommentView] = {}
    for c in rows:
        name, unit = labels.get(c.author_id, (anonymous_name, None))
        views[c.id] = CommentView(
            comment=c, author=name, unit=unit, agrees=agrees.get(c.id, 0),
            agreed=c.id in mine_agreed, mine=c.author_id == viewer_id,
            can_edit=may_edit(c, viewer, now),
            redacted=c.hidden_at is not None and not moderator and c.author_id != viewer_id)
    if only is not None:
        return list(views.values())
    if after:
        return [v for v in views.values() if not v.redacted]
    roots: list[CommentView] = []
    for v in views.values():
        parent = views.get(v.comment.parent_id) if v.comment.parent_id else None
        (parent.replies if parent is not None else roots).append(v)

    def keep(v: CommentView) -> bool:
        v.replies = [r for r in v.replies if keep(r)]
        return not v.redacted or bool(v.replies)

    return [v for v in roots if keep(v)]


# ---------------------------------------------------------------- search

def search(db: Session, event: Event, query: str, *, roles: Iterable[str],
           viewer: User | None) -> list[tuple[ForumComment, ForumTopic]]:
    """Comments whose text holds every word of `query`, ignoring diacritics and case
    ("tham tra" finds "thẩm tra", "doan" finds "Đoàn"), in what the viewer may read."""
    words = search_words(query)
    if not words:
        return []
    moderator = is_moderator(roles)
    topics = {t.id: t for t in db.scalars(select(ForumTopic).where(
        ForumTopic.event_id == event.id)) if may_read_topic(db, event, t, roles)}
    if not topics:
        return []
    stmt = select(ForumComment).where(ForumComment.event_id == event.id,
                                      ForumComment.topic_id.in_(topics))
    for w in words:
        stmt = stmt.where(ForumComment.body_folded.like(f"%{like_escape(w)}%", escape="\\"))
    if not moderator:
        viewer_id = viewer.id if viewer is not None else -1
        stmt = stmt.where(or_(ForumComment.hidden_at.is_(None),
                              ForumComment.author_id == viewer_id))
    rows = db.scalars(stmt.order_by(ForumComment.id.desc()).limit(SEARCH_LIMIT))
    return [(c, topics[c.topic_id]) for c in rows]


# ---------------------------------------------------------------- notices

def _notify(db: Session, event: Event, user_id: int, comment_id: int, kind: str) -> None:
    db.add(ForumNotice(event_id=event.id, user_id=user_id, comment_id=comment_id, kind=kind))
    _notices_changed(db, event, user_id)


def _notices_changed(db: Session, event: Event, user_id: int) -> None:
    """Once committed, the person's phones get their unread count (counted at sending time)."""
    event_id = event.id

    def unread() -> dict:
        from core.db import session

        return {"unread": unread_count(session(), event_id, user_id)}

    publish_after_commit(event, "forum:notices", unread, audience=f"user:{user_id}",
                         key=f"notices:{user_id}", db=db)


def unread_count(db: Session, event_id: int, user_id: int) -> int:
    return db.scalar(select(func.count()).select_from(ForumNotice).where(
        ForumNotice.event_id == event_id, ForumNotice.user_id == user_id,
        ForumNotice.read_at.is_(None))) or 0


def notices(db: Session, event: Event, user: User, limit: int = 100) -> list[tuple]:
    """(notice, comment, topic) for `user`, newest first."""
    rows = db.execute(select(ForumNotice, ForumComment, ForumTopic)
                      .join(ForumComment, ForumComment.id == ForumNotice.comment_id)
                      .join(ForumTopic, ForumTopic.id == ForumComment.topic_id)
                      .where(ForumNotice.event_id == event.id, ForumNotice.user_id == user.id)
                      .order_by(ForumNotice.id.desc()).limit(limit))
    return [tuple(r) for r in rows.all()]


def mark_read(db: Session, event: Event, user: User) -> None:
    from sqlalchemy import update

    db.execute(update(ForumNotice).where(ForumNotice.event_id == event.id,
                                         ForumNotice.user_id == user.id,
                                         ForumNotice.read_at.is_(None))
               .values(read_at=utcnow()))
    publish_after_commit(event, "forum:notices", {"unread": 0}, audience=f"user:{user.id}",
                         key=f"notices:{user.id}", db=db)


# ---------------------------------------------------------------- live

_changed_lock = threading.Lock()


def _changed() -> dict[int, set[int]]:
    """Comments changed (edited, hidden, shown, decided on, agreed with) since this process
    last told a topic's readers: topic id -> comment ids, sent with the next update."""
    return current_app.extensions.setdefault("daihoi_forum_changed", {})


def _take_changed(topic_id: int) -> list[int]:
    with _changed_lock:
        return sorted(_changed().pop(topic_id, ()))


def _announce(event: Event, topic: ForumTopic, db: Session, changed: int | None = None) -> None:
    """Tell the topic's readers, once committed: the new comments, pushed to the kinds of
    reader who may read them (plugins/forum/live.py), and the comments in `changed`, which
    each page fetches as its reader may see them. Many changes in a moment make one update."""
    topic_id = topic.id
    if changed is not None:
        changes = _changed()

        def remember() -> None:
            with _changed_lock:
                changes.setdefault(topic_id, set()).add(changed)

        after_commit(remember, db)
    event_id = event.id

    def update():
        from core.db import session
        from plugins.forum.live import payloads

        return payloads(session(), event_id, topic_id, _take_changed(topic_id))

    publish_after_commit(event, "forum:activity", update, audience=f"forum:{topic_id}",
                         key=f"forum:{topic_id}", db=db)


def count(db: Session, event: Event) -> int:
    return db.scalar(select(func.count()).select_from(ForumComment).where(
        ForumComment.event_id == event.id, ForumComment.hidden_at.is_(None))) or 0
