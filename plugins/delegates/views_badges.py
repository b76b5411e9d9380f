"""Pages for badges and photos: print runs as background jobs with progress, the desk's single
badge, and photo uploads (one, or a ZIP named by delegate code).

Every object is looked up through the event in the URL, so another event's id answers 404.
Badge PDFs and photos are personal data: they are served only through these guarded routes,
never from a static folder, with `Cache-Control: no-store`.
"""

from __future__ import annotations

from pathlib import Path

from flask import (
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import func, select
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from core import audit
from core.db import session
from core.errors import ServiceError
from core.event_context import EventBlueprint, require_permission
from core.forms import ActionForm
from plugins.delegates import badges, photos
from plugins.delegates.models import BadgeJob, Delegate
from plugins.delegates.services import get_delegate

bp = EventBlueprint("delegates_badges", __name__, module="delegates", url_prefix="/badges",
                    template_folder="templates")

SCOPE_LABELS = {"all": _l("Everyone (delegates, then guests)"), "delegates": _l("Delegates only"),
                "guests": _l("Guests only"), "codes": _l("Only the codes written below")}
LAYOUT_LABELS = {"sheet": _l("A4 sheets: 10 badges of 90 × 54 mm with cut marks"),
                 "card": _l("One badge per page for a card printer (CR80, 86 × 54 mm)")}
STATUS_LABELS = {"queued": _l("waiting"), "running": _l("in progress"), "done": _l("ready"),
                 "failed": _l("failed")}
RECENT_JOBS = 8


class BadgeRunForm(FlaskForm):
    scope = SelectField(_l("Who"), choices=[SelectChoice(k, v) for k, v in SCOPE_LABELS.items()])
    codes = TextAreaField(_l("Delegate codes (separated by commas, spaces or lines)"),
                          validators=[Optional(), Length(max=60_000)])
    layout = SelectField(_l("Layout"),
                         choices=[SelectChoice(k, v) for k, v in LAYOUT_LABELS.items()])


class PhotoForm(FlaskForm):
    photo = FileField(_l("Photo (JPEG, PNG or WebP, at most 5 MB)"),
                      validators=[FileRequired(_l("Choose a photo."))])


class PhotoZipForm(FlaskForm):
    archive = FileField(_l("ZIP of photos named by delegate code (DB0001.jpg …)"),
                        validators=[FileRequired(_l("Choose a ZIP file."))])


def _no_store(resp):
    resp.headers["Cache-Control"] = "no-store, private"
    return resp


def _job(job_id: int) -> BadgeJob:
    job = session().scalar(select(BadgeJob).where(BadgeJob.id == job_id,
                                                  BadgeJob.event_id == g.event.id))
    if job is None:
        abort(404)
    return job


def _job_status(job: BadgeJob) -> dict:
    data = badges.job_json(job)
    data["status_label"] = str(STATUS_LABELS.get(job.status, job.status))
    ready = job.status == "done" and badges.job_file(current_app.instance_path, job) is not None
    data["url"] = url_for(".download", job_id=job.id) if ready else None
    return data


def _too_big(limit: int) -> bool:
    """Refuse an upload over `limit` before its form is read (the app's MAX_CONTENT_LENGTH
    stops larger bodies even earlier, before the CSRF check reads the form)."""
    request.max_content_length = limit + 256 * 1024  # room for the form's other fields
    return request.content_length is not None and request.content_length > \
        request.max_content_length


# ---------------------------------------------------------------- badges

@bp.route("/")
@require_permission("delegates.badges")
def index():
    db = session()
    jobs = list(db.scalars(select(BadgeJob).where(BadgeJob.event_id == g.event.id)
                          .order_by(BadgeJob.id.desc()).limit(RECENT_JOBS)))
    for job in jobs:
        badges.check_alive(db, current_app._get_current_object(), job)
    watched = None
    wanted = request.args.get("job", type=int)
    if wanted is not None:
        watched = next((j for j in jobs if j.id == wanted), None)
    if watched is None:
        watched = next((j for j in jobs if j.status in ("queued", "running")), None)
    people, with_photo = db.execute(
        select(func.count(), func.count(Delegate.photo)).where(Delegate.event_id == g.event.id)
    ).one()
    return render_template(
        "delegates/badges.html", form=BadgeRunForm(), zip_form=PhotoZipForm(), jobs=jobs,
        watched=_job_status(watched) if watched else None, status_labels=STATUS_LABELS,
        layout_labels=LAYOUT_LABELS, people=people, with_photo=with_photo,
        max_zip_mb=photos.MAX_ZIP_BYTES // 2**20, max_photo_mb=photos.MAX_PHOTO_BYTES // 2**20)


@bp.route("/jobs", methods=["POST"])
@require_permission("delegates.badges")
def start():
    form = BadgeRunForm()
    if not form.validate_on_submit():
        flash(_("Choose who and which layout."), "error")
        return redirect(url_for(".index"))
    db = session()
    codes = badges.parse_codes(form.codes.data) if form.scope.data == "codes" else ()
    try:
        job, chosen = badges.create_job(db, g.event, scope=form.scope.data, codes=codes,
                                        layout=form.layout.data, actor=current_user)
    except ServiceError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".index"))
    db.commit()  # the job's row exists before any worker looks for it
    try:
        badges.start_job(current_app._get_current_object(), job, chosen)
    except Exception:  # noqa: BLE001 - Redis down, say: tell the user, keep the page usable
        current_app.logger.exception("could not queue badge job %s", job.id)
        badges.fail_job(db, job.id, _("The job could not be queued."))
        flash(_("The badges could not be started: the job queue does not answer. "
                "Try again in a moment."), "error")
        return redirect(url_for(".index"))
    flash(_("Making %(n)s badges. You can leave this page; the file stays here.", n=job.total),
          "success")
    return redirect(url_for(".index", job=job.id))


@bp.route("/jobs/<int:job_id>")
@require_permission("delegates.badges")
def job_status(job_id: int):
    job = _job(job_id)
    badges.check_alive(session(), current_app._get_current_object(), job)
    return _no_store(jsonify(_job_status(job)))


@bp.route("/jobs/<int:job_id>/file")
@require_permission("delegates.badges")
def download(job_id: int):
    job = _job(job_id)
    path = badges.job_file(current_app.instance_path, job) if job.status == "done" else None
    if path is None:
        abort(404)
    audit.record("delegates.badges_download", actor=current_user, event=g.event,
                 detail={"job": job.id, "count": job.total})
    session().commit()
    resp = send_file(path, mimetype="application/pdf", as_attachment=True, max_age=0,
                     download_name=f"the-dai-bieu-{g.event.slug}-{job.id}.pdf")
    return _no_store(resp)


@bp.route("/one/<int:delegate_id>.pdf")
@require_permission("delegates.badges")
def one(delegate_id: int):
    """The desk: one badge, rendered now (a card by default, ?layout=sheet for A4)."""
    d = get_delegate(session(), g.event, delegate_id)
    layout = request.args.get("layout", "card")
    if layout not in badges.LAYOUTS:
        abort(404)
    pdf = badges.one_badge_pdf(d, g.event, current_app.instance_path, layout)
    audit.record("delegate.badge_print", actor=current_user, event=g.event,
                 detail={"code": d.code, "layout": layout})
    session().commit()
    resp = current_app.response_class(pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'inline; filename="the-{d.code}.pdf"'
    return _no_store(resp)


@bp.route("/one")
@require_permission("delegates.badges")
def one_by_code():
    """The desk types a code: straight to that person's badge."""
    code = (request.args.get("code") or "").strip().upper()
    d = session().scalar(select(Delegate).where(Delegate.event_id == g.event.id,
                                                Delegate.code == code)) if code else None
    if d is None:
        flash(_("No delegate or guest with the code %(code)s.", code=code or "—"), "error")
        return redirect(url_for(".index"))
    return redirect(url_for(".one", delegate_id=d.id, layout=request.args.get("layout", "card")))


@bp.route("/script.js")
@require_permission("delegates.badges")
def script():
    """The progress bar's script (staff-only page, so served inside the event guard)."""
    return send_file(Path(__file__).parent / "static" / "badges.js",
                     mimetype="text/javascript", max_age=3600)


# ---------------------------------------------------------------- photos

@bp.route("/photo/<int:delegate_id>", methods=["GET", "POST"])
@require_permission("delegates.badges")
def photo(delegate_id: int):
    d = get_delegate(session(), g.event, delegate_id)
    if request.method == "POST":
        if _too_big(photos.MAX_PHOTO_BYTES):
            flash(_("The photo is larger than %(mb)s MB.", mb=photos.MAX_PHOTO_BYTES // 2**20),
                  "error")
            return redirect(url_for(".photo", delegate_id=d.id))
        try:
            form = PhotoForm()
            valid = form.validate_on_submit()
        except RequestEntityTooLarge:
            flash(_("The photo is larger than %(mb)s MB.", mb=photos.MAX_PHOTO_BYTES // 2**20),
                  "error")
            return redirect(url_for(".photo", delegate_id=d.id))
        if not valid:
            flash(_("Choose a photo."), "error")
            return redirect(url_for(".photo", delegate_id=d.id))
        db = session()
        try:
            photos.save_photo(db, g.event, d, form.photo.data.read(photos.MAX_PHOTO_BYTES + 1),
                              instance_path=current_app.instance_path, actor=current_user)
        except ServiceError as exc:
            db.rollback()
            flash(_("Photo refused: %(reason)s.", reason=exc.message), "error")
            return redirect(url_for(".photo", delegate_id=d.id))
        db.commit()
        flash(_("Photo saved."), "success")
        return redirect(url_for(".photo", delegate_id=d.id))
    return render_template("delegates/photos_one.html", d=d, form=PhotoForm(),
                           action_form=ActionForm(),
                           has_photo=photos.photo_file(current_app.instance_path, d) is not None)


@bp.route("/photo/<int:delegate_id>/remove", methods=["POST"])
@require_permission("delegates.badges")
def photo_remove(delegate_id: int):
    d = get_delegate(session(), g.event, delegate_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    photos.remove_photo(session(), g.event, d, instance_path=current_app.instance_path,
                        actor=current_user)
    session().commit()
    flash(_("Photo removed."), "success")
    return redirect(url_for(".photo", delegate_id=d.id))


@bp.route("/photo/<int:delegate_id>/image.jpg")
@require_permission("delegates.view")
def photo_image(delegate_id: int):
    d = get_delegate(session(), g.event, delegate_id)
    path = photos.photo_file(current_app.instance_path, d)
    if path is None:
        abort(404)
    return _no_store(send_file(path, mimetype="image/jpeg", max_age=0))


@bp.route("/photos", methods=["POST"])
@require_permission("delegates.badges")
def photos_zip():
    too_big = _("The ZIP file is larger than %(mb)s MB.", mb=photos.MAX_ZIP_BYTES // 2**20)
    if _too_big(photos.MAX_ZIP_BYTES):
        flash(too_big, "error")
        return redirect(url_for(".index"))
    try:
        form = PhotoZipForm()
        valid = form.validate_on_submit()
    except RequestEntityTooLarge:
        flash(too_big, "error")
        return redirect(url_for(".index"))
    if not valid:
        flash(_("Choose a ZIP file."), "error")
        return redirect(url_for(".index"))
    db = session()
    try:
        report = photos.import_zip(db, g.event, form.archive.data.stream,
                                   instance_path=current_app.instance_path, actor=current_user)
    except ServiceError as exc:
        db.rollback()
        flash(_("ZIP refused: %(reason)s.", reason=exc.message), "error")
        return redirect(url_for(".index"))
    db.commit()
    return render_template("delegates/photos_result.html", report=report,
                           filename=form.archive.data.filename or "")
