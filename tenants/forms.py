"""Forms of the unit administration pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional


class UnitForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=80)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=300)])
    level = SelectField(_l("Level"), choices=[])


class AccountForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    email = StringField(_l("Email"), validators=[Optional(), Email(), Length(max=200)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    right_admin = BooleanField(_l("Unit admin"))
    right_events = BooleanField(_l("Runs events"))
    right_reports = BooleanField(_l("Sees reports"))


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired()])
