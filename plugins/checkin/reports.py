"""Attendance reports of one session: an XLSX workbook and a PDF list ready to sign.

Who is listed follows the attendance count exactly (`services.roll` and `services.attendance`
use the same rule): delegates of kind ``delegate`` who are convened or approved, in name
order. A delegate is present when their presence in the list says so; when the list records
exits, someone who entered and left is absent and the report says when they left. Guests are
listed apart and never counted.

Times are stored as naive UTC and written in the deployment's time zone (Asia/Ho_Chi_Minh).
The workbook follows the reader's language; the PDF is a document of the congress and is
printed in Vietnamese whatever language the person printing it reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from core.documents import append_row, header_row, local_now, render_pdf, workbook_bytes
from core.i18n import local_time
from core.models import Event
from plugins.checkin import services
from plugins.checkin.forms import FRACTION_LABELS
from plugins.checkin.models import CheckinList, Presence
from plugins.delegates import report as rpt
from plugins.delegates.models import Delegate
from plugins.delegates.vietnamese import fold

METHOD_LABELS = {"badge": _l("Badge scan"), "self": _l("Self check-in"),
                 "manual": _l("Manual entry")}
# Sheet names stay ASCII and fixed, whatever the language: scripts and formulas name them.
SHEETS = ("Attendance", "Guests", "Summary")
DATETIME_FORMAT = "hh:mm:ss dd/mm/yyyy"
PERCENT_FORMAT = "0.0%"
# The PDF is printed in the language of the congress.
PDF_LOCALE = "vi"


@dataclass(frozen=True)
class Line:
    """One person of the report with their presence in the list (None: never entered)."""

    delegate: Delegate
    presence: Presence | None
    track_exit: bool

    @property
    def present(self) -> bool:
        return self.presence is not None and self.presence.present

    @property
    def entered_at(self) -> datetime | None:
        """The earliest entry, in local time."""
        return local_time(self.presence.first_in_at) if self.presence is not None else None

    @property
    def left(self) -> bool:
        """Entered, then left (only lists that record exits)."""
        return self.track_exit and self.presence is not None and not self.presence.present

    @property
    def left_at(self) -> datetime | None:
        return local_time(self.presence.state_at) if self.left else None

    @property
    def method(self) -> str:
        if self.presence is None:
            return ""
        label = METHOD_LABELS.get(self.presence.first_method)
        return str(label) if label is not None else self.presence.first_method

    @property
    def station(self) -> str:
        # Self check-in names no station; its "self" marker is not for readers.
        if self.presence is None or self.presence.first_method == "self":
            return ""
        return self.presence.first_station or ""


@dataclass
class Tally:
    """Present / convened of one discussion group or delegation."""

    name: str
    present: int
    convened: int

    @property
    def absent(self) -> int:
        return self.convened - self.present

    @property
    def percent(self) -> float:
        return rpt.percent(self.present, self.convened)


@dataclass
class AttendanceReport:
    event: Event
    lst: CheckinList
    att: dict                         # services.attendance()
    rows: list[Line]                  # convened delegates, in name order
    guests: list[Line]                # guests present, in name order
    generated_at: datetime            # local, aware
    by_group: list[Tally] = field(default_factory=list)
    by_unit: list[Tally] = field(default_factory=list)

    @property
    def present(self) -> list[Line]:
        return [r for r in self.rows if r.present]

    @property
    def absent(self) -> list[Line]:
        return [r for r in self.rows if not r.present]

    @property
    def percent(self) -> float:
        return rpt.percent(self.att["present"], self.att["convened"])

    @property
    def quorum(self) -> dict:
        return self.att["quorum"]

    @property
    def fraction_label(self) -> str:
        fraction = self.quorum["fraction"]
        label = FRACTION_LABELS.get(fraction)
        return str(label) if label is not None else fraction

    @property
    def opened_at(self) -> datetime | None:
        return local_time(self.lst.opens_at) if self.lst.opens_at else None

    @property
    def closed_at(self) -> datetime | None:
        return local_time(self.lst.closes_at) if self.lst.closes_at else None

    @property
    def day(self) -> date:
        """The day of the session: when it starts, else when check-in opened, else the
        congress's first day, else the day the report is made."""
        for value in (self.lst.session.starts_at, self.lst.opens_at):
            if value is not None:
                return local_time(value).date()
        return self.event.starts_on or self.generated_at.date()

    @property
    def timezone(self) -> str:
        offset = self.generated_at.strftime("%z")
        return (f"{current_app.config['BABEL_DEFAULT_TIMEZONE']} "
                f"(UTC{offset[:3]}:{offset[3:]})")


def _tallies(table: list[dict]) -> list[Tally]:
    """In the order `services.attendance` gives: "Tổ 2" before "Tổ 10", the unnamed last."""
    return [Tally(t["name"], t["present"], t["convened"]) for t in table]


def build(db: Session, event: Event, lst: CheckinList, now: datetime | None = None
          ) -> AttendanceReport:
    att = services.attendance(db, event, lst)
    rows = [Line(d, p, lst.track_exit) for d, p in services.roll(db, event, lst)]
    guests = [line for line in (Line(d, p, lst.track_exit)
                                for d, p in services.roll(db, event, lst, "guest"))
              if line.present]
    return AttendanceReport(event=event, lst=lst, att=att, rows=rows, guests=guests,
                            generated_at=now or local_now(),
                            by_group=_tallies(att["by_group"]), by_unit=_tallies(att["by_unit"]))


def file_stem(lst: CheckinList) -> str:
    """"diem-danh-phien-tru-bi": ASCII, whatever the session is called."""
    slug = re.sub(r"[^a-z0-9]+", "-", fold(lst.session.name)).strip("-")[:60].strip("-")
    return f"diem-danh-{slug or f'phien-{lst.session_id}'}"


# ---------------------------------------------------------------- XLSX

def _naive(value: datetime | None) -> datetime | None:
    """Excel has no time zones: the local wall-clock time."""
    return value.replace(tzinfo=None) if value is not None else None


def _datetime_cells(ws, column: int, first_row: int = 2) -> None:
    for (cell,) in ws.iter_rows(min_row=first_row, min_col=column, max_col=column):
        cell.number_format = DATETIME_FORMAT


def workbook(report: AttendanceReport) -> bytes:
    """The session's attendance in the reader's language: everyone convened, the guests
    present, and the summary."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    track_exit = report.lst.track_exit
    wb = Workbook()

    ws = wb.active
    ws.title = SHEETS[0]
    headers = [_("No."), _("Code"), _("Full name"), _("Delegation"), _("Discussion group"),
               _("Status"), _("Time of entry"), _("How"), _("Station")]
    widths = [6, 10, 28, 36, 14, 10, 19, 16, 16]
    if track_exit:
        headers += [_("Check-out"), _("Time of exit")]
        widths += [12, 19]
    header_row(ws, headers, widths)
    present, absent = _("Present"), _("Absent")
    in_hall, left = _("In the hall"), _("Left")
    for no, line in enumerate(report.rows, start=1):
        d = line.delegate
        values = [no, d.code, d.full_name, d.unit_name or "", d.group or "",
                  present if line.present else absent, _naive(line.entered_at), line.method,
                  line.station]
        if track_exit:
            values += [in_hall if line.present else left if line.left else "",
                       _naive(line.left_at)]
        append_row(ws, values)
    _datetime_cells(ws, 7)
    if track_exit:
        _datetime_cells(ws, 11)
    ws.auto_filter.ref = ws.dimensions

    ws = wb.create_sheet(SHEETS[1])
    header_row(ws, [_("No."), _("Code"), _("Full name"), _("Unit"), _("Position"),
                    _("Time of entry"), _("How"), _("Station")],
               [6, 10, 28, 36, 28, 19, 16, 16])
    for no, line in enumerate(report.guests, start=1):
        d = line.delegate
        append_row(ws, [no, d.code, d.full_name, d.unit_name or "", d.position or "",
                        _naive(line.entered_at), line.method, line.station])
    _datetime_cells(ws, 6)

    ws = wb.create_sheet(SHEETS[2])
    _summary_sheet(ws, report, Font(bold=True))
    return workbook_bytes(wb)


def _summary_sheet(ws, report: AttendanceReport, bold) -> None:
    att, q = report.att, report.quorum
    rule = _("%(fraction)s of the delegates convened: needs %(n)s of %(total)s",
             fraction=report.fraction_label, n=q["needed"], total=att["convened"])
    rate = att["present"] / att["convened"] if att["convened"] else 0.0
    pairs: list[tuple[str, object, str | None]] = [
        (_("Event"), report.event.name, None),
        (_("Unit"), report.event.unit.name, None),
        (_("Session"), report.lst.session.name, None),
        (_("Check-in opened"), _naive(report.opened_at), DATETIME_FORMAT),
        (_("Check-in closed"), _naive(report.closed_at), DATETIME_FORMAT),
        (_("Delegates convened"), att["convened"], None),
        (_("Present"), att["present"], None),
        (_("Absent"), att["convened"] - att["present"], None),
        (_("Attendance rate"), rate, PERCENT_FORMAT),
        (_("Guests present"), att["guests_present"], None),
        (_("Quorum rule"), rule, None),
    ]
    if q["units_rule"]:
        pairs.append((_("Delegations represented"),
                      _("%(n)s of %(total)s delegations, needs %(needed)s",
                        n=q["units_present"], total=q["units_total"], needed=q["units_needed"]),
                      None))
    pairs += [
        (_("Quorum"), _("Quorum reached") if q["met"] else _("Quorum not reached"), None),
        (_("Generated at"), _naive(report.generated_at), DATETIME_FORMAT),
        (_("Times are in"), report.timezone, None),
    ]
    append_row(ws, [f"{_('Attendance')}: {report.lst.session.name}"])
    ws["A1"].font = bold
    for label, value, number_format in pairs:
        append_row(ws, [label, value])
        ws.cell(row=ws.max_row, column=1).font = bold
        if number_format:
            ws.cell(row=ws.max_row, column=2).number_format = number_format
    for title, tallies, unnamed in ((_("Discussion group"), report.by_group, _("No group")),
                                    (_("Delegation"), report.by_unit, _("Not stated"))):
        ws.append([])
        ws.append([title, _("Present"), _("Convened"), _("Absent"), _("Rate")])
        for cell in ws[ws.max_row]:
            cell.font = bold
        for t in tallies:
            append_row(ws, [t.name or unnamed, t.present, t.convened, t.absent,
                            t.present / t.convened if t.convened else 0.0])
            ws.cell(row=ws.max_row, column=5).number_format = PERCENT_FORMAT
    for column, width in zip("ABCDE", (28, 48, 12, 12, 10), strict=True):
        ws.column_dimensions[column].width = width


# ---------------------------------------------------------------- PDF

def pdf_html(report: AttendanceReport) -> str:
    """The print template in Vietnamese: a document of the congress, to be signed."""
    with force_locale(PDF_LOCALE):
        return render_template(
            "checkin/report_print.html", report=report, e=report.event, lst=report.lst,
            att=report.att, q=report.quorum, num=rpt.number_formatter(PDF_LOCALE),
            place=rpt.place_name(report.event), date_line=rpt.document_date(report.day))


def pdf(report: AttendanceReport) -> bytes:
    return render_pdf(pdf_html(report))
