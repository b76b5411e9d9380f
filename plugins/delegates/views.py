"""Pages of the delegates module: roster and its import, one person, the delegate's own page,
the credentials committee, and the personal sign-in link."""

from __future__ import annotations

import io
import secrets
import time
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user

from core.db import session as db_session
from core.documents import xlsx_response
from core.errors import NotFound, ServiceError
from core.event_context import EventBlueprint, can, require_permission
from core.forms import ActionForm
from core.models import Event
from core.throttle import blocked, charge, failure_keys
from plugins.delegates import services
from plugins.delegates.forms import (
    ConfirmImportForm,
    CorrectionForm,
    DecisionForm,
    DelegateForm,
    ReplaceForm,
    RosterUploadForm,
    SecondFactorForm,
)
from plugins.delegates.models import CORRECTABLE
from plugins.delegates.roster_import import FIELDS, REQUIRED, apply_roster, parse_roster
from plugins.delegates.vietnamese import display, fold

bp = EventBlueprint("delegates", __name__, module="delegates", url_prefix="/delegates",
                    template_folder="templates")
signin = Blueprint("delegates_signin", __name__, template_folder="templates")

STATUS_LABELS = {"convened": _l("Convened"), "approved": _l("Credentials accepted"),
                 "rejected": _l("Credentials refused"), "replaced": _l("Replaced")}
CORRECTION_LABELS = {"pending": _l("waiting"), "accepted": _l("accepted"),
                     "rejected": _l("refused")}


def _done(message: str, endpoint: str, **values):
    db_session().commit()
    flash(message, "success")
    return redirect(url_for(endpoint, **values))


# ---------------------------------------------------------------- roster

@bp.route("/")
@require_permission("delegates.view")
def roster():
    kind = "guest" if request.args.get("kind") == "guest" else "delegate"
    query = fold(request.args.get("q", ""))
    people = services.roster(db_session(), g.event, kind)
    if query:
        people = [d for d in people if query in fold(f"{d.full_name} {d.code} {d.unit_name}")]
    return render_template("delegates/roster.html", people=people, kind=kind,
                           q=request.args.get("q", ""), counts=services.counts(db_session(),
                                                                               g.event),
                           status_labels=STATUS_LABELS, display=display)


UPLOAD_KEEP_SECONDS = 24 * 3600


def _upload_dir() -> Path:
    path = Path(current_app.instance_path) / "uploads" / str(g.event.id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _forget_old_uploads() -> None:
    """Rosters hold personal data: an upload nobody confirmed is deleted after a day."""
    cutoff = time.time() - UPLOAD_KEEP_SECONDS
    for f in _upload_dir().glob("*.bin"):
        if f.stat().st_mtime < cutoff:
            f.unlink(missing_ok=True)


def _stored_upload(token: str) -> tuple[bytes, str] | None:
    if not token or not token.replace("-", "").replace("_", "").isalnum():
        return None
    held = session.get("daihoi_roster_uploads", {})
    name = held.get(f"{g.event.id}:{token}")
    path = _upload_dir() / f"{token}.bin"
    if name is None or not path.exists():
        return None
    return path.read_bytes(), name


def _mapping_from_form(headers: list[str]) -> dict[int, str] | None:
    if "map-0" not in request.form:
        return None
    mapping: dict[int, str] = {}
    for i in range(len(headers)):
        f = request.form.get(f"map-{i}", "")
        if f in FIELDS and f not in mapping.values():
            mapping[i] = f
    return mapping


@bp.route("/import", methods=["GET", "POST"])
@require_permission("delegates.manage")
def import_roster():
    form = RosterUploadForm()
    if form.validate_on_submit():
        _forget_old_uploads()
        raw = form.file.data.read()
        name = form.file.data.filename or "roster"
        token = secrets.token_urlsafe(16)
        (_upload_dir() / f"{token}.bin").write_bytes(raw)
        held = dict(session.get("daihoi_roster_uploads", {}))
        held[f"{g.event.id}:{token}"] = name
        session["daihoi_roster_uploads"] = held
        return redirect(url_for(".import_preview", token=token))
    return render_template("delegates/import.html", form=form, preview=None)


@bp.route("/import/<token>", methods=["GET", "POST"])
@require_permission("delegates.manage")
def import_preview(token: str):
    stored = _stored_upload(token)
    if stored is None:
        flash(_("The uploaded file is gone; upload it again."), "error")
        return redirect(url_for(".import_roster"))
    raw, name = stored
    first = parse_roster(raw, name)
    mapping = _mapping_from_form(first.headers) if request.method == "POST" else None
    preview = parse_roster(raw, name, mapping) if mapping is not None else first
    existing = services.codes(db_session(), g.event)
    new_codes = sum(1 for r in preview.rows if r.values.get("code") not in existing)
    confirm = ConfirmImportForm(token=token)
    if request.method == "POST" and request.form.get("apply") == "1" and confirm.validate():
        if not preview.ok:
            flash(_("The roster still has problems; nothing was imported."), "error")
        else:
            result = apply_roster(db_session(), g.event, preview, actor=current_user)
            (_upload_dir() / f"{token}.bin").unlink(missing_ok=True)
            return _done(_("Imported: %(c)s new, %(u)s updated, %(s)s unchanged.",
                           c=result.created, u=result.updated, s=result.unchanged), ".roster")
    return render_template("delegates/import.html", form=RosterUploadForm(), preview=preview,
                           token=token, confirm=confirm, fields=FIELDS, required=REQUIRED,
                           new_codes=new_codes, name=name,
                           missing_labels=[str(FIELDS[f][0]) for f in preview.missing_required])


@bp.route("/export.xlsx")
@require_permission("delegates.manage")
def export():
    from core import audit
    from plugins.delegates.export import roster_workbook

    data = roster_workbook(db_session(), g.event, lambda d: url_for(
        "delegates_signin.open_link", token=services.signin_token(d), _external=True))
    audit.record("delegates.export", actor=current_user, event=g.event, detail={})
    db_session().commit()
    return xlsx_response(data, f"danh-sach-dai-bieu-{g.event.slug}.xlsx")


@bp.route("/new", methods=["GET", "POST"])
@require_permission("delegates.manage")
def add():
    return _edit(None)


@bp.route("/<int:delegate_id>/edit", methods=["GET", "POST"])
@require_permission("delegates.manage")
def edit(delegate_id: int):
    return _edit(services.get_delegate(db_session(), g.event, delegate_id))


def _edit(d):
    form = DelegateForm()
    if request.method == "GET" and d is not None:
        for f in ("code", "full_name", "kind", *services.EDITABLE):
            getattr(form, f).data = display(f, getattr(d, f))
    if form.validate_on_submit():
        data = {f: getattr(form, f).data for f in ("code", "kind", *services.EDITABLE)}
        try:
            saved = services.save_delegate(db_session(), g.event, d, data, actor=current_user)
        except ServiceError as exc:
            db_session().rollback()
            flash(exc.message, "error")
        else:
            return _done(_("Saved."), ".person", delegate_id=saved.id)
    return render_template("delegates/form.html", form=form, person=d)


@bp.route("/<int:delegate_id>")
@require_permission("delegates.view")
def person(delegate_id: int):
    d = services.get_delegate(db_session(), g.event, delegate_id)
    link = None
    if can("delegates.manage"):
        link = url_for("delegates_signin.open_link", token=services.signin_token(d),
                       _external=True)
    return render_template("delegates/person.html", d=d, link=link, display=display,
                           fields=FIELDS, status_labels=STATUS_LABELS, action_form=ActionForm(),
                           corrections=services.corrections_of(db_session(), d),
                           correction_labels=CORRECTION_LABELS)


@bp.route("/<int:delegate_id>/signin-qr.png")
@require_permission("delegates.manage")
def signin_qr(delegate_id: int):
    import qrcode

    d = services.get_delegate(db_session(), g.event, delegate_id)
    url = url_for("delegates_signin.open_link", token=services.signin_token(d), _external=True)
    buf = io.BytesIO()
    qrcode.make(url, box_size=6, border=2).save(buf, format="PNG")
    buf.seek(0)
    return send_file(buf, mimetype="image/png", max_age=0)


@bp.route("/<int:delegate_id>/<action>", methods=["POST"])
@require_permission("delegates.manage")
def person_action(delegate_id: int, action: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    d = services.get_delegate(db_session(), g.event, delegate_id)
    db = db_session()
    if action == "revoke-link":
        services.revoke_signin_link(db, g.event, d, actor=current_user)
        return _done(_("The old sign-in link no longer works."), ".person", delegate_id=d.id)
    if action == "new-badge":
        services.regenerate_badge(db, g.event, d, actor=current_user)
        return _done(_("New badge code made; the old badge no longer works."), ".person",
                     delegate_id=d.id)
    if action == "remove":
        services.remove_delegate(db, g.event, d.id, actor=current_user)
        return _done(_("Removed from the roster."), ".roster")
    abort(404)


# ---------------------------------------------------------------- the delegate's own page

def _me():
    d = services.delegate_of(db_session(), g.event, current_user)
    if d is None:
        abort(404)
    return d


@bp.route("/me")
def me():
    d = _me()
    return render_template("delegates/me.html", d=d, fields=FIELDS, correctable=CORRECTABLE,
                           display=display, form=CorrectionForm(), action_form=ActionForm(),
                           corrections=services.corrections_of(db_session(), d),
                           status_labels=STATUS_LABELS, correction_labels=CORRECTION_LABELS)


@bp.route("/me/confirm", methods=["POST"])
def me_confirm():
    d = _me()
    if not ActionForm().validate_on_submit():
        abort(400)
    services.confirm(db_session(), g.event, d)
    return _done(_("Thank you: your information is confirmed."), ".me")


@bp.route("/me/corrections", methods=["POST"])
def me_correction():
    d = _me()
    form = CorrectionForm()
    if not form.validate_on_submit():
        flash(_("Choose the field and write the correct value."), "error")
        return redirect(url_for(".me"))
    try:
        services.request_correction(db_session(), g.event, d, field=form.field.data,
                                    new_value=form.new_value.data, note=form.note.data)
    except ServiceError as exc:
        db_session().rollback()
        flash(exc.message, "error")
        return redirect(url_for(".me"))
    return _done(_("Sent to the credentials committee."), ".me")


# ---------------------------------------------------------------- credentials committee

@bp.route("/credentials")
@require_permission("delegates.verify")
def credentials():
    db = db_session()
    status = request.args.get("status", "convened")
    if status not in STATUS_LABELS:
        status = "convened"
    people = [d for d in services.roster(db, g.event, "delegate") if d.status == status]
    appointed, share, warn = services.appointed_share(db, g.event)
    return render_template("delegates/credentials.html", corrections=services.pending_corrections(
        db, g.event), people=people, status=status, status_labels=STATUS_LABELS,
        appointed=appointed, share=share, warn=warn, decision=DecisionForm(),
        replace_form=ReplaceForm(), fields=FIELDS, counts=services.counts(db, g.event))


@bp.route("/credentials/corrections/<int:request_id>", methods=["POST"])
@require_permission("delegates.verify")
def decide_correction(request_id: int):
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.decide_correction(db_session(), g.event, request_id,
                                   accept=request.form.get("accept") == "1",
                                   reason=form.reason.data or "", actor=current_user)
    except NotFound:
        db_session().rollback()
        abort(404)
    except ServiceError as exc:
        db_session().rollback()
        flash(exc.message, "error")
        return redirect(url_for(".credentials"))
    return _done(_("Decision recorded."), ".credentials")


@bp.route("/credentials/<int:delegate_id>/decide", methods=["POST"])
@require_permission("delegates.verify")
def decide_status(delegate_id: int):
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    d = services.get_delegate(db_session(), g.event, delegate_id)
    db = db_session()
    action = request.form.get("action")
    try:
        if action == "appointed":
            if services.mark_appointed(db, g.event, d, actor=current_user):
                flash(_("Warning: appointed delegates are now more than %(limit)s of the "
                        "convened delegates.",
                        limit=f"{services.APPOINTED_WARN_SHARE:.0%}"), "error")
        elif action in ("approved", "rejected", "convened"):
            services.set_status(db, g.event, d, action, actor=current_user,
                                reason=form.reason.data or "")
        else:
            abort(404)
    except ServiceError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".credentials", status=d.status))
    return _done(_("Decision recorded."), ".credentials", status=request.args.get(
        "status", "convened"))


@bp.route("/credentials/approve-many", methods=["POST"])
@require_permission("delegates.verify")
def approve_many():
    if not ActionForm().validate_on_submit():
        abort(400)
    ids = [int(i) for i in request.form.getlist("delegate") if i.isdigit()]
    n = services.approve_many(db_session(), g.event, ids, actor=current_user)
    return _done(_("Credentials accepted for %(n)s delegates.", n=n), ".credentials")


@bp.route("/credentials/<int:delegate_id>/replace", methods=["POST"])
@require_permission("delegates.verify")
def replace(delegate_id: int):
    form = ReplaceForm()
    d = services.get_delegate(db_session(), g.event, delegate_id)
    if not form.validate_on_submit():
        flash(_("Write the code of the alternate."), "error")
        return redirect(url_for(".credentials"))
    db = db_session()
    alternate = services.by_code(db, g.event, form.alternate_code.data)
    try:
        if alternate is None:
            raise ServiceError(_("no person with code %(code)s in this event",
                                 code=form.alternate_code.data.strip().upper()))
        services.replace_with_alternate(db, g.event, d, alternate, actor=current_user,
                                        reason=form.reason.data or "")
    except ServiceError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".credentials"))
    return _done(_("%(old)s is replaced by %(new)s.", old=d.full_name, new=alternate.full_name),
                 ".credentials")


# ---------------------------------------------------------------- personal sign-in link

@signin.route("/d/<token>", methods=["GET", "POST"])
def open_link(token: str):
    db = db_session()
    d = services.resolve_signin_token(db, token)
    if d is None:
        abort(404)
    event = db.get(Event, d.event_id)
    form = SecondFactorForm()
    keys = failure_keys("delegate-link", str(d.id), "5 per 15 minutes")
    if form.validate_on_submit():
        if blocked(keys):
            abort(429)
        if not services.check_second_factor(d, form.birth_date.data):
            charge(keys)
            flash(_("The date of birth does not match our records."), "error")
            return render_template("delegates/signin.html", form=form, event=event), 401
        session.clear()
        login_user(d.user)
        return redirect(url_for("delegates.me", unit_code=event.unit.code,
                                event_slug=event.slug))
    return render_template("delegates/signin.html", form=form, event=event)
