"""Attendance reports of a session: absentees page, XLSX, and a PDF ready to sign."""

from __future__ import annotations

from flask import g, render_template

from core.db import session
from core.documents import pdf_response, xlsx_response
from core.event_context import EventBlueprint, require_permission
from plugins.checkin import reports, services

bp = EventBlueprint("checkin_reports", __name__, module="checkin", url_prefix="/checkin",
                    template_folder="templates")


@bp.route("/lists/<int:list_id>/absentees")
@require_permission("checkin.view")
def absentees(list_id: int):
    db = session()
    lst = services.get_list(db, g.event, list_id)
    report = reports.build(db, g.event, lst)
    return render_template("checkin/absentees.html", lst=lst, report=report,
                           people=report.absent, att=report.att)


@bp.route("/lists/<int:list_id>/attendance.xlsx")
@require_permission("checkin.view")
def attendance_xlsx(list_id: int):
    db = session()
    lst = services.get_list(db, g.event, list_id)
    data = reports.workbook(reports.build(db, g.event, lst))
    return xlsx_response(data, f"{reports.file_stem(lst)}.xlsx")


@bp.route("/lists/<int:list_id>/attendance.pdf")
@require_permission("checkin.view")
def attendance_pdf(list_id: int):
    db = session()
    lst = services.get_list(db, g.event, list_id)
    data = reports.pdf(reports.build(db, g.event, lst))
    return pdf_response(data, f"{reports.file_stem(lst)}.pdf")
