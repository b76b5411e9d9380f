"""The structure report: a page in the UI language and a formal PDF in Vietnamese."""

from __future__ import annotations

from flask import g, render_template
from flask_babel import get_locale

from core.db import session
from core.documents import local_today, pdf_response, render_pdf
from core.event_context import EventBlueprint, require_permission
from plugins.delegates import report as rpt
from plugins.delegates.services import APPOINTED_WARN_SHARE

bp = EventBlueprint("delegates_report", __name__, module="delegates", url_prefix="/report",
                    template_folder="templates")

PDF_NAME = "bao-cao-tham-tra-tu-cach-dai-bieu.pdf"


def _bar_width(value: float) -> str:
    """A CSS width: always a dot, whatever the language."""
    return f"{max(0.0, min(100.0, float(value))):.1f}%"


@bp.route("/")
@require_permission("delegates.report")
def page():
    report = rpt.structure(session(), g.event, today=local_today())
    appointed = report["delegate_type"].line("appointed")
    return render_template(
        "delegates/report.html", report=report, num=rpt.number_formatter(str(get_locale())),
        bar_width=_bar_width,
        appointed_warning=bool(appointed and report.total
                               and appointed.count / report.total > APPOINTED_WARN_SHARE),
        appointed_limit=APPOINTED_WARN_SHARE * 100)


@bp.route("/report.pdf")
@require_permission("delegates.report")
def pdf():
    report = rpt.structure(session(), g.event, today=local_today())
    return pdf_response(render_pdf(render_pdf_html(report, issued=local_today())), PDF_NAME)


def render_pdf_html(report: rpt.StructureReport, issued=None) -> str:
    """The print template, in Vietnamese whatever the UI language: a formal document.
    Dated the congress's first day, or `issued` (today) when the event has none."""
    day = report.event.starts_on or issued or report.reference_date
    return render_template(
        "delegates/report_print.html", report=report, num=rpt.number_formatter("vi"),
        place=rpt.place_name(report.event), date_line=rpt.document_date(day),
        chair=((report.event.settings or {}).get("credentials_chair") or "").strip())
