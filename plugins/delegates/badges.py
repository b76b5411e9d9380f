"""Badges (thẻ đại biểu): PDF with the person's photo, name, unit, code, group and a QR code.

The QR code carries only `Delegate.checkin_secret`: random, never the database id, and
regenerating it (`services.regenerate_badge`) makes the printed badge resolve to nobody.

How it is fast (the issue asks for 1,000 badges in 8 s on two cores; a naive loop of qrcode +
one WeasyPrint document per badge takes ~27 s):

- The QR code is a 1-pixel-per-module PNG (a 31×31 image for a 32-character secret), scaled in
  CSS with `image-rendering: pixelated`, and made with a fixed mask pattern: the mask search
  of `qrcode` costs ~3 ms per code and only tunes the pattern, any mask decodes.
- Many badges go into ONE HTML document per chunk: WeasyPrint's cost per document (style
  cascade, font subsetting) is paid per chunk, not per badge. The stylesheet and the
  `FontConfiguration` are made once per process; the markup is lean (every element costs
  layout time) and placed by classes, not inline styles. Photos are not inlined as base64
  (parsing megabytes of it costs more than the layout) but named `badge-photo:<n>` and read
  by a URL fetcher that serves those files and data: URIs, and nothing else.
- Chunks are rendered by a process pool on every core and merged with pypdf; each finished
  chunk reports progress. The pool's processes fork from a `forkserver` that has already
  imported WeasyPrint, so they start in milliseconds and never inherit the web server's
  threads.

`render_pdf` (one process) serves the desk's single badge; `render_many` the background job
(`run_job`, queued through `core.jobs`).
"""

from __future__ import annotations

import base64
import io
import logging
import math
import multiprocessing
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from functools import cache, lru_cache
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.db import utcnow
from core.errors import ServiceError

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Fonts with every Vietnamese glyph first. DejaVu Sans ships with nearly every Linux
# (fonts-dejavu-core); Noto Sans and Liberation Sans cover Vietnamese too.
FONT_STACK = '"DejaVu Sans", "Noto Sans", "Liberation Sans", Arial, sans-serif'
QR_MASK = 4  # fixed: skips qrcode's mask search (see the module docstring)
SCOPES = ("all", "delegates", "guests", "codes")
# Rejected or replaced people get no badge from the bulk runs; the desk can still print one.
NO_BADGE_STATUSES = ("rejected", "replaced")
KEEP_FILES = 3  # finished PDFs kept per event; older ones are deleted (personal data)
PHOTO_SCHEME = "badge-photo:"
PHOTO_NAME = re.compile(r"^[A-Za-z0-9_-]{8,80}\.jpg$")


@dataclass(frozen=True)
class Layout:
    name: str
    page_w: float  # mm
    page_h: float
    badge_w: float
    badge_h: float
    cols: int = 1
    rows: int = 1

    @property
    def per_page(self) -> int:
        return self.cols * self.rows

    @property
    def origin(self) -> tuple[float, float]:
        return ((self.page_w - self.cols * self.badge_w) / 2,
                (self.page_h - self.rows * self.badge_h) / 2)


LAYOUTS = {
    # Ten 90×54 mm badges on A4 (2 × 5), cut along the marks in the margins.
    "sheet": Layout("sheet", 210, 297, 90, 54, cols=2, rows=5),
    # One badge per page, the size of a CR80 card for card printers.
    "card": Layout("card", 85.6, 54, 85.6, 54),
}


@dataclass(frozen=True)
class BadgeData:
    """What one badge shows; plain values so it can cross to a worker process."""

    code: str
    full_name: str
    kind: str
    secret: str
    unit_name: str = ""
    group: str = ""
    photo_path: str | None = None


@dataclass
class RenderStats:
    badges: int = 0
    pages: int = 0
    chunks: int = 0
    workers: int = 1
    bytes: int = 0
    wall: float = 0.0
    qr: float = 0.0  # CPU seconds making QR codes, summed over processes
    layout: float = 0.0  # CPU seconds in WeasyPrint, summed over processes
    merge: float = 0.0
    chunk_sizes: list[int] = field(default_factory=list)


# ---------------------------------------------------------------- QR code

def qr_png(secret: str) -> bytes:
    """The QR code of `secret`, one pixel per module with a one-module border."""
    import qrcode
    from PIL import Image
    from qrcode.constants import ERROR_CORRECT_M

    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=1, border=1,
                       mask_pattern=QR_MASK)
    qr.add_data(secret)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    n = len(matrix)
    img = Image.new("1", (n, n))
    img.putdata([0 if dark else 1 for row in matrix for dark in row])
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _data_uri(mime: str, raw: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


# ---------------------------------------------------------------- layout (per process caches)

INSET = 1.5  # mm of white between the cut line and the badge's coloured parts


def stylesheet_text(layout: Layout) -> str:
    inner_w, inner_h = layout.badge_w - 2 * INSET, layout.badge_h - 2 * INSET
    return f"""
@page {{ size: {layout.page_w}mm {layout.page_h}mm; margin: 0 }}
html, body {{ margin: 0; padding: 0 }}
body {{ font-family: {FONT_STACK}; color: #1c2330; font-size: 7pt; line-height: 1.2 }}
.page {{ position: relative; width: {layout.page_w}mm; height: {layout.page_h}mm;
  overflow: hidden; break-after: page }}
.page:last-child {{ break-after: auto }}
.mark {{ position: absolute; display: block; background: #000 }}
.badge {{ position: absolute; width: {inner_w}mm; height: {inner_h}mm; box-sizing: border-box;
  border: 0.2mm solid #c9d1db; border-radius: 2.5mm; overflow: hidden; background: #fff }}
.top {{ position: absolute; left: 0; top: 0; width: {inner_w}mm; height: 8.5mm;
  box-sizing: border-box; padding: 1.5mm 2mm 0; background: #c8102e; color: #fff;
  font-weight: bold; font-size: 6pt; line-height: 2.7mm; text-transform: uppercase;
  text-align: center; overflow: hidden }}
.photo {{ position: absolute; left: 2.5mm; top: 10.5mm; width: 21mm; height: 28mm;
  object-fit: cover; border-radius: 1mm }}
.qr {{ position: absolute; right: 2.5mm; top: 10.5mm; width: 24mm; height: 24mm;
  image-rendering: pixelated }}
.text {{ position: absolute; left: 26mm; top: 10.5mm; width: {inner_w - 26 - 29}mm;
  height: 31mm; overflow: hidden }}
.no-photo .text {{ left: 3mm; width: {inner_w - 3 - 29}mm }}
.name {{ font-size: 10pt; font-weight: bold; line-height: 1.15; color: #083f91 }}
.name.long {{ font-size: 8.5pt }}
.unit {{ margin-top: 1.2mm; max-height: 8.4mm; overflow: hidden }}
.meta {{ margin-top: 1.2mm; font-weight: bold }}
.bottom {{ position: absolute; left: 0; bottom: 0; width: {inner_w}mm; height: 7.5mm;
  background: #0b5ed7; color: #fff; font-weight: bold; font-size: 11pt; line-height: 7.5mm;
  letter-spacing: 0.6mm; text-align: center }}
.guest .bottom {{ background: #1e7b34 }}
""" + placement_css(layout)


def cut_marks(layout: Layout) -> list[str]:
    """Rules placing the short lines in the margins along which a sheet is cut."""
    if layout.per_page == 1:
        return []
    ox, oy = layout.origin
    length, gap, w = 5.0, 2.0, 0.2
    marks = []
    for c in range(layout.cols + 1):
        x = ox + c * layout.badge_w - w / 2
        for y in (oy - gap - length, oy + layout.rows * layout.badge_h + gap):
            marks.append(f"left:{x:.2f}mm;top:{y:.2f}mm;width:{w}mm;height:{length}mm")
    for r in range(layout.rows + 1):
        y = oy + r * layout.badge_h - w / 2
        for x in (ox - gap - length, ox + layout.cols * layout.badge_w + gap):
            marks.append(f"left:{x:.2f}mm;top:{y:.2f}mm;width:{length}mm;height:{w}mm")
    return marks


def cells(layout: Layout) -> list[str]:
    """Rules placing each badge of a page (classes, not inline styles: parsed once)."""
    ox, oy = layout.origin
    return [f"left:{ox + (i % layout.cols) * layout.badge_w + INSET:.2f}mm;"
            f"top:{oy + (i // layout.cols) * layout.badge_h + INSET:.2f}mm"
            for i in range(layout.per_page)]


def placement_css(layout: Layout) -> str:
    return "\n".join([f".c{i} {{ {rule} }}" for i, rule in enumerate(cells(layout))]
                     + [f".m{i} {{ {rule} }}" for i, rule in enumerate(cut_marks(layout))])


@lru_cache(maxsize=1)
def _jinja():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)


@lru_cache(maxsize=1)
def _fonts():
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


@cache
def _stylesheet(layout_name: str):
    from weasyprint import CSS

    return CSS(string=stylesheet_text(LAYOUTS[layout_name]), font_config=_fonts())


def _fetcher(photos: dict[str, str]):
    """Fetches data: URIs and the photos named `badge-photo:<n>` in this document; nothing
    else. Photos stay out of the HTML: parsing megabytes of base64 costs more than layout."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class BadgeFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith(PHOTO_SCHEME):
                path = photos.get(url)
                if path is None:
                    raise ValueError(f"unknown photo {url}")
                return URLFetcherResponse(url, Path(path).read_bytes(),
                                          {"Content-Type": "image/jpeg"})
            return super().fetch(url, headers)

    return BadgeFetcher(allowed_protocols=("data",))


def badge_html(badges: Sequence[BadgeData], layout: str, event_name: str,
               timings: dict | None = None) -> tuple[str, dict[str, str]]:
    """The HTML of a run of badges (QR codes inlined) and the photos it names."""
    lay = LAYOUTS[layout]
    t0 = time.process_time()
    shown, photos = [], {}
    for i, b in enumerate(badges):
        photo = None
        if b.photo_path and os.path.isfile(b.photo_path):
            photo = f"{PHOTO_SCHEME}{i}"
            photos[photo] = b.photo_path
        shown.append({"code": b.code, "full_name": b.full_name, "kind": b.kind,
                      "unit_name": b.unit_name, "group": b.group, "photo": photo,
                      "qr": _data_uri("image/png", qr_png(b.secret))})
    if timings is not None:
        timings["qr"] = timings.get("qr", 0.0) + time.process_time() - t0
    pages = [shown[i:i + lay.per_page] for i in range(0, len(shown), lay.per_page)]
    html = _jinja().get_template("delegates/badge_print.html").render(
        pages=pages, event_name=event_name, marks=range(len(cut_marks(lay))))
    return html, photos


def render_pdf(badges: Sequence[BadgeData], layout: str, event_name: str,
               timings: dict | None = None) -> bytes:
    """One PDF in this process: the desk's single badge, or one chunk of a big run."""
    from weasyprint import HTML

    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}")
    if not badges:
        raise ValueError("no badge to render")
    html, photos = badge_html(badges, layout, event_name, timings)
    t0 = time.process_time()
    pdf = HTML(string=html, url_fetcher=_fetcher(photos)).write_pdf(
        stylesheets=[_stylesheet(layout)], font_config=_fonts())
    if timings is not None:
        timings["layout"] = timings.get("layout", 0.0) + time.process_time() - t0
    return pdf


def _render_chunk(badges: list[BadgeData], layout: str, event_name: str
                  ) -> tuple[bytes, float, float]:
    timings: dict = {}
    pdf = render_pdf(badges, layout, event_name, timings)
    return pdf, timings.get("qr", 0.0), timings.get("layout", 0.0)


def _warm_up() -> None:
    """Pool initializer: load fonts and styles before the first chunk arrives."""
    for name in LAYOUTS:
        _stylesheet(name)
    render_pdf([BadgeData("-", "Việt Nam", "delegate", "-")], "card", "-")


# ---------------------------------------------------------------- many badges

def _pool_context():
    """Processes forked from a clean server that has WeasyPrint loaded (Linux, macOS);
    spawn elsewhere. Never a plain fork of a threaded web server."""
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        # The server imports these once; every worker forks with them loaded.
        ctx.set_forkserver_preload(["plugins.delegates.badges", "weasyprint", "qrcode",
                                    "PIL.Image", "jinja2"])
        return ctx
    return multiprocessing.get_context("spawn")


def default_workers() -> int:
    """The cores this process may run on (a container's share, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


CHUNK_MIN, CHUNK_MAX = 20, 200  # badges per chunk


def plan_chunks(total: int, per_page: int, workers: int) -> list[int]:
    """Chunk sizes: about four chunks per worker (even load, frequent progress), 20–200
    badges each, in whole pages (a sheet never ends half-full in the middle of the file)."""
    if total <= 0:
        return []
    size = max(CHUNK_MIN, min(CHUNK_MAX, math.ceil(total / (workers * 4))))
    size = math.ceil(size / per_page) * per_page
    sizes = [size] * (total // size)
    if total % size:
        sizes.append(total % size)
    return sizes


class _Merger:
    """Appends chunk PDFs in order as soon as they and all before them are there, so most of
    the merging happens while the workers are still rendering."""

    def __init__(self, count: int) -> None:
        from pypdf import PdfWriter

        self.parts: list[bytes | None] = [None] * count
        self.next = 0
        self.writer = PdfWriter()
        self.seconds = 0.0

    def add(self, i: int, pdf: bytes) -> None:
        from pypdf import PdfReader

        self.parts[i] = pdf
        t0 = time.perf_counter()
        while self.next < len(self.parts) and self.parts[self.next] is not None:
            self.writer.append(PdfReader(io.BytesIO(self.parts[self.next])))
            self.parts[self.next] = b""  # merged: let it go
            self.next += 1
        self.seconds += time.perf_counter() - t0

    def write(self, target) -> int:
        t0 = time.perf_counter()
        self.writer.write(target)
        self.seconds += time.perf_counter() - t0
        return len(self.writer.pages)


def render_many(badges: Sequence[BadgeData], layout: str, event_name: str, out: Path | None = None,
                *, workers: int | None = None,
                progress: Callable[[int, int], None] | None = None
                ) -> tuple[bytes | None, RenderStats]:
    """Render every badge; with `out`, write the PDF there (atomically) and return None.

    Small runs render in this process; bigger ones in a process pool. `progress(done, total)`
    is called in this thread after each chunk, in order of completion.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}")
    t_start = time.perf_counter()
    lay = LAYOUTS[layout]
    total = len(badges)
    workers = max(1, workers or default_workers())
    stats = RenderStats(badges=total)
    sizes = plan_chunks(total, lay.per_page, workers)
    if not sizes:
        raise ValueError("no badge to render")
    stats.chunk_sizes = sizes
    stats.chunks = len(sizes)
    chunks, start = [], 0
    for size in sizes:
        chunks.append(list(badges[start:start + size]))
        start += size
    merger = _Merger(len(chunks))
    done = 0

    def finished(i: int, result: tuple[bytes, float, float]) -> None:
        nonlocal done
        pdf, qr_s, layout_s = result
        stats.qr += qr_s
        stats.layout += layout_s
        merger.add(i, pdf)
        done += len(chunks[i])
        if progress:
            progress(done, total)

    if len(chunks) == 1 or workers == 1:
        stats.workers = 1
        for i, chunk in enumerate(chunks):
            finished(i, _render_chunk(chunk, layout, event_name))
    else:
        stats.workers = min(workers, len(chunks))
        with ProcessPoolExecutor(max_workers=stats.workers, mp_context=_pool_context(),
                                 initializer=_warm_up) as pool:
            pending = {pool.submit(_render_chunk, chunk, layout, event_name): i
                       for i, chunk in enumerate(chunks)}
            try:
                while pending:
                    ready, _rest = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in ready:
                        finished(pending.pop(fut), fut.result())
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise
    pdf = None
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
        try:
            with open(tmp, "wb") as fh:
                stats.pages = merger.write(fh)
            stats.bytes = tmp.stat().st_size
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
    else:
        buf = io.BytesIO()
        stats.pages = merger.write(buf)
        pdf = buf.getvalue()
        stats.bytes = len(pdf)
    stats.merge = merger.seconds
    stats.wall = time.perf_counter() - t_start
    return pdf, stats


# ---------------------------------------------------------------- from the database

def photo_dir(instance_path: str | Path, event_id: int) -> Path:
    return Path(instance_path) / "photos" / str(event_id)


def photo_path(instance_path: str | Path, event_id: int, name: str | None) -> Path | None:
    """The file of a stored photo name, or None (also for a name that is not ours)."""
    if not name or not PHOTO_NAME.match(name):
        return None
    return photo_dir(instance_path, event_id) / name


def badge_data(d, instance_path: str | Path) -> BadgeData:
    path = photo_path(instance_path, d.event_id, d.photo)
    return BadgeData(code=d.code, full_name=d.full_name, kind=d.kind, secret=d.checkin_secret,
                     unit_name=d.unit_name or "", group=d.group or "",
                     photo_path=str(path) if path is not None and path.is_file() else None)


def parse_codes(text: str) -> list[str]:
    """Codes typed or pasted: separated by commas, semicolons, spaces or lines."""
    seen, out = set(), []
    for code in re.split(r"[\s,;]+", (text or "").upper()):
        if code and code not in seen:
            seen.add(code)
            out.append(code)
    return out


def select_delegates(db: Session, event, scope: str, codes: Iterable[str] = ()) -> list:
    """The people of `event` a run prints, in print order.

    `all`, `delegates` and `guests` leave out rejected and replaced people, delegates before
    guests, by code. `codes` keeps the order given and refuses unknown codes or people who get
    no badge (ServiceError naming them).
    """
    from flask_babel import gettext as _

    from plugins.delegates.models import Delegate

    if scope not in SCOPES:
        raise ServiceError(_("unknown choice of people"))
    stmt = select(Delegate).where(Delegate.event_id == event.id)
    if scope == "codes":
        wanted = [c for c in codes if c]
        if not wanted:
            raise ServiceError(_("write at least one delegate code"))
        if len(wanted) > 5000:
            raise ServiceError(_("too many codes at once"))
        found = {d.code: d for d in db.scalars(stmt.where(Delegate.code.in_(wanted)))}
        unknown = [c for c in wanted if c not in found]
        if unknown:
            raise ServiceError(_("unknown codes: %(codes)s", codes=", ".join(unknown[:20])))
        refused = [c for c in wanted if found[c].status in NO_BADGE_STATUSES]
        if refused:
            raise ServiceError(_("no badge for rejected or replaced people: %(codes)s",
                                 codes=", ".join(refused[:20])))
        return [found[c] for c in wanted]
    stmt = stmt.where(Delegate.status.not_in(NO_BADGE_STATUSES))
    if scope == "delegates":
        stmt = stmt.where(Delegate.kind == "delegate")
    elif scope == "guests":
        stmt = stmt.where(Delegate.kind == "guest")
    return sorted(db.scalars(stmt), key=lambda d: (d.kind != "delegate", d.code))


def one_badge_pdf(d, event, instance_path: str | Path, layout: str = "card") -> bytes:
    """The desk's badge: rendered here and now, no job."""
    return render_pdf([badge_data(d, instance_path)], layout, event.name)


# ---------------------------------------------------------------- the background job

def output_dir(instance_path: str | Path, event_id: int) -> Path:
    return Path(instance_path) / "badges" / str(event_id)


def job_file(instance_path: str | Path, job) -> Path | None:
    if not job.file or not re.fullmatch(r"[A-Za-z0-9_-]+\.pdf", job.file):
        return None
    path = output_dir(instance_path, job.event_id) / job.file
    return path if path.is_file() else None


def job_json(job) -> dict:
    return {"id": job.id, "status": job.status, "layout": job.layout, "total": job.total,
            "done": job.done, "error": job.error}


def _announce(job, *, final: bool) -> None:
    from core.realtime import publish

    try:
        # Progress is coalesced per job; the final state goes at once so nothing trails it.
        publish(job.event_id, "delegates:badge_job", job_json(job), audience="staff",
                key=None if final else f"badge_job:{job.id}")
    except Exception:  # noqa: BLE001 - the page polls too; a lost emit only slows it down
        logger.exception("could not announce badge job %s", job.id)


def create_job(db: Session, event, *, scope: str, codes: Sequence[str], layout: str,
               actor) -> tuple:
    """Check the choice, record a queued job and audit it. Returns (job, codes to print)."""
    from flask_babel import gettext as _

    from core import audit
    from plugins.delegates.models import BadgeJob

    if layout not in LAYOUTS:
        raise ServiceError(_("unknown layout"))
    people = select_delegates(db, event, scope, codes)
    if not people:
        raise ServiceError(_("nobody to print"))
    job = BadgeJob(event_id=event.id, status="queued", layout=layout, total=len(people), done=0,
                   created_by_id=actor.id if actor else None)
    db.add(job)
    db.flush()
    audit.record("delegates.badges_print", actor=actor, event=event,
                 detail={"job": job.id, "scope": scope, "layout": layout, "count": len(people),
                         "codes": list(codes)[:50] if scope == "codes" else None})
    return job, [d.code for d in people]


def start_job(app, job, codes: Sequence[str]) -> None:
    """Queue the rendering (RQ with Redis, else a thread of this process)."""
    from core import jobs

    jobs.enqueue(app, "plugins.delegates.badges:run_job", job.id, list(codes),
                 key=job_key(job.id), timeout=3600)


def job_key(job_id: int) -> str:
    return f"badges-{job_id}"


def run_job(job_id: int, codes: list[str]) -> dict | None:
    """The job itself (in a worker or a thread, inside an app context from `core.jobs`).
    Returns the figures of the run (RenderStats as a dict), None when it did not run."""
    from flask import current_app

    from core.db import session
    from core.models import Event
    from plugins.delegates.models import BadgeJob, Delegate

    db = session()
    claimed = db.execute(update(BadgeJob).where(BadgeJob.id == job_id,
                                                BadgeJob.status == "queued")
                         .values(status="running")).rowcount
    db.commit()
    if not claimed:
        logger.warning("badge job %s is not waiting; not run", job_id)
        return None
    job = db.get(BadgeJob, job_id)
    _announce(job, final=False)
    instance = current_app.instance_path
    try:
        event = db.get(Event, job.event_id)
        people = {d.code: d for d in db.scalars(select(Delegate).where(
            Delegate.event_id == event.id, Delegate.code.in_(codes)))}
        # Someone removed since the job was queued is left out, not an error.
        data = [badge_data(people[c], instance) for c in codes if c in people]
        if not data:
            from flask_babel import gettext as _

            raise ServiceError(_("nobody to print"))
        job.total, job.done = len(data), 0
        db.commit()

        def progress(done: int, total: int) -> None:
            db.execute(update(BadgeJob).where(BadgeJob.id == job_id,
                                              BadgeJob.status == "running")
                       .values(done=done, total=total))
            db.commit()
            job.done, job.total = done, total
            _announce(job, final=False)

        name = f"{secrets.token_urlsafe(16)}.pdf"
        out = output_dir(instance, event.id) / name
        workers = current_app.config.get("BADGE_WORKERS") or default_workers()
        _pdf, stats = render_many(data, job.layout, event.name, out, workers=int(workers),
                                  progress=progress)
        job = db.get(BadgeJob, job_id)
        db.refresh(job)
        if job.status != "running":  # marked failed meanwhile (thought lost): keep its word
            out.unlink(missing_ok=True)
            return None
        job.status, job.file, job.done, job.finished_at = "done", name, job.total, utcnow()
        db.commit()
        logger.info("badge job %s: %s badges, %s pages in %.1f s", job_id, stats.badges,
                    stats.pages, stats.wall)
        _announce(job, final=True)
        _prune_files(db, event.id, instance)
        return asdict(stats)
    except Exception as exc:
        db.rollback()
        logger.exception("badge job %s failed", job_id)
        fail_job(db, job_id, str(exc) or exc.__class__.__name__)
        raise


def fail_job(db: Session, job_id: int, error: str) -> bool:
    """Mark a job that has not finished as failed; False when it had finished already."""
    from plugins.delegates.models import BadgeJob

    changed = db.execute(update(BadgeJob).where(BadgeJob.id == job_id,
                                                BadgeJob.status.in_(("queued", "running")))
                         .values(status="failed", error=error[:1000],
                                 finished_at=utcnow())).rowcount
    db.commit()
    if changed:
        job = db.get(BadgeJob, job_id)
        db.refresh(job)
        _announce(job, final=True)
    return bool(changed)


def check_alive(db: Session, app, job) -> None:
    """A job still queued or running whose process is gone is marked failed, so the page
    never waits forever on a worker that died."""
    from flask_babel import gettext as _

    from core import jobs

    if job.status not in ("queued", "running"):
        return
    if jobs.is_lost(app, job_key(job.id)):
        fail_job(db, job.id, _("The job stopped unexpectedly (its process ended). "
                               "Start it again."))
        db.refresh(job)


def _prune_files(db: Session, event_id: int, instance: str) -> None:
    """Keep the newest KEEP_FILES finished PDFs of the event; delete older files."""
    from plugins.delegates.models import BadgeJob

    old = list(db.scalars(select(BadgeJob).where(BadgeJob.event_id == event_id,
                                                 BadgeJob.file.is_not(None))
                          .order_by(BadgeJob.id.desc()).offset(KEEP_FILES)))
    for job in old:
        path = job_file(instance, job)
        if path is not None:
            path.unlink(missing_ok=True)
        job.file = None
    if old:
        db.commit()
