"""Benchmark: the org tree at national scale (about 50,000 units in five levels).

Builds a tree through the real CSV import, then times the queries every request relies on:
all units under X (count and list), the ancestors of a unit, and "is X above Y".

    python bench/tree_queries.py                        # SQLite file in a temp folder
    python bench/tree_queries.py --db postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import io
import platform
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import select


def make_csv(provinces: int, districts: int, grassroots: int, chapters: int) -> tuple[bytes, int]:
    out = io.StringIO()
    out.write("code,name,level,parent_code\n")
    out.write("tw,Trung ương Đoàn,central,\n")
    n = 1
    for p in range(provinces):
        pc = f"p{p}"
        out.write(f"{pc},Tỉnh đoàn {p},province,tw\n")
        n += 1
        for d in range(districts):
            dc = f"{pc}-d{d}"
            out.write(f"{dc},Huyện đoàn {p}.{d},district,{pc}\n")
            n += 1
            for g in range(grassroots):
                gc = f"{dc}-g{g}"
                out.write(f"{gc},Đoàn cơ sở {p}.{d}.{g},grassroots,{dc}\n")
                n += 1
                for c in range(chapters):
                    out.write(f"{gc}-c{c},Chi đoàn {p}.{d}.{g}.{c},chapter,{gc}\n")
                    n += 1
    return out.getvalue().encode(), n


def timed(fn, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", help="PostgreSQL URL of a server to make a scratch database on")
    ap.add_argument("--repeat", type=int, default=300)
    args = ap.parse_args()

    from core.app import create_app
    from core.db import session
    from core.migrate import upgrade
    from tenants.models import Unit
    from tenants.services import (
        ancestors,
        count_descendants,
        descendants,
        ensure_levels,
        import_units,
        is_above,
    )

    tmp = Path(tempfile.mkdtemp())
    scratch = None
    if args.db:
        import psycopg

        scratch = f"bench_{uuid.uuid4().hex[:8]}"
        admin = args.db.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{scratch}"')
        url = admin.rsplit("/", 1)[0] + "/" + scratch
    else:
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"}, instance_path=tmp)
    raw, n = make_csv(34, 20, 10, 6)
    with app.app_context():
        upgrade(app)
        ensure_levels(session(), app.config["UNIT_LEVELS"])
        session().commit()
        t = time.perf_counter()
        report = import_units(session(), raw)
        session().commit()
        import_s = time.perf_counter() - t
        assert report.ok and report.created == n, report.problems[:3]
        units = list(session().scalars(select(Unit)))
        by_level: dict[int, list] = {}
        for u in units:
            by_level.setdefault(u.depth, []).append(u)
        rnd = random.Random(7)
        tw = by_level[0][0]
        results = {
            "count all under the root": timed(lambda: count_descendants(session(), tw),
                                              args.repeat // 10),
            "count all under a province": timed(
                lambda: count_descendants(session(), rnd.choice(by_level[1])), args.repeat),
            "list all under a district": timed(
                lambda: descendants(session(), rnd.choice(by_level[2])), args.repeat),
            "ancestors of a chapter": timed(
                lambda: ancestors(session(), rnd.choice(by_level[4])), args.repeat),
            "is X above Y (loaded units)": timed(
                lambda: is_above(rnd.choice(by_level[1]), rnd.choice(by_level[4])),
                args.repeat),
        }
    app.extensions["daihoi_db"].engine.dispose()
    if scratch:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE "{scratch}" WITH (FORCE)')
    backend = "PostgreSQL" if args.db else "SQLite"
    print(f"{backend}, {n} units, Python {platform.python_version()}")
    print(f"import of the whole tree from CSV: {import_s:.1f} s")
    print(f"{'query':34} {'p50 ms':>8} {'p99 ms':>8}")
    for name, (p50, p99) in results.items():
        print(f"{name:34} {p50:8.3f} {p99:8.3f}")


if __name__ == "__main__":
    main()
