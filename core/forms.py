"""Forms of core pages (Flask-WTF: CSRF on every one)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from core.models import EVENT_KINDS, EVENT_ROLES, SESSION_KINDS


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


ROLE_LABELS = {
    "organiser": _l("Organiser (Ban tổ chức)"),
    "secretariat": _l("Secretariat"),
    "credentials": _l("Credentials committee"),
    "tellers": _l("Vote-counting board"),
    "documents": _l("Documents subcommittee"),
    "checkin": _l("Check-in staff"),
    "delegate": _l("Delegate"),
    "guest": _l("Guest"),
    "projector": _l("Hall screen"),
}
KIND_LABELS = {
    "congress": _l("Congress"),
    "conference": _l("Conference"),
    "contest": _l("Contest"),
    "training": _l("Training"),
    "other": _l("Other"),
}
SESSION_KIND_LABELS = {
    "preparatory": _l("Preparatory session"),
    "official": _l("Official session"),
    "other": _l("Other"),
}


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class EventForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=300)])
    slug = StringField(_l("Short name in the address"), validators=[Optional(), Length(max=80)])
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k, KIND_LABELS[k]) for k in EVENT_KINDS])
    starts_on = DateField(_l("From"), validators=[Optional()])
    ends_on = DateField(_l("To"), validators=[Optional()])
    venue = StringField(_l("Venue"), validators=[Optional(), Length(max=300)])
    convened_count = IntegerField(_l("Convened delegates"), default=0,
                                  validators=[NumberRange(min=0, max=100_000)])


class SessionForm(FlaskForm):
    name = StringField(_l("Session name"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"),
                       choices=[SelectChoice(k, SESSION_KIND_LABELS[k]) for k in SESSION_KINDS])


class MemberForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    role = SelectField(_l("Role"), choices=[SelectChoice(r, ROLE_LABELS[r]) for r in EVENT_ROLES])


class ProjectorForm(FlaskForm):
    label = StringField(_l("Screen name"), validators=[Optional(), Length(max=120)])


class ActionForm(FlaskForm):
    """A bare form for buttons that only need the CSRF token."""
