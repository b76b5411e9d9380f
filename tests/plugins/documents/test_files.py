"""What an uploaded file is, decided by its content: PDFs, Word and Excel workbooks without
macros and images pass; executables, renamed files, macro workbooks, encrypted or damaged PDFs
and empty or oversized files are refused. Names are cleaned; files land under random names."""

from __future__ import annotations

import hashlib
import re
import unicodedata

import pytest

from plugins.documents import files
from tests.plugins.documents.conftest import (
    DOCM_MAIN,
    DOCX_MAIN,
    docx_bytes,
    encrypted_pdf,
    image_bytes,
    tiny_pdf,
    with_part,
    xlsx_bytes,
)

MB = 2**20


def refused(raw: bytes, name: str, max_bytes: int = 5 * MB) -> files.FileRefused:
    with pytest.raises(files.FileRefused) as info:
        files.check(raw, name, max_bytes=max_bytes)
    return info.value


def test_a_real_pdf_is_accepted_with_its_pages_and_hash(report):
    checked = files.check(report, "Báo cáo.PDF", max_bytes=5 * MB)
    assert checked.kind == "pdf" and checked.mimetype == "application/pdf"
    assert checked.extension == ".pdf" and checked.pages == 3
    assert checked.sha256 == hashlib.sha256(report).hexdigest()
    assert files.check(tiny_pdf(2), "x.pdf", max_bytes=MB).pages == 2


def test_office_files_and_images_are_accepted_by_content():
    docx = files.check(docx_bytes(), "chuong-trinh.docx", max_bytes=MB)
    assert (docx.kind, docx.extension, docx.pages) == ("docx", ".docx", None)
    assert docx.mimetype == files.TYPES["docx"][0]
    xlsx = files.check(xlsx_bytes(), "so-lieu.xlsx", max_bytes=MB)
    assert (xlsx.kind, xlsx.extension) == ("xlsx", ".xlsx")
    png = files.check(image_bytes("PNG"), "anh.png", max_bytes=MB)
    assert (png.kind, png.mimetype, png.extension) == ("image", "image/png", ".png")
    jpeg = files.check(image_bytes("JPEG"), "anh.jpeg", max_bytes=MB)
    assert (jpeg.kind, jpeg.mimetype, jpeg.extension) == ("image", "image/jpeg", ".jpg")
    webp = files.check(image_bytes("WEBP"), "anh.webp", max_bytes=MB)
    assert webp.mimetype == "image/webp"


def test_an_executable_renamed_to_pdf_is_refused():
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 500 + b"This program cannot be run"
    err = refused(exe, "bao-cao.pdf")
    assert err.reason == "wrong_type"
    assert "not a PDF, a Word (.docx) or Excel (.xlsx) file" in err.message
    assert refused(b"#!/bin/sh\nrm -rf /\n", "x.pdf").reason == "wrong_type"
    assert refused(b"<html><script>alert(1)</script></html>", "x.png").reason == "wrong_type"


def test_the_name_must_agree_with_the_content(report):
    err = refused(report, "bao-cao.docx")
    assert err.reason == "wrong_type"
    assert "“.docx”" in err.message and "PDF" in err.message
    assert refused(docx_bytes(), "chuong-trinh.pdf").reason == "wrong_type"
    assert refused(xlsx_bytes(), "so-lieu.docx").reason == "wrong_type"
    assert refused(image_bytes("PNG"), "anh.jpg").reason == "wrong_type"
    # No extension at all.
    assert "“…”" in refused(report, "bao-cao").message


def test_macro_workbooks_are_refused():
    docm = refused(docx_bytes(DOCM_MAIN), "chuong-trinh.docx")
    assert docm.reason == "wrong_type" and "macros are not accepted" in docm.message
    xlsm = refused(with_part(xlsx_bytes(), "xl/vbaProject.bin", b"\xd0\xcf\x11\xe0macro"),
                   "so-lieu.xlsx")
    assert "macros are not accepted" in xlsm.message
    vba = refused(docx_bytes(extra_parts={"word/vbaProject.bin": b"\xd0\xcf\x11\xe0"}), "a.docx")
    assert "macros are not accepted" in vba.message


def test_a_macro_document_does_not_pass_by_naming_the_plain_type_elsewhere():
    # The main part is macro-enabled; the plain type only appears on another part, and the
    # macro part goes under another name than vbaProject.bin.
    extra = ('<Override PartName="/word/other.xml" ContentType="'
             'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
             '<Override PartName="/word/macros.bin" '
             'ContentType="application/vnd.ms-office.vbaProject"/>')
    raw = docx_bytes(DOCM_MAIN, extra_types=extra, extra_parts={"word/macros.bin": b"\xd0\xcf"})
    assert "macros are not accepted" in refused(raw, "a.docx").message
    # A commented-out plain declaration does not count either.
    commented = (f'<!-- <Override PartName="/word/document.xml" ContentType="{DOCX_MAIN}"/> -->')
    hidden = docx_bytes(DOCM_MAIN, extra_types=commented)
    assert "macros are not accepted" in refused(hidden, "a.docx").message


def office_zip(content_types: str) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", content_types)
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def test_the_main_type_may_come_from_a_default_or_differ_in_case():
    ns = "http://schemas.openxmlformats.org/package/2006/content-types"
    by_default = office_zip(f"<Types xmlns='{ns}'><Default Extension='XML' "
                            f"ContentType='{DOCX_MAIN}'/></Types>")
    assert files.check(by_default, "a.docx", max_bytes=MB).kind == "docx"
    upper = office_zip(f'<Types xmlns="{ns}"><Override PartName="/WORD/Document.xml" '
                       f'ContentType="{DOCX_MAIN}"/></Types>')
    assert files.check(upper, "a.docx", max_bytes=MB).kind == "docx"
    # The main part declared as something else entirely, or not declared at all.
    other = office_zip(f'<Types xmlns="{ns}"><Override PartName="/word/document.xml" '
                       'ContentType="application/xml"/></Types>')
    assert refused(other, "a.docx").reason == "wrong_type"
    assert refused(office_zip(f'<Types xmlns="{ns}"/>'), "a.docx").reason == "wrong_type"


def test_zips_that_are_not_office_files_are_refused():
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("payload.exe", b"MZ")
    assert refused(buf.getvalue(), "a.docx").reason == "wrong_type"
    # A broken zip.
    assert refused(b"PK\x03\x04" + b"\x00" * 200, "a.docx").reason == "damaged"


def test_encrypted_damaged_and_empty_pdfs_are_refused():
    err = refused(encrypted_pdf(), "bao-cao.pdf")
    assert err.reason == "damaged" and "protected by a password" in err.message
    # Locked only against editing, it opens without a password: readers can read it.
    assert files.check(encrypted_pdf(""), "bao-cao.pdf", max_bytes=MB).pages == 1
    # A file that is an executable (or a ZIP) and also carries a PDF header is not a PDF.
    assert refused(b"MZ\x90\x00%PDF-1.7\n" + tiny_pdf(), "a.pdf").reason == "wrong_type"
    assert refused(b"%PDF-1.7\n" + b"garbage " * 50, "a.pdf").reason == "damaged"
    assert refused(tiny_pdf()[:200], "a.pdf").reason == "damaged"


def test_empty_and_oversized_files_are_refused(report):
    err = refused(b"", "a.pdf")
    assert err.reason == "empty" and err.message == "the file is empty"
    err = refused(report, "a.pdf", max_bytes=len(report) - 1)
    assert err.reason == "too_large" and "larger than" in err.message
    assert files.check(report, "a.pdf", max_bytes=len(report)).pages == 3
    big = refused(image_bytes("PNG", (700, 560), noise=True), "a.png", max_bytes=MB)
    assert big.reason == "too_large" and big.message == "the file is larger than 1 MB"


def test_names_are_cleaned_of_folders_and_characters_file_systems_refuse():
    name = files.clean_filename("../../etc/Báo cáo: chính*trị?.pdf", ".pdf")
    assert name == "Báo cáo chính trị.pdf"
    assert files.clean_filename("C:\\Users\\x\\Dự thảo <1>|\"2\".PDF", ".pdf") == \
        "Dự thảo 1 2.pdf"
    # The extension is that of the content, whatever the name said.
    assert files.clean_filename("anh.jpeg", ".jpg") == "anh.jpg"
    assert files.clean_filename("???.pdf", ".pdf") == "tai-lieu.pdf"
    assert files.clean_filename("", ".pdf") == "tai-lieu.pdf"
    # Control and direction-override characters go; Vietnamese is kept, composed (NFC).
    assert files.clean_filename("abc\u202egnp\x00.pdf", ".pdf") == "abcgnp.pdf"
    decomposed = unicodedata.normalize("NFD", "Nghị quyết.pdf")
    assert files.clean_filename(decomposed, ".pdf") == unicodedata.normalize("NFC",
                                                                             "Nghị quyết.pdf")
    long = files.clean_filename("Đ" * 400 + ".docx", ".docx")
    assert len(long) == files.MAX_NAME and long.endswith(".docx")


def test_files_are_stored_under_random_names_in_the_event_folder(tmp_path):
    first = files.store(tmp_path, 7, b"%PDF-one", ".pdf")
    second = files.store(tmp_path, 7, b"%PDF-two", ".pdf")
    assert first != second
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}\.pdf", first)
    folder = tmp_path / "documents" / "7"
    assert sorted(p.name for p in folder.iterdir()) == sorted([first, second])
    assert (folder / first).read_bytes() == b"%PDF-one"
    assert files.stored_path(tmp_path, 7, first) == folder / first
    # Another event's folder, names we never write and missing files give nothing.
    assert files.stored_path(tmp_path, 8, first) is None
    assert files.stored_path(tmp_path, 7, "../7/" + first) is None
    assert files.stored_path(tmp_path, 7, "x" * 32 + ".pdf") is None
    assert files.stored_path(tmp_path, 7, "") is None
