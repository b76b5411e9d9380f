"""The counting board's documents: the minutes of one poll (biên bản kiểm phiếu) as a PDF to
sign, and the results of polls as an XLSX workbook.

Both read the count as stored with the poll (`Poll.result`, made by `services.compute_result`
when the poll closes, when paper figures are entered and when it is published), so the
minutes say what the hall screen said. Only a counted poll has them: one still open would
show a partial count (and, in a named poll, who voted what before the vote ended).

The PDF is a document of the congress and is printed in Vietnamese whatever language the
person printing it reads (as the attendance report). The workbook follows the reader's
language; its sheet names are fixed ("Kết quả", "Phiếu") so scripts can name them.

The ballot sheet lists the ballots counted by receipt, as any delegate may check them. A secret
poll's rows carry no voter: the ballots hold none (models.Ballot) and nothing here joins them
to anyone. Paper ballots are counted by hand and appear only as figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property

from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.documents import append_row, header_row, local_now, render_pdf, workbook_bytes
from core.errors import ServiceError
from core.i18n import local_time
from core.models import Event, EventMember
from plugins.delegates import report as rpt
from plugins.delegates.vietnamese import fold, name_sort_key
from plugins.voting import services
from plugins.voting.ballots import format_receipt
from plugins.voting.forms import BASE_LABELS, FRACTION_LABELS, KIND_NAMES, STATUS_LABELS
from plugins.voting.models import Poll
from plugins.voting.serialize import answer_label

PDF_LOCALE = "vi"
COUNTED = ("closed", "published")
SHEETS = ("Kết quả", "Phiếu")
DATETIME_FORMAT = "hh:mm dd/mm/yyyy"
PERCENT_FORMAT = "0.00%"

# The minutes' wording (Vietnamese, fixed: a legal document).
KIND_VI = {"motion": "Biểu quyết", "election": "Bầu cử", "choice": "Lựa chọn"}
MODE_VI = {"named": "Công khai", "secret": "Bỏ phiếu kín"}
CHANNEL_VI = {"electronic": "Điện tử", "paper": "Phiếu giấy", "appointed": "Chỉ định"}
BASE_VI = {"returned": "tổng số phiếu thu về", "valid": "tổng số phiếu hợp lệ",
           "present": "tổng số đại biểu có mặt",
           "convened": "tổng số đại biểu được triệu tập"}
FRACTION_VI = {"gt_1_2": "quá 1/2 (50%)", "ge_1_2": "từ 1/2 (50%) trở lên",
               "ge_2_3": "từ 2/3 trở lên", "gt_2_3": "quá 2/3",
               "ge_3_4": "từ 3/4 (75%) trở lên", "plurality": "nhiều phiếu nhất"}

# The workbook's wording, in the reader's language. Shorter than the forms' labels, which
# explain each choice; the kind's, the rule's and the status's words are the forms' own.
MODE_LABELS = {"named": _l("Named"), "secret": _l("Secret ballot")}
CHANNEL_LABELS = {"electronic": _l("Electronic"), "paper": _l("Paper"),
                  "appointed": _l("Appointed")}


# ---------------------------------------------------------------- shared

def require_counted(poll: Poll) -> dict:
    """The poll's count, or a ServiceError saying why there is none yet."""
    if poll.status == "cancelled":
        raise ServiceError(_("A cancelled poll has no result and no minutes."),
                           code="cancelled")
    if poll.status not in COUNTED or poll.result is None:
        raise ServiceError(_("The minutes are made once the poll is closed."),
                           code="not_closed")
    if poll.channel == "paper" and poll.result.get("paper") is None:
        raise ServiceError(_("Enter the paper ballots' figures first."), code="no_paper")
    return poll.result


def is_counted(poll: Poll) -> bool:
    try:
        require_counted(poll)
    except ServiceError:
        return False
    return True


def tellers(db: Session, event: Event) -> list[str]:
    """The counting board: the names of the event's members with the role "tellers"."""
    members = db.scalars(select(EventMember).where(EventMember.event_id == event.id,
                                                   EventMember.role == "tellers"))
    names = {m.user.full_name.strip() for m in members if m.user.full_name.strip()}
    return sorted(names, key=name_sort_key)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")[:60].strip("-")


def minutes_stem(poll: Poll) -> str:
    """"bien-ban-kiem-phieu-bau-ban-chap-hanh": ASCII, whatever the poll is called."""
    return f"bien-ban-kiem-phieu-{_slug(poll.title) or poll.id}"


def results_stem(poll: Poll | None = None) -> str:
    return f"ket-qua-{_slug(poll.title) or poll.id}" if poll is not None else "ket-qua-bieu-quyet"


def _is_split(result: dict) -> bool:
    """Ballots both on phones and on paper: the figures are shown per channel."""
    return bool(result.get("electronic")) and bool(result.get("paper"))


# ---------------------------------------------------------------- minutes (PDF)

@dataclass(frozen=True)
class OptionRow:
    """A candidate or an answer with its count; `paper` only when ballots were split."""

    no: int
    id: int
    label: str
    detail: str
    votes: int
    percent: float
    elected: bool
    tie: bool
    paper: int | None = None

    @property
    def electronic(self) -> int | None:
        return None if self.paper is None else self.votes - self.paper


@dataclass
class Minutes:
    event: Event
    poll: Poll
    result: dict
    members: list[str]
    generated_at: datetime   # local, aware

    @property
    def appointed(self) -> bool:
        return bool(self.result.get("appointed"))

    @property
    def split(self) -> bool:
        return _is_split(self.result)

    @cached_property
    def rows(self) -> list[OptionRow]:
        paper = (self.result.get("paper") or {}).get("votes") or {}
        out = []
        for n, o in enumerate(self.result["options"], start=1):
            label = services.MOTION_LABELS.get(o.get("answer") or "", o["label"])
            out.append(OptionRow(
                no=n, id=o["id"], label=label, detail=o.get("detail") or "",
                votes=o.get("votes", 0), percent=o.get("percent", 0.0),
                elected=bool(o.get("elected")), tie=bool(o.get("tie")),
                paper=paper.get(str(o["id"]), 0) if self.split else None))
        return out

    def _pick(self, ids: list[int]) -> list[OptionRow]:
        by_id = {r.id: r for r in self.rows}
        return [by_id[i] for i in ids if i in by_id]

    @property
    def elected(self) -> list[OptionRow]:
        """In the count's order: most votes first."""
        return self._pick(self.result.get("elected") or [])

    @property
    def tied(self) -> list[OptionRow]:
        return self._pick(self.result.get("tie") or [])

    @property
    def yes(self) -> OptionRow | None:
        ids = {o["id"] for o in self.result["options"] if o.get("answer") == "yes"}
        return next((r for r in self.rows if r.id in ids), None)

    @property
    def figures(self) -> list[tuple[str, int, int | None, int | None]]:
        """(label, total, electronic, paper); the last two only when ballots were split."""
        r, e, p = self.result, self.result.get("electronic") or {}, self.result.get("paper") or {}
        split = self.split
        return [(label, r[key], e.get(key) if split else None, p.get(key) if split else None)
                for label, key in (("Số phiếu phát ra", "issued"),
                                   ("Số phiếu thu về", "returned"),
                                   ("Số phiếu hợp lệ", "valid"),
                                   ("Số phiếu không hợp lệ", "invalid"))]

    @property
    def channel(self) -> str:
        if self.split:
            return "Điện tử và phiếu giấy"
        return CHANNEL_VI.get(self.poll.channel, self.poll.channel)

    @property
    def rule(self) -> str:
        return rule_vi(self.poll.kind, self.result)

    @property
    def base_words(self) -> str:
        return BASE_VI.get(self.result.get("base", ""), "")

    @property
    def span(self) -> str:
        return time_span_vi(self.poll.opened_at, self.poll.closed_at)

    @property
    def day(self) -> date:
        """The day of the count: when the poll closed, else the day the minutes are made."""
        if self.poll.closed_at is not None:
            return local_time(self.poll.closed_at).date()
        return self.generated_at.date()


def rule_vi(kind: str, result: dict) -> str:
    """The counting rule in the charter's words, with the votes it needs here."""
    fraction, base = result["fraction"], result["base"]
    if fraction == "plurality":
        if kind == "motion":
            return "Thông qua theo nguyên tắc nhiều phiếu nhất."
        return ("Theo nguyên tắc nhiều phiếu nhất: lấy theo thứ tự số phiếu từ cao xuống thấp "
                "đến đủ số lượng; bằng phiếu ở vị trí cuối thì bầu lại.")
    threshold = (f"{FRACTION_VI[fraction]} {BASE_VI[base]} ({result['base_value']}), "
                 f"tức ít nhất {result['needed']} phiếu")
    if kind == "motion":
        return f"Được thông qua khi số phiếu tán thành đạt {threshold}."
    who = "Người trúng cử" if kind == "election" else "Phương án được chọn"
    return (f"{who} phải đạt số phiếu {threshold}; nếu nhiều hơn số lượng thì lấy theo thứ tự "
            "số phiếu từ cao xuống thấp; bằng phiếu ở vị trí cuối thì bầu lại.")


def time_span_vi(opened: datetime | None, closed: datetime | None) -> str:
    """"từ 08:30 đến 08:45 ngày 05/03/2027", in the congress's time zone."""
    if opened is None or closed is None:
        moment = opened or closed
        return local_time(moment).strftime("%H:%M ngày %d/%m/%Y") if moment else ""
    start, end = local_time(opened), local_time(closed)
    if start.date() == end.date():
        return f"từ {start:%H:%M} đến {end:%H:%M} ngày {end:%d/%m/%Y}"
    return f"từ {start:%H:%M} ngày {start:%d/%m/%Y} đến {end:%H:%M} ngày {end:%d/%m/%Y}"


def build_minutes(db: Session, event: Event, poll: Poll, now: datetime | None = None
                  ) -> Minutes:
    result = require_counted(poll)
    return Minutes(event=event, poll=poll, result=result, members=tellers(db, event),
                   generated_at=now or local_now())


def minutes_html(minutes: Minutes) -> str:
    with force_locale(PDF_LOCALE):
        return render_template(
            "voting/minutes_print.html", m=minutes, e=minutes.event, poll=minutes.poll,
            r=minutes.result, kinds=KIND_VI, modes=MODE_VI,
            num=rpt.number_formatter(PDF_LOCALE), place=rpt.place_name(minutes.event),
            date_line=rpt.document_date(minutes.day))


def minutes_pdf(db: Session, event: Event, poll: Poll) -> bytes:
    """The counting board's minutes of a closed or published poll, ready to sign."""
    return render_pdf(minutes_html(build_minutes(db, event, poll)))


# ---------------------------------------------------------------- results (XLSX)

def _naive(value: datetime | None) -> datetime | None:
    """Excel has no time zones: the local wall-clock time."""
    return local_time(value).replace(tzinfo=None) if value is not None else None


def _label(table: dict, key: str) -> str:
    value = table.get(key)
    return str(value) if value is not None else key


def rule_text(kind: str, result: dict) -> str:
    """The counting rule in the reader's language."""
    if result["fraction"] == "plurality":
        return _("The most votes")
    return _("%(fraction)s %(base)s (%(total)s): at least %(n)s votes",
             fraction=_label(FRACTION_LABELS, result["fraction"]),
             base=_label(BASE_LABELS, result["base"]), total=result["base_value"],
             n=result["needed"])


def outcome_text(poll: Poll, result: dict) -> str:
    labels = {o["id"]: o["label"] for o in result["options"]}
    if poll.kind == "motion":
        return _("Passed") if result.get("passed") else _("Not passed")
    text = ", ".join(labels[i] for i in result["elected"]) or _("Nobody")
    if result["tie"]:
        text += "; " + _("tied, to vote again: %(names)s",
                         names=", ".join(labels[i] for i in result["tie"]))
    if result["open_seats"]:
        text += "; " + _("seats left open: %(n)s", n=result["open_seats"])
    return text


def _option_result(poll: Poll, option: dict) -> str:
    if option.get("tie"):
        return _("Tie")
    if poll.kind == "motion" or not option.get("elected"):
        return ""
    if poll.channel == "appointed":
        return _("Appointed")
    return _("elected").capitalize() if poll.kind == "election" else _("Chosen")


def _bold_row(ws, bold) -> None:
    for cell in ws[ws.max_row]:
        cell.font = bold


def _poll_block(ws, poll: Poll, result: dict, bold) -> None:
    """One poll on the results sheet: its settings, its figures, its candidates or answers."""
    append_row(ws, [poll.title])
    _bold_row(ws, bold)
    appointed = bool(result.get("appointed"))
    pairs: list[tuple[str, object, str | None]] = [
        (_("Kind"), _label(KIND_NAMES, poll.kind), None),
        (_("Ballot"), _label(CHANNEL_LABELS, "appointed") if appointed
         else _label(MODE_LABELS, poll.mode), None),
        (_("Round"), poll.round, None),
        (_("Status"), _label(STATUS_LABELS, poll.status), None),
        (_("Seats"), poll.seats, None),
    ]
    if appointed:
        pairs.append((_("Decision"), poll.note or "", None))
    else:
        pairs += [
            (_("Delegates present (eligible)"), poll.eligible_count, None),
            (_("Delegates convened"), poll.convened_count, None),
            (_("Opened"), _naive(poll.opened_at), DATETIME_FORMAT),
            (_("Closed"), _naive(poll.closed_at), DATETIME_FORMAT),
            (_("Rule"), rule_text(poll.kind, result), None),
        ]
    pairs.append((_("Result"), outcome_text(poll, result), None))
    for label, value, number_format in pairs:
        append_row(ws, [label, value])
        ws.cell(row=ws.max_row, column=1).font = bold
        if number_format:
            ws.cell(row=ws.max_row, column=2).number_format = number_format
    if not appointed:
        _figures(ws, result, bold)
    _options(ws, poll, result, bold)
    ws.append([])
    ws.append([])


def _figures(ws, result: dict, bold) -> None:
    split = _is_split(result)
    e, p = result.get("electronic") or {}, result.get("paper") or {}
    ws.append([])
    append_row(ws, [_("Ballots"), _("Total")] + ([_("Electronic"), _("Paper")] if split else []))
    _bold_row(ws, bold)
    for label, key in ((_("Issued"), "issued"), (_("Returned"), "returned"),
                       (_("Valid"), "valid"), (_("Invalid"), "invalid")):
        append_row(ws, [label, result[key]] + ([e.get(key), p.get(key)] if split else []))


def _options(ws, poll: Poll, result: dict, bold) -> None:
    appointed = bool(result.get("appointed"))
    ws.append([])
    headers = [_("No."), _("Candidate or answer"), _("Detail")]
    if not appointed:
        headers += [_("Votes"), _("Percent")]
    append_row(ws, headers + [_("Result")])
    _bold_row(ws, bold)
    base = result.get("base_value") or 0
    for n, o in enumerate(result["options"], start=1):
        values = [n, answer_label(o.get("answer"), o["label"]), o.get("detail") or ""]
        if not appointed:
            values += [o["votes"], o["votes"] / base if base else 0.0]
        append_row(ws, values + [_option_result(poll, o)])
        if not appointed:
            ws.cell(row=ws.max_row, column=5).number_format = PERCENT_FORMAT


def _ballot_rows(db: Session, poll: Poll) -> list[list]:
    """The counted ballots by receipt; the voter only in a named poll."""
    labels = {o.id: answer_label(o.answer, o.label) for o in poll.options}
    # Never asked for a secret poll, whatever named_votes would answer: no voter column there.
    voters = ({b.id: d for d, b in services.named_votes(db, poll)}
              if poll.mode == "named" else {})
    rows = []
    for ballot in services.counted_ballots(db, poll):
        chosen = [labels.get(int(c), c) for c in ballot.choices.split(",") if c]
        voter = voters.get(ballot.id)
        rows.append([poll.title, format_receipt(ballot.receipt),
                     _("Valid") if ballot.valid else _("Invalid"), "; ".join(chosen),
                     voter.code if voter else "", voter.full_name if voter else ""])
    return rows


def results_workbook(db: Session, event: Event, polls: list[Poll]) -> bytes:
    """The results of counted polls (in the order given) and their ballots by receipt."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    counted = [(poll, require_counted(poll)) for poll in polls]
    bold = Font(bold=True)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEETS[0]
    append_row(ws, [event.name])
    _bold_row(ws, bold)
    append_row(ws, [_("Generated at"), _naive(local_now())])
    ws.cell(row=ws.max_row, column=2).number_format = DATETIME_FORMAT
    ws.append([])
    for poll, result in counted:
        _poll_block(ws, poll, result, bold)
    for column, width in zip("ABCDEF", (30, 40, 28, 12, 12, 14), strict=True):
        ws.column_dimensions[column].width = width

    ws = wb.create_sheet(SHEETS[1])
    header_row(ws, [_("No."), _("Poll"), _("Receipt"), _("Ballot"), _("Choices"), _("Code"),
                    _("Full name")], [6, 36, 14, 10, 48, 10, 28])
    n = 0
    for poll, _result in counted:
        for row in _ballot_rows(db, poll):
            n += 1
            append_row(ws, [n, *row])
    ws.auto_filter.ref = ws.dimensions
    return workbook_bytes(wb)
