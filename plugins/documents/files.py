"""Uploaded document files: what a file is (decided by its content), its name, where it lives.

A file is accepted only when its bytes are a PDF, a Word or Excel workbook (Office Open XML,
without macros) or a JPEG, PNG or WebP image, whatever its name says. An executable renamed
`bao-cao.pdf` is refused, and so is a `.docx` that is really a PDF: the name must agree with
the content, so nobody downloads something other than what the list shows. Files are kept
under `FILES_DIR/documents/<event id>/` with random names; the name a reader sees is stored in
the database, cleaned of paths and characters file systems refuse.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flask_babel import gettext as _

from core.errors import ServiceError
from core.storage import store_new_file
from core.text import nfc

# kind -> (mimetype, extensions a file of this kind may be named with; the first is canonical)
TYPES = {
    "pdf": ("application/pdf", (".pdf",)),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             (".docx",)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",)),
}
IMAGE_TYPES = {"JPEG": ("image/jpeg", (".jpg", ".jpeg")), "PNG": ("image/png", (".png",)),
               "WEBP": ("image/webp", (".webp",))}
MAX_PIXELS = 80_000_000
MAX_ZIP_ENTRIES = 5000
MAX_ZIP_TOTAL = 512 * 1024 * 1024  # unpacked, all parts together
MAX_NAME = 150
# The main part of a document or a workbook, and the content type that main part must have
# (a .docm or .xlsm names a macro-enabled type there).
OOXML_MAIN = {
    "docx": ("word/document.xml",
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"),
    "xlsx": ("xl/workbook.xml",
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
}


class FileRefused(ServiceError):
    """An upload refused; `reason` is one of too_large, wrong_type, damaged, empty."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, code=reason)
        self.reason = reason


@dataclass(frozen=True)
class Checked:
    kind: str
    mimetype: str
    extension: str
    pages: int | None
    sha256: str


def wrong_type() -> FileRefused:
    return FileRefused(_("the file is not a PDF, a Word (.docx) or Excel (.xlsx) file, or a "
                         "JPEG, PNG or WebP image"), "wrong_type")


def check(raw: bytes, filename: str, *, max_bytes: int) -> Checked:
    """What `raw` is, refusing what is not an accepted document or does not match its name."""
    if not raw:
        raise FileRefused(_("the file is empty"), "empty")
    if len(raw) > max_bytes:
        raise FileRefused(_("the file is larger than %(mb)s MB", mb=max_bytes // 2**20),
                          "too_large")
    kind, mimetype, extensions, pages = _identify(raw)
    ext = Path(filename or "").suffix.lower()
    if ext not in extensions:
        raise FileRefused(_("the file's name ends in “%(ext)s” but its content is a %(kind)s "
                            "file; rename it or upload the right file",
                            ext=ext or "…", kind=extensions[0].lstrip(".").upper()), "wrong_type")
    return Checked(kind, mimetype, extensions[0], pages, hashlib.sha256(raw).hexdigest())


def _identify(raw: bytes) -> tuple[str, str, tuple[str, ...], int | None]:
    head = raw[:1024]
    # The PDF header may follow some bytes, but not an executable's or an archive's start:
    # a file that is both is refused.
    if b"%PDF-" in head and not raw.startswith((b"MZ", b"\x7fELF", b"PK")):
        return ("pdf", *TYPES["pdf"], _pdf_pages(raw))
    if raw.startswith(b"PK\x03\x04"):
        kind = _ooxml_kind(raw)
        return (kind, *TYPES[kind], None)
    fmt = _image_format(raw)
    if fmt is not None:
        return ("image", *IMAGE_TYPES[fmt], None)
    raise wrong_type()


def _pdf_pages(raw: bytes) -> int:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(raw))
            # Locked only against editing or printing, a PDF opens with the empty password
            # (pdf.js and every viewer open it): accepted. Only one that asks readers for a
            # password is refused.
            if reader.is_encrypted and not reader.decrypt(""):
                raise FileRefused(_("the PDF is protected by a password; upload it without one"),
                                  "damaged")
            pages = len(reader.pages)
    except FileRefused:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            RecursionError, OSError, EOFError):
        raise FileRefused(_("the PDF cannot be read; it may be damaged"), "damaged") from None
    if pages < 1:
        raise FileRefused(_("the PDF has no pages"), "damaged")
    return pages


def _ooxml_kind(raw: bytes) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_ENTRIES or sum(i.file_size for i in infos) > MAX_ZIP_TOTAL:
            raise FileRefused(_("the file unpacks to too much data"), "too_large")
        names = {i.filename for i in infos}
        if "[Content_Types].xml" not in names:
            raise wrong_type()
        with archive.open("[Content_Types].xml") as fh:
            types = fh.read(1024 * 1024).decode("utf-8", "replace")
    except FileRefused:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, NotImplementedError,
            RuntimeError):
        raise FileRefused(_("the file cannot be read; it may be damaged"), "damaged") from None
    for kind, (part, content_type) in OOXML_MAIN.items():
        if part in names:
            declared = _declared_types(types, part)
            if (not declared or declared != {content_type}
                    or any(n.lower().endswith("vbaproject.bin") for n in names)
                    or re.search(r"macroenabled|vbaproject", html.unescape(types), re.I)):
                raise FileRefused(_("files with macros are not accepted; save it as .docx or "
                                    ".xlsx"), "wrong_type")
            return kind
    raise wrong_type()


_CT_ELEMENT = re.compile(r"<(?:[\w.-]+:)?(Override|Default)\b([^>]*)>")
_CT_ATTR = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _declared_types(types: str, part: str) -> set[str]:
    """The content types [Content_Types].xml gives `part`: its Overrides, or else the Default
    of its extension (part names compare case-insensitively). Comments do not count."""
    types = re.sub(r"<!--.*?-->", "", types, flags=re.S)
    overrides, defaults = set(), set()
    extension = part.rsplit(".", 1)[-1].lower()
    for element, body in _CT_ELEMENT.findall(types):
        attrs = {k.rsplit(":", 1)[-1]: html.unescape(a or b) for k, a, b in _CT_ATTR.findall(body)}
        value = attrs.get("ContentType", "").strip()
        if element == "Override" and attrs.get("PartName", "").lower() == "/" + part.lower():
            overrides.add(value)
        elif element == "Default" and attrs.get("Extension", "").lower() == extension:
            defaults.add(value)
    return overrides or defaults


def _image_format(raw: bytes) -> str | None:
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(raw), formats=sorted(IMAGE_TYPES)) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise FileRefused(_("the image has too many pixels"), "too_large")
                img.verify()
                return img.format if img.format in IMAGE_TYPES else None
        except FileRefused:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise FileRefused(_("the image has too many pixels"), "too_large") from None
        except (OSError, SyntaxError, ValueError, EOFError, Image.UnidentifiedImageError):
            return None


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')


def clean_filename(filename: str, extension: str) -> str:
    """The name readers download a file as: no folders, no characters file systems refuse,
    at most 150 characters, ending in the extension of what the file really is."""
    name = nfc(filename).replace("\\", "/").rsplit("/", 1)[-1]
    stem = Path(name).stem if Path(name).suffix else name
    stem = _UNSAFE.sub(" ", stem)
    stem = "".join(c for c in stem if unicodedata.category(c)[0] != "C")
    stem = re.sub(r"\s+", " ", stem).strip(" .-_") or "tai-lieu"
    return stem[:MAX_NAME - len(extension)].rstrip(" .") + extension


def event_dir(files_dir: str | Path, event_id: int) -> Path:
    return Path(files_dir) / "documents" / str(int(event_id))


def store(files_dir: str | Path, event_id: int, raw: bytes, extension: str) -> str:
    """Write the file under a random name (whole or not at all); return that name."""
    return store_new_file(event_dir(files_dir, event_id), raw, extension, token_bytes=24)


def stored_path(files_dir: str | Path, event_id: int, stored_name: str) -> Path | None:
    """The file on disk, or None if the name is not one we write or the file is gone."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{32}\.[a-z]{3,4}", stored_name or ""):
        return None
    path = event_dir(files_dir, event_id) / stored_name
    return path if path.is_file() else None
