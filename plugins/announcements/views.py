from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from core.db import session
from core.errors import ServiceError
from core.event_context import EventBlueprint, can, require_permission
from core.forms import ActionForm
from plugins.announcements import services

bp = EventBlueprint("announcements", __name__, module="announcements",
                    url_prefix="/announcements", template_folder="templates")
# Scripts are the same for every event and hold no data, so they are served outside the event
# guard, where a hall screen without an account can load them too.
assets = Blueprint("announcements_assets", __name__, static_folder="static",
                   static_url_path="/modules/announcements/static")

AUDIENCE_LABELS = {"all": _l("Everyone"), "delegates": _l("Delegates and guests"),
                   "staff": _l("Staff only")}


class AnnouncementForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(_l("Text"), validators=[Length(max=5000)])
    audience = SelectField(_l("For"), choices=[SelectChoice(k, v)
                                               for k, v in AUDIENCE_LABELS.items()])


@bp.route("/")
def index():
    return render_template(
        "announcements/index.html",
        items=services.latest(session(), g.event, g.event_roles),
        form=AnnouncementForm() if can("announcements.post") else None,
        action_form=ActionForm(), audience_labels=AUDIENCE_LABELS,
    )


@bp.route("/", methods=["POST"])
@require_permission("announcements.post")
def create():
    form = AnnouncementForm()
    if not form.validate_on_submit():
        flash(_("The announcement needs a title (at most 200 characters)."), "error")
        return redirect(url_for(".index"))
    try:
        services.post(session(), g.event, author=current_user, title=form.title.data,
                      body=form.body.data, audience=form.audience.data)
    except ServiceError as exc:
        session().rollback()
        flash(exc.message, "error")
        return redirect(url_for(".index"))
    session().commit()
    flash(_("Announcement sent."), "success")
    return redirect(url_for(".index"))


@bp.route("/<int:announcement_id>/withdraw", methods=["POST"])
@require_permission("announcements.post")
def withdraw(announcement_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.withdraw(session(), g.event, announcement_id, actor=current_user)
    except ServiceError:
        session().rollback()
        abort(404)
    session().commit()
    flash(_("Announcement withdrawn."), "success")
    return redirect(url_for(".index"))
