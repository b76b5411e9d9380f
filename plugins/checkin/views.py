"""Check-in pages: the organisers' console per session, the scanning station, a delegate's own
check-in, and the JSON endpoint a station syncs its offline queue to."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from core.db import session
from core.errors import ServiceError
from core.event_context import EventBlueprint, can, require_permission
from core.forms import ActionForm
from core.i18n import local_time, utc_from_local
from plugins.checkin import serialize, services
from plugins.checkin.forms import ADMIT_LABELS, ListSettingsForm, QuorumForm

bp = EventBlueprint("checkin", __name__, module="checkin", url_prefix="/checkin",
                    template_folder="templates")
api = EventBlueprint("checkin_api", __name__, module="checkin", url_prefix="/checkin",
                     api=True)
# Scripts hold no data; served outside the event guard so a hall screen can load them.
assets = Blueprint("checkin_assets", __name__, static_folder="static",
                   static_url_path="/modules/checkin/static")

# A station uploads at most this many queued scans per request.
MAX_BATCH = 500


def _local(value):
    return local_time(value).replace(tzinfo=None) if value else None


@bp.route("/")
@require_permission("checkin.view")
def index():
    db = session()
    lists = services.ensure_lists(db, g.event)
    rows = [(lst, services.attendance(db, g.event, lst)) for lst in lists]
    db.commit()
    rule = services.quorum_rule(g.event)
    return render_template("checkin/index.html", rows=rows, action=ActionForm(),
                           quorum_form=QuorumForm(data=rule), admit_labels=ADMIT_LABELS,
                           is_open=services.is_open)


@bp.route("/lists/<int:list_id>", methods=["GET", "POST"])
@require_permission("checkin.view")
def console(list_id: int):
    db = session()
    lst = services.get_list(db, g.event, list_id)
    form = ListSettingsForm(obj=lst)
    if request.method == "GET":
        # Shown in the congress's time zone, as they are typed (obj would show UTC).
        form.opens_at.data, form.closes_at.data = _local(lst.opens_at), _local(lst.closes_at)
    if request.method == "POST":
        if not can("checkin.manage"):
            abort(403)
        if form.validate_on_submit():
            try:
                services.update_list(
                    db, g.event, lst, admit_delegates=form.admit_delegates.data,
                    admit_guests=form.admit_guests.data, track_exit=form.track_exit.data,
                    self_checkin=form.self_checkin.data,
                    opens_at=utc_from_local(form.opens_at.data),
                    closes_at=utc_from_local(form.closes_at.data), actor=current_user)
            except ServiceError as exc:
                db.rollback()
                flash(exc.message, "error")
                return redirect(url_for(".console", list_id=lst.id))
            serialize.announce_current(g.event)
            db.commit()
            flash(_("Saved."), "success")
            return redirect(url_for(".console", list_id=lst.id))
        flash(_("Check the fields marked in red."), "error")
    recent = [serialize.recent_json(s, d)
              for s, d in services.recent_scans(db, g.event, lst, limit=30)]
    return render_template("checkin/console.html", lst=lst, form=form, recent=recent,
                           att=services.attendance(db, g.event, lst),
                           conflicts=services.conflicts(db, g.event, lst),
                           is_open=services.is_open(lst), action=ActionForm())


@bp.route("/lists/<int:list_id>/<any(open, close):action_name>", methods=["POST"])
@require_permission("checkin.manage")
def open_close(list_id: int, action_name: str):
    db = session()
    lst = services.get_list(db, g.event, list_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        if action_name == "open":
            services.open_list(db, g.event, lst, actor=current_user)
        else:
            services.close_list(db, g.event, lst, actor=current_user)
    except ServiceError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(request.referrer or url_for(".index"))
    serialize.announce_current(g.event)
    serialize.announce_change(g.event, lst)
    db.commit()
    flash(_("Check-in is open.") if action_name == "open" else _("Check-in is closed."),
          "success")
    return redirect(request.referrer or url_for(".index"))


@bp.route("/quorum", methods=["POST"])
@require_permission("checkin.manage")
def quorum():
    form = QuorumForm()
    if not form.validate_on_submit():
        flash(_("Choose a quorum fraction from the list."), "error")
        return redirect(url_for(".index"))
    db = session()
    services.set_quorum_rule(db, g.event, fraction=form.fraction.data, units=form.units.data,
                             actor=current_user)
    serialize.announce_current(g.event)
    db.commit()
    flash(_("Saved."), "success")
    return redirect(url_for(".index"))


@bp.route("/station")
@require_permission("checkin.scan")
def station():
    db = session()
    lists = services.ensure_lists(db, g.event)
    db.commit()
    current = services.current_list(db, g.event)
    chosen = request.args.get("list", type=int)
    selected = next((lst for lst in lists if lst.id == chosen), current)
    att = services.attendance(db, g.event, selected) if selected is not None else None
    return render_template("checkin/station.html", lists=lists, selected=selected,
                           is_open=services.is_open, att=att)


@bp.route("/me")
def me():
    """A delegate's own check-in: where they are recorded, and a scanner for the hall code."""
    from plugins.delegates.services import delegate_of

    db = session()
    d = delegate_of(db, g.event, current_user)
    if d is None:
        abort(404)
    lists = services.ensure_lists(db, g.event)
    db.commit()
    mine = [(lst, services.presence_of(db, lst.id, d.id)) for lst in lists]
    return render_template("checkin/me.html", person=d, mine=mine, is_open=services.is_open)


@bp.route("/here/<token>", methods=["GET", "POST"])
def here(token: str):
    """The page the hall screen's QR code opens on a delegate's phone."""
    db = session()
    form = ActionForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            result = services.self_checkin(db, g.event, token, current_user)
        except ServiceError as exc:
            db.rollback()
            return render_template("checkin/here.html", error=exc.message, form=form,
                                   token=token), 400 if exc.code != "forbidden" else 403
        if not result.replay:
            serialize.announce_change(g.event, services.get_list(db, g.event,
                                                                 result.scan.list_id))
        db.commit()
        return render_template("checkin/here.html", result=serialize.scan_json(result),
                               form=form, token=token)
    try:
        lst = services.read_self_code(db, g.event, token)
    except ServiceError as exc:
        return render_template("checkin/here.html", error=exc.message, form=form,
                               token=token), 400
    return render_template("checkin/here.html", lst=lst, form=form, token=token)


# ---------------------------------------------------------------- JSON API

@api.route("/lists/<int:list_id>/scans", methods=["POST"])
@require_permission("checkin.scan")
def upload_scans(list_id: int):
    """A station's queue: recorded together by the scan writer, each scan answered on its own.

    A malformed scan is answered with its error and does not stop the others; the rest are
    committed in one transaction before the answer, so an answer means recorded.
    """
    from plugins.checkin.writer import WriterBusy, writer

    db = session()
    services.get_list(db, g.event, list_id)  # 404 for another event's list
    body = request.get_json(silent=True)
    scans = body.get("scans") if isinstance(body, dict) else None
    if not isinstance(scans, list) or not scans or len(scans) > MAX_BATCH:
        return {"ok": False, "error": "bad_request",
                "message": _("Send a list of 1 to %(n)s scans.", n=MAX_BATCH)}, 400
    answers: list[dict | None] = [None] * len(scans)
    inputs, where = [], []
    for n, item in enumerate(scans):
        if not isinstance(item, dict):
            answers[n] = {"ok": False, "error": "bad_request",
                          "message": _("Each scan must be an object.")}
            continue
        station = item.get("station") if isinstance(item.get("station"), str) else ""
        try:
            inputs.append(services.scan_input(
                nonce=item.get("nonce"), code=item.get("code"),
                scanned_at=item.get("scanned_at"), direction=item.get("direction") or "in",
                station=station or current_user.full_name, user_id=current_user.id))
        except ServiceError as exc:
            answers[n] = {"ok": False, "nonce": item.get("nonce"), "error": exc.code,
                          "message": exc.message}
            continue
        where.append(n)
    if inputs:
        event_id = g.event.id
        db.rollback()  # the connection goes back to the pool while the writer works
        try:
            results = writer(current_app._get_current_object()).record(event_id, list_id,
                                                                       inputs)
        except WriterBusy:
            return {"ok": False, "error": "busy",
                    "message": _("The server is busy; send the saved scans again in a "
                                 "moment.")}, 503
        for n, result in zip(where, results, strict=True):
            answers[n] = {"ok": True, "result": serialize.scan_json(result)}
    return {"ok": True, "results": answers}
