"""Vietnamese text and values of a roster: dates, names, yes/no, gender, delegate types."""

from __future__ import annotations

import re
from datetime import date, datetime

from flask_babel import gettext as _

from core.errors import ServiceError
from core.text import fold, nfc

__all__ = ["fold", "nfc", "name_sort_key", "parse_vn_date", "parse_field", "display"]


def name_sort_key(full_name: str) -> tuple[str, str]:
    """Vietnamese lists sort by the given name (last word), then by the rest."""
    words = fold(full_name).split()
    return (words[-1] if words else "", " ".join(words[:-1]))


_DATE_RE = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})\s*$")


def parse_vn_date(text: str) -> date | None:
    """dd/mm/yyyy (also d/m/yyyy, with - or .); None when it is not a real date."""
    m = _DATE_RE.match(text or "")
    if not m:
        return None
    try:
        return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        return None


GENDER_IN = {"nam": "male", "nu": "female", "male": "male", "female": "female"}
YES_NO_IN = {"co": True, "x": True, "yes": True, "khong": False, "no": False, "": None}
TYPE_IN = {"duoc bau": "elected", "bau": "elected", "elected": "elected",
           "duong nhien": "ex_officio", "ex officio": "ex_officio", "ex_officio": "ex_officio",
           "chi dinh": "appointed", "appointed": "appointed"}
GUEST_WORDS = {"khach moi", "khach", "guest"}

GENDER_OUT = {"male": "Nam", "female": "Nữ"}
TYPE_OUT = {"elected": "Được bầu", "ex_officio": "Đương nhiên", "appointed": "Chỉ định"}


def parse_field(field: str, raw: str):
    """The stored value of `raw` for `field`, or ServiceError naming what is wrong."""
    text = nfc(raw)
    if field == "birth_date":
        value = parse_vn_date(text)
        if value is None:
            raise ServiceError(_("not a date in the form dd/mm/yyyy"))
        if not (1900 <= value.year <= date.today().year):
            raise ServiceError(_("the year of birth is not plausible"))
        return value
    if field == "gender":
        if fold(text) not in GENDER_IN:
            raise ServiceError(_("gender must be Nam or Nữ"))
        return GENDER_IN[fold(text)]
    if field == "party_member":
        if fold(text) not in YES_NO_IN:
            raise ServiceError(_("write Có or Không"))
        return YES_NO_IN[fold(text)]
    if field == "email":
        if text and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", text):
            raise ServiceError(_("not an email address"))
        return text or None
    if field == "phone":
        digits = re.sub(r"[\s.\-]", "", text)
        if digits and not re.match(r"^\+?\d{8,15}$", digits):
            raise ServiceError(_("not a phone number"))
        return digits or None
    if field == "full_name":
        if not text:
            raise ServiceError(_("the name is empty"))
        return text
    return text or None


def display(field: str, value) -> str:
    """How a stored value is written back in Vietnamese."""
    if value is None:
        return ""
    if field == "birth_date":
        return value.strftime("%d/%m/%Y")
    if field == "gender":
        return GENDER_OUT.get(value, value)
    if field == "party_member":
        return "Có" if value else "Không"
    if field == "delegate_type":
        return TYPE_OUT.get(value, value)
    return str(value)


def parse_excel_date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None
