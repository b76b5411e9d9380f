"""The counting board's downloads: a poll's minutes (PDF), its results, and the results of
every counted poll of the event (XLSX)."""

from __future__ import annotations

from functools import wraps

from flask import abort, flash, g, redirect, url_for
from werkzeug.routing import BuildError

from core.db import session
from core.documents import pdf_response, xlsx_response
from core.errors import ServiceError
from core.event_context import EventBlueprint, can
from plugins.voting import reports, services

bp = EventBlueprint("voting_reports", __name__, module="voting", url_prefix="/voting",
                    template_folder="templates")


def require_counting(view):
    """The counting board and whoever runs the polls (organisers always pass)."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not (can("voting.count") or can("voting.manage")):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _refused(poll_id: int, exc: ServiceError):
    """Back to the poll's page with the reason; a plain 400 if that page is not there."""
    try:
        target = url_for("voting.poll", poll_id=poll_id)
    except BuildError:
        abort(400, description=exc.message)
    flash(exc.message, "error")
    return redirect(target)


@bp.route("/polls/<int:poll_id>/minutes.pdf")
@require_counting
def minutes(poll_id: int):
    db = session()
    poll = services.get_poll(db, g.event, poll_id)
    try:
        data = reports.minutes_pdf(db, g.event, poll)
    except ServiceError as exc:
        return _refused(poll.id, exc)
    return pdf_response(data, f"{reports.minutes_stem(poll)}.pdf")


@bp.route("/polls/<int:poll_id>/results.xlsx")
@require_counting
def poll_xlsx(poll_id: int):
    db = session()
    poll = services.get_poll(db, g.event, poll_id)
    try:
        data = reports.results_workbook(db, g.event, [poll])
    except ServiceError as exc:
        return _refused(poll.id, exc)
    return xlsx_response(data, f"{reports.results_stem(poll)}.xlsx")


@bp.route("/results.xlsx")
@require_counting
def results_xlsx():
    db = session()
    polls = services.list_polls(db, g.event, statuses=reports.COUNTED)
    # A paper poll closed before its figures are in has no result yet: left out, not refused.
    ready = [p for p in polls if reports.is_counted(p)]
    return xlsx_response(reports.results_workbook(db, g.event, ready),
                         f"{reports.results_stem()}.xlsx")

