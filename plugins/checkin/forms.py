"""Forms of the check-in pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from plugins.checkin.services import QUORUM_FRACTIONS

ADMIT_LABELS = {
    "approved": _l("Delegates whose credentials are accepted"),
    "convened": _l("All convened delegates (before the credentials report)"),
    "none": _l("No delegates"),
}
FRACTION_LABELS = {"2/3": _l("at least 2/3"), "1/2": _l("at least 1/2"),
                   "3/4": _l("at least 3/4")}


class ListSettingsForm(FlaskForm):
    admit_delegates = SelectField(_l("Delegates admitted"),
                                  choices=[SelectChoice(k, v) for k, v in ADMIT_LABELS.items()])
    admit_guests = BooleanField(_l("Guests admitted"))
    track_exit = BooleanField(_l("Record check-out and re-entry"))
    self_checkin = BooleanField(_l("Delegates may check themselves in with the code on the "
                                   "hall screen"))
    opens_at = DateTimeLocalField(_l("Opens at"), format="%Y-%m-%dT%H:%M",
                                  validators=[Optional()])
    closes_at = DateTimeLocalField(_l("Closes at"), format="%Y-%m-%dT%H:%M",
                                   validators=[Optional()])


class QuorumForm(FlaskForm):
    fraction = SelectField(_l("Delegates present"),
                           choices=[SelectChoice(k, FRACTION_LABELS[k]) for k in QUORUM_FRACTIONS])
    units = BooleanField(_l("Also require the same share of delegations represented"))
