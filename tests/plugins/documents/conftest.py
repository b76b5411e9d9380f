"""Fixtures and file makers for the documents module: real PDFs (the demo's political report
and tiny pypdf ones), DOCX built with zipfile, XLSX from openpyxl, PNG/JPEG from Pillow, and a
helper that puts a document into an event the way the services do."""

from __future__ import annotations

import functools
import io
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from core.db import session, utcnow
from plugins.documents import services

BASE = "/lao-cai/dai-hoi/documents"
OTHER = "/yen-bai/dai-hoi/documents"
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
DOCM_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"


@functools.cache
def report_pdf() -> bytes:
    """The demo's three-page political report (rendered once per test run)."""
    from plugins.documents.demo import political_report_pdf

    return political_report_pdf()


@pytest.fixture(scope="module")
def report():
    return report_pdf()


def tiny_pdf(pages: int = 1, *, text: str = "") -> bytes:
    from pypdf import PdfWriter

    w = PdfWriter()
    for _ in range(pages):
        w.add_blank_page(200, 200)
    if text:
        w.add_metadata({"/Title": text})
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def encrypted_pdf(user_password: str | None = None) -> bytes:
    """A PDF locked with RC4 (pypdf needs no extra package for it); "" locks only editing."""
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(200, 200)
    w.encrypt("mat-khau" if user_password is None else user_password,
              owner_password="chu", algorithm="RC4-128")
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def _content_types(main_part: str, main_type: str, extra: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{main_part}" ContentType="{main_type}"/>{extra}</Types>')


def docx_bytes(main_type: str = DOCX_MAIN, *, extra_parts: dict | None = None,
               extra_types: str = "") -> bytes:
    """A minimal Word document: what Word itself needs to open it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   _content_types("word/document.xml", main_type, extra_types))
        z.writestr("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'))
        z.writestr("word/document.xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            "<w:body><w:p><w:r><w:t>Chương trình hành động</w:t></w:r></w:p></w:body>"
            "</w:document>"))
        for name, data in (extra_parts or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def xlsx_bytes() -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["Đơn vị", "Số đại biểu"])
    wb.active.append(["Sa Pa", 12])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def with_part(raw: bytes, name: str, data: bytes) -> bytes:
    """A copy of the zip `raw` with one more part."""
    src = zipfile.ZipFile(io.BytesIO(raw))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            z.writestr(info, src.read(info.filename))
        z.writestr(name, data)
    return buf.getvalue()


def image_bytes(fmt: str = "PNG", size=(40, 30), *, noise: bool = False) -> bytes:
    import os

    from PIL import Image

    if noise:
        img = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        img = Image.new("RGB", size, (200, 30, 30))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def add_doc(event, *, title: str, visibility: str = "delegates", raw: bytes | None = None,
            filename: str = "van-kien.pdf", publish: str | None = "now", actor=None,
            category: str = "other", sections: str | None = None, note: str | None = None):
    """Create a document as the services do and commit; `publish` is "now", "draft", "future"
    (in an hour) or "past" (an hour ago). Returns its id (call inside an app context)."""
    publish_at = {"now": utcnow(), "draft": None, "future": utcnow() + timedelta(hours=1),
                  "past": utcnow() - timedelta(hours=1)}[publish]
    doc = services.create_document(
        session(), event, actor=actor, title=title, category=category, visibility=visibility,
        filename=filename, raw=raw if raw is not None else tiny_pdf(), sections=sections,
        publish_at=publish_at, note=note)
    session().commit()
    return doc.id


def files_on_disk(app) -> list[Path]:
    """Every file (temporary ones too) under FILES_DIR/documents."""
    root = Path(app.config["FILES_DIR"]) / "documents"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def upload(client, url: str, raw: bytes, filename: str, **fields):
    data = {"title": "Tài liệu", "category": "other", "visibility": "delegates",
            "publish": "now", **fields, "file": (io.BytesIO(raw), filename)}
    return client.post(url, data=data, content_type="multipart/form-data")
