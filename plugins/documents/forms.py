"""Forms of the documents pages, and the words for categories and visibility."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

CATEGORY_LABELS = {
    "political_report": _l("Political report"),
    "review_report": _l("Review report of the executive committee"),
    "action_programme": _l("Action programme"),
    "draft_resolution": _l("Draft resolution"),
    "programme": _l("Congress programme"),
    "rules": _l("Working rules"),
    "other": _l("Other document"),
}
VISIBILITY_LABELS = {
    "public": _l("Everyone at the event (guests too)"),
    "delegates": _l("Delegates and staff"),
    "staff": _l("Staff only"),
}
PUBLISH_LABELS = {"now": _l("Publish now"), "at": _l("Publish at a set time"),
                  "draft": _l("Keep as a draft")}


class DocumentForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
    category = SelectField(_l("Category"),
                           choices=[SelectChoice(k, v) for k, v in CATEGORY_LABELS.items()])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    sections = TextAreaField(_l("Sections comments can point to (one per line)"),
                             validators=[Optional(), Length(max=15000)])
    visibility = SelectField(_l("Who may read it"), default="delegates",
                             choices=[SelectChoice(k, v) for k, v in VISIBILITY_LABELS.items()])
    publish = SelectField(_l("Publication"), default="now",
                          choices=[SelectChoice(k, v) for k, v in PUBLISH_LABELS.items()])
    publish_at = DateTimeLocalField(_l("Publish at"), format="%Y-%m-%dT%H:%M",
                                    validators=[Optional()])


class NewDocumentForm(DocumentForm):
    file = FileField(_l("File (PDF, DOCX, XLSX or an image)"))
    note = StringField(_l("Note on this version"), validators=[Optional(), Length(max=1000)])


class VersionForm(FlaskForm):
    file = FileField(_l("File of the new version"))
    note = StringField(_l("What changed"), validators=[Optional(), Length(max=1000)])
