"""Forum pages: the board and the commented documents, a topic, posting, agreeing, editing,
moderating, the committee's decisions, notices, search and the summary downloads.

Every form works without JavaScript (post, then back to the comment); with it, new comments
of the page's topic arrive live.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie_session
from flask_babel import gettext as _
from flask_login import current_user

from core.db import session
from core.documents import pdf_response, xlsx_response
from core.errors import ServiceError
from core.event_context import EventBlueprint, require_permission
from core.forms import ActionForm
from plugins.forum import services, summary
from plugins.forum.summary import RESOLUTION_LABELS

bp = EventBlueprint("forum", __name__, module="forum", url_prefix="/forum",
                    template_folder="templates")
# Scripts hold no data; served outside the event guard.
assets = Blueprint("forum_assets", __name__, static_folder="static",
                   static_url_path="/modules/forum/static")

DRAFT_KEY = "forum_draft"


def _flags() -> dict:
    roles = g.event_roles
    return {"may_comment": services.may_comment(roles),
            "moderator": services.is_moderator(roles),
            "may_answer": services.may_answer(roles),
            "anonymous": services.is_anonymous(g.event),
            "resolution_labels": RESOLUTION_LABELS}


def topic_url(topic, comment_id: int | None = None) -> str:
    """Where a topic's comments are read, at `comment_id` if given: with all comments when
    that one is older than the threads a page first shows."""
    anchor = f"#c{comment_id}" if comment_id else "#comments"
    query = {}
    if comment_id and not services.in_newest_threads(session(), topic, comment_id):
        query["comments"] = "all"
    if topic.document_id is not None:
        return url_for("documents.show", document_id=topic.document_id, **query) + anchor
    return url_for("forum.topic", topic_id=topic.id, **query) + anchor


def _check_form() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


def _field(name: str) -> str:
    value = request.form.get(name, "")
    return value if isinstance(value, str) else ""


def _number(raw: str) -> int | None:
    """A whole number as typed, or None. Decimal digits only ("²" passes isdigit() but not
    int()), and at most 9 of them: a larger id overflows the database's integer, an error
    rather than a refusal."""
    raw = raw.strip()
    return int(raw) if raw.isdecimal() and len(raw) <= 9 else None


def _int_field(name: str) -> int | None:
    raw = _field(name).strip()
    if not raw:
        return None
    number = _number(raw)
    if number is None:
        raise ServiceError(_("the page must be a number"))
    return number


def _parent_field() -> int | None:
    raw = _field("parent_id").strip()
    if not raw:
        return None
    number = _number(raw)
    if number is None:
        # A reply naming no comment is refused, not posted as a comment of its own.
        raise ServiceError(_("the comment you reply to is not there any more"))
    return number


# Kept in the session cookie, which browsers cap at 4 KB; a longer draft comes back from the
# page's own copy (forum.js keeps what was sent until the page says it was posted).
DRAFT_MAX = 1500


def _keep_draft(topic_id: int, text: str) -> None:
    # The comment was refused: give it back in the form rather than lose what was typed.
    if len(text) <= DRAFT_MAX:
        cookie_session[DRAFT_KEY] = {"topic": topic_id, "body": text}


def take_draft(topic_id: int) -> str:
    draft = cookie_session.get(DRAFT_KEY)
    if isinstance(draft, dict) and draft.get("topic") == topic_id:
        cookie_session.pop(DRAFT_KEY, None)
        return str(draft.get("body", ""))
    return ""


@bp.route("/")
def index():
    db = session()
    return render_template(
        "forum/index.html", docs=services.document_rows(db, g.event, g.event_roles),
        topics=services.board(db, g.event, g.event_roles), action_form=ActionForm(),
        unread=services.unread_count(db, g.event.id, current_user.id), **_flags())


@bp.route("/topics", methods=["POST"])
def create_topic():
    _check_form()
    db = session()
    try:
        topic = services.create_topic(db, g.event, author=current_user, roles=g.event_roles,
                                      title=_field("title"), body=_field("body"))
    except ServiceError as exc:
        db.rollback()
        flash(_("The topic was not posted: %(why)s.", why=exc.message), "error")
        return redirect(url_for(".index"))
    db.commit()
    return redirect(topic_url(topic))


@bp.route("/t/<int:topic_id>")
def topic(topic_id: int):
    db = session()
    t = services.get_topic(db, g.event, topic_id, g.event_roles)
    if t.document_id is not None:
        return redirect(topic_url(t))
    everything = request.args.get("comments") == "all"
    return render_template("forum/topic.html", topic=t, action_form=ActionForm(),
                           thread=services.thread(
                               db, g.event, t, viewer=current_user, roles=g.event_roles,
                               newest=None if everything else services.THREADS_SHOWN),
                           threads=services.count_threads(db, t),
                           draft=take_draft(t.id), **_flags())


@bp.route("/t/<int:topic_id>/comments")
def new_comments(topic_id: int):
    """The comments after `after` (or those named in `ids`, as changed) as list items, for
    the page to add or redraw without a reload."""
    db = session()
    t = services.get_topic(db, g.event, topic_id, g.event_roles)
    after = _number(request.args.get("after", "0")) or 0
    ids = [n for n in (_number(x) for x in request.args.get("ids", "").split(",")[:100])
           if n is not None]
    items = services.thread(db, g.event, t, viewer=current_user, roles=g.event_roles,
                            after=after, only=ids or None)
    resp = render_template("forum/_fresh.html", items=items, topic=t, action_form=ActionForm(),
                           **_flags())
    return resp, 200, {"Cache-Control": "no-store"}


@bp.route("/t/<int:topic_id>/comments", methods=["POST"])
def post(topic_id: int):
    _check_form()
    db = session()
    t = services.get_topic(db, g.event, topic_id, g.event_roles)
    try:
        c = services.post_comment(
            db, g.event, t, author=current_user, roles=g.event_roles, body=_field("body"),
            parent_id=_parent_field(),
            section=_field("section") or None, page=_int_field("page"),
            paragraph=_field("paragraph") or None)
    except ServiceError as exc:
        db.rollback()
        _keep_draft(t.id, _field("body"))
        flash(_("Your comment was not posted: %(why)s.", why=exc.message), "error")
        return redirect(topic_url(t))
    db.commit()
    flash(_("Your comment is posted."), "success")
    return redirect(topic_url(t, c.id))


@bp.route("/t/<int:topic_id>/state", methods=["POST"])
@require_permission("forum.moderate")
def topic_state(topic_id: int):
    _check_form()
    db = session()
    t = services.get_topic(db, g.event, topic_id, g.event_roles)
    action = _field("action")
    try:
        if action in ("open", "close"):
            services.set_topic_open(db, g.event, t, action == "open", actor=current_user)
        elif action == "hide":
            services.hide_topic(db, g.event, t, actor=current_user, reason=_field("reason"))
        elif action == "show":
            services.show_topic(db, g.event, t, actor=current_user)
        else:
            abort(400)
    except ServiceError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(topic_url(t))
    db.commit()
    return redirect(url_for(".index") if action == "hide" else topic_url(t))


@bp.route("/d/<int:document_id>/commenting", methods=["POST"])
@require_permission("forum.moderate")
def commenting(document_id: int):
    from plugins.documents.services import get_document

    _check_form()
    db = session()
    doc = get_document(db, g.event, document_id, g.event_roles)
    try:
        services.set_commenting(db, g.event, doc, _field("action") == "open",
                                actor=current_user)
    except ServiceError as exc:
        db.rollback()
        flash(exc.message, "error")
    else:
        db.commit()
        flash(_("Commenting is open.") if _field("action") == "open" else
              _("Commenting is closed."), "success")
    return redirect(url_for("documents.show", document_id=doc.id) + "#comments")


def _comment(comment_id: int):
    return services.get_comment(session(), g.event, comment_id, g.event_roles, current_user)


def _topic_of(c):
    from plugins.forum.models import ForumTopic

    return session().get(ForumTopic, c.topic_id)


@bp.route("/c/<int:comment_id>/edit", methods=["GET", "POST"])
def edit(comment_id: int):
    db = session()
    c = _comment(comment_id)
    if c.author_id != current_user.id:
        abort(403)
    if request.method == "POST":
        _check_form()
        try:
            services.edit_comment(db, g.event, c, actor=current_user, body=_field("body"))
        except ServiceError as exc:
            db.rollback()
            flash(_("Nothing was changed: %(why)s.", why=exc.message), "error")
        else:
            db.commit()
            flash(_("Comment corrected."), "success")
            return redirect(topic_url(_topic_of(c), c.id))
    return render_template("forum/edit.html", comment=c, action_form=ActionForm(),
                           can_edit=services.may_edit(c, current_user),
                           back=topic_url(_topic_of(c), c.id))


@bp.route("/c/<int:comment_id>/agree", methods=["POST"])
def agree(comment_id: int):
    _check_form()
    db = session()
    c = _comment(comment_id)
    try:
        services.toggle_agree(db, g.event, c, user=current_user, roles=g.event_roles)
    except ServiceError as exc:
        db.rollback()
        flash(exc.message, "error")
    else:
        db.commit()
    return redirect(topic_url(_topic_of(c), c.id))


@bp.route("/c/<int:comment_id>/moderate", methods=["POST"])
@require_permission("forum.moderate")
def moderate(comment_id: int):
    _check_form()
    db = session()
    c = _comment(comment_id)
    try:
        if _field("action") == "hide":
            services.hide_comment(db, g.event, c, actor=current_user, reason=_field("reason"))
        elif _field("action") == "unhide":
            services.unhide_comment(db, g.event, c, actor=current_user)
        else:
            abort(400)
    except ServiceError as exc:
        db.rollback()
        flash(_("Nothing was changed: %(why)s.", why=exc.message), "error")
    else:
        db.commit()
    return redirect(topic_url(_topic_of(c), c.id))


@bp.route("/c/<int:comment_id>/resolve", methods=["POST"])
@require_permission("forum.answer")
def resolve(comment_id: int):
    _check_form()
    db = session()
    c = _comment(comment_id)
    resolution = _field("resolution") or None
    try:
        services.resolve_comment(db, g.event, c, actor=current_user, resolution=resolution,
                                 reply=_field("reply"))
    except ServiceError as exc:
        db.rollback()
        flash(_("Nothing was changed: %(why)s.", why=exc.message), "error")
    else:
        db.commit()
        flash(_("Decision saved."), "success")
    back = request.form.get("back")
    if back == "summary":
        return redirect(url_for(".summary_page") + f"#c{c.id}")
    return redirect(topic_url(_topic_of(c), c.id))


@bp.route("/search")
def search():
    db = session()
    query = request.args.get("q", "")[:200]
    results = services.search(db, g.event, query, roles=g.event_roles, viewer=current_user)
    return render_template("forum/search.html", query=query, results=results,
                           titles=services.topic_titles(db, (t for _c, t in results)),
                           topic_url=topic_url, **_flags())


@bp.route("/notices")
def notices():
    db = session()
    items = services.notices(db, g.event, current_user)
    # Which were new on arrival: the commit below marks them read (and reloads them).
    unread = {n.id for n, _c, _t in items if n.read_at is None}
    services.mark_read(db, g.event, current_user)
    db.commit()
    return render_template("forum/notices.html", items=items, unread=unread,
                           titles=services.topic_titles(db, (t for _n, _c, t in items)),
                           topic_url=topic_url, **_flags())


@bp.route("/settings", methods=["POST"])
@require_permission("forum.moderate")
def settings():
    _check_form()
    db = session()
    services.set_anonymous(db, g.event, request.form.get("anonymous") == "1",
                           actor=current_user)
    db.commit()
    flash(_("Forum settings saved."), "success")
    return redirect(url_for(".index"))


@bp.route("/summary")
@require_permission("forum.answer")
def summary_page():
    db = session()
    docs = summary.build(db, g.event)
    return render_template("forum/summary.html", docs=docs,
                           hidden=summary.hidden_total(db, g.event, docs), walk=summary.walk,
                           anchor_text=summary.anchor_text, action_form=ActionForm(),
                           **_flags())


@bp.route("/summary.xlsx")
@require_permission("forum.answer")
def summary_xlsx():
    return xlsx_response(summary.xlsx(session(), g.event), "tong-hop-y-kien.xlsx")


@bp.route("/summary.pdf")
@require_permission("forum.answer")
def summary_pdf():
    return pdf_response(summary.pdf(session(), g.event), "tong-hop-y-kien.pdf")
