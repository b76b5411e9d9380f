"""Forum (góp ý văn kiện): delegates comment on the draft documents — as a whole or on a
section, page or paragraph — reply, agree, and talk on a general board; moderators hide what
does not belong; the drafting committee gathers every comment into its summary."""

from __future__ import annotations

from pathlib import Path

from flask_babel import lazy_gettext as _l

from core.plugins import MenuItem, ModuleInfo, Widget, hookimpl

NAME = "forum"


@hookimpl
def daihoi_modules():
    return [ModuleInfo(NAME, _l("Forum"),
                       _l("Comments on the draft documents, anchored to their sections and "
                          "pages, a general discussion board, moderation, and the drafting "
                          "committee's summary."), icon="💬",
                       depends=("documents", "delegates"))]


@hookimpl
def daihoi_blueprints():
    from plugins.forum import views

    return [views.bp, views.assets]


@hookimpl
def daihoi_permissions():
    return {
        # Write comments, replies and board topics, agree with comments.
        "forum.comment": {"delegate", "secretariat", "documents"},
        # Open and close commenting, hide comments and topics, the forum's settings.
        "forum.moderate": {"secretariat", "documents"},
        # The drafting committee: decide on comments, answer them, the summary.
        "forum.answer": {"documents"},
    }


@hookimpl
def daihoi_socket_handlers():
    from plugins.forum.realtime import handlers

    return handlers()


@hookimpl
def daihoi_event_menu_items(event, roles):
    from flask_login import current_user

    from core.db import session
    from plugins.forum.services import unread_count

    label = _l("Forum")
    if current_user.is_authenticated:
        unread = unread_count(session(), event.id, current_user.id)
        if unread:
            label = f"{label} ({unread})"
    return [MenuItem(label, "forum.index", icon="💬", order=27)]


@hookimpl
def daihoi_dashboard_widgets(event, roles):
    from core.db import session
    from plugins.forum.services import document_rows

    open_docs = [(d, n) for d, topic, n in document_rows(session(), event, roles)
                 if topic is not None and topic.is_open]
    if not open_docs:
        return []
    return [Widget(_l("Comments on the drafts"), "forum/widget.html", {"docs": open_docs},
                   order=22)]


@hookimpl
def daihoi_document_panels(event, document, roles):
    from flask import request, url_for
    from flask_login import current_user

    from core.db import session
    from plugins.forum import services
    from plugins.forum.summary import RESOLUTION_LABELS
    from plugins.forum.views import take_draft

    db = session()
    topic = services.document_topic(db, document)
    thread, threads = [], 0
    if topic is not None:
        threads = services.count_threads(db, topic)
        everything = request.args.get("comments") == "all"
        thread = services.thread(db, event, topic, viewer=current_user, roles=roles,
                                 newest=None if everything else services.THREADS_SHOWN)
    return [Widget(_l("Comments"), "forum/document_panel.html",
                   {"topic": topic, "thread": thread, "doc": document, "threads": threads,
                    "draft": take_draft(topic.id) if topic else "", "labels": RESOLUTION_LABELS,
                    "stylesheet": url_for("forum_assets.static", filename="forum.css")},
                   order=10)]


@hookimpl
def daihoi_page_scripts(event, roles):
    from flask import url_for

    return [url_for("forum_assets.static", filename="forum.js")]


@hookimpl
def daihoi_event_stats(event):
    from core.db import session
    from plugins.forum.services import count

    return {_l("Comments"): count(session(), event)}


@hookimpl(trylast=True)  # after the documents module has made the demo's draft report
def daihoi_demo_data(event, accounts):
    from plugins.forum.demo import demo_comments

    demo_comments(event, accounts)


@hookimpl
def daihoi_migration_locations():
    return [str(Path(__file__).parent / "migrations")]
