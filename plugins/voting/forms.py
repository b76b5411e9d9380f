"""Forms of the voting pages, and the words for a poll's settings."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from plugins.voting.models import BASES, FRACTIONS, KINDS

KIND_LABELS = {"motion": _l("Motion (in favour / against / abstain)"),
               "election": _l("Election (keep at most N names)"),
               "choice": _l("Simple choice")}
# As a poll's kind is named in lists and headings.
KIND_NAMES = {"motion": _l("Motion"), "election": _l("Election"), "choice": _l("Simple choice")}
MODE_LABELS = {"named": _l("Named (the counting board sees who voted what)"),
               "secret": _l("Secret ballot")}
CHANNEL_LABELS = {"electronic": _l("On delegates' phones"),
                  "paper": _l("On paper (the board enters the figures)"),
                  "appointed": _l("Appointed, no vote")}
BASE_LABELS = {"returned": _l("of the ballots returned"), "valid": _l("of the valid ballots"),
               "present": _l("of the delegates present"),
               "convened": _l("of the delegates convened")}
FRACTION_LABELS = {"gt_1_2": _l("more than 1/2"), "ge_1_2": _l("1/2 or more"),
                   "ge_2_3": _l("2/3 or more"), "gt_2_3": _l("more than 2/3"),
                   "ge_3_4": _l("3/4 or more"), "plurality": _l("the most votes")}
STATUS_LABELS = {"draft": _l("Prepared"), "open": _l("Voting open"), "closed": _l("Counting"),
                 "published": _l("Published"), "cancelled": _l("Cancelled")}
COUNTDOWNS = (15, 30, 60, 120, 300)


def rule_text(base: str, fraction: str) -> str:
    if fraction == "plurality":
        return str(FRACTION_LABELS[fraction])
    return f"{FRACTION_LABELS[fraction]} {BASE_LABELS[base]}"


class PollForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
    description = TextAreaField(_l("Explanation shown on the ballot"),
                                validators=[Optional(), Length(max=5000)])
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k, KIND_LABELS[k]) for k in KINDS])
    mode = SelectField(_l("Ballot"), choices=[SelectChoice(k, v) for k, v in MODE_LABELS.items()])
    channel = SelectField(_l("How it is voted"), choices=[SelectChoice(k, CHANNEL_LABELS[k])
                                                for k in ("electronic", "paper")])
    seats = IntegerField(_l("Seats (election) or answers a ballot may tick (choice)"),
                         default=1, validators=[NumberRange(min=1, max=200)])
    fraction = SelectField(_l("Elected or passed with"),
                           choices=[SelectChoice(k, FRACTION_LABELS[k]) for k in FRACTIONS])
    base = SelectField(_l("Counted"), choices=[SelectChoice(k, BASE_LABELS[k]) for k in BASES])
    session_id = SelectField(_l("Who may vote: approved delegates checked in to"), coerce=int)
    options = TextAreaField(
        _l("Candidates or answers, one per line (“Name | unit, position” for candidates)"),
        validators=[Optional(), Length(max=60_000)])
    position = IntegerField(_l("Order on the agenda"), validators=[Optional(),
                                                                   NumberRange(min=0)])


def parse_options(text: str | None) -> tuple[tuple[str, str | None], ...]:
    rows = []
    for line in (text or "").splitlines():
        label, _sep, detail = line.partition("|")
        if label.strip():
            rows.append((label.strip(), detail.strip() or None))
    return tuple(rows)


def options_text(poll) -> str:
    return "\n".join(f"{o.label} | {o.detail}" if o.detail else o.label for o in poll.options)
