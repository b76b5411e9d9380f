"""Shared by the check-in benchmarks: the world they scan in, and the server they scan against.

As a library (imported by bench/checkin_scans.py and bench/checkin_broadcast.py):

- `Bench` makes a fresh database (a SQLite file in a temporary folder, or a scratch
  PostgreSQL database), migrates it, and builds a hall: one congress with the delegates and
  check-in modules on, N approved delegates from the real roster import, one open check-in
  list per measured step, check-in staff accounts (one per station) and a projector link.
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

class Bench:
    """A scratch database with a hall in it, and the server process scanning against it."""

    def __init__(self, *, pg: str | None, delegates: int, lists: int, stations: int,
                 redis: str | None = None, async_mode: str = "threading",
                 flush: float | None = None, serialize_scans: bool = False) -> None:
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
        self.n_delegates = delegates
        self.n_lists = lists
        self.n_stations = stations
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
            for name in ("delegates", "checkin"):
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
        app.extensions["daihoi_db"].engine.dispose()
        self.build_seconds = time.perf_counter() - t

    # ------------------------------------------------------------ the server

    def start_server(self, port: int | None = None, timeout: float = 60) -> str:
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
        if self.flush is not None:
            env["DAIHOI_REALTIME_FLUSH_SECONDS"] = str(self.flush)
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

    def sign_in(self, username: str) -> str:
        """Sign in through the login form (CSRF token and all); the Cookie header to send."""
        import requests

        s = requests.Session()
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

    def __init__(self, pid: int, out: Path, seconds: float, rate: int = 200) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.out = out
        self.proc = subprocess.Popen(
            [exe, "record", "--pid", str(pid), "--duration", str(int(seconds)),
             "--rate", str(rate), "--gil", "--nonblocking", "--format", "raw",
             "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def finish(self, top: int = 25) -> str:
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if not self.out.exists():
            return "(py-spy wrote nothing)"
        return summarise_stacks(self.out.read_text(), top)


def summarise_stacks(raw: str, top: int = 25) -> str:
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
    out = [f"{total} samples holding the GIL", "inclusive:"]
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

    def add(self, name: str, seconds: float) -> None:
        self.samples.setdefault(name, []).append(seconds * 1000)

    def reset(self) -> None:
        self.samples = {}
        self.flush_ends = []
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
        return out


def _rss_mb() -> float:
    try:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status)[1]) / 1024
    except (OSError, TypeError):
        return float("nan")


def instrument(app, rec: Recorder) -> None:
    """Time the scan handler and the realtime flush inside the server, by wrapping them."""
    from flask import jsonify, request

    sio = app.extensions["daihoi_socketio"]
    server = sio.server
    arrived: dict[tuple, float] = {}
    handle_event = server._handle_event
    handle_internal = server._handle_event_internal

    def timed_handle_event(eio_sid, namespace, id, data):
        if data and data[0] == "checkin:scan":
            arrived[(eio_sid, id)] = time.perf_counter()
        return handle_event(eio_sid, namespace, id, data)

    def timed_internal(srv, sid, eio_sid, data, namespace, id):
        t0 = arrived.pop((eio_sid, id), None)
        t1 = time.perf_counter()
        try:
            return handle_internal(srv, sid, eio_sid, data, namespace, id)
        finally:
            if t0 is not None:
                t2 = time.perf_counter()
                rec.add("scan_total", t2 - t0)
                rec.add("scan_wait", t1 - t0)

    server._handle_event = timed_handle_event
    server._handle_event_internal = timed_internal

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

    @app.route("/_bench/stats")
    def bench_stats():
        out = rec.report(raw=request.args.get("raw") == "1")
        if request.args.get("reset") == "1":
            rec.reset()
        return jsonify(out)


def serve(port: int) -> None:
    import core.app
    from core.cli import main as daihoi

    rec = Recorder()
    create_app = core.app.create_app

    def create_instrumented_app(overrides=None, **kw):
        kw.setdefault("instance_path", os.environ.get("BENCH_INSTANCE"))
        app = create_app(overrides, **kw)
        instrument(app, rec)
        return app

    core.app.create_app = create_instrumented_app
    # Exactly `daihoi run`: the CLI's own command, in this process.
    daihoi(["run", "--host", "127.0.0.1", "--port", str(port)])


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="the instrumented `daihoi run` (used by the "
                                             "check-in benchmarks)")
    ap.add_argument("--port", type=int, required=True)
    serve(ap.parse_args().port)
