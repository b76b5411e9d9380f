"""Benchmark: many congresses on one deployment, all voting at once (issue 7, load benchmark
(d)).

`--events` congresses (default 50), each with `--per-event` connected delegates (default 300:
15,000 websockets), through nginx to `--processes` app processes (default 4) of the production
set-up (tests/cluster.py's `Cluster`: gunicorn with deploy/gunicorn.conf.py, one gevent worker
each, PostgreSQL, Redis as the Socket.IO message queue, nginx with the shipped site).

The world, through the real services (as bench/checkin_server.py's `Bench` builds one hall):
per event a unit of its own, `create_event`, the delegates, check-in and voting modules on,
`--per-event` approved delegates through the real roster import, every one checked in to the
official session's list by the real `record_scans`, one motion poll of that session made by
`create_poll` (a draft), a projector link; a Flask session cookie per delegate account signed
with the app's key as a sign-in leaves it (no argon2 sign-ins).

Then:

1. one projector per event connects in the driver (`auth: {projector: token}`, `join` as
   projector) and records every `voting:turnout` and `voting:poll` it receives;
2. `--client-procs` client processes (python-socketio `AsyncClient`, websocket transport, the
   delegate's cookie) connect every delegate, `--batch` at a time in all, each joined to its
   event as the phone's page is; each records every `voting:turnout` and `voting:poll` it
   receives;
3. the driver opens every event's poll through the real `open_poll` (its app on the same
   Redis: the `voting:poll` announcement goes through the message queue to every process);
4. every delegate of every event votes in its event's poll at one instant of the machine's
   monotonic clock (fresh nonce, a receipt made on the phone); per vote, emit → ack;
5. the driver closes every poll through the real `close_poll` (another `voting:poll`).

Checks: no client and no projector received a `voting:turnout` or `voting:poll` of another
event's poll; the database holds, per poll, exactly one voter row and one ballot per
acknowledged delegate, with the receipts the delegates were given. Figures: connect time,
vote ack p50/p99, votes/s, projector latency (last ack of its event → first turnout with every
vote counted), RSS per app process and per connection, CPU per process.

    python bench/many_events.py                                     # 50 × 300, 4 processes
    python bench/many_events.py --events 20 --per-event 300         # 6,000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import re
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from checkin_server import ROOT, SECRET_KEY, Bench, machine, summary  # noqa: E402
from page_load import cpu_s, postmaster, rss_mb, tree_cpu_s, wait_quiet  # noqa: E402
from voting_burst import Clients as PhoneClients  # noqa: E402

sys.path.insert(0, str(ROOT))

logging.getLogger("socketio.client").setLevel(logging.CRITICAL)
logging.getLogger("engineio.client").setLevel(logging.CRITICAL)

RECEIPT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # as plugins.voting.ballots


def normal_receipt(text: str | None) -> str | None:
    return re.sub(r"[\s-]", "", text).upper() if text else None


# ---------------------------------------------------------------- the world

class ManyEvents(Bench):
    """`n_events` halls in one scratch database, each with its delegates present and a draft
    poll (see the module's docstring)."""

    def __init__(self, *, pg: str, events: int, per_event: int) -> None:
        self.n_events = events
        self.per_event = per_event
        super().__init__(pg=pg, delegates=per_event, lists=1, stations=0)

    def build(self) -> None:
        try:
            self._build()
        except BaseException:
            self.close()  # the scratch database and folder
            raise

    def _build(self) -> None:
        from sqlalchemy import select

        from core.app import create_app
        from core.db import session, utcnow
        from core.events import create_event, create_projector_link
        from core.migrate import upgrade
        from core.modules import enable_module
        from plugins.checkin import services as checkin
        from plugins.delegates.demo import generate_roster
        from plugins.delegates.models import Delegate
        from plugins.delegates.roster_import import apply_roster, parse_roster
        from plugins.voting.services import PollInput, create_poll
        from tenants.models import UnitLevel
        from tenants.services import create_unit, ensure_levels

        t = time.perf_counter()
        app = create_app({"DATABASE_URL": self.db_url, "SECRET_KEY": SECRET_KEY},
                         instance_path=self.tmp / "instance")
        self.events: list[dict] = []
        everyone: list = []
        self.delegate_event: list[int] = []
        with app.app_context():
            app.extensions["daihoi_publisher"].publish = lambda *a, **k: None
            upgrade(app)
            db = session()
            ensure_levels(db, app.config["UNIT_LEVELS"])
            levels = list(db.scalars(select(UnitLevel).order_by(UnitLevel.rank)))
            root = create_unit(db, code="trung-uong", name="Trung ương Đoàn", level=levels[0],
                               parent=None)
            for i in range(self.n_events):
                code = f"tinh-{i + 1:02d}"
                unit = create_unit(db, code=code, name=f"Tỉnh đoàn số {i + 1}",
                                   level=levels[1], parent=root)
                event = create_event(
                    db, actor=None, unit=unit, slug="dai-hoi",
                    name=f"Đại hội đại biểu Đoàn TNCS Hồ Chí Minh tỉnh số {i + 1}",
                    convened_count=self.per_event,
                    sessions=[("Phiên trù bị", "preparatory"), ("Phiên chính thức", "official")])
                for name in ("delegates", "checkin", "voting"):
                    enable_module(db, event, name, actor=None)
                preview = parse_roster(generate_roster(self.per_event, seed=1000 + i),
                                       "bench.csv")
                assert preview.ok, preview.problems[:3]
                apply_roster(db, event, preview, actor=None)
                people = list(db.scalars(select(Delegate).where(Delegate.event_id == event.id,
                                                                Delegate.kind == "delegate")))
                for d in people:
                    d.status = "approved"
                lists = checkin.ensure_lists(db, event)
                for lst in lists:
                    lst.opens_at = utcnow() - timedelta(hours=1)
                _link, token = create_projector_link(db, event, actor=None, label="Hội trường")
                db.commit()
                lst = lists[-1]
                checkin.record_scans(db, event, lst, [
                    checkin.scan_input(nonce=uuid.uuid4().hex, delegate=d, station="bench")
                    for d in people])
                db.commit()
                poll = create_poll(db, event, PollInput(
                    title="Biểu quyết thông qua chương trình", kind="motion", mode="named",
                    session_id=lst.session_id, base="present"), actor=None)
                db.commit()
                self.events.append({"id": event.id, "ref": f"{code}/dai-hoi", "token": token,
                                    "poll": poll.id, "options": [o.id for o in poll.options]})
                everyone += people
                self.delegate_event += [i] * len(people)
            self.sign_delegate_cookies(app, db, everyone)
        app.extensions["daihoi_db"].engine.dispose()
        self.build_seconds = time.perf_counter() - t

    def count_all(self) -> dict[int, dict]:
        """Per poll: voters, distinct voters, ballots, receipts."""
        from sqlalchemy import create_engine, text

        url = "postgresql+psycopg://" + self.db_url.split("://", 1)[1]
        engine = create_engine(url)
        polls = [e["poll"] for e in self.events]
        out = {p: {"voters": 0, "distinct_voters": 0, "receipts": []} for p in polls}
        with engine.connect() as c:
            for p, n, d in c.execute(text(
                    "SELECT poll_id, count(*), count(DISTINCT delegate_id) FROM poll_voters "
                    "WHERE poll_id = ANY(:p) GROUP BY poll_id"), {"p": polls}):
                out[p].update(voters=n, distinct_voters=d)
            for p, r in c.execute(text("SELECT poll_id, receipt FROM poll_ballots "
                                       "WHERE poll_id = ANY(:p)"), {"p": polls}):
                out[p]["receipts"].append(r)
        engine.dispose()
        return out


class PollDesk:
    """The chair's desk in the driver: the real `open_poll` / `close_poll`, in an app on the
    deployment's Redis, so their `voting:poll` goes through the message queue."""

    def __init__(self, bench: ManyEvents, redis_url: str) -> None:
        from core.app import create_app

        self.bench = bench
        self.app = create_app({"DATABASE_URL": bench.db_url, "SECRET_KEY": SECRET_KEY,
                               "REDIS_URL": redis_url}, instance_path=bench.tmp / "instance")

    def act(self, what: str) -> list[float]:
        """Open or close every event's poll, one after the other; seconds each."""
        from core.db import session
        from core.models import Event
        from plugins.voting.models import Poll
        from plugins.voting.services import close_poll, open_poll

        took = []
        for e in self.bench.events:
            t = time.perf_counter()
            with self.app.app_context():
                db = session()
                event = db.get(Event, e["id"])
                poll = db.get(Poll, e["poll"])
                (open_poll if what == "open" else close_poll)(db, event, poll, actor=None)
                db.commit()
            took.append(time.perf_counter() - t)
        return took


# ---------------------------------------------------------------- a client process

async def client_main(args) -> None:
    """Holds delegates g = proc_index, proc_index + procs, …; obeys JSON lines on stdin."""
    import socketio

    people = json.loads(Path(args.people).read_text())
    mine = list(range(args.proc_index, len(people), args.procs))
    clients: dict[int, socketio.AsyncClient] = {}
    received: list[list] = []  # [g, name, poll, voted or status, monotonic]
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(obj: dict) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    def recorder(g: int, name: str):
        async def on(data=None):
            d = data if isinstance(data, dict) else {}
            received.append([g, name, d.get("poll", d.get("id")), d.get("voted"),
                             time.monotonic(), d.get("status")])
        return on

    async def connect(upto: int, batch: int) -> dict:
        todo = [g for g in mine if g < upto and (g not in clients or not clients[g].connected)]
        sem = asyncio.Semaphore(batch)
        failures: list[str] = []
        connect_ms: list[float] = []
        cpu0 = time.process_time()

        async def one(g: int) -> None:
            async with sem:
                p = people[g]
                sio = socketio.AsyncClient(reconnection=False)
                for name in ("voting:turnout", "voting:poll"):
                    sio.on(name, recorder(g, name))
                t = time.perf_counter()
                try:
                    await sio.connect(args.url, headers={"Cookie": p["cookie"]},
                                      transports=["websocket"], wait_timeout=120)
                    ack = await sio.call("join", {"event": p["ref"]}, timeout=120)
                    assert isinstance(ack, dict) and ack.get("ok"), str(ack)[:100]
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    failures.append(f"{type(exc).__name__}: {exc}"[:200])
                    try:
                        await sio.disconnect()
                    except Exception:  # noqa: BLE001, S110 - already gone
                        pass
                    return
                connect_ms.append((time.perf_counter() - t) * 1000)
                clients[g] = sio

        t = time.perf_counter()
        await asyncio.gather(*(one(g) for g in todo))
        return {"connected": sum(1 for c in clients.values() if c.connected),
                "failed": len(failures), "failures": failures[:10],
                "seconds": time.perf_counter() - t, "connect_ms": connect_ms,
                "cpu_s": time.process_time() - cpu0}

    async def vote(cmd: dict) -> dict:
        rnd = random.Random(f"{cmd['seed']}-{args.proc_index}")
        records: list[dict] = []
        cpu0 = time.process_time()
        delay = cmd["t0"] - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        for g in mine:
            sio = clients.get(g)
            p = people[g]
            rec = {"g": g, "e": p["e"], "sent": None}
            records.append(rec)
            if sio is None or not sio.connected:
                continue
            payload = {"event": p["ref"], "poll": p["poll"],
                       "choices": [rnd.choice(p["options"])], "nonce": uuid.uuid4().hex,
                       "receipt": "".join(rnd.choice(RECEIPT_ALPHABET) for _ in range(10))}

            def answered(ack=None, rec=rec):
                rec["acked"] = time.monotonic()
                rec["ack"] = ack

            rec["sent"] = time.monotonic()
            await sio.emit("voting:vote", payload, callback=answered)
        end = time.monotonic() + cmd["wait"]
        while time.monotonic() < end and any(
                r["sent"] is not None and "acked" not in r for r in records):
            await asyncio.sleep(0.05)
        for r in records:
            a = r.pop("ack", None)
            if isinstance(a, dict):
                r["ok"] = bool(a.get("ok"))
                r["status"] = a.get("status") or a.get("error")
                r["receipt"] = normal_receipt(a.get("receipt"))
        Path(cmd["out"]).write_text(json.dumps(records))
        return {"done": len(records), "cpu_s": time.process_time() - cpu0,
                "dropped": sum(1 for g in mine if g in clients and not clients[g].connected)}

    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        if cmd["cmd"] == "connect":
            reply(await connect(cmd["upto"], cmd["batch"]))
        elif cmd["cmd"] == "vote":
            reply(await vote(cmd))
        elif cmd["cmd"] == "received":
            Path(cmd["out"]).write_text(json.dumps(received))
            reply({"received": len(received),
                   "connected": sum(1 for c in clients.values() if c.connected),
                   "rss_mb": rss_mb(os.getpid())})
        elif cmd["cmd"] == "stop":
            break
    for sio in clients.values():
        try:
            await asyncio.wait_for(sio.eio.disconnect(abort=True), 1)
        except Exception:  # noqa: BLE001, S110 - the server may be gone first
            pass
    reply({"stopped": True})
    os._exit(0)


class Clients(PhoneClients):
    """bench/voting_burst.py's client processes, holding people of many events."""

    @classmethod
    async def start(cls, url: str, people: Path, procs: int) -> Clients:
        ps = []
        for i in range(procs):
            ps.append(await asyncio.create_subprocess_exec(
                sys.executable, str(Path(__file__).resolve()), "--client", "--url", url,
                "--people", str(people), "--proc-index", str(i), "--procs", str(procs),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**26))
        return cls(ps)

    async def stop(self) -> None:
        procs, self.procs = self.procs, []
        for p in procs:
            try:
                p.stdin.write(b'{"cmd": "stop"}\n')
                await p.stdin.drain()
            except Exception:  # noqa: BLE001, S110 - already gone
                pass
        for p in procs:
            try:
                await asyncio.wait_for(p.wait(), 60)
            except Exception:  # noqa: BLE001 - TimeoutError included
                try:
                    p.kill()
                except ProcessLookupError:
                    pass


class Projector:
    def __init__(self, index: int) -> None:
        import socketio

        self.index = index
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: list[tuple[str, object, object, float]] = []
        for name in ("voting:turnout", "voting:poll"):
            self.sio.on(name, self._recorder(name))

    def _recorder(self, name: str):
        async def on(data=None):
            d = data if isinstance(data, dict) else {}
            self.received.append((name, d.get("poll", d.get("id")),
                                  d.get("voted", d.get("status")), time.monotonic()))
        return on

    async def connect(self, url: str, event: dict) -> None:
        await self.sio.connect(url, auth={"projector": event["token"]},
                               transports=["websocket"], wait_timeout=60)
        ack = await self.sio.call("join", {"event": event["ref"], "as": "projector"},
                                  timeout=60)
        assert ack.get("ok"), ack

    def final(self, poll: int, voted: int) -> float | None:
        """When the projector first counted at least `voted` for `poll` (None: never)."""
        for name, p, v, t in self.received:
            if name == "voting:turnout" and p == poll and isinstance(v, int) and v >= voted:
                return t
        return None


# ---------------------------------------------------------------- the driver

def established(port: int) -> int:
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True).stdout
    return len(out.splitlines())


def worker_pid(app) -> int:
    return next((p for p in app.pids if p != app.proc.pid), app.proc.pid)


def snapshot(cluster) -> dict:
    workers = [worker_pid(a) for a in cluster.apps]
    return {"cpu": [cpu_s(p) for p in workers], "rss": [rss_mb(p) for p in workers],
            "conns": [established(a.port) for a in cluster.apps],
            "nginx_cpu": tree_cpu_s(cluster.nginx.proc.pid),
            "nginx_rss": sum(rss_mb(int(p)) for p in subprocess.run(
                ["pgrep", "-g", str(cluster.nginx.proc.pid)], capture_output=True,
                text=True).stdout.split()),
            "pg_cpu": tree_cpu_s(postmaster()), "t": time.monotonic()}


def cpu_line(a: dict, b: dict) -> str:
    wall = b["t"] - a["t"]
    return ("workers " + ", ".join(f"{y - x:.1f} s ({(y - x) / wall:.0%})"
                                   for x, y in zip(a["cpu"], b["cpu"], strict=True))
            + f"; nginx {b['nginx_cpu'] - a['nginx_cpu']:.1f} s; PostgreSQL "
            f"{b['pg_cpu'] - a['pg_cpu']:.1f} s; over {wall:.1f} s")


async def drive(bench: ManyEvents, cluster, desk: PollDesk, args) -> dict:
    out: dict = {}
    people = bench.tmp / "people.json"
    people.write_text(json.dumps([
        {"cookie": c, "e": e, "ref": bench.events[e]["ref"], "poll": bench.events[e]["poll"],
         "options": bench.events[e]["options"]}
        for c, e in zip(bench.delegate_cookies, bench.delegate_event, strict=True)]))
    n = len(bench.delegate_cookies)
    projectors = [Projector(i) for i in range(len(bench.events))]
    await asyncio.gather(*(p.connect(cluster.url, e)
                           for p, e in zip(projectors, bench.events, strict=True)))
    clients = await Clients.start(cluster.url, people, args.client_procs)
    try:
        await asyncio.sleep(2)
        print("   " + await asyncio.to_thread(wait_quiet, args.quiet_wait))
        s0 = snapshot(cluster)
        t_join0 = time.monotonic()
        prof = None
        if args.profile_connect:
            from checkin_server import Profiler

            prof = Profiler(worker_pid(cluster.apps[0]), bench.tmp / "profile-connect.txt",
                            args.profile_connect, rate=100, gil=False)
        per = max(1, args.batch // args.client_procs)
        replies = await clients.ask([{"cmd": "connect", "upto": n, "batch": per}]
                                    * args.client_procs)
        s1 = snapshot(cluster)
        connected = sum(r["connected"] for r in replies)
        failures = sorted({f for r in replies for f in r["failures"]})
        cm = summary([x for r in replies for x in r["connect_ms"]])
        out["connect"] = {"connected": connected, "failed": sum(r["failed"] for r in replies),
                          "seconds": max(r["seconds"] for r in replies), "ms": cm,
                          "client_cpu_s": sum(r["cpu_s"] for r in replies)}
        print(f"\n{connected:,} of {n:,} delegates connected and joined "
              f"({out['connect']['failed']} failed) in {out['connect']['seconds']:.1f} s, "
              f"{args.batch} at a time; connect+join p50/p99/max "
              f"{cm['p50']:,.0f} / {cm['p99']:,.0f} / {cm['max']:,.0f} ms")
        if failures:
            print("   failures: " + "; ".join(failures[:5]))
        if prof is not None:
            print("   profile (py-spy, process 1's worker, non-idle, first "
                  f"{args.profile_connect:.0f} s of the connecting):\n     "
                  + prof.finish(top=40).replace("\n", "\n     "))
        print(f"   CPU while connecting: {cpu_line(s0, s1)}; clients "
              f"{out['connect']['client_cpu_s']:.1f} s")
        await asyncio.sleep(5)  # settle (handshakes' garbage, pings)
        s2 = snapshot(cluster)
        out["memory"] = {"before": s0, "after": s2}
        print("   per process: connections " + ", ".join(str(c) for c in s2["conns"])
              + "; RSS " + ", ".join(f"{a:.0f} → {b:.0f} MB" for a, b in
                                     zip(s0["rss"], s2["rss"], strict=True))
              + "; per connection " + ", ".join(
                  f"{(b - a) * 1024 / max(1, c):.0f} KB" for a, b, c in
                  zip(s0["rss"], s2["rss"], s2["conns"], strict=True))
              + f"; nginx RSS {s2['nginx_rss']:.0f} MB")
        await asyncio.sleep(args.idle)
        s3 = snapshot(cluster)
        print(f"   idle {args.idle:.0f} s with every connection open (pings): {cpu_line(s2, s3)}")

        # The chair opens every poll: voting:poll to every delegate, through Redis.
        t = time.perf_counter()
        took = await asyncio.to_thread(desk.act, "open")
        print(f"\n{len(took)} polls opened by open_poll in {time.perf_counter() - t:.1f} s "
              f"(each p50 {sorted(took)[len(took) // 2] * 1000:.0f} ms)")
        await asyncio.sleep(3)
        print("   " + await asyncio.to_thread(wait_quiet, args.quiet_wait))

        # Everyone votes at once.
        s4 = snapshot(cluster)
        t0 = time.monotonic() + 1.0
        outs = [str(bench.tmp / f"votes-{i}.json") for i in range(args.client_procs)]
        replies = await clients.ask([{"cmd": "vote", "t0": t0, "wait": args.wait,
                                      "seed": args.seed, "out": o} for o in outs])
        s5 = snapshot(cluster)
        records = [r for o in outs for r in json.loads(Path(o).read_text())]
        # The projector's last count.
        acked_per_event: dict[int, list[dict]] = {}
        for r in records:
            if r.get("ok"):
                acked_per_event.setdefault(r["e"], []).append(r)
        end = time.monotonic() + args.flush_wait
        while time.monotonic() < end and any(
                p.final(bench.events[i]["poll"], len(acked_per_event.get(i, []))) is None
                for i, p in enumerate(projectors)):
            await asyncio.sleep(0.05)
        sent = [r for r in records if r["sent"] is not None]
        answered = [r for r in sent if "acked" in r]
        ok = [r for r in answered if r.get("ok")]
        lat = [(r["acked"] - r["sent"]) * 1000 for r in answered]
        statuses: dict[str, int] = {}
        for r in answered:
            statuses[str(r.get("status"))] = statuses.get(str(r.get("status")), 0) + 1
        first = min((r["sent"] for r in sent), default=t0)
        last_sent = max((r["sent"] for r in sent), default=t0)
        last_ack = max((r["acked"] for r in answered), default=t0)
        proj_ms = []
        never = 0
        for i, p in enumerate(projectors):
            acked = acked_per_event.get(i, [])
            seen = p.final(bench.events[i]["poll"], len(acked))
            if seen is None or not acked:
                never += 1
            else:
                proj_ms.append((seen - max(r["acked"] for r in acked)) * 1000)
        vote = {"sent": len(sent), "answered": len(answered), "ok": len(ok),
                "statuses": statuses, "ack": summary(lat),
                "votes_per_s": len(answered) / max(1e-9, last_ack - first),
                "send_spread_ms": (last_sent - first) * 1000,
                "projector_ms": summary(proj_ms), "projector_never": never,
                "client_cpu_s": sum(r["cpu_s"] for r in replies),
                "dropped": sum(r["dropped"] for r in replies)}
        out["vote"] = vote
        a = vote["ack"]
        pm = vote["projector_ms"]
        vote["after_first_join_s"] = first - t_join0
        print(f"\nvote: {len(sent):,} sent over {vote['send_spread_ms']:.0f} ms, "
              f"{first - t_join0:.0f} s after the first delegate began to connect (a "
              f"connection's resolved caller is kept {300} s: core.realtime), "
              f"{len(answered):,} answered, {len(ok):,} ok; statuses {statuses}; "
              f"dropped {vote['dropped']}")
        print(f"   ack p50/p95/p99/max ms: {a['p50']:,.0f} / {a['p95']:,.0f} / "
              f"{a['p99']:,.0f} / {a['max']:,.0f}; {vote['votes_per_s']:,.0f} votes/s "
              f"(first send → last ack {(last_ack - first):.1f} s)")
        print(f"   projectors: final turnout after their event's last ack p50/p99/max ms: "
              f"{pm['p50']:,.0f} / {pm['p99']:,.0f} / {pm['max']:,.0f}; never shown: {never}")
        print(f"   CPU during the vote: {cpu_line(s4, s5)}; clients {vote['client_cpu_s']:.1f} s")

        # The chair closes every poll (the count; another voting:poll to everyone).
        t = time.perf_counter()
        took = await asyncio.to_thread(desk.act, "close")
        print(f"\n{len(took)} polls closed by close_poll in {time.perf_counter() - t:.1f} s")
        await asyncio.sleep(args.flush_wait)

        # Nothing crossed between events.
        outs = [str(bench.tmp / f"received-{i}.json") for i in range(args.client_procs)]
        replies = await clients.ask([{"cmd": "received", "out": o} for o in outs])
        poll_event = {e["poll"]: i for i, e in enumerate(bench.events)}
        got = [m for o in outs for m in json.loads(Path(o).read_text())]
        crossed = [m for m in got if poll_event.get(m[2]) != bench.delegate_event[m[0]]]
        kinds: dict[str, int] = {}
        for m in got:
            kinds[m[1]] = kinds.get(m[1], 0) + 1
        per_delegate_polls: dict[int, int] = {}
        for m in got:
            if m[1] == "voting:poll":
                per_delegate_polls[m[0]] = per_delegate_polls.get(m[0], 0) + 1
        complete = sum(1 for g in range(n) if per_delegate_polls.get(g, 0) >= 2)
        have: dict[str, set] = {"open": set(), "closed": set()}
        for m in got:
            if m[1] == "voting:poll" and m[5] in have:
                have[m[5]].add(m[0])
        voters = {r["g"] for r in records if r["sent"] is not None}
        missing = {k: sorted(voters - v) for k, v in have.items()}
        miss_events = {k: sorted({bench.delegate_event[g] for g in v})
                       for k, v in missing.items()}
        p_crossed = sum(1 for i, p in enumerate(projectors) for m in p.received
                        if poll_event.get(m[1]) != i)
        p_kinds: dict[str, int] = {}
        for p in projectors:
            for m in p.received:
                p_kinds[m[0]] = p_kinds.get(m[0], 0) + 1
        out["isolation"] = {"missing": {k: len(v) for k, v in missing.items()},
                            "missing_events": miss_events,
                            "received": kinds, "crossed": len(crossed),
                            "examples": crossed[:5], "with_open_and_close": complete,
                            "projector_received": p_kinds, "projector_crossed": p_crossed,
                            "client_rss_mb": [r["rss_mb"] for r in replies]}
        print(f"\nisolation: delegates received {kinds}; of another event's poll: "
              f"{len(crossed)}; delegates who got their own poll's opening and closing: "
              f"{complete:,} of {n:,}")
        print(f"   connected delegates without their poll's opening: {len(missing['open'])}"
              f" (events {miss_events['open'][:10]}), without its closing: "
              f"{len(missing['closed'])} (events {miss_events['closed'][:10]})")
        print(f"   projectors received {p_kinds}; of another event's poll: {p_crossed}")
        print("   client processes RSS " + ", ".join(f"{x:.0f} MB" for x in
                                                    out["isolation"]["client_rss_mb"]))

        # The database: one voter and one ballot per acknowledged delegate, per poll.
        db = bench.count_all()
        sent_per_event: dict[int, int] = {}
        for r in sent:
            sent_per_event[r["e"]] = sent_per_event.get(r["e"], 0) + 1
        bad, lost, twice, unacked_stored, full = [], 0, 0, 0, 0
        for i, e in enumerate(bench.events):
            acked = acked_per_event.get(i, [])
            c = db[e["poll"]]
            stored = set(c["receipts"])
            missing = sum(1 for r in acked if r["receipt"] not in stored)
            extra = (c["voters"] - c["distinct_voters"]) + (len(c["receipts"]) - c["voters"])
            lost += missing + max(0, len({r["receipt"] for r in acked}) - len(acked))
            twice += extra
            unacked_stored += c["voters"] - len(acked)
            full += c["voters"] == args.per_event
            if missing or extra or c["voters"] > sent_per_event.get(i, 0):
                bad.append((i, c["voters"], len(c["receipts"]), len(acked)))
        out["db"] = {"polls_ok": len(bench.events) - len(bad), "bad": bad[:10],
                     "lost": lost, "twice": twice, "unacked_stored": unacked_stored,
                     "polls_full": full}
        print(f"   database: acknowledged `recorded` but not stored: {lost}; counted twice "
              f"(voter rows beyond one per delegate, ballots beyond one per voter): {twice}; "
              f"stored but the phone not told `recorded`: {unacked_stored}; polls with all "
              f"{args.per_event}: {full} of {len(bench.events)}"
              + (f"; MISMATCH (event, voters, ballots, acked): {bad[:5]}" if bad else ""))
        s6 = snapshot(cluster)
        out["rss_end"] = s6["rss"]
        print("   app RSS at the end: " + ", ".join(f"{x:.0f} MB" for x in s6["rss"]))
        s7 = snapshot(cluster)
        t = time.monotonic()
        await clients.stop()  # every delegate's connection dropped at once (abort)
        while sum(established(a.port) for a in cluster.apps) > len(projectors) and \
                time.monotonic() - t < 300:
            await asyncio.sleep(0.5)
        left = time.monotonic() - t
        await asyncio.sleep(2)
        s8 = snapshot(cluster)
        out["leave"] = {"seconds": left, "cpu": [b - a for a, b in
                                                 zip(s7["cpu"], s8["cpu"], strict=True)]}
        print(f"\nall delegates gone at once: the app processes' connections back to the "
              f"projectors' in {left:.1f} s; {cpu_line(s7, s8)}")
    finally:
        await clients.stop()
        for p in projectors:
            try:
                await p.sio.disconnect()
            except Exception:  # noqa: BLE001, S110
                pass
    return out


def roomier_nginx(nginx, workers: int):
    """tests/cluster.py's nginx with `workers` worker processes instead of one, each with its
    own 20,000 worker_connections and file limit (a proxied websocket takes two: the phone's
    and the upstream's, so one worker holds at most ~10,000; this sandbox forbids raising the
    file limit), the listening socket shared by `reuseport`; everything else as shipped.
    Debian's own nginx.conf has `worker_processes auto` (one per core)."""
    make = nginx.config

    def config() -> str:
        text = make().replace("worker_processes 1;", f"worker_processes {workers};")
        return re.sub(r"(listen 127\.0\.0\.1:\d+) backlog=", r"\1 reuseport backlog=", text)

    nginx.config = config
    return nginx


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--events", type=int, default=50)
    ap.add_argument("--per-event", type=int, default=300)
    ap.add_argument("--processes", type=int, default=4)
    ap.add_argument("--client-procs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=200,
                    help="delegates connecting at once, all client processes together")
    ap.add_argument("--wait", type=float, default=120,
                    help="how long after its last send a client waits for acks (s)")
    ap.add_argument("--flush-wait", type=float, default=10)
    ap.add_argument("--idle", type=float, default=30,
                    help="seconds with every connection open before the vote")
    ap.add_argument("--quiet-wait", type=float, default=120)
    ap.add_argument("--nginx-workers", type=int, default=1,
                    help="nginx worker processes (tests/cluster.py: 1, which holds ~10,000 "
                         "proxied websockets)")
    ap.add_argument("--profile-connect", type=float, default=0,
                    help="py-spy process 1's worker for this many seconds of the connecting")
    ap.add_argument("--seed", type=int, default=2027)
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--people", help=argparse.SUPPRESS)
    ap.add_argument("--proc-index", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--procs", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        asyncio.run(client_main(args))
        return
    from tests.cluster import Cluster, RedisServer

    t_all = time.perf_counter()
    print("DaiHoi many-events benchmark (issue 7 (d))")
    print(f"load average before {os.getloadavg()[0]:.2f}")
    bench = ManyEvents(pg=args.db, events=args.events, per_event=args.per_event)
    redis = cluster = None
    try:
        print(machine(bench.db_url) + " · nginx 1.22.1, gunicorn, gevent (as tests/cluster.py)")
        print(f"world: {args.events} events × {args.per_event} approved delegates present, one "
              f"draft motion poll each; built in {bench.build_seconds:.1f} s; "
              f"{args.processes} app processes; {args.client_procs} client processes")
        redis = RedisServer(bench.tmp / "redis").start()
        cluster = Cluster(bench.tmp / "cluster", database_url=bench.db_url, redis_url=redis.url,
                          processes=args.processes, nginx=True, secret_key=SECRET_KEY,
                          env={"DAIHOI_LOCALE": "vi"})
        if args.nginx_workers > 1:
            cluster.nginx = roomier_nginx(cluster.nginx, args.nginx_workers)
        cluster.start()
        desk = PollDesk(bench, redis.url)
        print(f"cluster up: nginx {cluster.url}, apps {[a.port for a in cluster.apps]}"
              + (f"; nginx with {args.nginx_workers} workers (tests/cluster.py: 1)"
                 if args.nginx_workers > 1 else "; nginx as tests/cluster.py"))
        result = asyncio.run(drive(bench, cluster, desk, args))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    finally:
        if cluster is not None:
            cluster.stop()
            logs = cluster.logs()
            err = bench.tmp / "cluster" / "nginx" / "nginx-error.log"
            nginx_log = err.read_text(errors="replace") if err.exists() else ""
            logs += "\n--- nginx\n" + nginx_log[-20000:]
            kinds: dict[str, int] = {}
            for ln in nginx_log.splitlines():
                m = re.search(r"\] \d+#\d+: (?:\*\d+ )?([^,(]+)", ln)
                key = m[1].strip()[:70] if m else ln[:70]
                kinds[key] = kinds.get(key, 0) + 1
            if kinds:
                print("nginx error log: " + "; ".join(f"{k} ×{v}" for k, v in sorted(
                    kinds.items(), key=lambda kv: -kv[1])[:6]))
            (bench.tmp.parent / f"many-events-logs-{bench.tmp.name}.txt").write_text(logs)
            bad = [ln for ln in logs.splitlines()
                   if "Traceback" in ln or "ERROR" in ln or "WORKER TIMEOUT" in ln]
            if bad:
                print(f"app logs: {len(bad)} error lines, e.g. " + " | ".join(bad[:3]))
        if redis is not None:
            redis.stop()
        bench.close(keep=args.keep)
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")
    os._exit(0)  # the desk's message-queue listener thread need not be waited for


if __name__ == "__main__":
    main()
