"""Delegates' photos for their badges: one at a time, or a ZIP of files named by delegate code.

The type is decided by the content, never by the file name: Pillow must recognise a JPEG, PNG
or WebP image, and the image must decode. Limits stop oversize files, decompression bombs and
ZIP bombs before anything large is decoded or inflated. Every stored photo is re-encoded as a
fresh JPEG (at most 600 px on its longer side, EXIF orientation applied, metadata such as GPS
dropped) under `instance/photos/<event_id>/<random>.jpg`, and `Delegate.photo` holds its name.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.db import after_commit
from core.errors import ServiceError
from core.storage import store_new_file
from plugins.delegates.badges import photo_dir, photo_path

logger = logging.getLogger(__name__)

FORMATS = {"JPEG", "PNG", "WEBP"}
MAX_PHOTO_BYTES = 5 * 1024 * 1024  # one photo, as uploaded or inside the ZIP
MAX_PIXELS = 40_000_000  # 40 megapixels: more is a decompression bomb, not a portrait
MAX_SIDE = 600  # stored photos fit in 600 × 600 px
JPEG_QUALITY = 85
MAX_ZIP_BYTES = 200 * 1024 * 1024
MAX_ZIP_ENTRIES = 3000
MAX_ZIP_TOTAL = 1024 * 1024 * 1024  # uncompressed, all entries together
MAX_RATIO = 200  # uncompressed / compressed of one entry: photos barely compress


class PhotoError(ServiceError):
    """A photo refused; `reason` is one of too_large, not_image."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, code=reason)
        self.reason = reason


def _too_large() -> PhotoError:
    return PhotoError(_("the photo is larger than %(mb)s MB", mb=MAX_PHOTO_BYTES // 2**20),
                      "too_large")


def _not_image() -> PhotoError:
    return PhotoError(_("not a JPEG, PNG or WebP image"), "not_image")


def prepare(raw: bytes) -> bytes:
    """Check an uploaded photo by its content and return the JPEG to store.

    Raises PhotoError (too_large, not_image).
    """
    from PIL import Image, ImageOps

    if len(raw) > MAX_PHOTO_BYTES:
        raise _too_large()
    if not raw:
        raise _not_image()
    with warnings.catch_warnings():
        # Pillow warns, then raises, on huge images; both mean "refuse".
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(raw), formats=sorted(FORMATS)) as probe:
                if probe.format not in FORMATS or not _complete(raw, probe.format):
                    raise _not_image()
                if probe.width * probe.height > MAX_PIXELS:
                    raise PhotoError(_("the photo has too many pixels"), "too_large")
                probe.verify()
            with Image.open(io.BytesIO(raw), formats=sorted(FORMATS)) as img:
                if img.format == "JPEG":
                    # Decode big JPEGs at a reduced scale straight away: much faster.
                    img.draft("RGB", (MAX_SIDE, MAX_SIDE))
                img.load()
                img = ImageOps.exif_transpose(img)
                img = _flatten(img)
                img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
                out = io.BytesIO()
                img.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
                return out.getvalue()
        except PhotoError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PhotoError(_("the photo has too many pixels"), "too_large") from None
        except (OSError, SyntaxError, ValueError, Image.UnidentifiedImageError,
                EOFError, struct.error):
            raise _not_image() from None


def _complete(raw: bytes, fmt: str) -> bool:
    """Whether the file ends where its format says it does.

    Pillow refuses truncated files only while `ImageFile.LOAD_TRUNCATED_IMAGES` is False, and
    WeasyPrint sets it to True for the whole process when imported (a badge printed at the
    desk is enough), so truncation is checked here, by structure.
    """
    if fmt == "JPEG":  # the end-of-image marker after the last scan
        sos = raw.rfind(b"\xff\xda")
        return sos != -1 and raw.find(b"\xff\xd9", sos) != -1
    if fmt == "PNG":  # the IEND chunk with its CRC
        return raw.find(b"IEND\xaeB`\x82") != -1
    if fmt == "WEBP":  # the RIFF container's own length
        return len(raw) >= 12 and int.from_bytes(raw[4:8], "little") + 8 <= len(raw)
    return False


def _flatten(img):
    """RGB on white for photos with transparency or a palette."""
    from PIL import Image

    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB") if img.mode != "RGB" else img


def _store(instance_path: str, event_id: int, jpeg: bytes) -> str:
    return store_new_file(photo_dir(instance_path, event_id), jpeg, ".jpg", token_bytes=18)


def _replace_photo(db: Session, instance_path: str, d, name: str | None) -> None:
    """Point the record at its new photo; the old file goes once that is committed."""
    old = photo_path(instance_path, d.event_id, d.photo)
    d.photo = name
    if old is not None:
        after_commit(lambda: old.unlink(missing_ok=True), db)


def save_photo(db: Session, event, d, raw: bytes, *, instance_path: str, actor) -> str:
    """Check, resize and store one delegate's photo. Raises PhotoError."""
    jpeg = prepare(raw)
    name = _store(instance_path, event.id, jpeg)
    _replace_photo(db, instance_path, d, name)
    audit.record("delegate.photo", actor=actor, event=event,
                 detail={"code": d.code, "bytes": len(jpeg)})
    return name


def remove_photo(db: Session, event, d, *, instance_path: str, actor) -> None:
    if d.photo is None:
        return
    _replace_photo(db, instance_path, d, None)
    audit.record("delegate.photo_remove", actor=actor, event=event, detail={"code": d.code})


# ---------------------------------------------------------------- bulk: a ZIP by code

@dataclass
class EntryResult:
    name: str  # the entry's name in the ZIP
    code: str | None
    status: str  # saved, unknown_code, not_image, too_large, duplicate, skipped
    message: str = ""


@dataclass
class ZipReport:
    entries: list[EntryResult] = field(default_factory=list)

    @property
    def saved(self) -> list[EntryResult]:
        return [e for e in self.entries if e.status == "saved"]

    @property
    def refused(self) -> list[EntryResult]:
        return [e for e in self.entries if e.status not in ("saved", "skipped")]


def _is_noise(name: str) -> bool:
    """Folders, macOS resource forks and hidden files that ZIP tools add."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return (name.endswith("/") or not parts or parts[0] == "__MACOSX"
            or parts[-1].startswith(".") or parts[-1].lower() == "thumbs.db")


def import_zip(db: Session, event, source: BinaryIO | bytes, *, instance_path: str,
               actor) -> ZipReport:
    """Store the photos of a ZIP whose entries are named by delegate code (DB0001.jpg …).

    Each entry gets its own result; the good ones are saved even when others are refused.
    A file that is not a ZIP, or one over the ZIP limits, is refused whole (ServiceError)
    before anything is inflated.
    """
    from plugins.delegates.models import Delegate

    if isinstance(source, bytes | bytearray):
        source = io.BytesIO(source)
    source.seek(0, io.SEEK_END)
    size = source.tell()
    source.seek(0)
    if size > MAX_ZIP_BYTES:
        raise ServiceError(_("the ZIP file is larger than %(mb)s MB", mb=MAX_ZIP_BYTES // 2**20),
                           code="too_large")
    try:
        archive = zipfile.ZipFile(source)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ServiceError(_("the file is not a ZIP archive"), code="not_zip") from None
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ServiceError(_("the ZIP file holds more than %(n)s files", n=MAX_ZIP_ENTRIES),
                           code="too_large")
    if sum(i.file_size for i in infos) > MAX_ZIP_TOTAL:
        raise ServiceError(_("the ZIP file unpacks to more than %(mb)s MB",
                             mb=MAX_ZIP_TOTAL // 2**20), code="too_large")

    people = {d.code: d for d in db.scalars(select(Delegate).where(Delegate.event_id == event.id))}
    report = ZipReport()
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if _is_noise(name):
            report.entries.append(EntryResult(name, None, "skipped"))
            continue
        code = PurePosixPath(name.replace("\\", "/")).name.rsplit(".", 1)[0].strip().upper()
        if code not in people:
            report.entries.append(EntryResult(name, code, "unknown_code",
                                              _("no delegate or guest with this code")))
            continue
        if code in seen:
            report.entries.append(EntryResult(name, code, "duplicate",
                                              _("another file of the ZIP has this code")))
            continue
        seen.add(code)
        if info.file_size > MAX_PHOTO_BYTES or (
                info.compress_size and info.file_size / info.compress_size > MAX_RATIO):
            report.entries.append(EntryResult(name, code, "too_large", _too_large().message))
            continue
        try:
            with archive.open(info) as fh:
                raw = fh.read(MAX_PHOTO_BYTES + 1)  # never more, whatever the header claims
            jpeg = prepare(raw)
        except PhotoError as exc:
            report.entries.append(EntryResult(name, code, exc.reason, exc.message))
            continue
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError,
                RuntimeError):
            # Damaged, encrypted or in a compression method we do not read.
            report.entries.append(EntryResult(name, code, "not_image",
                                              _("the file cannot be read from the ZIP")))
            continue
        d = people[code]
        _replace_photo(db, instance_path, d, _store(instance_path, event.id, jpeg))
        report.entries.append(EntryResult(name, code, "saved"))
    audit.record("delegates.photos_import", actor=actor, event=event,
                 detail={"saved": [e.code for e in report.saved],
                         "refused": len(report.refused)})
    return report


def photo_file(instance_path: str, d) -> Path | None:
    path = photo_path(instance_path, d.event_id, d.photo)
    return path if path is not None and path.is_file() else None
