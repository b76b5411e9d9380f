"""Shared by the check-in benchmarks: the world they scan in, and the server they scan against.

As a library (imported by bench/checkin_scans.py, bench/checkin_broadcast.py and
bench/voting_burst.py):

- `Bench` makes a fresh database (a SQLite file in a temporary folder, or a scratch
  PostgreSQL database), migrates it, and builds a hall: one congress with the delegates and
  check-in modules on, N approved delegates from the real roster import, one open check-in
  list per measured step, check-in staff accounts (one per station) and a projector link.
  With `voting=K` (bench/voting_burst.py) it also turns the voting module on, checks every
  approved delegate in to the last session's list (the real `record_scans`), creates and
  opens K polls of that session (the eligible list frozen by the real `open_poll`) and signs
  a Flask session cookie for every delegate's account with the app's key, as a sign-in would
  (`Bench.delegate_cookies`), so a thousand phones connect without a thousand sign-ins.
- `Bench.start_server()` starts the app in a separate process exactly as `daihoi run` does
  (`core.cli.main(["run", ...])`, one process, the async mode of DAIHOI_ASYNC_MODE), through
  this file run as a script, which instruments the app first.

As a script (`python bench/checkin_server.py --port N`, started by `Bench.start_server`):
wraps `core.app.create_app` so the app it makes records, in the server process,

- `scan_total`: from the decoded `checkin:scan` packet to its acknowledgement queued for
  sending (python-socketio's handler thread start-up, Flask contexts, sign-in, the guard, the
  scan, the commit, the after-commit publish, the ack encoding),
- `scan_wait`: the part of it spent before the handler thread ran,
- `scan_handler`: the module's own `plugins.checkin.realtime.scan` (record, commit, publish),
- `vote_total`, `vote_wait`, `vote_handler`: the same for `voting:vote` and
  `plugins.voting.realtime.vote` (when the voting module is on),
- `batch <writer>` and `batch <writer> size`: each group-commit batch
  (`core.group_commit.GroupCommit._write`: write and commit) and its number of items,
- `gc gen<N>`: each pause of Python's cyclic garbage collector,
- `flush`: each coalesced realtime flush (the attendance counted and emitted to every client),
- `emit <name>`: each emit of the app, the fan-out to a room's connections alone,

and answers `GET /_bench/stats` (percentiles, CPU time, threads; `?reset=1` starts anew,
`?raw=1` adds the raw samples) on the same port. Nothing of this touches the app's code.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

if __name__ == "__main__" and os.environ.get("DAIHOI_ASYNC_MODE") == "gevent":
    from gevent import monkey

    monkey.patch_all()

import platform  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import uuid  # noqa: E402
from datetime import timedelta  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "bench-password-9"  # noqa: S105 - a scratch database's accounts
SECRET_KEY = "bench-checkin-secret"  # noqa: S105
UNIT_CODE = "lao-cai"
EVENT_SLUG = "dai-hoi-xvi"
EVENT_REF = f"{UNIT_CODE}/{EVENT_SLUG}"


# ---------------------------------------------------------------- figures

def pct(samples: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `samples`; NaN when empty."""
    if not samples:
        return float("nan")
    s = sorted(samples)
    k = max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))
    return s[k]


def summary(samples: list[float]) -> dict:
    return {"n": len(samples), "p50": pct(samples, 50), "p95": pct(samples, 95),
            "p99": pct(samples, 99), "max": max(samples) if samples else float("nan"),
            "mean": sum(samples) / len(samples) if samples else float("nan")}


def machine(db_url: str | None = None) -> str:
    """Cores, memory, OS, Python and database versions, for the figures' heading."""
    import sqlite3

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1])
        mem_s = f"{mem / 2**20:.0f} GiB"
    except OSError:
        mem_s = "?"
    osname = platform.platform()
    try:
        osrel = Path("/etc/os-release").read_text()
        osname = re.search(r'PRETTY_NAME="([^"]+)"', osrel)[1]
    except (OSError, TypeError):
        pass
    parts = [f"{os.cpu_count()} CPU ({cpu})", f"{mem_s} RAM", osname,
             f"Python {platform.python_version()}"]
    if db_url and db_url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as c:
            parts.append("PostgreSQL " + c.execute("SHOW server_version").fetchone()[0].split()[0])
    else:
        parts.append(f"SQLite {sqlite3.sqlite_version} (WAL)")
    parts.append(", ".join(f"{d} {_version(d)}" for d in (
        "Flask-SocketIO", "python-socketio", "python-engineio", "Werkzeug", "simple-websocket")))
    return " · ".join(parts)


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "-"


# ---------------------------------------------------------------- the world


def publish_political_report(db, event, publish_at):
    """The demo's draft political report (plugins.documents.demo: a 3-page PDF with its
    sections), published to the delegates through the real `create_document`: the document
    and the PDF's bytes (bench/forum_live.py, bench/page_load.py)."""
    from plugins.documents.demo import SECTIONS, TITLE, political_report_pdf
    from plugins.documents.services import create_document

    pdf = political_report_pdf()
    doc = create_document(
        db, event, actor=None, title=TITLE, category="political_report",
        visibility="delegates", filename="Du thao Bao cao chinh tri.pdf", raw=pdf,
        sections="\n".join(h for h, _p in SECTIONS),
        description="Bản dự thảo trình Đại hội. Đại biểu đọc và góp ý theo từng phần.",
        publish_at=publish_at, note="Bản dự thảo lần 1")
    return doc, pdf


class Bench:
    """A scratch database with a hall in it, and the server process scanning against it."""

    def __init__(self, *, pg: str | None, delegates: int, lists: int, stations: int,
                 redis: str | None = None, async_mode: str = "threading",
                 flush: float | None = None, serialize_scans: bool = False,
                 voting: int = 0, poll_kind: str = "motion", poll_mode: str = "named",
                 experiments: tuple[str, ...] = ()) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="daihoi-bench-checkin-"))
        self.pg_admin = None
        self.scratch = None
        if pg:
            import psycopg

            self.pg_admin = pg.replace("postgresql+psycopg://", "postgresql://")
            self.scratch = f"bench_checkin_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(self.pg_admin, autocommit=True) as c:
                c.execute(f'CREATE DATABASE "{self.scratch}"')
            self.db_url = self.pg_admin.rsplit("/", 1)[0] + "/" + self.scratch
        else:
            self.db_url = f"sqlite:///{self.tmp / 'bench.sqlite3'}"
        self.redis = redis
        self.async_mode = async_mode
        self.flush = flush
        self.serialize_scans = serialize_scans
        self.experiments = tuple(experiments)
        self.n_delegates = delegates
        self.n_lists = lists
        self.n_stations = stations
        self.n_polls = voting
        self.poll_kind = poll_kind
        self.poll_mode = poll_mode
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.build()

    def build(self) -> None:
        from sqlalchemy import select

        from core.accounts import create_account
        from core.app import create_app
        from core.db import session, utcnow
        from core.events import add_member, create_event, create_projector_link
        from core.migrate import upgrade
        from core.modules import enable_module
        from plugins.checkin import services
        from plugins.delegates.demo import generate_roster
        from plugins.delegates.models import Delegate
        from plugins.delegates.roster_import import apply_roster, parse_roster
        from tenants.models import UnitLevel
        from tenants.services import create_unit, ensure_levels

        t = time.perf_counter()
        app = create_app({"DATABASE_URL": self.db_url, "SECRET_KEY": SECRET_KEY},
                         instance_path=self.tmp / "instance")
        with app.app_context():
            upgrade(app)
            db = session()
            ensure_levels(db, app.config["UNIT_LEVELS"])
            top = db.scalar(select(UnitLevel).order_by(UnitLevel.rank))
            unit = create_unit(db, code=UNIT_CODE, name="Tỉnh đoàn Lào Cai", level=top,
                               parent=None)
            sessions = [("Phiên trù bị", "preparatory")] + [
                (f"Phiên chính thức {i + 1}", "official") for i in range(self.n_lists)]
            event = create_event(db, actor=None, unit=unit, slug=EVENT_SLUG,
                                 name="Đại hội đại biểu Đoàn TNCS Hồ Chí Minh tỉnh Lào Cai "
                                      "lần thứ XVI, nhiệm kỳ 2022 – 2027",
                                 convened_count=self.n_delegates, sessions=sessions)
            for name in ("delegates", "checkin") + (("voting",) if self.n_polls else ()):
                enable_module(db, event, name, actor=None)
            preview = parse_roster(generate_roster(self.n_delegates, seed=2027, guests=20),
                                   "bench.csv")
            assert preview.ok, preview.problems[:3]
            apply_roster(db, event, preview, actor=None)
            people = list(db.scalars(select(Delegate).where(Delegate.event_id == event.id)))
            for d in people:
                if d.kind == "delegate":
                    d.status = "approved"
            lists = services.ensure_lists(db, event)
            for lst in lists:
                lst.opens_at = utcnow() - timedelta(hours=1)
            # Argon2 at its real cost (~50 ms a hash) is paid once per account and sign-in.
            self.stations = []
            for i in range(self.n_stations):
                username = f"diemdanh{i + 1:02d}"
                create_account(db, actor=None, unit=unit, username=username,
                               full_name=f"Bàn điểm danh {i + 1}", password=PASSWORD)
                add_member(db, event, actor=None, username=username, role="checkin")
                self.stations.append(username)
            _link, self.projector_token = create_projector_link(db, event, actor=None,
                                                                label="Màn hình hội trường")
            db.commit()
            self.event_id = event.id
            # The preparatory session's list warms the server up; each measured step then
            # scans into a fresh list of its own, so every step starts with an empty hall.
            self.warm_list_id = lists[0].id
            self.list_ids = [lst.id for lst in lists[1:]]
            self.secrets = [d.checkin_secret for d in people if d.kind == "delegate"]
            self.guest_secrets = [d.checkin_secret for d in people if d.kind == "guest"]
            if self.n_polls:
                self.build_voting(app, db, event, lists[-1],
                                  [d for d in people if d.kind == "delegate"])
        app.extensions["daihoi_db"].engine.dispose()
        self.build_seconds = time.perf_counter() - t

    def build_voting(self, app, db, event, lst, delegates: list) -> None:
        """Every approved delegate present in `lst`, `n_polls` polls of its session open,
        a session cookie per delegate account (see the module's docstring)."""
        from plugins.checkin import services as checkin
        from plugins.voting.services import PollInput, create_poll, open_poll

        # Nobody listens in this process: the after-commit broadcasts go nowhere.
        app.extensions["daihoi_publisher"].publish = lambda *a, **k: None
        checkin.record_scans(db, event, lst, [
            checkin.scan_input(nonce=uuid.uuid4().hex, delegate=d, station="bench")
            for d in delegates])
        db.commit()
        self.voting_list_id = lst.id
        self.poll_ids, self.poll_options = [], []
        for i in range(self.n_polls):
            if self.poll_kind == "motion":
                data = PollInput(title=f"Biểu quyết {i + 1}", kind="motion",
                                 mode=self.poll_mode, session_id=lst.session_id,
                                 base="present")
            else:  # an election: 15 candidates for 11 seats
                data = PollInput(title=f"Bầu cử {i + 1}", kind="election",
                                 mode=self.poll_mode, seats=11, session_id=lst.session_id,
                                 options=tuple((d.full_name, d.unit_name)
                                               for d in delegates[:15]))
            poll = create_poll(db, event, data, actor=None)
            db.commit()
            poll = open_poll(db, event, poll, actor=None)
            db.commit()
            self.poll_ids.append(poll.id)
            self.poll_options.append([o.id for o in poll.options])
        self.poll_seats = 1 if self.poll_kind == "motion" else 11
        self.sign_delegate_cookies(app, db, delegates)

    def sign_delegate_cookies(self, app, db, delegates: list) -> None:
        """A session cookie per delegate account, in `delegates`' order
        (`self.delegate_cookies`, `self.delegate_user_ids`, `self.delegate_ids`)."""
        from sqlalchemy import select

        from core.models import User

        # What a sign-in leaves in the session (Flask-Login's user id, as core.app's loader
        # reads it), signed with the server's key.
        serializer = app.session_interface.get_signing_serializer(app)
        name = app.config["SESSION_COOKIE_NAME"]
        self.delegate_user_ids = [d.user_id for d in delegates]
        self.delegate_ids = [d.id for d in delegates]
        users = {u.id: u for u in db.scalars(select(User).where(
            User.id.in_(self.delegate_user_ids)))}
        self.delegate_cookies = [
            f"{name}=" + serializer.dumps({"_user_id": users[d.user_id].get_id(),
                                           "_fresh": True})
            for d in delegates]

    def count_votes(self, poll_id: int) -> dict:
        """What the database holds for a poll: voters, distinct voters, ballots, receipts."""
        from sqlalchemy import create_engine, text

        url = self.db_url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        engine = create_engine(url)
        with engine.connect() as c:
            voters, distinct = c.execute(text(
                "SELECT count(*), count(DISTINCT delegate_id) FROM poll_voters "
                "WHERE poll_id = :p"), {"p": poll_id}).one()
            receipts = [r for (r,) in c.execute(text(
                "SELECT receipt FROM poll_ballots WHERE poll_id = :p"), {"p": poll_id})]
        engine.dispose()
        return {"voters": voters, "distinct_voters": distinct, "ballots": len(receipts),
                "receipts": receipts}

    # ------------------------------------------------------------ the server

    def start_server(self, port: int | None = None, timeout: float = 60,
                     env_extra: dict | None = None) -> str:
        """`env_extra`: more variables for the server process (BENCH_HTTP_TIMING=1 times
        every HTTP request by endpoint, see `time_http`)."""
        port = port or free_port()
        env = dict(os.environ)
        env.update({
            "DAIHOI_DATABASE_URL": self.db_url, "DAIHOI_SECRET_KEY": SECRET_KEY,
            "DAIHOI_COOKIE_SECURE": "0", "DAIHOI_ASYNC_MODE": self.async_mode,
            "DAIHOI_LOCALE": "vi", "BENCH_INSTANCE": str(self.tmp / "instance"),
            # Many sign-ins from one address in a minute are the benchmark, not an attack.
            "DAIHOI_LOGIN_RATE_LIMIT": "1000 per minute",
        })
        env.pop("DAIHOI_REDIS_URL", None)
        if self.redis:
            env["DAIHOI_REDIS_URL"] = self.redis
        if self.serialize_scans:
            env["BENCH_SERIALIZE_SCANS"] = "1"
        if self.experiments:
            env["BENCH_EXPERIMENTS"] = ",".join(self.experiments)
        if self.flush is not None:
            env["DAIHOI_REALTIME_FLUSH_SECONDS"] = str(self.flush)
        env.update(env_extra or {})
        self.log = open(self.tmp / "server.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--port", str(port)],
            env=env, cwd=str(ROOT), stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.url = f"http://127.0.0.1:{port}"
        import requests

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited:\n" + self.server_log()[-3000:])
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return self.url
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not answer /health:\n" + self.server_log()[-3000:])

    def server_log(self) -> str:
        try:
            return (self.tmp / "server.log").read_text(errors="replace")
        except OSError:
            return ""

    def stats(self, reset: bool = False, raw: bool = False) -> dict:
        import requests

        params = {"reset": "1"} if reset else {}
        if raw:
            params["raw"] = "1"
        return requests.get(self.url + "/_bench/stats", params=params, timeout=30).json()

    def sign_in(self, username: str, route: str | None = None) -> str:
        """Sign in through the login form (CSRF token and all); the Cookie header to send.
        `route`: a `daihoi_route` cookie to carry from the start (behind nginx, it picks the
        app process: BenchCluster.routes)."""
        import requests

        s = requests.Session()
        if route is not None:
            s.cookies.set("daihoi_route", route)
        page = s.get(self.url + "/login", timeout=30).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        data = {"username": username, "password": PASSWORD}
        if token:
            data["csrf_token"] = token[1]
        r = s.post(self.url + "/login", data=data, allow_redirects=False, timeout=30)
        assert r.status_code == 302, (r.status_code, r.text[:300])
        return "; ".join(f"{k}={v}" for k, v in s.cookies.items())

    def stop_server(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()

    def close(self, keep: bool = False) -> None:
        self.stop_server()
        if self.scratch:
            import psycopg

            with psycopg.connect(self.pg_admin, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{self.scratch}" WITH (FORCE)')
        if keep:
            print(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def count_scans(self) -> dict:
        """Scans in the database by verdict (to check that every acknowledged scan is there)."""
        from sqlalchemy import create_engine, text

        url = self.db_url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        engine = create_engine(url)
        with engine.connect() as c:
            rows = c.execute(text("SELECT coalesce(verdict, '?'), count(*) FROM checkin_scans "
                                  "GROUP BY 1")).all()
        engine.dispose()
        return dict(rows)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Profiler:
    """py-spy sampling the server process (only the thread holding the GIL: CPU time in
    Python), written as collapsed stacks, then summarised by function."""

    def __init__(self, pid: int, out: Path, seconds: float, rate: int = 200,
                 gil: bool = True) -> None:
        """`gil=False`: every thread not idle (in gevent, the one thread whenever it is not
        waiting in the hub: C calls such as SQLite's included), instead of the GIL holder."""
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.out = out
        self.what = "holding the GIL" if gil else "of non-idle threads"
        self.proc = subprocess.Popen(
            [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
             "--rate", str(rate), *(["--gil"] if gil else []), "--nonblocking",
             "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def finish(self, top: int = 25) -> str:
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if not self.out.exists():
            return "(py-spy wrote nothing)"
        return summarise_stacks(self.out.read_text(), top, self.what)


def summarise_stacks(raw: str, top: int = 25, what: str = "holding the GIL") -> str:
    """Inclusive and self share of samples per function, from py-spy's collapsed stacks."""
    incl: dict[str, int] = {}
    self_: dict[str, int] = {}
    total = 0
    for line in raw.splitlines():
        stack, _sep, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [re.sub(r" \((.*?):\d+\)$", r" (\1)", f) for f in stack.split(";")]
        frames = [f.replace(str(ROOT) + "/", "").replace(sys.prefix + "/", "")
                  for f in frames]
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n
        if frames:
            self_[frames[-1]] = self_.get(frames[-1], 0) + n
    if not total:
        return "(no samples)"
    out = [f"{total} samples {what}", "inclusive:"]
    for f, n in sorted(incl.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"  {100 * n / total:5.1f}%  {f}")
    out.append("self:")
    for f, n in sorted(self_.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"  {100 * n / total:5.1f}%  {f}")
    return "\n".join(out)


# ---------------------------------------------------------------- the server process

class Recorder:
    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}
        self.t0 = time.monotonic()
        self.cpu0 = time.process_time()
        self.flush_ends: list[float] = []
        # (start, end) on the monotonic clock, for a timeline: timed socket events, batches.
        self.marks: dict[str, list[tuple[float, float]]] = {}

    def add(self, name: str, seconds: float) -> None:
        self.samples.setdefault(name, []).append(seconds * 1000)

    def add_value(self, name: str, value: float) -> None:
        self.samples.setdefault(name, []).append(value)

    def mark(self, name: str, start: float, end: float) -> None:
        self.marks.setdefault(name, []).append((start, end))

    def reset(self) -> None:
        self.samples = {}
        self.flush_ends = []
        self.marks = {}
        self.t0 = time.monotonic()
        self.cpu0 = time.process_time()

    def report(self, raw: bool) -> dict:
        wall = time.monotonic() - self.t0
        out = {"wall_s": wall, "cpu_s": time.process_time() - self.cpu0,
               "threads": threading.active_count(), "pid": os.getpid(),
               "rss_mb": _rss_mb(), "metrics": {k: summary(v) for k, v in self.samples.items()}}
        if raw:
            out["raw"] = self.samples
            out["flush_ends"] = self.flush_ends
            out["marks"] = self.marks
        return out


def _rss_mb() -> float:
    try:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status)[1]) / 1024
    except (OSError, TypeError):
        return float("nan")


def instrument(app, rec: Recorder) -> None:
    """Time the scan and vote handlers, the group-commit batches and the realtime flush
    inside the server, by wrapping them."""
    from flask import jsonify, request

    from core import group_commit

    sio = app.extensions["daihoi_socketio"]
    server = sio.server
    # Socket events timed from the decoded packet to the acknowledgement: metric prefix.
    timed_events = {"checkin:scan": "scan", "voting:vote": "vote"}
    arrived: dict[tuple, tuple[str, float]] = {}
    handle_event = server._handle_event
    handle_internal = server._handle_event_internal

    def timed_handle_event(eio_sid, namespace, id, data):
        if data and data[0] in timed_events:
            arrived[(eio_sid, id)] = (timed_events[data[0]], time.perf_counter(),
                                      time.monotonic())
        return handle_event(eio_sid, namespace, id, data)

    def timed_internal(srv, sid, eio_sid, data, namespace, id):
        prefix, t0, m0 = arrived.pop((eio_sid, id), (None, None, None))
        t1 = time.perf_counter()
        try:
            return handle_internal(srv, sid, eio_sid, data, namespace, id)
        finally:
            if t0 is not None:
                t2 = time.perf_counter()
                rec.add(f"{prefix}_total", t2 - t0)
                rec.add(f"{prefix}_wait", t1 - t0)
                rec.mark(f"{prefix}_total", m0, time.monotonic())

    server._handle_event = timed_handle_event
    server._handle_event_internal = timed_internal

    write_batch = group_commit.GroupCommit._write

    def timed_batch(self, key, jobs):
        t, m = time.perf_counter(), time.monotonic()
        try:
            return write_batch(self, key, jobs)
        finally:
            rec.add(f"batch {self.name}", time.perf_counter() - t)
            rec.mark(f"batch {self.name}", m, time.monotonic())
            rec.add_value(f"batch {self.name} size", sum(len(j.items) for j in jobs))

    group_commit.GroupCommit._write = timed_batch

    import gc

    gc_started: list[float] = []

    def gc_pause(phase, info):
        if phase == "start":
            gc_started[:] = [time.perf_counter()]
        elif gc_started:
            rec.add(f"gc gen{info.get('generation')}", time.perf_counter() - gc_started[0])

    gc.callbacks.append(gc_pause)
    experiment(os.environ.get("BENCH_EXPERIMENTS", ""))

    import core.realtime

    resolve = core.realtime.socket_context

    def timed_context(payload, module):
        t = time.perf_counter()
        try:
            return resolve(payload, module)
        finally:
            rec.add("socket_context", time.perf_counter() - t)

    # _dispatch looks it up in the module at each call.
    core.realtime.socket_context = timed_context

    vote = app.extensions["daihoi_socket_handlers"].get("voting:vote")
    if vote is not None:
        vote_func = vote.func

        def timed_vote(ctx, payload):
            t, m = time.perf_counter(), time.monotonic()
            try:
                return vote_func(ctx, payload)
            finally:
                rec.add("vote_handler", time.perf_counter() - t)
                rec.mark("vote_handler", m, time.monotonic())

        vote.func = timed_vote

    handler = app.extensions["daihoi_socket_handlers"]["checkin:scan"]
    func = handler.func
    # Experiment (--serialize-scans): one scan at a time in the process, as a process-wide
    # write lock would make it; shows what the concurrent handlers cost in waits.
    one_at_a_time = threading.Lock() if os.environ.get("BENCH_SERIALIZE_SCANS") else None

    def timed_scan(ctx, payload):
        t = time.perf_counter()
        try:
            if one_at_a_time is None:
                return func(ctx, payload)
            with one_at_a_time:
                return func(ctx, payload)
        finally:
            rec.add("scan_handler", time.perf_counter() - t)

    handler.func = timed_scan

    publisher = app.extensions["daihoi_publisher"]
    flush = publisher.flush

    def timed_flush():
        t = time.perf_counter()
        try:
            return flush()
        finally:
            rec.add("flush", time.perf_counter() - t)
            rec.flush_ends.append(time.monotonic())

    publisher.flush = timed_flush
    emit = sio.emit

    def timed_emit(name, *args, **kwargs):
        t = time.perf_counter()
        try:
            return emit(name, *args, **kwargs)
        finally:
            rec.add(f"emit {name}", time.perf_counter() - t)

    # The publisher emits through the Flask-SocketIO object; time the fan-out apart from the
    # count computed before it.
    sio.emit = timed_emit
    if os.environ.get("BENCH_HTTP_TIMING"):
        time_http(app, rec)

    @app.route("/_bench/gc")
    def bench_gc():
        import gc

        t = time.perf_counter()
        collected = gc.collect()
        if request.args.get("freeze") == "1":
            gc.freeze()
        return jsonify(collected=collected, frozen=gc.get_freeze_count(),
                       ms=(time.perf_counter() - t) * 1000)

    @app.route("/_bench/stats")
    def bench_stats():
        out = rec.report(raw=request.args.get("raw") == "1")
        if request.args.get("reset") == "1":
            rec.reset()
        return jsonify(out)


def time_http(app, rec: Recorder) -> None:
    """Only with BENCH_HTTP_TIMING=1 (bench/forum_live.py):

    - `http <endpoint>`: each HTTP request to the Flask app (behind Flask-SocketIO's
      middleware, so not the Socket.IO traffic), from the WSGI call to the response handed to
      the server (a file's body is sent after);
    - `hub lag`: how late a task asleep for 50 ms wakes up (the event loop's, or the GIL's,
      backlog: what delays the realtime flush and the Socket.IO pings alike);
    - `socket closed: <reason>`: each Engine.IO connection the server closes, by reason
      (a ping timeout, the client gone, …).
    """
    import engineio.socket
    from flask import request

    sio = app.extensions["daihoi_socketio"]

    def probe():
        while True:
            m = time.monotonic()
            sio.sleep(0.05)
            rec.add("hub lag", time.monotonic() - m - 0.05)
            rec.mark("hub lag", m, time.monotonic())

    sio.start_background_task(probe)
    close = engineio.socket.Socket.close

    def recorded_close(self, wait=True, abort=False, reason=None):
        if not self.closed and not self.closing:
            m = time.monotonic()
            rec.mark(f"socket closed: {reason or 'by the server'}", m, m)
        return close(self, wait=wait, abort=abort, reason=reason)

    engineio.socket.Socket.close = recorded_close

    middleware = app.wsgi_app  # Flask-SocketIO's, in front of Flask's own
    inner = middleware.wsgi_app

    @app.after_request
    def _endpoint(response):
        request.environ["bench.endpoint"] = request.endpoint or "?"
        return response

    def timed(environ, start_response):
        t, m = time.perf_counter(), time.monotonic()
        try:
            return inner(environ, start_response)
        finally:
            name = f"http {environ.get('bench.endpoint', '?')}"
            rec.add(name, time.perf_counter() - t)
            rec.mark(name, m, time.monotonic())

    middleware.wsgi_app = timed


EXPERIMENTS = {
    "context-ttl": "a connection's resolved caller (event, roles, modules) kept for an hour "
                   "instead of core.realtime.CONTEXT_TTL_SECONDS (2 s before commit 9094c80, "
                   "300 s since)",
    "batch-yield": "the group-commit writer yields once (time.sleep(0)) after taking the first "
                   "job, so handlers ready to run queue theirs into the same batch (what "
                   "core.group_commit does since commit 9094c80)",
    "batch-idle": "the group-commit writer, after taking the first job, waits until the gevent "
                  "hub has nothing else to run (gevent.idle()), so every handler ready to run "
                  "queues its job into the same batch (gevent only)",
    "batch-idle-20ms": "as batch-idle, but waiting at most 20 ms for the hub to be idle",
    "batch-1ms": "the group-commit writer sleeps 1 ms after taking the first job",
    "batch-drain": "the group-commit writer, after taking the first job, yields (time.sleep(0)) "
                   "again and again while the queue keeps growing",
    "gc-freeze": "gc.freeze() once the app is made, before serving: the objects of the loaded "
                 "app are left out of the garbage collector's full collections",
    "gc-freeze-step": "gc.collect() then gc.freeze() just before each measured step (as the app "
                      "could when a poll opens): what is alive then, the connections included, "
                      "is left out of the full collections during the vote (voting_burst.py)",
}


def experiment(names: str) -> None:
    """Experiments (not the app as shipped), to measure a proposed change; see EXPERIMENTS."""
    import queue

    from core import group_commit, realtime

    for name in filter(None, names.split(",")):
        if name in ("gc-freeze", "gc-freeze-step"):
            pass  # in serve(), once the app is made; before each step (GET /_bench/gc)
        elif name == "context-ttl":
            realtime.CONTEXT_TTL_SECONDS = 3600.0
        elif name in ("batch-yield", "batch-idle", "batch-idle-20ms", "batch-1ms",
                      "batch-drain"):
            if name == "batch-idle":
                import gevent

                gather = gevent.idle
            elif name == "batch-idle-20ms":
                import gevent

                def gather():
                    with gevent.Timeout(0.02, False):
                        gevent.idle()
            elif name == "batch-drain":
                def gather(self=None):
                    return None  # replaced below: needs the queue
            else:
                pause = 0.001 if name == "batch-1ms" else 0

                def gather(pause=pause):
                    time.sleep(pause)

            drain = name == "batch-drain"

            def _run(self, gather=gather, drain=drain):
                # core.group_commit.GroupCommit._run, its time.sleep(0) replaced by gather().
                while True:
                    batch = [self.jobs.get()]
                    if drain:
                        seen = -1
                        while self.jobs.qsize() != seen:
                            seen = self.jobs.qsize()
                            time.sleep(0)
                    else:
                        gather()
                    size = len(batch[0].items)
                    while size < self.max_batch:
                        try:
                            job = self.jobs.get_nowait()
                        except queue.Empty:
                            break
                        batch.append(job)
                        size += len(job.items)
                    groups: dict = {}
                    for job in batch:
                        groups.setdefault(job.key, []).append(job)
                    for key, jobs in groups.items():
                        self._write(key, jobs)

            group_commit.GroupCommit._run = _run
        else:
            raise SystemExit(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}")


def serve(port: int) -> None:
    import core.app
    from core.cli import main as daihoi

    rec = Recorder()
    create_app = core.app.create_app

    def create_instrumented_app(overrides=None, **kw):
        kw.setdefault("instance_path", os.environ.get("BENCH_INSTANCE"))
        app = create_app(overrides, **kw)
        instrument(app, rec)
        if "gc-freeze" in os.environ.get("BENCH_EXPERIMENTS", "").split(","):
            import gc

            gc.collect()
            gc.freeze()
        return app

    core.app.create_app = create_instrumented_app
    # Exactly `daihoi run`: the CLI's own command, in this process.
    daihoi(["run", "--host", "127.0.0.1", "--port", str(port)])



# ---------------------------------------------------------------- the production set-up

# Put on the PYTHONPATH of a cluster's gunicorns (cluster_env): in the worker, once gunicorn
# has loaded `wsgi:app` (after gevent's monkey-patching, before post_worker_init's gc.freeze),
# the same instrumentation as `daihoi run` above gets, /_bench/stats on each process's port.
SITECUSTOMIZE = """\
import os

if os.environ.get("BENCH_INSTRUMENT") == "1":
    try:
        from gunicorn.workers import base as _base
    except ImportError:
        _base = None
    if _base is not None:
        _load_wsgi = _base.Worker.load_wsgi

        def _instrumented_load_wsgi(self):
            _load_wsgi(self)
            import sys

            sys.path.insert(0, os.environ["BENCH_DIR"])
            from checkin_server import instrument_loaded

            instrument_loaded(self.wsgi)

        _base.Worker.load_wsgi = _instrumented_load_wsgi
"""


def instrument_loaded(app) -> None:
    """In a gunicorn worker (SITECUSTOMIZE): instrument the app gunicorn loaded."""
    instrument(app, Recorder())


def cluster_env(folder: Path, instrument_app: bool = True) -> dict:
    """Environment for tests.cluster.Cluster's processes: the bench's locale and, with
    `instrument_app`, the instrumentation of SITECUSTOMIZE (not the app's code)."""
    env = {"DAIHOI_LOCALE": "vi"}
    if instrument_app:
        site = folder / "site"
        site.mkdir(parents=True, exist_ok=True)
        (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
        env.update({"PYTHONPATH": str(site), "BENCH_INSTRUMENT": "1",
                    "BENCH_DIR": str(Path(__file__).resolve().parent)})
    return env


class BenchCluster:
    """The production set-up (tests/cluster.py) on a Bench's database: a private Redis, N
    gunicorns (one gevent worker each), nginx in front; instrumented unless told not to."""

    def __init__(self, bench: Bench, processes: int, *, nginx: bool = True,
                 instrument_app: bool = True, env: dict | None = None) -> None:
        from tests.cluster import Cluster, RedisServer

        self.folder = bench.tmp / f"cluster-{processes}-{uuid.uuid4().hex[:6]}"
        self.redis = RedisServer(self.folder / "redis").start()
        extra = cluster_env(self.folder, instrument_app)
        if bench.flush is not None:
            extra["DAIHOI_REALTIME_FLUSH_SECONDS"] = str(bench.flush)
        if bench.experiments:
            extra["BENCH_EXPERIMENTS"] = ",".join(bench.experiments)
        extra.update(env or {})
        self.instrumented = instrument_app
        self.cluster = Cluster(self.folder, database_url=bench.db_url, redis_url=self.redis.url,
                               processes=processes, nginx=nginx, secret_key=SECRET_KEY,
                               env=extra)
        try:
            self.cluster.start()
        except Exception:
            self.cluster.stop()
            self.redis.stop()
            raise

    @property
    def url(self) -> str:
        return self.cluster.url

    @property
    def apps(self) -> list:
        return self.cluster.apps

    def workers(self) -> list[int]:
        """Each process's gunicorn worker (the arbiter left out), in the order of `apps`."""
        out = []
        for a in self.cluster.apps:
            ws = [p for p in a.pids if p != a.proc.pid]
            out.append(ws[0] if ws else a.proc.pid)
        return out

    def pids(self) -> list[int]:
        return [p for a in self.cluster.apps for p in a.pids]

    def stats(self, reset: bool = False, raw: bool = False) -> dict:
        """Every process's /_bench/stats, merged (samples pooled, CPU summed)."""
        import requests

        params = {"reset": "1"} if reset else {}
        params["raw"] = "1"
        parts = [requests.get(a.url + "/_bench/stats", params=params, timeout=30).json()
                 for a in self.cluster.apps]
        samples: dict[str, list[float]] = {}
        marks: dict[str, list] = {}
        for p in parts:
            for k, v in p.get("raw", {}).items():
                samples.setdefault(k, []).extend(v)
            for k, v in p.get("marks", {}).items():
                marks.setdefault(k, []).extend(v)
        out = {"wall_s": max(p["wall_s"] for p in parts),
               "cpu_s": sum(p["cpu_s"] for p in parts),
               "cpu_per_process": [p["cpu_s"] for p in parts],
               "threads": sum(p["threads"] for p in parts),
               "rss_mb": sum(p["rss_mb"] for p in parts),
               "rss_per_process": [p["rss_mb"] for p in parts],
               "metrics": {k: summary(v) for k, v in samples.items()}}
        if raw:
            out["raw"] = samples
            out["marks"] = marks
        return out

    def routes(self, values: list[str]) -> list[int]:
        """Which process (index in `apps`) nginx sends each route-cookie value to."""
        import requests

        port_index = {a.port: i for i, a in enumerate(self.cluster.apps)}
        out = []
        with requests.Session() as s:
            for v in values:
                r = s.get(self.url + "/health", headers={"Cookie": f"daihoi_route={v}"},
                          timeout=10)
                s.cookies.clear()
                up = r.headers.get("X-Upstream", "")
                out.append(port_index.get(int(up.rsplit(":", 1)[1]), -1) if ":" in up else -1)
        return out

    def stop(self) -> None:
        self.cluster.stop()
        self.redis.stop()


def cpu_snapshot(groups: dict[str, set[int]]) -> dict:
    """CPU seconds so far of every process on the machine, by pid and group (`groups` names
    pid sets; otherwise postgres, nginx, redis by name, or "other"), and the machine's busy
    and idle seconds (/proc/stat)."""
    tck = os.sysconf("SC_CLK_TCK")
    names = {"postgres": "postgres", "nginx": "nginx", "redis-server": "redis"}
    procs: dict[int, tuple[str, float]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            raw = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        pid = int(d)
        comm = raw[raw.find("(") + 1:raw.rfind(")")]
        f = raw.rsplit(")", 1)[1].split()
        group = next((g for g, s in groups.items() if pid in s), None) or names.get(comm,
                                                                                    "other")
        procs[pid] = (group, (int(f[11]) + int(f[12])) / tck)
    cpu = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = (cpu[3] + cpu[4]) / tck
    return {"procs": procs, "busy": (sum(cpu[:8]) / tck) - idle, "idle": idle,
            "t": time.monotonic()}


def cpu_delta(a: dict, b: dict) -> dict:
    """CPU seconds used between two snapshots, by group; `_busy`/`_idle`/`_wall` machine-wide."""
    out: dict[str, float] = {}
    for pid, (group, t) in b["procs"].items():
        before = a["procs"].get(pid)
        used = t - (before[1] if before and before[0] == group else 0.0)
        if used > 0:
            out[group] = out.get(group, 0.0) + used
    busy = b["busy"] - a["busy"]
    # Busy time no process here accounts for: work outside this PID namespace (other
    # sessions on the host) or processes that came and went between the two snapshots.
    out["unaccounted"] = max(0.0, busy - sum(out.values()))
    out["_busy"] = busy
    out["_idle"] = b["idle"] - a["idle"]
    out["_wall"] = b["t"] - a["t"]
    return out


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="the instrumented `daihoi run` (used by the "
                                             "check-in benchmarks)")
    ap.add_argument("--port", type=int, required=True)
    serve(ap.parse_args().port)
