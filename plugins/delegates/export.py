"""The roster as an XLSX workbook, with each person's personal sign-in link.

Union offices send the links by message or mail-merge them into invitations; the workbook
holds personal data and credentials, so only people who may manage the roster get it, and each
download is audited.
"""

from __future__ import annotations

from collections.abc import Callable

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy.orm import Session

from core.documents import workbook_bytes
from core.models import Event
from plugins.delegates.models import Delegate
from plugins.delegates.roster_import import FIELDS
from plugins.delegates.services import roster
from plugins.delegates.vietnamese import display

STATUS_VI = {"convened": "Được triệu tập", "approved": "Đủ tư cách",
             "rejected": "Không đủ tư cách", "replaced": "Đã thay thế"}
# The roster file's own headers first, so the export imports back unchanged.
HEADERS = [names[0] for names in (spec[1] for spec in FIELDS.values())]


def roster_workbook(db: Session, event: Event, link_for: Callable[[Delegate], str]) -> bytes:
    wb = Workbook()
    for kind, title in (("delegate", "Đại biểu"), ("guest", "Khách mời")):
        ws = wb.active if kind == "delegate" else wb.create_sheet()
        ws.title = title
        ws.append([*HEADERS, "Trạng thái", "Đường dẫn đăng nhập"])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for d in roster(db, event, kind):
            values = [d.code]
            for field in list(FIELDS)[1:]:
                if field == "delegate_type" and kind == "guest":
                    values.append("Khách mời")
                else:
                    values.append(display(field, getattr(d, field)))
            active = d.status not in ("rejected", "replaced")
            ws.append([*values, STATUS_VI[d.status], link_for(d) if active else ""])
        for column, width in zip("ABCDEFGHIJKLMNOPQ", (10, 26, 12, 8, 10, 12, 30, 24, 18, 16, 9,
                                                       13, 10, 14, 26, 16, 60), strict=True):
            ws.column_dimensions[column].width = width
    return workbook_bytes(wb)
