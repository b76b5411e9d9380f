"""Photos: type checked by content, limits against oversize files and bombs, resizing, the
ZIP by delegate code with a result per file, and who may upload or see them."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from core.db import session
from core.errors import ServiceError
from core.models import AuditEntry
from plugins.delegates import badges, photos
from plugins.delegates.models import Delegate
from tests.plugins.delegates.test_badges import people, roster_in_b

A = "/lao-cai/dai-hoi/badges"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 4000 + \
    b"This program cannot be run in DOS mode."


def image_bytes(fmt: str, size=(1200, 1600), mode="RGB", color=(10, 120, 200), **save) -> bytes:
    img = Image.new(mode, size, color)
    out = io.BytesIO()
    img.save(out, fmt, **save)
    return out.getvalue()


def make_zip(entries: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, raw in entries.items():
            z.writestr(name, raw)
    return out.getvalue()


def stored(raw: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(raw))
    img.load()
    return img


# ---------------------------------------------------------------- checking one photo

@pytest.mark.parametrize("fmt,mode,color", [("JPEG", "RGB", (10, 120, 200)),
                                            ("PNG", "RGBA", (10, 120, 200, 0)),
                                            ("PNG", "P", 3), ("WEBP", "RGB", (10, 120, 200))])
def test_jpeg_png_webp_accepted_and_resized(fmt, mode, color):
    out = stored(photos.prepare(image_bytes(fmt, mode=mode, color=color)))
    assert out.format == "JPEG" and out.mode == "RGB"
    assert out.size == (450, 600)  # fits 600 px, keeps 3:4
    if mode == "RGBA":  # transparency becomes white, not black
        assert out.getpixel((10, 10)) == (255, 255, 255)


def test_small_photo_is_not_enlarged_and_orientation_is_applied():
    assert stored(photos.prepare(image_bytes("JPEG", size=(300, 400)))).size == (300, 400)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": phones store portraits this way
    out = stored(photos.prepare(image_bytes("JPEG", size=(800, 600), exif=exif.tobytes())))
    assert out.size == (450, 600)
    assert not out.getexif()  # metadata (GPS and all) is not kept


@pytest.mark.parametrize("truncated_allowed", [False, True], ids=["pillow", "weasyprint"])
@pytest.mark.parametrize("raw", [
    EXE,  # a Windows executable renamed x.jpg
    b"#!/bin/sh\nrm -rf /\n",
    b"",
    b"\xff\xd8\xff\xe0" + b"\x00" * 100,  # a JPEG header and nothing behind it
    image_bytes("JPEG")[:2000],  # truncated upload
    image_bytes("JPEG", progressive=True)[:-300],
    image_bytes("PNG", mode="RGBA")[:-20],
    image_bytes("WEBP")[:-40],
    image_bytes("GIF", mode="P", color=1),  # a real image, of a type we do not take
    image_bytes("BMP", size=(300, 400)),
    image_bytes("TIFF", size=(300, 400)),
    b"%PDF-1.7\n" + b"0" * 100,
], ids=["exe", "script", "empty", "jpeg-header", "truncated", "truncated-progressive",
        "truncated-png", "truncated-webp", "gif", "bmp", "tiff", "pdf"])
def test_anything_else_is_refused(raw, truncated_allowed, monkeypatch):
    from PIL import ImageFile

    # WeasyPrint sets this for the whole process when imported: the check must not rely on it.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", truncated_allowed)
    with pytest.raises(photos.PhotoError) as err:
        photos.prepare(raw)
    assert err.value.reason == "not_image"


def test_oversize_and_pixel_bombs_are_refused():
    big = image_bytes("PNG", size=(1000, 1000), mode="RGB")
    big += b"\x00" * (photos.MAX_PHOTO_BYTES + 1 - len(big))
    with pytest.raises(photos.PhotoError) as err:
        photos.prepare(big)
    assert err.value.reason == "too_large"
    # 12,000 × 12,000 one-bit pixels: a few kB of PNG, 144 million pixels once decoded.
    bomb = image_bytes("PNG", size=(12_000, 12_000), mode="1", color=0)
    assert len(bomb) < 100_000
    with pytest.raises(photos.PhotoError) as err:
        photos.prepare(bomb)
    assert err.value.reason == "too_large"


# ---------------------------------------------------------------- storing

def test_save_photo_stores_a_fresh_jpeg_and_replaces_the_old_file(app, roster_world):
    with app.app_context():
        event = roster_world.event("a")
        d = session().scalar(select(Delegate).where(Delegate.event_id == event.id,
                                                    Delegate.code == "DB0001"))
        name = photos.save_photo(session(), event, d, image_bytes("PNG"),
                                 instance_path=app.instance_path, actor=None)
        session().commit()
        first = Path(app.instance_path) / "photos" / str(event.id) / name
        assert d.photo == name and badges.PHOTO_NAME.match(name) and first.is_file()
        assert "DB0001" not in name and len(name) > 20  # random, not the code or the id
        assert stored(first.read_bytes()).format == "JPEG"
        second = photos.save_photo(session(), event, d, image_bytes("JPEG"),
                                   instance_path=app.instance_path, actor=None)
        assert first.is_file()  # until the change is committed
        session().commit()
        assert not first.is_file() and photos.photo_file(app.instance_path, d).name == second
        # A refused photo changes nothing.
        with pytest.raises(photos.PhotoError):
            photos.save_photo(session(), event, d, EXE, instance_path=app.instance_path,
                              actor=None)
        session().rollback()
        assert session().get(Delegate, d.id).photo == second
        assert session().scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "delegate.photo")) == 2


def test_zip_by_code_reports_every_entry(app, roster_world):
    bomb = b"\x00" * (50 * 1024 * 1024)  # 50 MB of zeros: ~50 kB compressed
    raw = make_zip({
        "DB0001.jpg": image_bytes("JPEG"),
        "anh/DB0002.PNG": image_bytes("PNG"),  # in a folder, upper-case extension
        "db0003.webp": image_bytes("WEBP"),  # lower-case code
        "DB0004.jpg": EXE,
        "DB0005.jpg": bomb,
        "NOBODY.jpg": image_bytes("JPEG"),
        "DB0001.png": image_bytes("PNG"),  # a second file for DB0001
        "__MACOSX/._DB0001.jpg": b"\x00\x05\x16\x07",
        "anh/": b"",
    })
    with app.app_context():
        event = roster_world.event("a")
        report = photos.import_zip(session(), event, raw, instance_path=app.instance_path,
                                   actor=roster_world.user("a.secretariat"))
        session().commit()
        by_name = {e.name: (e.code, e.status) for e in report.entries}
        assert by_name == {
            "DB0001.jpg": ("DB0001", "saved"), "anh/DB0002.PNG": ("DB0002", "saved"),
            "db0003.webp": ("DB0003", "saved"), "DB0004.jpg": ("DB0004", "not_image"),
            "DB0005.jpg": ("DB0005", "too_large"), "NOBODY.jpg": ("NOBODY", "unknown_code"),
            "DB0001.png": ("DB0001", "duplicate"), "__MACOSX/._DB0001.jpg": (None, "skipped"),
            "anh/": (None, "skipped")}
        assert [e.code for e in report.saved] == ["DB0001", "DB0002", "DB0003"]
        assert len(report.refused) == 4
        have = dict(session().execute(select(Delegate.code, Delegate.photo).where(
            Delegate.event_id == event.id, Delegate.code.in_(
                ["DB0001", "DB0002", "DB0003", "DB0004", "DB0005"]))).all())
        assert all(have[c] for c in ("DB0001", "DB0002", "DB0003"))
        assert have["DB0004"] is None and have["DB0005"] is None
        entry = session().scalar(select(AuditEntry).where(
            AuditEntry.action == "delegates.photos_import"))
        assert entry.detail["saved"] == ["DB0001", "DB0002", "DB0003"]
        assert entry.detail["refused"] == 4


def test_zip_limits_refuse_the_whole_file(app, roster_world, monkeypatch):
    with app.app_context():
        event = roster_world.event("a")

        def run(raw):
            with pytest.raises(ServiceError) as err:
                photos.import_zip(session(), event, raw, instance_path=app.instance_path,
                                  actor=None)
            return err.value.code

        assert run(EXE) == "not_zip"
        assert run(b"PK\x03\x04 not really") == "not_zip"
        monkeypatch.setattr(photos, "MAX_ZIP_ENTRIES", 3)
        assert run(make_zip({f"DB000{i}.jpg": b"x" for i in range(1, 5)})) == "too_large"
        monkeypatch.setattr(photos, "MAX_ZIP_ENTRIES", 3000)
        # Declared sizes over the total: refused before anything is inflated.
        monkeypatch.setattr(photos, "MAX_ZIP_TOTAL", 10 * 1024 * 1024)
        assert run(make_zip({"DB0001.jpg": b"\x00" * (6 * 2**20),
                             "DB0002.jpg": b"\x00" * (6 * 2**20)})) == "too_large"
        monkeypatch.setattr(photos, "MAX_ZIP_BYTES", 100)
        assert run(make_zip({"DB0001.jpg": image_bytes("JPEG")})) == "too_large"
        assert session().scalar(select(func.count()).select_from(Delegate).where(
            Delegate.photo.is_not(None))) == 0


# ---------------------------------------------------------------- through the pages

def test_upload_pages(app, roster_world, client_for):
    d, = people(app, roster_world.ids["a"], "DB0009")
    foreign = roster_in_b(app, roster_world)
    c = client_for("a.secretariat")
    page = c.get(f"{A}/photo/{d.id}")
    assert page.status_code == 200 and "No photo yet" in page.get_data(as_text=True)
    r = c.post(f"{A}/photo/{d.id}", data={"photo": (io.BytesIO(EXE), "x.jpg")},
               content_type="multipart/form-data", follow_redirects=True)
    assert "Photo refused: not a JPEG, PNG or WebP image." in r.get_data(as_text=True)
    big = image_bytes("JPEG") + b"\x00" * photos.MAX_PHOTO_BYTES
    r = c.post(f"{A}/photo/{d.id}", data={"photo": (io.BytesIO(big), "big.jpg")},
               content_type="multipart/form-data", follow_redirects=True)
    assert "larger than 5 MB" in r.get_data(as_text=True)
    r = c.post(f"{A}/photo/{d.id}", data={}, content_type="multipart/form-data",
               follow_redirects=True)
    assert "Choose a photo." in r.get_data(as_text=True)
    assert c.get(f"{A}/photo/{d.id}/image.jpg").status_code == 404

    r = c.post(f"{A}/photo/{d.id}", data={"photo": (io.BytesIO(image_bytes("WEBP")), "me.webp")},
               content_type="multipart/form-data", follow_redirects=True)
    assert "Photo saved." in r.get_data(as_text=True)
    img = c.get(f"{A}/photo/{d.id}/image.jpg")
    assert img.status_code == 200 and img.mimetype == "image/jpeg"
    assert "no-store" in img.headers["Cache-Control"]
    assert stored(img.data).size == (450, 600)
    # The credentials committee sees photos; delegates and other unions do not.
    assert client_for("a.credentials").get(f"{A}/photo/{d.id}/image.jpg").status_code == 200
    assert client_for("a.credentials").post(
        f"{A}/photo/{d.id}", data={"photo": (io.BytesIO(image_bytes("JPEG")), "a.jpg")},
        content_type="multipart/form-data").status_code == 403
    assert client_for("a.delegate").get(f"{A}/photo/{d.id}/image.jpg").status_code == 403
    other = client_for("b.secretariat")
    assert other.get(f"{A}/photo/{d.id}/image.jpg").status_code == 404
    assert other.post(f"{A}/photo/{d.id}/remove").status_code == 404
    for i in foreign:  # the other union's people through our own event
        assert c.get(f"{A}/photo/{i}").status_code == 404
        assert c.post(f"{A}/photo/{i}", data={"photo": (io.BytesIO(image_bytes("JPEG")),
                                                        "a.jpg")},
                      content_type="multipart/form-data").status_code == 404
        assert c.post(f"{A}/photo/{i}/remove").status_code == 404

    r = c.post(f"{A}/photo/{d.id}/remove", follow_redirects=True)
    assert "Photo removed." in r.get_data(as_text=True)
    assert c.get(f"{A}/photo/{d.id}/image.jpg").status_code == 404
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action.in_(("delegate.photo", "delegate.photo_remove")))) == 2


def test_zip_upload_page(app, roster_world, client_for):
    raw = make_zip({"DB0001.jpg": image_bytes("JPEG"), "XX0001.jpg": image_bytes("JPEG"),
                    "DB0002.jpg": EXE})
    c = client_for("a.checkin")
    r = c.post(f"{A}/photos", data={"archive": (io.BytesIO(raw), "anh.zip")},
               content_type="multipart/form-data")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'data-saved>1<' in html and 'data-refused>2<' in html
    assert "XX0001.jpg" in html and "no delegate or guest with this code" in html
    assert "DB0002.jpg" in html and "not a JPEG, PNG or WebP image" in html
    r = c.post(f"{A}/photos", data={"archive": (io.BytesIO(EXE), "x.zip")},
               content_type="multipart/form-data", follow_redirects=True)
    assert "ZIP refused: the file is not a ZIP archive." in r.get_data(as_text=True)
    assert client_for("a.delegate").post(
        f"{A}/photos", data={"archive": (io.BytesIO(raw), "anh.zip")},
        content_type="multipart/form-data").status_code == 403
    assert client_for("b.admin").post(
        f"{A}/photos", data={"archive": (io.BytesIO(raw), "anh.zip")},
        content_type="multipart/form-data").status_code == 404
    d1, d2 = people(app, roster_world.ids["a"], "DB0001", "DB0002")
    assert d1.photo and not d2.photo
    page = c.get(f"{A}/").get_data(as_text=True)
    assert "<b>1</b> / 300" in page
