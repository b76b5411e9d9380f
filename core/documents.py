"""Documents handed out as files: PDFs printed by WeasyPrint and XLSX workbooks.

Shared by the modules' reports so every download is made and served the same way: printed
from self-contained HTML (nothing fetched while rendering), never cached (reports hold personal
data and change by the minute), and named with ASCII file names.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Response, current_app, send_file

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def local_now() -> datetime:
    """Now in the deployment's time zone (a congress in Vietnam, a server maybe not)."""
    return datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))


def local_today() -> date:
    return local_now().date()


def _no_fetch(url: str, *args, **kwargs):
    # Print templates are self-contained; nothing is fetched while rendering.
    raise ValueError(f"the document fetches nothing ({url[:60]})")


def render_pdf(html: str) -> bytes:
    """A PDF of a self-contained HTML page (styles inline, no images or fonts to fetch)."""
    from weasyprint import HTML

    return HTML(string=html, url_fetcher=_no_fetch).write_pdf()


def pdf_response(data: bytes, filename: str, *, inline: bool = True) -> Response:
    """A PDF to open in the browser (or to save, `inline=False`), never cached."""
    disposition = "inline" if inline else "attachment"
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'{disposition}; filename="{filename}"',
        "Cache-Control": "no-store",
    })


def xlsx_response(data: bytes, filename: str) -> Response:
    """An XLSX workbook as a download, never cached."""
    resp = send_file(io.BytesIO(data), as_attachment=True, max_age=0, download_name=filename,
                     mimetype=XLSX_MIMETYPE)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def workbook_bytes(wb) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def header_row(ws, headers: Sequence[str], widths: Sequence[float], row: int = 1) -> None:
    """Write a bold header at `row`, freeze the rows down to it, and set the column widths."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    for col, (text, width) in enumerate(zip(headers, widths, strict=True), start=1):
        cell = ws.cell(row=row, column=col, value=text)
        cell.font = bold
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = f"A{row + 1}"


def append_row(ws, values: Sequence) -> None:
    """Append a row of values; text is always text, never a formula (a name or a station
    typed as "=HYPERLINK(…)" stays as typed)."""
    ws.append(list(values))
    for cell in ws[ws.max_row]:
        if cell.data_type == "f":
            cell.data_type = "s"
