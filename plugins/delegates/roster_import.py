"""Roster import: CSV (UTF-8, or Windows-1258 converted) and XLSX, previewed row by row,
then written all or nothing, updating by delegate code."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.errors import ServiceError
from core.models import Event, EventMember, User
from plugins.delegates.models import Delegate
from plugins.delegates.services import new_secret, participant_account
from plugins.delegates.vietnamese import (
    GUEST_WORDS,
    TYPE_IN,
    fold,
    nfc,
    parse_excel_date,
    parse_field,
)

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000

# Target fields, their labels, and the headers that mean them (compared folded).
FIELDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "code": (_l("Delegate code"), ("Mã đại biểu", "Mã ĐB", "Mã", "Code")),
    "full_name": (_l("Full name"), ("Họ và tên", "Họ tên", "Full name")),
    "birth_date": (_l("Date of birth"), ("Ngày sinh", "Ngày tháng năm sinh", "Date of birth")),
    "gender": (_l("Gender"), ("Giới tính", "Gender")),
    "ethnicity": (_l("Ethnicity"), ("Dân tộc", "Ethnicity")),
    "religion": (_l("Religion"), ("Tôn giáo", "Religion")),
    "unit_name": (_l("Unit"), ("Đơn vị", "Đơn vị công tác", "Unit")),
    "position": (_l("Position"), ("Chức vụ", "Position")),
    "education": (_l("Education"), ("Trình độ chuyên môn", "Chuyên môn", "Education")),
    "political_theory": (_l("Political theory"), ("Lý luận chính trị", "Political theory")),
    "party_member": (_l("Party member"), ("Đảng viên", "Party member")),
    "delegate_type": (_l("Delegate type"), ("Loại đại biểu", "Delegate type")),
    "group": (_l("Discussion group"), ("Tổ thảo luận", "Tổ", "Group")),
    "phone": (_l("Phone"), ("Điện thoại", "Số điện thoại", "Phone")),
    "email": (_l("Email"), ("Email", "Thư điện tử", "E-mail")),
}
REQUIRED = ("code", "full_name", "birth_date")
VALUE_FIELDS = tuple(f for f in FIELDS if f != "code")


@dataclass
class RowProblem:
    line: int
    column: str
    message: str


@dataclass
class RosterRow:
    line: int
    values: dict[str, Any]
    kind: str = "delegate"


@dataclass
class RosterPreview:
    headers: list[str] = field(default_factory=list)
    mapping: dict[int, str] = field(default_factory=dict)
    rows: list[RosterRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    notice: str | None = None
    fatal: str | None = None

    @property
    def missing_required(self) -> list[str]:
        return [f for f in REQUIRED if f not in self.mapping.values()]

    @property
    def ok(self) -> bool:
        return not self.fatal and not self.problems and not self.missing_required


@dataclass
class RosterResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def guess_mapping(headers: list[str]) -> dict[int, str]:
    known = {fold(h): f for f, (_label, names) in FIELDS.items() for h in names}
    mapping: dict[int, str] = {}
    for i, h in enumerate(headers):
        f = known.get(fold(h))
        if f and f not in mapping.values():
            mapping[i] = f
    return mapping


def _read_table(raw: bytes, filename: str, preview: RosterPreview) -> list[list[Any]] | None:
    if len(raw) > MAX_BYTES:
        preview.fatal = _("the file is larger than 5 MB")
        return None
    if raw[:4] == b"PK\x03\x04":
        return _read_xlsx(raw, preview)
    if filename.lower().endswith((".xlsx", ".xlsm")):
        preview.fatal = _("the file is not a valid XLSX workbook")
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = _decode_legacy(raw, preview)
        if text is None:
            return None
    return list(csv.reader(io.StringIO(text, newline="")))


_VIETNAMESE_MARKS = frozenset("đĐăĂơƠưƯ\u0300\u0301\u0303\u0309\u0323")


def _decode_legacy(raw: bytes, preview: RosterPreview) -> str | None:
    """Older office software saves Vietnamese as Windows-1258. Accept it only when the header
    then reads as a roster; anything else (Windows-1252 has no đ, ư, ơ…) is refused."""
    try:
        decoded = raw.decode("cp1258")
    except UnicodeDecodeError:
        decoded = ""
    # Real Windows-1258 Vietnamese carries letters (đ, ă, ơ, ư) or combining tone marks that a
    # Western (1252) file never has; without them the file is not taken for Vietnamese.
    text = nfc(decoded) if any(c in _VIETNAMESE_MARKS for c in decoded) else None
    if text:
        first = next(csv.reader(io.StringIO(text.splitlines()[0] if text else "")), [])
        if len(guess_mapping(first)) >= 2:
            preview.notice = _("The file was in Windows-1258 encoding; it was converted to "
                               "Unicode. Check the names in the preview.")
            return text
    line = raw[: _first_bad_utf8(raw)].count(b"\n") + 1
    preview.fatal = _("the file is not UTF-8 (first problem on line %(line)s); in Excel use "
                      "“Save as: CSV UTF-8” and import again", line=line)
    return None


def _first_bad_utf8(raw: bytes) -> int:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return len(raw)


def _read_xlsx(raw: bytes, preview: RosterPreview) -> list[list[Any]] | None:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        preview.fatal = _("the file is not a valid XLSX workbook")
        return None
    ws = wb.worksheets[0]
    table = [list(r) for r in ws.iter_rows(values_only=True)]
    wb.close()
    return table


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return nfc(str(value))


def parse_roster(raw: bytes, filename: str, mapping: dict[int, str] | None = None
                 ) -> RosterPreview:
    """Read and check every row; nothing is written. `mapping` (column index → field)
    overrides the guess from the headers."""
    preview = RosterPreview()
    table = _read_table(raw, filename, preview)
    if table is None:
        return preview
    while table and not any(_cell_text(c) for c in table[0]):
        table.pop(0)
    if not table:
        preview.fatal = _("the file is empty")
        return preview
    preview.headers = [_cell_text(h) for h in table[0]]
    preview.mapping = dict(mapping) if mapping is not None else guess_mapping(preview.headers)
    if len(table) - 1 > MAX_ROWS:
        preview.fatal = _("the file has more than %(n)s rows", n=MAX_ROWS)
        return preview
    if preview.missing_required:
        return preview
    seen: dict[str, int] = {}
    for line, cells in enumerate(table[1:], start=2):
        if not any(_cell_text(c) for c in cells):
            continue
        values: dict[str, Any] = {}
        kind = "delegate"
        for idx, fname in preview.mapping.items():
            cell = cells[idx] if idx < len(cells) else None
            label = str(FIELDS[fname][0])
            text = _cell_text(cell)
            if fname == "code":
                values["code"] = text.upper()
                continue
            if fname == "delegate_type":
                folded = fold(text)
                if folded in GUEST_WORDS:
                    kind = "guest"
                    values[fname] = None
                elif folded in TYPE_IN:
                    values[fname] = TYPE_IN[folded]
                elif text:
                    preview.problems.append(RowProblem(
                        line, label, _("unknown value “%(v)s”", v=text)))
                else:
                    values[fname] = None
                continue
            if fname == "birth_date" and (d := parse_excel_date(cell)) is not None:
                values[fname] = d
                continue
            if fname in ("ethnicity", "religion", "unit_name", "position", "education",
                         "political_theory", "group") and len(text) > 200:
                preview.problems.append(RowProblem(line, label, _("longer than 200 characters")))
                continue
            try:
                values[fname] = parse_field(fname, text)
            except ServiceError as exc:
                if text or fname in REQUIRED:
                    preview.problems.append(RowProblem(line, label, exc.message))
        code = values.get("code", "")
        if not code:
            preview.problems.append(RowProblem(line, str(FIELDS["code"][0]),
                                               _("the delegate code is empty")))
        elif len(code) > 40:
            preview.problems.append(RowProblem(line, str(FIELDS["code"][0]),
                                               _("the delegate code is too long")))
        elif code in seen:
            preview.problems.append(RowProblem(
                line, str(FIELDS["code"][0]),
                _("duplicate code %(code)s (first on line %(first)s)", code=code,
                  first=seen[code])))
        else:
            seen[code] = line
        preview.rows.append(RosterRow(line=line, values=values, kind=kind))
    if not preview.rows and not preview.problems:
        preview.fatal = _("the file has a header but no rows")
    return preview


def apply_roster(db: Session, event: Event, preview: RosterPreview, *,
                 actor: User | None) -> RosterResult:
    """Write a checked roster: new codes are added, known codes updated, others untouched."""
    if not preview.ok:
        raise ServiceError(_("the roster has problems; nothing was imported"))
    result = RosterResult()
    existing = {d.code: d for d in db.scalars(select(Delegate).where(
        Delegate.event_id == event.id))}
    mapped = [f for f in preview.mapping.values() if f != "code"]
    new_rows = []
    for row in preview.rows:
        d = existing.get(row.values["code"])
        if d is None:
            new_rows.append(row)
            continue
        changed = False
        for f in mapped:
            if getattr(d, f) != row.values.get(f):
                setattr(d, f, row.values.get(f))
                changed = True
        if d.kind != row.kind:
            from plugins.delegates.services import set_kind

            set_kind(db, event, d, row.kind)
            changed = True
        if changed:
            db.get(User, d.user_id).full_name = d.full_name
            result.updated += 1
        else:
            result.unchanged += 1
    # New people in bulk: their accounts, their records, their role in the event.
    users = [participant_account(event, r.values["full_name"], r.values.get("email"))
             for r in new_rows]
    db.add_all(users)
    db.flush()
    delegates = []
    for r, u in zip(new_rows, users, strict=True):
        delegates.append(Delegate(event_id=event.id, user_id=u.id, kind=r.kind,
                                  checkin_secret=new_secret(), signin_nonce=new_secret(),
                                  **{f: r.values.get(f) for f in ("code", *mapped)}))
        db.add(EventMember(event_id=event.id, user_id=u.id, role=r.kind))
    db.add_all(delegates)
    db.flush()
    result.created = len(new_rows)
    audit.record("delegates.import", actor=actor, event=event,
                 detail={"created": result.created, "updated": result.updated,
                         "unchanged": result.unchanged})
    return result
