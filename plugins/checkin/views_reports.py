"""Attendance reports of a session: absentees page, XLSX, and a PDF ready to sign."""

from __future__ import annotations

from flask import g, render_template

from core.db import session
from core.event_context import EventBlueprint, require_permission
from plugins.checkin import services

bp = EventBlueprint("checkin_reports", __name__, module="checkin", url_prefix="/checkin",
                    template_folder="templates")


@bp.route("/lists/<int:list_id>/absentees")
@require_permission("checkin.view")
def absentees(list_id: int):
    db = session()
    lst = services.get_list(db, g.event, list_id)
    return render_template("checkin/absentees.html", lst=lst,
                           people=services.absentees(db, g.event, lst),
                           att=services.attendance(db, g.event, lst))


@bp.route("/lists/<int:list_id>/attendance.xlsx")
@require_permission("checkin.view")
def attendance_xlsx(list_id: int):
    raise NotImplementedError  # being written


@bp.route("/lists/<int:list_id>/attendance.pdf")
@require_permission("checkin.view")
def attendance_pdf(list_id: int):
    raise NotImplementedError  # being written
