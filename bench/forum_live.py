"""Benchmark: documents and the live forum on a congress's phones (issue 6).

What it measures, on the embedded default (SQLite) and on PostgreSQL, with the app served as
`daihoi run` serves it (one process; `--async-mode gevent` for a hall):

(a) comment fan-out: R readers (default 500, then 1,000: `--readers 500,1000`) are phones
    showing the draft political report with its comments, each a real websocket with its own
    delegate's session cookie, joined to the event and watching the document's topic
    (`join`, then `forum:watch`) exactly as plugins/forum/static/forum.js does; W writers
    (default 20, delegates too) post C comments (default 100) through the real form
    (`POST /<unit>/<event>/forum/t/<topic>/comments`, CSRF token from the page's
    `<meta name="csrf-token">`: CSRF stays on), spread evenly over `--spread` s (default 10),
    each writer's browser then reloading the document page the redirect names (as after a
    real post; `--no-follow` skips it). Every reader behaves like forum.js as of commit
    cade8e2: each `forum:activity` of its topic brings the new comments rendered once for
    everyone (`html`, newer than `after`); the reader adds those it lacks, or, when it has
    less than `after`, fetches `GET …/forum/t/<topic>/comments?after=<the highest comment id
    it has>` (one fetch at a time, again at once if asked meanwhile). (Before cade8e2 every
    reader fetched on every update; the figures of that design in docs/benchmarks.md were
    measured by this script as it was then.) Measured, for every comment x reader: from the
    writer having its POST's answer (the redirect naming the comment) to the reader having
    that comment (p50/p95/p99/max); the comments a reader never got from the live updates,
    and after one final catch-up fetch per reader (must be 0); the `forum:activity` events
    each reader received, against C (what the 0.2 s coalescing of `core.realtime.Publisher`
    saves), and the HTML pushed to each; the fragment requests served per second (readers'
    count; the server's own time per request by endpoint, `/_bench/stats`); the POST's
    latency as the writer sees it; the server process's CPU and RSS.
(b) document reads: P phones (default 300) each open the document page and then its PDF
    (`GET …/documents/<id>` then `GET …/documents/<id>/v1/file`, each phone with a new
    connection and its own cookie), all starting at the same instant: once for the demo's
    draft political report (`plugins.documents.demo.political_report_pdf()`, its page
    showing the comments of (a)) and once for a ~5 MB PDF made here (scanned-looking pages,
    `--big-mb`). Requests/s, MB/s, p50/p99 of each request and of a phone's whole read.
(c) search: 20,000 more comments (`--search-comments`) inserted straight into the table,
    `body_folded` from `core.text.fold` as `post_comment` makes it, spread over the document's
    topic and 30 board topics; then p50/p99 of `plugins.forum.services.search` (in the
    driver's process, a delegate's roles) for 1-3 word queries with and without diacritics,
    and of the page `GET …/forum/search?q=` through the server.

The world comes from bench/checkin_server.py (`Bench`: a fresh SQLite file or scratch
PostgreSQL database, delegates from the real roster import, a session cookie per delegate's
account signed with the app's key); the documents and forum modules are turned on, the two
documents made by `create_document` and commenting opened by `set_commenting`. The server is
the instrumented `daihoi run` of bench/checkin_server.py, with BENCH_HTTP_TIMING=1 (time per
HTTP request by endpoint; `hub lag`: how late the server's event loop wakes a task asleep for
50 ms, which is also how late the realtime flush and the Socket.IO pings run; the Engine.IO
connections the server closes, by reason). Readers and phones live in `--procs` client
processes (python-socketio AsyncClient + aiohttp, one HTTP session per phone); writers in the
driver. A reader keeps its websocket as a browser does (dropped only after 40 s without a
server ping; python-engineio's own client drops after 25 s without sending anything, which
for a reader that only answers pings means a ping 5 s late: see `Reader.open`); a dropped
reader is counted and not reconnected within the step. Latencies use the machine's monotonic
clock, common to all processes.

(d) first, before the server starts: one request alone, in-process (Flask's test client, CSRF
    off): CPU time and SQL statements of the fragment, the POST, the document page with 0, 100
    and 1,000 comments, the files (the comments it adds are deleted afterwards).

`--quiet 0.6` waits before each measured part until the 1-minute load average is below 0.6 (up
to 40 minutes) and every part prints the load average it started at; the commit measured is
printed at the start and checked at the end (a run during which the app's files changed says
so). `--profile` samples the server with py-spy during each fan-out step (disturbs the figures).

    .venv/bin/python bench/forum_live.py --quiet 0.6 --readers 100,250,500,1000      # SQLite
    .venv/bin/python bench/forum_live.py --quiet 0.6 --readers 100,250,500,1000 \\
        --db postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/forum_live.py --readers 50 --comments 20 --phones 30 \\
        --search-comments 2000                                          # a small try first
    .venv/bin/python bench/forum_live.py --parts a --readers 1000 --profile --quiet 0.6
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import os
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from checkin_server import (  # noqa: E402
    EVENT_REF,
    ROOT,
    SECRET_KEY,
    Bench,
    Profiler,
    _version,
    machine,
    publish_political_report,
    summary,
)
from voting_burst import Clients, _cpu_s, rss_mb  # noqa: E402

logging.getLogger("socketio.client").setLevel(logging.CRITICAL)
logging.getLogger("engineio.client").setLevel(logging.CRITICAL)
logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # a dropped reader's leftovers

BASE = "/" + EVENT_REF
# Phrases the comments are made of (Vietnamese, as delegates write them).
PHRASES = [
    "đề nghị bổ sung số liệu cụ thể", "công trình thanh niên", "các xã vùng cao",
    "cơ sở Đoàn", "đoàn viên thanh niên", "chuyển đổi số", "nâng cao chất lượng",
    "sinh hoạt chi đoàn", "công tác giáo dục chính trị", "phong trào tình nguyện",
    "tuổi trẻ sáng tạo", "khởi nghiệp", "thanh niên dân tộc thiểu số", "du lịch cộng đồng",
    "cần nêu rõ nguyên nhân chủ quan", "thẩm tra chất lượng đoàn viên", "còn hình thức",
    "đề xuất sửa lại câu chữ", "bố cục rõ ràng", "theo từng huyện", "đồng tình với dự thảo",
    "giới thiệu đoàn viên ưu tú", "kết nạp Đảng", "nguồn lực còn khó khăn", "vùng sâu vùng xa",
    "mục tiêu tổng quát", "giải pháp đột phá", "nhiệm kỳ tới", "phương hướng nhiệm vụ",
    "ứng dụng nền tảng số", "quản lý đoàn viên", "học tập lý luận chính trị",
    "bảo vệ môi trường", "an sinh xã hội", "hỗ trợ thanh niên lập nghiệp", "kỹ năng mềm",
    "đội ngũ cán bộ Đoàn", "chế độ chính sách", "lấy ý kiến rộng rãi", "tăng cường kiểm tra",
    "giám sát", "phát huy vai trò xung kích", "Lào Cai", "Bát Xát", "Bắc Hà", "Sa Pa",
    "trường học", "doanh nghiệp", "thanh thiếu nhi", "đội thiếu niên tiền phong",
]
RARE = "hợp tác xã Si Ma Cai"  # in about one comment in a thousand
QUERIES = [
    ("thanh niên", "common, with diacritics"),
    ("thanh nien", "common, without"),
    ("Đoàn", "1 word, with"),
    ("doan", "1 word, without"),
    ("chuyển đổi số", "3 words, with"),
    ("chuyen doi so", "3 words, without"),
    ("khởi nghiệp Sa Pa", "3 words, rarer together"),
    ("si ma cai", "rare (~0.1%)"),
    ("quốc phòng", "no match"),
]


def words_body(rnd: random.Random, n_phrases: tuple[int, int] = (3, 9)) -> str:
    parts = rnd.sample(PHRASES, rnd.randint(*n_phrases))
    text = ", ".join(parts)
    return text[0].upper() + text[1:] + "."


# ---------------------------------------------------------------- the world

def big_pdf(target_mb: float, seed: int = 6) -> bytes:
    """A PDF of scanned-looking pages (noisy grey JPEGs) of about `target_mb` MB."""
    from PIL import Image, ImageDraw

    rnd = random.Random(seed)
    pages: list = []
    size = 0
    while size < target_mb * 2**20 * 0.9 and len(pages) < 200:
        noise = Image.frombytes("L", (620, 877), rnd.randbytes(620 * 877))
        img = noise.resize((1240, 1754)).point(lambda v: 200 + v // 5)
        draw = ImageDraw.Draw(img)
        for y in range(150, 1650, 40):
            draw.rectangle((120, y, 120 + rnd.randint(600, 1000), y + 14), fill=40)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=70)
        size += buf.tell()
        pages.append(img)
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=150)
    return out.getvalue()


class ForumBench(Bench):
    """The check-in benchmarks' hall, with the documents and forum modules on: the draft
    political report open for comments, a large PDF, a cookie per delegate."""

    def __init__(self, *, big_mb: float, **kw) -> None:
        self.big_mb = big_mb
        super().__init__(lists=1, stations=0, **kw)

    def build(self) -> None:
        super().build()
        t = time.perf_counter()
        from datetime import timedelta

        from sqlalchemy import select

        from core.app import create_app
        from core.db import session, utcnow
        from core.models import Event
        from core.modules import enable_module
        from plugins.delegates.models import Delegate
        from plugins.documents.services import create_document
        from plugins.forum.services import set_commenting

        app = create_app({"DATABASE_URL": self.db_url, "SECRET_KEY": SECRET_KEY},
                         instance_path=self.tmp / "instance")
        with app.app_context():
            # Nobody listens in this process: the after-commit broadcasts go nowhere.
            app.extensions["daihoi_publisher"].publish = lambda *a, **k: None
            db = session()
            event = db.get(Event, self.event_id)
            for name in ("documents", "forum"):
                enable_module(db, event, name, actor=None)
            published = utcnow() - timedelta(minutes=5)
            report, self.report_pdf = publish_political_report(db, event, published)
            self.big = big_pdf(self.big_mb)
            big = create_document(
                db, event, actor=None, title="Báo cáo kiểm điểm (bản scan)",
                category="review_report", visibility="delegates",
                filename="Bao cao kiem diem.pdf", raw=self.big, publish_at=published)
            topic = set_commenting(db, event, report, True, actor=None)
            db.commit()
            self.report_id, self.big_id, self.topic_id = report.id, big.id, topic.id
            self.report_pages = report.current.pages
            self.big_pages = big.current.pages
            self.sections = report.section_list
            delegates = list(db.scalars(select(Delegate).where(
                Delegate.event_id == event.id, Delegate.kind == "delegate")
                .order_by(Delegate.id)))
            self.sign_delegate_cookies(app, db, delegates)
        app.extensions["daihoi_db"].engine.dispose()
        self.build_seconds += time.perf_counter() - t

    def engine(self):
        from sqlalchemy import create_engine

        url = self.db_url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return create_engine(url)

    def topic_comment_ids(self) -> list[int]:
        from sqlalchemy import text

        engine = self.engine()
        with engine.connect() as c:
            ids = [i for (i,) in c.execute(text(
                "SELECT id FROM forum_comments WHERE topic_id = :t ORDER BY id"),
                {"t": self.topic_id})]
        engine.dispose()
        return ids


def cpu_split(pid: int) -> tuple[float, float]:
    """A process's user and system CPU seconds so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / tick, int(fields[12]) / tick
    except (OSError, IndexError, ValueError):
        return float("nan"), float("nan")


def code_state() -> str:
    """The commit measured, and whether the app's files differ from it (the benchmark's own
    files aside): a run is only worth its figures if the code did not move under it."""
    import subprocess

    def git(*cmd: str) -> str:
        try:
            return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    dirty = [line[3:] for line in git("status", "--porcelain").splitlines()
             if line[3:].startswith(("core/", "plugins/", "tenants/", "templates/"))]
    return git("rev-parse", "--short", "HEAD") + (f" + changes in {', '.join(dirty[:5])}"
                                                  if dirty else "")


# ---------------------------------------------------------------- quiet machine

def wait_quiet(threshold: float, what: str, max_minutes: float = 40) -> float:
    """Wait (polling every 30 s) until the 1-minute load average is below `threshold`;
    returns the load average when the part starts."""
    if threshold <= 0:
        return os.getloadavg()[0]
    end = time.monotonic() + max_minutes * 60
    load = os.getloadavg()[0]
    while load >= threshold and time.monotonic() < end:
        print(f"   (waiting for a quiet machine before {what}: load average {load:.2f})",
              flush=True)
        time.sleep(30)
        load = os.getloadavg()[0]
    if load >= threshold:
        print(f"   (NOT QUIET after {max_minutes:.0f} minutes: load average {load:.2f}; "
              f"measuring anyway)", flush=True)
    return load


async def await_quiet(threshold: float, what: str) -> float:
    # Blocking on purpose: nothing of the driver's runs meanwhile (the phones live in their
    # own processes), and Ctrl+C stops it at once.
    return wait_quiet(threshold, what)


# ---------------------------------------------------------------- a client process

COMMENT_ID = re.compile(r'data-comment="(\d+)"')
LANG = "vi"  # the pages' language (DAIHOI_LOCALE=vi)


class Reader:
    """One phone showing the document with its comments: forum.js, in Python."""

    def __init__(self, g: int, cookie: str, url: str) -> None:
        self.g, self.cookie, self.url = g, cookie, url
        self.sio = None
        self.http = None
        self.topic = 0
        self.fresh_url = ""
        self.last = 0
        self.have: dict[int, float] = {}
        self.fetching = False
        self.again = False
        self.activities: list[float] = []
        self.fetches: list[tuple] = []  # (start, end, status, comments, bytes)
        self.errors: list[str] = []
        self.disconnects: list[tuple[float, str]] = []
        self.pushed_bytes = 0
        self.gap_fetches = 0

    async def open(self, topic: int, after: int) -> None:
        """Connect as the document page does once loaded with comments up to `after`."""
        import aiohttp
        import socketio
        from yarl import URL

        self.topic, self.last = topic, after
        self.fresh_url = f"{self.url}{BASE}/forum/t/{topic}/comments"
        name, _sep, value = self.cookie.partition("=")
        jar = aiohttp.CookieJar(unsafe=True)
        jar.update_cookies({name: value}, URL(self.url))
        self.http = aiohttp.ClientSession(
            cookie_jar=jar, connector=aiohttp.TCPConnector(limit=2, keepalive_timeout=3600),
            timeout=aiohttp.ClientTimeout(total=120))
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("forum:activity", self.on_activity)
        self.sio.on("disconnect", self.on_disconnect)
        await self.sio.connect(self.url, headers={"Cookie": self.cookie},
                               transports=["websocket"], wait_timeout=60)
        # python-engineio's client gives up once it has had nothing to send for
        # max(pingInterval, pingTimeout) + 5 s (25 s here); a reader sends nothing but its
        # pongs, so one server ping 5 s late would drop it. A browser's engine.io client gives
        # up only after pingInterval + pingTimeout (40 s) without a ping: the readers here
        # follow the browser's rule (no more: a late ping still drops them after 40 s).
        eio = self.sio.eio
        eio.ping_timeout = eio.ping_interval + eio.ping_timeout - 5
        ack = await self.sio.call("join", {"event": EVENT_REF}, timeout=60)
        assert isinstance(ack, dict) and ack.get("ok"), ack
        # forum.js: on the state, watch the topic; once watching, fetch what is new.
        ack = await self.sio.call("forum:watch", {"event": EVENT_REF, "topic": topic},
                                  timeout=60)
        assert isinstance(ack, dict) and ack.get("ok"), ack
        await self.fetch_loop()

    async def on_disconnect(self, reason=None) -> None:
        self.disconnects.append((time.monotonic(), str(reason)))

    async def on_activity(self, data=None) -> None:
        """forum.js (since commit cade8e2): the new comments come with the update, rendered
        once for everyone; the page adds those it lacks, or fetches the gap when it has less
        than the update starts from (`after`)."""
        now = time.monotonic()
        self.activities.append(now)
        if not isinstance(data, dict) or data.get("topic") != self.topic:
            return
        html = data.get("html") or {}
        html = html.get(LANG) or html.get("vi") if isinstance(html, dict) else None
        if not html:
            return
        self.pushed_bytes += len(html)
        if self.last < (data.get("after") or 0):
            self.gap_fetches += 1
            self.fetch_new()
            return
        for cid in map(int, COMMENT_ID.findall(html)):
            self.have.setdefault(cid, now)
            self.last = max(self.last, cid)
        # `changed` (edited, hidden, decided, agreed) makes forum.js fetch those comments;
        # nothing here changes a comment.

    def fetch_new(self) -> None:
        if self.fetching:
            self.again = True
            return
        self.fetching = True
        asyncio.ensure_future(self.fetch_loop())

    async def fetch_loop(self) -> None:
        self.fetching = True
        try:
            while True:
                await self.fetch_once()
                if not self.again:
                    break
                self.again = False
        finally:
            self.fetching = False

    async def fetch_once(self) -> None:
        t0 = time.monotonic()
        status, n, size = 0, 0, 0
        try:
            async with self.http.get(self.fresh_url, params={"after": str(self.last)},
                                     headers={"Accept": "text/html"}) as r:
                status = r.status
                html = await r.text() if r.status == 200 else ""
            t1 = time.monotonic()
            size = len(html)
            for cid in map(int, COMMENT_ID.findall(html)):
                n += 1
                self.have.setdefault(cid, t1)
                self.last = max(self.last, cid)
        except Exception as exc:  # noqa: BLE001 - forum.js: the next update fetches again
            t1 = time.monotonic()
            self.errors.append(f"{type(exc).__name__}: {exc}"[:160])
        self.fetches.append((t0, t1, status, n, size))

    def reset(self) -> None:
        self.activities, self.fetches, self.errors = [], [], []
        self.pushed_bytes = self.gap_fetches = 0

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.sio.eio.disconnect(abort=True), 1)
        except Exception:  # noqa: BLE001, S110 - the server may be gone first
            pass
        await self.http.close()


async def phone_read(url: str, cookie: str, page: str, file: str, t0: float) -> dict:
    """A phone opening the document page then its PDF, on a connection of its own."""
    import aiohttp
    from yarl import URL

    delay = t0 - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
    rec: dict = {"start": time.monotonic(), "late": (time.monotonic() - t0) * 1000}
    name, _sep, value = cookie.partition("=")
    jar = aiohttp.CookieJar(unsafe=True)
    jar.update_cookies({name: value}, URL(url))
    try:
        async with aiohttp.ClientSession(cookie_jar=jar,
                                         timeout=aiohttp.ClientTimeout(total=300)) as http:
            for key, path in (("page", page), ("file", file)):
                t = time.monotonic()
                async with http.get(url + path) as r:
                    body = await r.read()
                    rec[key] = {"status": r.status, "bytes": len(body), "t0": t,
                                "t1": time.monotonic()}
    except Exception as exc:  # noqa: BLE001 - counted and reported
        rec["error"] = f"{type(exc).__name__}: {exc}"[:200]
    rec["end"] = time.monotonic()
    return rec


async def client_main(args) -> None:
    """Holds the readers g = proc_index, proc_index + procs, …; obeys JSON lines on stdin."""
    cookies = json.loads(Path(args.cookies).read_text())
    mine = list(range(args.proc_index, len(cookies), args.procs))
    readers: dict[int, Reader] = {}
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)

    def reply(obj: dict) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    async def connect(cmd: dict) -> dict:
        # New phones, and phones the server dropped (they reconnect, as a phone does).
        todo = [g for g in mine if g < cmd["upto"]
                and (g not in readers or not readers[g].sio.connected)]
        for g in todo:
            if g in readers:
                old = readers.pop(g)
                try:
                    await old.close()
                except Exception:  # noqa: BLE001, S110 - already gone
                    pass
        sem = asyncio.Semaphore(args.batch)
        failures: list[str] = []
        connect_ms: list[float] = []

        async def one(g: int) -> None:
            async with sem:
                r = Reader(g, cookies[g], args.url)
                t = time.perf_counter()
                try:
                    await r.open(cmd["topic"], cmd["after"])
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    failures.append(f"{type(exc).__name__}: {exc}"[:200])
                    try:
                        await r.close()
                    except Exception:  # noqa: BLE001, S110 - half open
                        pass
                    return
                connect_ms.append((time.perf_counter() - t) * 1000)
                readers[g] = r

        t = time.perf_counter()
        await asyncio.gather(*(one(g) for g in todo))
        return {"connected": sum(1 for r in readers.values() if r.sio.connected),
                "failed": len(failures), "failures": failures[:5],
                "seconds": time.perf_counter() - t, "connect_ms": connect_ms}

    pending: dict = {}

    async def settle(cmd: dict) -> dict:
        """Wait until every reader has every comment of the step (or the timeout)."""
        ids = set(cmd["ids"])
        end = time.monotonic() + cmd["timeout"]
        active = list(readers.values())
        # A reader the server dropped gets no more updates (it does not reconnect here).
        while time.monotonic() < end and any(
                r.fetching or (r.sio.connected and not ids <= r.have.keys()) for r in active):
            await asyncio.sleep(0.02)
        pending.update(ids=ids, active=active,
                       missing_live={r.g: sorted(ids - r.have.keys()) for r in active},
                       fetches_live={r.g: len(r.fetches) for r in active},
                       connected={r.g: r.sio.connected for r in active})
        return {"readers": len(active), "settled": time.monotonic(),
                "cpu_s": time.process_time() - (cmd.get("cpu0") or 0)}

    async def catch_up(cmd: dict) -> dict:
        """One catch-up fetch per reader (as after a reconnect); write what each one saw."""
        ids, active = pending["ids"], pending["active"]
        sem = asyncio.Semaphore(args.batch)

        async def one(r: Reader) -> None:
            async with sem:
                while r.fetching:
                    await asyncio.sleep(0.01)
                await r.fetch_loop()

        await asyncio.gather(*(one(r) for r in active))
        out = []
        for r in active:
            n = pending["fetches_live"][r.g]
            out.append({"g": r.g, "have": {str(c): r.have[c] for c in ids if c in r.have},
                        "missing_live": pending["missing_live"][r.g],
                        "missing_final": sorted(ids - r.have.keys()),
                        "activities": r.activities, "fetches": r.fetches[:n],
                        "errors": r.errors[:5], "n_errors": len(r.errors),
                        "connected": pending["connected"][r.g], "disconnects": r.disconnects,
                        "pushed_bytes": r.pushed_bytes, "gap_fetches": r.gap_fetches})
        Path(cmd["out"]).write_text(json.dumps(out))
        return {"readers": len(active)}

    async def read(cmd: dict) -> dict:
        phones = [g for g in mine if g < cmd["n"]]
        cpu0 = time.process_time()
        recs = await asyncio.gather(*(phone_read(args.url, cookies[g], cmd["page"], cmd["file"],
                                                 cmd["t0"]) for g in phones))
        Path(cmd["out"]).write_text(json.dumps(recs))
        return {"phones": len(recs), "cpu_s": time.process_time() - cpu0}

    while True:
        line = await stdin.readline()
        if not line:
            break
        cmd = json.loads(line)
        if cmd["cmd"] == "connect":
            reply(await connect(cmd))
        elif cmd["cmd"] == "reset":
            for r in readers.values():
                r.reset()
            reply({"ok": True, "cpu": time.process_time()})
        elif cmd["cmd"] == "settle":
            reply(await settle(cmd))
        elif cmd["cmd"] == "catchup":
            reply(await catch_up(cmd))
        elif cmd["cmd"] == "read":
            reply(await read(cmd))
        elif cmd["cmd"] == "stop":
            break
    for r in readers.values():
        try:
            await r.close()
        except Exception:  # noqa: BLE001, S110 - going anyway
            pass
    reply({"stopped": True})
    os._exit(0)  # leftover client tasks need not be waited for


# ---------------------------------------------------------------- writers (driver)

class Writer:
    def __init__(self, url: str, cookie: str) -> None:
        self.url, self.cookie = url, cookie
        self.http = None
        self.token = ""

    async def open(self, page: str) -> None:
        import aiohttp
        from yarl import URL

        name, _sep, value = self.cookie.partition("=")
        jar = aiohttp.CookieJar(unsafe=True)
        jar.update_cookies({name: value}, URL(self.url))
        self.http = aiohttp.ClientSession(cookie_jar=jar,
                                          timeout=aiohttp.ClientTimeout(total=120))
        async with self.http.get(self.url + page) as r:
            html = await r.text()
        m = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
        assert r.status == 200 and m, (r.status, html[:300])
        self.token = m[1]

    async def post(self, topic: int, rec: dict, follow: bool) -> None:
        data = {"body": rec["body"], "csrf_token": self.token}
        for key in ("section", "page", "paragraph"):
            if rec.get(key) is not None:
                data[key] = str(rec[key])
        rec["sent"] = time.monotonic()
        try:
            async with self.http.post(f"{self.url}{BASE}/forum/t/{topic}/comments", data=data,
                                      allow_redirects=False) as r:
                await r.read()
                rec["answered"] = time.monotonic()
                rec["status"] = r.status
                location = r.headers.get("Location", "")
            m = re.search(r"#c(\d+)$", location)
            rec["id"] = int(m[1]) if m else None
            if follow and location:
                t = time.monotonic()
                async with self.http.get(self.url + location.split("#")[0]
                                         if location.startswith("/") else location) as r:
                    await r.read()
                    rec["reload_ms"] = (time.monotonic() - t) * 1000
                    rec["reload_status"] = r.status
        except Exception as exc:  # noqa: BLE001 - counted and reported
            rec["error"] = f"{type(exc).__name__}: {exc}"[:200]

    async def close(self) -> None:
        await self.http.close()


async def write_comments(url: str, cookies: list[str], topic: int, page: str, n: int,
                         spread: float, follow: bool, sections: list[str], pages: int,
                         rnd: random.Random) -> list[dict]:
    writers = [Writer(url, c) for c in cookies]
    await asyncio.gather(*(w.open(page) for w in writers))
    plan = []
    for k in range(n):
        rec = {"k": k, "writer": k % len(writers), "body": words_body(rnd)}
        if rnd.random() < 0.6:
            rec["section"] = rnd.choice(sections)
        if rnd.random() < 0.5:
            rec["page"] = rnd.randint(1, pages)
        if rnd.random() < 0.3:
            rec["paragraph"] = str(rnd.randint(1, 12))
        plan.append(rec)
    t0 = time.monotonic() + 0.3

    async def run(w: int) -> None:
        for rec in plan[w::len(writers)]:
            due = t0 + spread * rec["k"] / n
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            rec["late_ms"] = (time.monotonic() - due) * 1000
            await writers[w].post(topic, rec, follow)

    await asyncio.gather(*(run(w) for w in range(len(writers))))
    await asyncio.gather(*(w.close() for w in writers))
    return plan


# ---------------------------------------------------------------- the parts

async def fanout_step(bench: ForumBench, clients: Clients, args, n_readers: int,
                      writer_cookies: list[str], load: float) -> dict:
    page = f"{BASE}/documents/{bench.report_id}"
    replies = await clients.ask([{"cmd": "reset"}] * len(clients.procs))
    cpu_clients0 = [r["cpu"] for r in replies]
    bench.stats(reset=True)
    cpu0, t_start = _cpu_s(bench.proc.pid), time.monotonic()
    split0 = cpu_split(bench.proc.pid)
    prof = None
    if args.profile:
        prof = Profiler(bench.proc.pid, bench.tmp / f"profile-fanout-{n_readers}.txt",
                        args.spread + 8, rate=args.profile_rate,
                        gil=args.async_mode == "threading")
    plan = await write_comments(bench.url, writer_cookies, bench.topic_id, page, args.comments,
                                args.spread, not args.no_follow, bench.sections,
                                bench.report_pages, random.Random(f"{args.seed}-{n_readers}"))
    t_written = time.monotonic()
    ids = [r["id"] for r in plan if r.get("id")]
    outs = [str(bench.tmp / f"readers-{n_readers}-{i}.json") for i in range(len(clients.procs))]
    replies = await clients.ask([{"cmd": "settle", "ids": ids, "timeout": args.wait,
                                  "cpu0": c} for c in cpu_clients0])
    settled = max(r["settled"] for r in replies)
    # The server's figures up to here: the catch-up fetches below are not part of the step.
    cpu1 = _cpu_s(bench.proc.pid)
    split1 = cpu_split(bench.proc.pid)
    server = bench.stats(raw=True)
    await clients.ask([{"cmd": "catchup", "out": o} for o in outs])
    # For a post-mortem (--keep): when each comment was answered, when the server flushed.
    Path(bench.tmp / f"writers-{n_readers}.json").write_text(json.dumps(plan))
    Path(bench.tmp / f"server-{n_readers}.json").write_text(json.dumps(server))
    server = loop_figures(server, t_start, settled)
    server["cpu_user_s"], server["cpu_sys_s"] = (split1[0] - split0[0], split1[1] - split0[1])
    profile = prof.finish(top=args.profile_top) if prof else None
    readers = [r for o in outs for r in json.loads(Path(o).read_text())]
    return analyse_fanout(plan, readers, server, n_readers=n_readers, t_start=t_start,
                          t_written=t_written, settled=settled, server_cpu=cpu1 - cpu0,
                          client_cpu=sum(r["cpu_s"] for r in replies),
                          rss=rss_mb(bench.proc.pid), load=load, profile=profile)


def loop_figures(server: dict, t0: float, t1: float) -> dict:
    """From the server's raw marks, between t0 and t1: how late the event loop woke a 50 ms
    sleeper (`hub lag`, ms), the Engine.IO connections it closed by reason, the flushes."""
    marks = server.pop("marks", {}) or {}
    server.pop("raw", None)
    lag = [(b - a - 0.05) * 1000 for a, b in marks.get("hub lag", []) if t0 <= a <= t1]
    server["hub_lag"] = summary(lag)
    server["closed"] = {k.split(": ", 1)[1]: sum(1 for a, _b in v if t0 <= a <= t1)
                        for k, v in marks.items() if k.startswith("socket closed")}
    gaps = [b - a for a, b in zip(server.get("flush_ends", []), server.get("flush_ends", [])[1:],
                                  strict=False) if a >= t0]
    server["flush_gap_max_s"] = max(gaps, default=float("nan"))
    server.pop("flush_ends", None)
    return server


def analyse_fanout(plan, readers, server, *, n_readers, t_start, t_written, settled,
                   server_cpu, client_cpu, rss, load, profile) -> dict:
    answered = {r["id"]: r["answered"] for r in plan if r.get("id")}
    lat: list[float] = []
    for rd in readers:
        for cid, t in rd["have"].items():
            if int(cid) in answered:
                lat.append((t - answered[int(cid)]) * 1000)
    first_sent = min(r["sent"] for r in plan if "sent" in r)
    fetches = [f for rd in readers for f in rd["fetches"]]
    window = [f for f in fetches if f[0] >= first_sent]
    # The step's busy part ends with the last comment a reader got or the last fetch.
    last_have = max((t for rd in readers for t in rd["have"].values()), default=first_sent)
    fetch_end = max([f[1] for f in window] + [last_have])
    busy = max(fetch_end - first_sent, 1e-9)
    acts = [len([a for a in rd["activities"] if a >= first_sent]) for rd in readers]
    m = server.get("metrics", {})
    return {
        "readers": n_readers, "connected": sum(1 for rd in readers if rd["connected"]),
        "load": load, "comments": len(plan), "posted": len(answered),
        "post_errors": sorted({r.get("error") or str(r.get("status")) for r in plan
                               if not r.get("id")}),
        "post_ms": summary([(r["answered"] - r["sent"]) * 1000 for r in plan
                            if "answered" in r]),
        "reload_ms": summary([r["reload_ms"] for r in plan if "reload_ms" in r]),
        "write_late_ms": summary([r["late_ms"] for r in plan if "late_ms" in r]),
        "write_seconds": t_written - first_sent,
        "latency_ms": summary(lat), "pairs": len(lat),
        "pairs_expected": len(answered) * len(readers),
        "missing_live": sum(len(rd["missing_live"]) for rd in readers),
        "readers_missing_live": sum(1 for rd in readers if rd["missing_live"]),
        "missing_final": sum(len(rd["missing_final"]) for rd in readers),
        "activities": summary([float(a) for a in acts]), "activities_min": min(acts, default=0),
        "fetches": len(window), "fetch_rate": len(window) / busy,
        "served_rate": m.get("http forum.new_comments", {}).get("n", 0) / busy,
        "emits": m.get("emit forum:activity", {}).get("n", 0),
        "fetch_ms": summary([(f[1] - f[0]) * 1000 for f in window]),
        "fetch_errors": sum(rd["n_errors"] for rd in readers),
        "fetch_status": sorted({f[2] for f in window}),
        "fetch_comments": summary([float(f[3]) for f in window if f[2] == 200]),
        "fetch_bytes": summary([float(f[4]) for f in window if f[2] == 200]),
        "busy_s": busy, "settle_s": settled - t_written,
        # Over the busy part: a reader waiting for a comment it will never get (see the
        # docs) keeps the step open until --wait runs out, with the server idle.
        "server_cpu_s": server_cpu, "server_cpu_pct": 100 * server_cpu / max(
            min(settled, fetch_end) - t_start, 1e-9), "client_cpu_s": client_cpu, "rss_mb": rss,
        "srv": {k: v for k, v in m.items() if k.startswith(("http ", "emit forum", "flush",
                                                             "gc gen"))},
        "hub_lag_ms": server.get("hub_lag"), "closed_by_server": server.get("closed", {}),
        "flush_gap_max_s": server.get("flush_gap_max_s"),
        "cpu_user_s": server.get("cpu_user_s"), "cpu_sys_s": server.get("cpu_sys_s"),
        "readers_dropped": sum(1 for rd in readers if rd["disconnects"]),
        "gap_fetches": sum(rd["gap_fetches"] for rd in readers),
        "pushed_kb": summary([rd["pushed_bytes"] / 1024 for rd in readers]),
        "drop_reasons": sorted({d[1] for rd in readers for d in rd["disconnects"]}),
        "profile": profile,
    }


def fmt4(s: dict) -> str:
    return " / ".join(f"{s[k]:,.0f}" if s[k] >= 100 else f"{s[k]:.1f}"
                      for k in ("p50", "p95", "p99", "max"))


def print_fanout(r: dict) -> None:
    print(f"\n== fan-out: {r['readers']} readers ({r['connected']} connected), "
          f"{r['posted']} of {r['comments']} comments posted over {r['write_seconds']:.1f} s; "
          f"load average at start {r['load']:.2f}")
    if r["post_errors"]:
        print(f"   post failures: {r['post_errors']}")
    print(f"   POST → answer (writer)          p50/p95/p99/max ms: {fmt4(r['post_ms'])}"
          f"; writer late p99 {r['write_late_ms']['p99']:.0f} ms")
    if r["reload_ms"]["n"]:
        print(f"   writer's page reload after it   p50/p95/p99/max ms: {fmt4(r['reload_ms'])}")
    print(f"   POST answered → reader has it   p50/p95/p99/max ms: {fmt4(r['latency_ms'])} "
          f"({r['pairs']:,} of {r['pairs_expected']:,} comment x reader pairs)")
    print(f"   missed by the live updates: {r['missing_live']} (readers: "
          f"{r['readers_missing_live']}); after a final catch-up fetch: {r['missing_final']}")
    a = r["activities"]
    print(f"   forum:activity per reader: mean {a['mean']:.1f}, min {r['activities_min']}, max "
          f"{a['max']:.0f} for {r['posted']} comments")
    print(f"   pushed to each reader: {r['pushed_kb']['mean']:.0f} KB of comments' HTML; gap "
          f"fetches (reader had less than an update's `after`): {r['gap_fetches']}")
    print(f"   fragment fetches: {r['fetches']:,} in {r['busy_s']:.1f} s = "
          f"{r['fetch_rate']:.0f}/s; fetch p50/p99 {r['fetch_ms']['p50']:.0f} / "
          f"{r['fetch_ms']['p99']:.0f} ms; comments per fetch mean "
          f"{r['fetch_comments']['mean']:.1f}; statuses {r['fetch_status']}, errors "
          f"{r['fetch_errors']}; readers settled {r['settle_s']:.1f} s after the last POST")
    print(f"   server CPU {r['server_cpu_s']:.1f} s ({r['server_cpu_pct']:.0f} % of a core; user "
          f"{r['cpu_user_s']:.1f} s, system {r['cpu_sys_s']:.1f} s), RSS {r['rss_mb']:.0f} MB; "
          f"clients CPU {r['client_cpu_s']:.1f} s")
    h = r["hub_lag_ms"] or summary([])
    print(f"   server event loop, a 50 ms sleep woken late by p50/p99/max {h['p50']:.0f} / "
          f"{h['p99']:,.0f} / {h['max']:,.0f} ms; longest gap between two flushes "
          f"{r['flush_gap_max_s']:.1f} s")
    print(f"   readers dropped: {r['readers_dropped']} ({', '.join(r['drop_reasons']) or '-'}); "
          f"connections closed by the server: {r['closed_by_server'] or 0}")
    for k, v in sorted(r["srv"].items()):
        if k.startswith("http ") and not k.endswith("bytes"):
            print(f"   server {k}: {v['n']} × p50/p99 {v['p50']:.1f} / {v['p99']:.1f} ms, "
                  f"{v['mean'] * v['n'] / 1000:.1f} s in all")
        elif k.startswith("emit") or k == "flush":
            print(f"   server {k}: {v['n']} × p50/max {v['p50']:.1f} / {v['max']:.1f} ms")
        elif k.startswith("gc"):
            print(f"   server {k}: {v['n']} × max {v['max']:.0f} ms")
    if r.get("profile"):
        print("   profile (py-spy, server process):")
        print("     " + r["profile"].replace("\n", "\n     "))


async def read_step(bench: ForumBench, clients: Clients, args, label: str, doc_id: int,
                    size: int, load: float) -> dict:
    page = f"{BASE}/documents/{doc_id}"
    file = f"{page}/v1/file"
    bench.stats(reset=True)
    cpu0 = _cpu_s(bench.proc.pid)
    t0 = time.monotonic() + 0.5
    outs = [str(bench.tmp / f"read-{label}-{i}.json") for i in range(len(clients.procs))]
    replies = await clients.ask([{"cmd": "read", "n": args.phones, "page": page, "file": file,
                                  "t0": t0, "out": o} for o in outs])
    cpu1 = _cpu_s(bench.proc.pid)
    recs = [r for o in outs for r in json.loads(Path(o).read_text())]
    server = loop_figures(bench.stats(raw=True), t0, max(r["end"] for r in recs))
    ok = [r for r in recs if "error" not in r and r.get("page", {}).get("status") == 200
          and r.get("file", {}).get("status") == 200]
    end = max(r["end"] for r in recs)
    wall = end - t0
    nbytes = sum(r[k]["bytes"] for r in recs for k in ("page", "file") if k in r)
    requests_done = sum(1 for r in recs for k in ("page", "file") if k in r)
    m = server.get("metrics", {})
    return {
        "label": label, "phones": len(recs), "ok": len(ok), "load": load,
        "errors": sorted({r.get("error") or f"HTTP {r.get('page', {}).get('status')} / "
                          f"{r.get('file', {}).get('status')}" for r in recs if r not in ok})[:5],
        "failed": len(recs) - len(ok),
        "file_mb": size / 2**20, "page_kb": summary([r["page"]["bytes"] / 1024 for r in ok]),
        "page_ms": summary([(r["page"]["t1"] - r["page"]["t0"]) * 1000 for r in ok]),
        "file_ms": summary([(r["file"]["t1"] - r["file"]["t0"]) * 1000 for r in ok]),
        "phone_ms": summary([(r["end"] - t0) * 1000 for r in ok]),
        "late_ms": summary([r["late"] for r in recs]),
        "wall_s": wall, "rps": requests_done / wall, "mbps": nbytes / 2**20 / wall,
        "server_cpu_s": cpu1 - cpu0, "client_cpu_s": sum(r["cpu_s"] for r in replies),
        "rss_mb": rss_mb(bench.proc.pid), "hub_lag_ms": server.get("hub_lag"),
        "srv": {k: v for k, v in m.items() if k.startswith(("http documents", "gc gen"))},
    }


def print_read(r: dict) -> None:
    print(f"\n== reads: {r['phones']} phones at once, {r['label']} ({r['file_mb']:.2f} MB PDF, "
          f"page {r['page_kb']['p50']:.0f} KB); load average at start {r['load']:.2f}")
    print(f"   ok {r['ok']} of {r['phones']}" + (f"; errors {r['errors']}" if r["errors"] else ""))
    print(f"   all done in {r['wall_s']:.2f} s: {r['rps']:.0f} requests/s, {r['mbps']:.1f} MB/s")
    print(f"   page  p50/p95/p99/max ms: {fmt4(r['page_ms'])}")
    print(f"   file  p50/p95/p99/max ms: {fmt4(r['file_ms'])}")
    print(f"   phone (page + file, from the common start) p50/p95/p99/max ms: "
          f"{fmt4(r['phone_ms'])}")
    h = r["hub_lag_ms"] or summary([])
    print(f"   server CPU {r['server_cpu_s']:.1f} s, RSS {r['rss_mb']:.0f} MB; clients CPU "
          f"{r['client_cpu_s']:.1f} s; event loop lag p50/p99/max {h['p50']:.0f} / "
          f"{h['p99']:,.0f} / {h['max']:,.0f} ms")
    for k, v in sorted(r["srv"].items()):
        if k.startswith("http "):
            print(f"   server {k}: {v['n']} × p50/p99 {v['p50']:.1f} / {v['p99']:.1f} ms")
        else:
            print(f"   server {k}: {v['n']} × max {v['max']:.0f} ms")


def insert_comments(bench: ForumBench, n: int, seed: int) -> dict:
    """`n` comments straight into the table (body_folded as post_comment makes it), over the
    document's topic and 30 board topics, authors among the delegates."""
    from sqlalchemy import insert, select

    from core.db import utcnow
    from core.text import fold, nfc
    from plugins.forum.models import ForumComment, ForumTopic

    rnd = random.Random(seed)
    engine = bench.engine()
    t = time.perf_counter()
    with engine.begin() as c:
        now = utcnow()
        topics = [bench.topic_id]
        for i in range(30):
            topics.append(c.execute(insert(ForumTopic).values(
                event_id=bench.event_id, title=f"Chủ đề thảo luận {i + 1}",
                created_by_id=bench.delegate_user_ids[i], created_at=now,
                last_activity_at=now, is_open=True).returning(ForumTopic.id)).scalar_one())
        rows = []
        for k in range(n):
            body = words_body(rnd, (4, 12))
            if k % 1000 == 500:
                body = body[:-1] + ", " + RARE + "."
            body = nfc(body)
            topic = topics[0] if k % 4 == 0 else topics[1 + k % 30]
            rows.append({"event_id": bench.event_id, "topic_id": topic,
                         "author_id": bench.delegate_user_ids[k % len(bench.delegate_user_ids)],
                         "body": body, "body_folded": fold(body), "created_at": now})
        for i in range(0, n, 5000):
            c.execute(insert(ForumComment), rows[i:i + 5000])
        total = c.execute(select(ForumComment.id).where(
            ForumComment.event_id == bench.event_id).order_by(None)).all()
    if bench.db_url.startswith("postgresql"):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            from sqlalchemy import text

            c.execute(text("ANALYZE forum_comments"))
    engine.dispose()
    return {"inserted": n, "seconds": time.perf_counter() - t, "total": len(total)}


def search_part(bench: ForumBench, args, load: float) -> dict:
    """p50/p99 of services.search in this process, then of the search page via the server."""
    import requests

    from core.app import create_app
    from core.db import session
    from core.models import Event, User
    from plugins.forum import services

    ins = insert_comments(bench, args.search_comments, args.seed)
    print(f"\n== search: {ins['inserted']:,} comments inserted in {ins['seconds']:.1f} s "
          f"({ins['total']:,} in the event); load average at start {load:.2f}")
    app = create_app({"DATABASE_URL": bench.db_url, "SECRET_KEY": SECRET_KEY},
                     instance_path=bench.tmp / "instance")
    rows = []
    with app.app_context():
        db = session()
        event = db.get(Event, bench.event_id)
        viewer = db.get(User, bench.delegate_user_ids[0])
        roles = frozenset({"delegate"})
        for q, what in QUERIES:
            found = len(services.search(db, event, q, roles=roles, viewer=viewer))  # warm
            db.rollback()
            times = []
            for _i in range(args.search_runs):
                t = time.perf_counter()
                services.search(db, event, q, roles=roles, viewer=viewer)
                times.append((time.perf_counter() - t) * 1000)
                db.rollback()  # a request's session ends: nothing kept from the last run
            rows.append({"q": q, "what": what, "found": found, "ms": summary(times)})
    app.extensions["daihoi_db"].engine.dispose()
    # Through the server: one delegate's browser, one query after another.
    http = requests.Session()
    name, _sep, value = bench.delegate_cookies[0].partition("=")
    http.cookies.set(name, value)
    for row in rows:
        times = []
        for _i in range(args.search_http_runs):
            t = time.perf_counter()
            r = http.get(f"{bench.url}{BASE}/forum/search", params={"q": row["q"]}, timeout=60)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.status_code
        row["http_ms"] = summary(times)
        row["http_kb"] = len(r.content) / 1024
    # What 20,000 comments do to the document page, which shows its whole thread.
    n_doc = len(bench.topic_comment_ids())
    times = []
    for _i in range(3):
        t = time.perf_counter()
        r = http.get(f"{bench.url}{BASE}/documents/{bench.report_id}", timeout=300)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.status_code
    doc_page = {"comments": n_doc, "kb": len(r.content) / 1024, "ms": summary(times)}
    for row in rows:
        s, h = row["ms"], row["http_ms"]
        print(f"   {row['q']!r:24} ({row['what']}): {row['found']:>2} found; search() p50/p99 "
              f"{s['p50']:.2f} / {s['p99']:.2f} ms; page p50/p99 {h['p50']:.1f} / "
              f"{h['p99']:.1f} ms ({row['http_kb']:.0f} KB)")
    print(f"   the document page with its {n_doc:,} comments: {doc_page['kb']:,.0f} KB, "
          f"{' / '.join(f'{x:,.0f}' for x in times)} ms (3 loads, one at a time)")
    return {"inserted": ins, "load": load, "rows": rows, "doc_page": doc_page}


def cost_part(bench: ForumBench, args, load: float) -> dict:
    """What one request costs, alone, in this process (Flask's test client, CSRF off): CPU
    time and SQL statements for the fragment, the POST, the document page at 0, 100 and 1,000
    comments, the files. The comments it adds are deleted afterwards."""
    from sqlalchemy import delete, event, insert

    from core.app import create_app
    from core.db import utcnow
    from core.text import fold
    from plugins.forum.models import ForumComment

    app = create_app({"DATABASE_URL": bench.db_url, "SECRET_KEY": SECRET_KEY,
                      "WTF_CSRF_ENABLED": False}, instance_path=bench.tmp / "instance")
    app.extensions["daihoi_publisher"].publish = lambda *a, **k: None
    engine = app.extensions["daihoi_db"].engine
    statements = [0]
    event.listen(engine, "before_cursor_execute",
                 lambda *a, **k: statements.__setitem__(0, statements[0] + 1))
    client = app.test_client()
    name, _sep, value = bench.delegate_cookies[0].partition("=")
    client.set_cookie(name, value)
    rnd = random.Random(args.seed)
    rows: list[dict] = []
    page = f"{BASE}/documents/{bench.report_id}"
    fresh = f"{BASE}/forum/t/{bench.topic_id}/comments"

    def measure(label: str, method: str, path: str, n: int, data=None) -> None:
        for _i in range(3):  # warm
            r = client.open(path, method=method, data=data() if data else None)
        cpu, wall, q = [], [], 0
        for _i in range(n):
            statements[0] = 0
            c0, w0 = time.process_time(), time.perf_counter()
            r = client.open(path, method=method, data=data() if data else None)
            cpu.append((time.process_time() - c0) * 1000)
            wall.append((time.perf_counter() - w0) * 1000)
            q = statements[0]
        assert r.status_code in (200, 302), (label, r.status_code)
        rows.append({"what": label, "cpu_ms": summary(cpu), "wall_ms": summary(wall),
                     "statements": q, "kb": len(r.data) / 1024})

    def comment() -> dict:
        return {"body": words_body(rnd), "section": rnd.choice(bench.sections), "page": "1"}

    measure("document page, 0 comments", "GET", page, 20)
    measure("POST a comment (answer: a redirect)", "POST", fresh, 60, comment)
    ids = bench.topic_comment_ids()
    measure("fragment, nothing new", "GET", f"{fresh}?after={ids[-1]}", 100)
    measure("fragment, 1 new comment", "GET", f"{fresh}?after={ids[-2]}", 100)
    measure("fragment, 5 new comments", "GET", f"{fresh}?after={ids[-6]}", 100)
    extra = 100 - len(ids)
    with engine.begin() as c:
        if extra > 0:
            for _i in range(extra):
                body = words_body(rnd)
                c.execute(insert(ForumComment).values(
                    event_id=bench.event_id, topic_id=bench.topic_id,
                    author_id=bench.delegate_user_ids[_i % 50], body=body,
                    body_folded=fold(body), created_at=utcnow()))
    measure("document page, 100 comments", "GET", page, 20)
    with engine.begin() as c:
        c.execute(insert(ForumComment), [
            {"event_id": bench.event_id, "topic_id": bench.topic_id,
             "author_id": bench.delegate_user_ids[i % 50], "body": (b := words_body(rnd)),
             "body_folded": fold(b), "created_at": utcnow()} for i in range(900)])
    measure("document page, 1,000 comments", "GET", page, 5)
    measure(f"file, political report ({len(bench.report_pdf) / 1024:.0f} KB)", "GET",
            f"{page}/v1/file", 50)
    measure(f"file, large PDF ({len(bench.big) / 2**20:.1f} MB)", "GET",
            f"{BASE}/documents/{bench.big_id}/v1/file", 20)
    measure("health (no database)", "GET", "/health", 50)
    with engine.begin() as c:
        c.execute(delete(ForumComment).where(ForumComment.topic_id == bench.topic_id))
    engine.dispose()
    print(f"\n== cost of one request, alone, in-process (test client); load average at start "
          f"{load:.2f}")
    for r in rows:
        print(f"   {r['what']:40} CPU p50 {r['cpu_ms']['p50']:6.1f} ms (wall p50 "
              f"{r['wall_ms']['p50']:6.1f}), {r['statements']:3} SQL statements, "
              f"{r['kb']:,.0f} KB")
    return {"load": load, "rows": rows}


# ---------------------------------------------------------------- driver

async def run_live(bench: ForumBench, args, steps: list[int], parts: str) -> dict:
    out: dict = {"fanout": [], "reads": [], "connect": []}
    n_writers = args.writers
    writer_cookies = bench.delegate_cookies[max(steps):max(steps) + n_writers]
    cookies = bench.tmp / "cookies.json"
    cookies.write_text(json.dumps(bench.delegate_cookies[:max(steps + [args.phones])]))
    clients = await Clients.start(bench.url, cookies, args.procs, args.batch,
                                  script=str(Path(__file__).resolve()))
    try:
        if "a" in parts:
            # Warm-up: a few readers and comments, so the first step pays no cold caches.
            await clients.ask([{"cmd": "connect", "upto": min(20, steps[0]), "after": 0,
                                "topic": bench.topic_id}] * len(clients.procs))
            await write_comments(bench.url, writer_cookies[:2], bench.topic_id,
                                 f"{BASE}/documents/{bench.report_id}", 5, 1, False,
                                 bench.sections, bench.report_pages, random.Random(1))
            await asyncio.sleep(1.5)
            for n in steps:
                rss0 = rss_mb(bench.proc.pid)
                after = max(bench.topic_comment_ids(), default=0)
                replies = await clients.ask([{"cmd": "connect", "upto": n, "after": after,
                                              "topic": bench.topic_id}] * len(clients.procs))
                await asyncio.sleep(2)
                cm = summary([x for r in replies for x in r["connect_ms"]])
                con = {"n": n, "connected": sum(r["connected"] for r in replies),
                       "failed": sum(r["failed"] for r in replies),
                       "failures": sorted({f for r in replies for f in r["failures"]})[:5],
                       "seconds": max(r["seconds"] for r in replies), "connect": cm,
                       "rss_before": rss0, "rss_after": rss_mb(bench.proc.pid)}
                out["connect"].append(con)
                print(f"\n{con['connected']} of {n} readers connected, joined, watching and "
                      f"caught up ({con['failed']} failed) in {con['seconds']:.1f} s; p50/p99 "
                      f"{cm['p50']:.0f} / {cm['p99']:.0f} ms; server RSS {rss0:.0f} → "
                      f"{con['rss_after']:.0f} MB" + (f"; failures {con['failures']}"
                                                       if con["failures"] else ""), flush=True)
                load = await await_quiet(args.quiet, f"the fan-out step of {n} readers")
                row = await fanout_step(bench, clients, args, n, writer_cookies, load)
                print_fanout(row)
                out["fanout"].append(row)
                await asyncio.sleep(2)
        if "b" in parts:
            for label, doc_id, size in (("political report", bench.report_id,
                                         len(bench.report_pdf)),
                                        (f"{args.big_mb:g} MB PDF", bench.big_id,
                                         len(bench.big))):
                load = await await_quiet(args.quiet, f"the reads of the {label}")
                row = await read_step(bench, clients, args, label, doc_id, size, load)
                print_read(row)
                out["reads"].append(row)
                await asyncio.sleep(2)
    finally:
        await clients.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="PostgreSQL URL of a server to make a scratch database on "
                                 "(default: a SQLite file)")
    ap.add_argument("--redis", help="Redis URL: the Socket.IO message queue (DAIHOI_REDIS_URL)")
    ap.add_argument("--async-mode", default="gevent", choices=("threading", "gevent"))
    ap.add_argument("--parts", default="dabc",
                    help="d: one request's cost in-process (first), a: fan-out, b: reads, "
                         "c: search (default dabc)")
    ap.add_argument("--readers", default="500,1000",
                    help="readers per fan-out step, rising (default 500,1000)")
    ap.add_argument("--writers", type=int, default=20)
    ap.add_argument("--comments", type=int, default=100, help="comments per step (default 100)")
    ap.add_argument("--spread", type=float, default=10, help="seconds the comments span")
    ap.add_argument("--no-follow", action="store_true",
                    help="writers do not reload the document page after posting")
    ap.add_argument("--wait", type=float, default=120,
                    help="how long readers may take to have every comment (default 120 s)")
    ap.add_argument("--phones", type=int, default=300, help="phones reading at once (b)")
    ap.add_argument("--big-mb", type=float, default=5, help="size of the large PDF (b)")
    ap.add_argument("--search-comments", type=int, default=20000)
    ap.add_argument("--search-runs", type=int, default=200)
    ap.add_argument("--search-http-runs", type=int, default=30)
    ap.add_argument("--procs", type=int, default=2, help="client processes (default 2)")
    ap.add_argument("--batch", type=int, default=50,
                    help="readers connecting at once, all processes together (default 50)")
    ap.add_argument("--flush", type=float, help="DAIHOI_REALTIME_FLUSH_SECONDS (default 0.2)")
    ap.add_argument("--quiet", type=float, default=0,
                    help="before each measured part wait until the 1-minute load average is "
                         "below this (e.g. 0.6; at most 40 minutes)")
    ap.add_argument("--profile", action="store_true",
                    help="py-spy the server during each fan-out step (disturbs the figures)")
    ap.add_argument("--profile-rate", type=int, default=250)
    ap.add_argument("--profile-top", type=int, default=30)
    ap.add_argument("--seed", type=int, default=2027)
    ap.add_argument("--json", help="write every figure to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder")
    # Internal: a client process.
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--cookies", help=argparse.SUPPRESS)
    ap.add_argument("--proc-index", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        asyncio.run(client_main(args))
        return
    steps = sorted(int(x) for x in args.readers.split(",") if x)
    t_all = time.perf_counter()
    print("DaiHoi documents and forum benchmark (issue 6)")
    code = code_state()
    print(f"code: {code}")
    print(f"load average at launch {os.getloadavg()[0]:.2f}", flush=True)
    bench = ForumBench(pg=args.db, redis=args.redis,
                       delegates=max(steps + [args.phones]) + args.writers,
                       async_mode=args.async_mode, flush=args.flush, big_mb=args.big_mb)
    results: dict = {"args": vars(args)}
    try:
        results["machine"] = machine(bench.db_url) + " · " + ", ".join(
            f"{d} {_version(d)}" for d in ("gevent", "gevent-websocket", "aiohttp", "SQLAlchemy",
                                           "psycopg"))
        print(results["machine"])
        print(f"{'PostgreSQL' if args.db else 'SQLite'}, async mode {args.async_mode}, flush "
              f"every {args.flush or 0.2:g} s{', Redis message queue' if args.redis else ''}; "
              f"readers {steps}, {args.writers} writers, {args.comments} comments over "
              f"{args.spread:g} s{'' if args.no_follow else ', writers reload the page'}; "
              f"{args.procs} client processes; political report {len(bench.report_pdf) / 1024:.0f}"
              f" KB, {bench.report_pages} pages; large PDF {len(bench.big) / 2**20:.2f} MB, "
              f"{bench.big_pages} pages; world built in {bench.build_seconds:.1f} s", flush=True)
        if "d" in args.parts:
            results["cost"] = cost_part(bench, args, wait_quiet(args.quiet, "the costs"))
        bench.start_server(env_extra={"BENCH_HTTP_TIMING": "1"})
        if "a" in args.parts or "b" in args.parts:
            results.update(asyncio.run(run_live(bench, args, steps, args.parts)))
        if "c" in args.parts:
            load = wait_quiet(args.quiet, "the search")
            results["search"] = search_part(bench, args, load)
        report(results, args)
        comments = bench.topic_comment_ids()
        print(f"\n(the document's topic holds {len(comments):,} comments at the end)")
    finally:
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1, default=str))
        bench.close(keep=args.keep)
    after = code_state()
    print(f"code at the end: {after}" + ("" if after == code else
                                          "  <-- THE CODE CHANGED DURING THE RUN"))
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")


def report(results: dict, args) -> None:
    db = "PostgreSQL" if args.db else "SQLite"
    if results.get("fanout"):
        print("\n| database | readers | load | POST p50 / p99 | reader has it p50 / p95 / p99 / "
              "max | missed live / final | dropped | activity per reader (emitted; C) | "
              "fragments/s (server) | server CPU | loop lag p99 / max |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in results["fanout"]:
            lat = r["latency_ms"]
            print(f"| {db} | {r['readers']:,} | {r['load']:.2f} | {r['post_ms']['p50']:.0f} / "
                  f"{r['post_ms']['p99']:.0f} ms | {lat['p50']:,.0f} / {lat['p95']:,.0f} / "
                  f"{lat['p99']:,.0f} / {lat['max']:,.0f} ms | {r['missing_live']} / "
                  f"{r['missing_final']} | {r['readers_dropped']} | "
                  f"{r['activities']['mean']:.1f} ({r['emits']}; {r['posted']}) | "
                  f"{r['fetch_rate']:.0f} ({r['served_rate']:.0f}) | "
                  f"{r['server_cpu_pct']:.0f} % | {r['hub_lag_ms']['p99']:,.0f} / "
                  f"{r['hub_lag_ms']['max']:,.0f} ms |")
    if results.get("reads"):
        print("\n| database | phones | file | load | ok | requests/s | MB/s | page p50 / p99 | "
              "file p50 / p99 | phone p50 / p99 |")
        print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in results["reads"]:
            print(f"| {db} | {r['phones']} | {r['label']} ({r['file_mb']:.2f} MB) | "
                  f"{r['load']:.2f} | {r['ok']} | {r['rps']:.0f} | {r['mbps']:.1f} | "
                  f"{r['page_ms']['p50']:,.0f} / {r['page_ms']['p99']:,.0f} ms | "
                  f"{r['file_ms']['p50']:,.0f} / {r['file_ms']['p99']:,.0f} ms | "
                  f"{r['phone_ms']['p50']:,.0f} / {r['phone_ms']['p99']:,.0f} ms |")
    if results.get("search"):
        s = results["search"]
        print(f"\n| database | query | found | search() p50 / p99 | page p50 / p99 |  "
              f"({s['inserted']['total']:,} comments)")
        print("| --- | --- | ---: | ---: | ---: |")
        for row in s["rows"]:
            print(f"| {db} | {row['q']} ({row['what']}) | {row['found']} | "
                  f"{row['ms']['p50']:.2f} / {row['ms']['p99']:.2f} ms | "
                  f"{row['http_ms']['p50']:.1f} / {row['http_ms']['p99']:.1f} ms |")


if __name__ == "__main__":
    main()
