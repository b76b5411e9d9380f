"""Benchmark: a whole congress's badges (the issue asks for 1,000 in at most 8 s on two cores).

Imports N generated delegates through the real roster import, gives a share of them photos
through the real photo upload, then renders every badge through the job the badges page
starts (`plugins.delegates.badges.run_job`, run here by `core.jobs.execute` exactly as the
in-process runner's thread does), and prints wall time, time per badge, the QR / layout split,
pages and PDF size. It also times the desk's single badge, and, with --naive, the naive loop
the issue measured (qrcode's default image and one WeasyPrint document per badge).

    python bench/badges.py                      # 1,000 delegates, sheet layout, all cores
    python bench/badges.py --layout card --photos 0.5 --workers 2 --naive
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def fake_photo(rnd: random.Random) -> bytes:
    """A 1200×1600 JPEG, as a phone or a scanner gives (the upload shrinks it to 600 px)."""
    from PIL import Image, ImageDraw

    # Noise over shapes: compresses like a real photo, not like a flat drawing.
    img = Image.merge("RGB", [Image.effect_noise((1200, 1600), 30 + 10 * i) for i in range(3)])
    img = Image.blend(img, Image.new("RGB", img.size, tuple(rnd.randrange(90, 220)
                                                             for _ in range(3))), 0.6)
    draw = ImageDraw.Draw(img)
    draw.ellipse((300, 250, 900, 950), fill=(230, 200, 170))
    draw.rectangle((150, 1000, 1050, 1600), fill=tuple(rnd.randrange(0, 120) for _ in range(3)))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def naive(badges, event_name: str) -> float:
    """The baseline of the issue: one document per badge, qrcode's default PNG."""
    import base64

    import qrcode
    from weasyprint import HTML

    from plugins.delegates.badges import FONT_STACK

    t = time.perf_counter()
    for b in badges:
        img = qrcode.make(b.secret)
        buf = io.BytesIO()
        img.save(buf)
        qr = base64.b64encode(buf.getvalue()).decode()
        HTML(string=f"""<html><body style="font-family:{FONT_STACK}">
            <div style="width:90mm;height:54mm;border:1px solid #999">
            <b>{b.full_name}</b><br>{b.unit_name}<br>{b.code} · {b.group}<br>{event_name}
            <img src="data:image/png;base64,{qr}" style="width:22mm"></div></body></html>"""
             ).write_pdf()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=1000, help="delegates (default 1000)")
    ap.add_argument("--layout", choices=("sheet", "card"), default="sheet")
    ap.add_argument("--photos", type=float, default=1.0,
                    help="share of delegates with a photo (default 1.0: all)")
    ap.add_argument("--workers", type=int, default=0, help="processes (default: all cores)")
    ap.add_argument("--seed", type=int, default=2027)
    ap.add_argument("--naive", type=int, nargs="?", const=-1, default=0, metavar="N",
                    help="also time the naive loop (on N badges, default all)")
    ap.add_argument("--runs", type=int, default=2,
                    help="jobs in a row (default 2: the first starts the process server "
                         "cold, as after a restart; later ones find it warm)")
    ap.add_argument("--keep", action="store_true", help="keep the PDF and print its path")
    args = ap.parse_args()

    from sqlalchemy import select

    from core import jobs
    from core.app import create_app
    from core.db import session
    from core.events import create_event
    from core.migrate import upgrade
    from core.models import Event
    from plugins.delegates import badges, photos
    from plugins.delegates.demo import generate_roster
    from plugins.delegates.models import BadgeJob, Delegate
    from plugins.delegates.roster_import import apply_roster, parse_roster
    from tenants.models import UnitLevel
    from tenants.services import create_unit, ensure_levels

    tmp = Path(tempfile.mkdtemp(prefix="daihoi-bench-"))
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}", "SECRET_KEY": "bench",
                      "BADGE_WORKERS": args.workers or None}, instance_path=tmp)
    rnd = random.Random(args.seed)
    with app.app_context():
        upgrade(app)
        ensure_levels(session(), app.config["UNIT_LEVELS"])
        db = session()
        top = db.scalar(select(UnitLevel).order_by(UnitLevel.rank))
        unit = create_unit(db, code="lao-cai", name="Tỉnh đoàn Lào Cai", level=top, parent=None)
        event = create_event(db, actor=None, unit=unit, slug="dai-hoi",
                             name="Đại hội đại biểu Đoàn TNCS Hồ Chí Minh tỉnh Lào Cai "
                                  "lần thứ XVI, nhiệm kỳ 2022 – 2027")
        db.commit()
        t = time.perf_counter()
        preview = parse_roster(generate_roster(args.n, seed=args.seed), "bench.csv")
        assert preview.ok, preview.problems[:3]
        apply_roster(db, event, preview, actor=None)
        db.commit()
        import_s = time.perf_counter() - t

        people = list(db.scalars(select(Delegate).where(Delegate.event_id == event.id)))
        with_photo = rnd.sample(people, round(len(people) * args.photos))
        originals = [fake_photo(rnd) for _ in range(min(20, len(with_photo)))]
        t = time.perf_counter()
        for i, d in enumerate(with_photo):
            photos.save_photo(db, event, d, originals[i % len(originals)],
                              instance_path=app.instance_path, actor=None)
        db.commit()
        photo_s = time.perf_counter() - t

        # The desk: one badge, rendered in this process (first call loads WeasyPrint).
        one = people[0]
        t = time.perf_counter()
        badges.one_badge_pdf(one, event, app.instance_path)
        one_cold = time.perf_counter() - t
        samples = []
        for d in people[1:21]:
            t = time.perf_counter()
            badges.one_badge_pdf(d, event, app.instance_path)
            samples.append(time.perf_counter() - t)
        one_warm = statistics.median(samples)

        # The whole congress, through the job.
        runs = []
        for _run in range(max(1, args.runs)):
            job, codes = badges.create_job(db, event, scope="all", codes=(),
                                           layout=args.layout, actor=None)
            db.commit()
            job_id = job.id
            t = time.perf_counter()
            result = jobs.execute(app, "plugins.delegates.badges:run_job",
                                  badges.job_key(job_id), [job_id, codes])
            runs.append((time.perf_counter() - t, result))
            db.expire_all()
            job = db.get(BadgeJob, job_id)
            assert job.status == "done" and job.done == job.total == len(people), job_json(job)
        pdf = badges.job_file(app.instance_path, job)
        naive_s = naive_n = None
        if args.naive:
            naive_n = len(people) if args.naive < 0 else min(args.naive, len(people))
            data = [badges.badge_data(d, app.instance_path) for d in people[:naive_n]]
            naive_s = naive(data, db.get(Event, event.id).name)
    app.extensions["daihoi_db"].engine.dispose()

    job_wall, result = min(runs, key=lambda r: r[0])
    n = result["badges"]
    print(f"DaiHoi badges benchmark · Python {platform.python_version()} · "
          f"{os.cpu_count()} CPU · {args.layout} layout · {len(with_photo)} of {n} with a photo")
    print(f"roster import ({args.n} rows, preview + write): {import_s:.2f} s")
    print(f"photo uploads (1200×1600 JPEG → 600 px): {photo_s:.2f} s, "
          f"{photo_s / max(1, len(with_photo)) * 1000:.1f} ms each")
    print(f"one badge at the desk: first {one_cold * 1000:.0f} ms (loads WeasyPrint), "
          f"then {one_warm * 1000:.0f} ms (median of 20)")
    print("all badges, each job end to end: "
          + ", ".join(f"{w:.2f} s" for w, _r in runs) + " (first: cold process server)")
    print(f"best of {len(runs)}: {n} badges in {job_wall:.2f} s wall "
          f"(render {result['wall']:.2f} s of it, merge {result['merge']:.2f} s), "
          f"{job_wall / n * 1000:.2f} ms per badge")
    print(f"  {result['workers']} processes, {result['chunks']} chunks of "
          f"{max(result['chunk_sizes'])} badges")
    print(f"  CPU per badge: QR {result['qr'] / n * 1000:.2f} ms, layout "
          f"{result['layout'] / n * 1000:.2f} ms (summed over the processes)")
    print(f"  {result['pages']} pages, {result['bytes'] / 2**20:.1f} MB "
          f"({result['bytes'] / n / 1024:.0f} KB per badge)")
    worst = max(w for w, _r in runs)
    print(f"  target 8 s for 1,000: {'met' if worst * 1000 / n <= 8 else 'MISSED'} "
          f"(slowest run {worst * 1000 / n:.1f} s per 1,000)")
    if naive_s is not None:
        print(f"naive loop on {naive_n} badges: {naive_s:.2f} s, "
              f"{naive_s / naive_n * 1000:.1f} ms per badge "
              f"({naive_s / naive_n * 1000:.1f} s per 1,000)")
    if args.keep:
        print(f"PDF: {pdf}")
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def job_json(job):
    from plugins.delegates.badges import job_json as as_json

    return as_json(job)


if __name__ == "__main__":
    main()
