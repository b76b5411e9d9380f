"""Forms of the delegates pages (Flask-WTF: CSRF on every one)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from plugins.delegates.models import CORRECTABLE
from plugins.delegates.roster_import import FIELDS


class RosterUploadForm(FlaskForm):
    file = FileField(_l("Roster file (CSV or XLSX)"), validators=[FileRequired()])


class ConfirmImportForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])


class DelegateForm(FlaskForm):
    code = StringField(_l("Delegate code"), validators=[DataRequired(), Length(max=40)])
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), choices=[SelectChoice("delegate", _l("Delegate")),
                                            SelectChoice("guest", _l("Guest"))])
    birth_date = StringField(_l("Date of birth (dd/mm/yyyy)"),
                             validators=[DataRequired(), Length(max=10)])
    gender = SelectField(_l("Gender"), choices=[SelectChoice("Nam", "Nam"),
                                                SelectChoice("Nữ", "Nữ")])
    ethnicity = StringField(_l("Ethnicity"), validators=[Optional(), Length(max=60)])
    religion = StringField(_l("Religion"), validators=[Optional(), Length(max=60)])
    unit_name = StringField(_l("Unit"), validators=[Optional(), Length(max=200)])
    position = StringField(_l("Position"), validators=[Optional(), Length(max=200)])
    education = StringField(_l("Education"), validators=[Optional(), Length(max=100)])
    political_theory = StringField(_l("Political theory"), validators=[Optional(),
                                                                       Length(max=100)])
    party_member = SelectField(_l("Party member"), choices=[SelectChoice("Có", "Có"),
                                                            SelectChoice("Không", "Không")])
    delegate_type = SelectField(_l("Delegate type"), choices=[
        SelectChoice("Được bầu", "Được bầu"), SelectChoice("Đương nhiên", "Đương nhiên"),
        SelectChoice("Chỉ định", "Chỉ định")])
    group = StringField(_l("Discussion group"), validators=[Optional(), Length(max=100)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=30)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=200)])


class CorrectionForm(FlaskForm):
    field = SelectField(_l("Field"), choices=[SelectChoice(f, FIELDS[f][0])
                                              for f in CORRECTABLE])
    new_value = StringField(_l("Correct value"), validators=[DataRequired(), Length(max=300)])
    note = TextAreaField(_l("Note for the credentials committee"),
                         validators=[Optional(), Length(max=1000)])


class DecisionForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=1000)])


class ReplaceForm(FlaskForm):
    alternate_code = StringField(_l("Code of the alternate"),
                                 validators=[DataRequired(), Length(max=40)])
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=1000)])


class SecondFactorForm(FlaskForm):
    birth_date = StringField(_l("Your date of birth (dd/mm/yyyy)"),
                             validators=[DataRequired(), Length(max=12)])
