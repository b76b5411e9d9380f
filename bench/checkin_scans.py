"""Benchmark: scans per second one app process sustains (issue target: at least 300 scans/s,
server-side p99 under 50 ms, on SQLite and on PostgreSQL).

Builds a hall (bench/checkin_server.py: a fresh database, 1,000 approved delegates from the
real roster import, one open check-in list per step, a check-in account per station), starts
the app in its own process as `daihoi run` does, signs the stations in through the login form
and connects them over Socket.IO (websocket), each joined to the event as the station page is,
so they also get the staff broadcasts. Then, for each offered rate, the stations together send
`checkin:scan` at that fixed total rate (open loop: a send does not wait for the previous
answer) with fresh nonces and real badge secrets picked at random (so repeats of a badge
happen, as in a hall), some unknown codes and some retries of an earlier nonce. Each step
scans into a fresh list. Reported per step: the achieved rate, the server-side time per scan
(measured inside the server process), the acknowledgement time seen by the stations, the
verdicts, and the server's CPU use; the database is checked to hold every acknowledged scan.

    python bench/checkin_scans.py                                  # SQLite file
    python bench/checkin_scans.py --db postgresql://postgres@127.0.0.1:5432/postgres
    python bench/checkin_scans.py --rates 300,600,900 --seconds 20 --profile 300
    python bench/checkin_scans.py --cost --rates ""       # one scan at a time, by part

Cluster mode (`--processes 1,2`, PostgreSQL, gevent): the production set-up of tests/cluster.py
for each count (N gunicorns with one gevent worker each, a private Redis as message queue,
nginx in front; bench/checkin_server.py BenchCluster, instrumented the same way). The stations
sign in and connect through nginx, each carrying a route cookie picked so that they are split
evenly over the processes (station i on process i mod N).

    python bench/checkin_scans.py --async-mode gevent --processes 1,2 \\
        --db postgresql://postgres@127.0.0.1:5432/postgres --rates 200,300,400,600
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import secrets
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from checkin_server import (  # noqa: E402
    EVENT_REF,
    PASSWORD,
    SECRET_KEY,
    Bench,
    BenchCluster,
    Profiler,
    cpu_delta,
    cpu_snapshot,
    machine,
    summary,
)

logging.getLogger("socketio.client").setLevel(logging.CRITICAL)
logging.getLogger("engineio.client").setLevel(logging.CRITICAL)


class Station:
    def __init__(self, name: str, cookie: str) -> None:
        import socketio

        self.name = name
        self.cookie = cookie
        self.sio = socketio.AsyncClient(reconnection=False)
        self.broadcasts = 0
        self.sio.on("*", self._count)

    async def _count(self, *_args) -> None:
        self.broadcasts += 1

    async def connect(self, url: str) -> None:
        await self.sio.connect(url, headers={"Cookie": self.cookie}, transports=["websocket"],
                               wait_timeout=30)
        ack = await self.sio.call("join", {"event": EVENT_REF}, timeout=30)
        assert ack.get("ok"), ack


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def step(stations: list[Station], list_id: int, rate: float, seconds: float,
               badges: list[str], rnd: random.Random, unknown: float, retry: float,
               idle: float = 20.0, grace: float = 60.0) -> dict:
    """Send rate × seconds scans at a fixed total rate; wait for the answers; the figures."""
    loop = asyncio.get_running_loop()
    n = int(rate * seconds)
    done: list[tuple[float, float, dict | None]] = []  # (sent, answered, ack)
    sent: list[dict] = []
    lateness = []
    cpu0 = time.process_time()
    t0 = loop.time() + 0.05
    first = last = None
    for i in range(n):
        due = t0 + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        lateness.append(max(0.0, loop.time() - due) * 1000)
        st = stations[i % len(stations)]
        r = rnd.random()
        if sent and r < retry:
            # A station that got no answer in time sends the same scan again.
            payload = dict(rnd.choice(sent))
        else:
            code = (secrets.token_urlsafe(16) if r < retry + unknown
                    else rnd.choice(badges))
            payload = {"event": EVENT_REF, "list": list_id, "nonce": uuid.uuid4().hex,
                       "code": code, "scanned_at": now_iso(), "direction": "in",
                       "station": st.name}
            sent.append(payload)
        t = time.perf_counter()

        def answered(ack=None, t=t):
            done.append((t, time.perf_counter(), ack))

        await st.sio.emit("checkin:scan", payload, callback=answered)
        last = t
        first = first if first is not None else t
    # An overloaded server still answers, late: wait for the backlog to drain (bounded), so the
    # next step starts on an idle server.
    end = time.perf_counter() + grace
    seen, quiet_since = len(done), time.perf_counter()
    while len(done) < n and time.perf_counter() < end:
        await asyncio.sleep(0.05)
        if len(done) != seen:
            seen, quiet_since = len(done), time.perf_counter()
        elif time.perf_counter() - quiet_since > idle:
            break
    answered_by = max((a for _s, a, _k in done), default=last)
    verdicts: dict[str, int] = {}
    errors = 0
    for _s, _a, ack in done:
        if not (isinstance(ack, dict) and ack.get("ok")):
            errors += 1
            continue
        res = ack["result"]
        key = "replay" if res["replay"] else (res["verdict"] + ("" if res["verdict"] != "refused"
                                                                else f":{res['reason']}"))
        verdicts[key] = verdicts.get(key, 0) + 1
    return {
        "offered": rate, "n": n, "answered": len(done), "errors": errors,
        "send_rate": (n - 1) / (last - first) if n > 1 and last > first else float("nan"),
        "ack_rate": len(done) / (answered_by - first) if done else 0.0,
        "client": summary([(a - s) * 1000 for s, a, _k in done]),
        "late": summary(lateness), "verdicts": verdicts,
        "load_cpu": time.process_time() - cpu0,
        "replays_sent": n - len(sent),
    }


async def run(bench: Bench, args, target: dict | None = None) -> list[dict]:
    """`target` (cluster mode): `stats` (merged /_bench/stats), `pid` (profiled), `pids`
    (server processes, for the CPU breakdown), `routes` (a route cookie per station),
    `list0` (the first of this target's lists)."""
    target = target or {"stats": bench.stats, "pid": bench.proc.pid, "pids": [bench.proc.pid],
                        "routes": [None] * len(bench.stations), "list0": 0}
    stats = target["stats"]
    cookies = [bench.sign_in(u, route=r) for u, r in zip(bench.stations, target["routes"],
                                                            strict=True)]
    stations = [Station(f"Cổng {i + 1}", c) for i, c in enumerate(cookies)]
    for st in stations:
        await st.connect(bench.url)
    rnd = random.Random(args.seed)
    badges = bench.secrets + bench.guest_secrets
    # Warm-up on the preparatory session's list: compiled SQL caches, pools, first threads.
    warm = await step(stations, bench.warm_list_id, 50, 2, badges, rnd, args.unknown,
                      args.retry)
    rows = [warm]
    broke = None
    for i, rate in enumerate(args.rates):
        if broke is not None and rate != args.target and not args.all:
            print(f"\n== offered {rate:.0f} scans/s: skipped (broke at {broke:.0f}/s)")
            continue
        stats(reset=True)
        prof = None
        if rate in args.profile:
            prof = Profiler(target["pid"], bench.tmp / f"profile-{rate}.txt", args.seconds,
                            gil=args.async_mode == "threading")
        snap0 = cpu_snapshot({"app": set(target["pids"]), "driver": {os.getpid()}})
        row = await step(stations, bench.list_ids[target["list0"] + i], rate, args.seconds,
                         badges, rnd, args.unknown, args.retry)
        row["cpu"] = cpu_delta(snap0, cpu_snapshot({"app": set(target["pids"]),
                                                    "driver": {os.getpid()}}))
        row["server"] = stats()
        if prof is not None:
            row["profile"] = prof.finish()
        rows.append(row)
        if not print_row(row) and broke is None:
            broke = rate
        await asyncio.sleep(1)
    for st in stations:
        await st.sio.disconnect()
    return rows[1:], warm


def fmt(m: dict, keys=("p50", "p95", "p99", "max")) -> str:
    return " / ".join(f"{m[k]:.1f}" for k in keys)


def sustained(r: dict) -> bool:
    total = r["server"]["metrics"].get("scan_total", summary([]))
    return (r["answered"] == r["n"] and r["errors"] == 0
            and r["ack_rate"] >= 0.97 * r["offered"] and total["p99"] < 50)


def print_row(r: dict) -> bool:
    s = r["server"]
    met = s["metrics"]
    total = met.get("scan_total", summary([]))
    ok = sustained(r)
    print(f"\n== offered {r['offered']:.0f} scans/s: {r['n']} scans, sent at "
          f"{r['send_rate']:.0f}/s (send lateness p99 {r['late']['p99']:.1f} ms), answered "
          f"{r['answered']} at {r['ack_rate']:.0f}/s, errors {r['errors']}  "
          f"-> {'SUSTAINED, p99 < 50 ms' if ok else 'NOT MET'}")
    print(f"   server, decoded packet → ack queued  p50/p95/p99/max ms: {fmt(total)}")
    if "scan_handler" in met:
        print(f"   server, checkin.realtime.scan alone p50/p95/p99/max ms: "
              f"{fmt(met['scan_handler'])}")
        print(f"   server, wait for a handler thread   p50/p95/p99/max ms: "
              f"{fmt(met['scan_wait'])}")
    if "flush" in met:
        print(f"   server, realtime flushes: {met['flush']['n']}, "
              f"p50/p99 {met['flush']['p50']:.1f} / {met['flush']['p99']:.1f} ms")
    print(f"   station, emit → ack                 p50/p95/p99/max ms: {fmt(r['client'])}")
    print(f"   server CPU {100 * s['cpu_s'] / s['wall_s']:.0f}% of one core, "
          f"{s['threads']} threads, RSS {s['rss_mb']:.0f} MB; load generator CPU "
          f"{r['load_cpu']:.1f} s")
    print(f"   verdicts: {dict(sorted(r['verdicts'].items()))}")
    if "cpu_per_process" in s:
        print("   server CPU per process: " + " / ".join(
            f"{100 * x / s['wall_s']:.0f}%" for x in s["cpu_per_process"]) + " of one core")
    if r.get("cpu"):
        c = r["cpu"]
        print(f"   CPU s during the step ({c['_wall']:.1f} s wall, machine busy {c['_busy']:.1f}"
              f" s of {c['_wall'] * (os.cpu_count() or 1):.1f}): " + ", ".join(
                  f"{k} {v:.1f}" for k, v in sorted(c.items(), key=lambda kv: -kv[1])
                  if not k.startswith("_")))
    if r.get("profile"):
        print("   profile (py-spy --gil, server process):")
        print("     " + r["profile"].replace("\n", "\n     "))
    return ok


def cost(bench: Bench, n: int = 300) -> None:
    """One scan at a time, in this process (Flask-SocketIO's test client, no network, no
    concurrency): what a scan costs on its own, split by part, and its SQL statements."""
    from collections import defaultdict

    from sqlalchemy import event
    from sqlalchemy.orm import Session

    import core.realtime as core_rt
    import plugins.checkin.realtime as rt
    import plugins.checkin.serialize as ser
    import plugins.checkin.services as svc
    from core.app import create_app

    app = create_app({"DATABASE_URL": bench.db_url, "SECRET_KEY": SECRET_KEY,
                      "WTF_CSRF_ENABLED": False, "SESSION_COOKIE_SECURE": False,
                      "RATELIMIT_STORAGE_URI": "memory://"}, instance_path=bench.tmp / "cost")
    parts: dict[str, float] = defaultdict(float)
    undo = []

    def wrap(owner, name):
        f = getattr(owner, name)

        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                parts[name] += time.perf_counter() - t

        setattr(owner, name, timed)
        undo.append((owner, name, f))

    for owner, name in ((core_rt, "socket_context"), (svc, "record_scans"),
                        (svc, "_resolve_many"), (svc, "_insert_scans"),
                        (svc, "_accepted_scans"), (rt, "_list"), (ser, "scan_json"),
                        (Session, "commit")):
        wrap(owner, name)
    statements: list[str] = []
    event.listen(app.extensions["daihoi_db"].engine, "before_cursor_execute",
                 lambda *a: statements.append(a[2].split()[0]))
    web = app.test_client()
    assert web.post("/login", data={"username": bench.stations[0],
                                    "password": PASSWORD}).status_code == 302
    client = app.extensions["daihoi_socketio"].test_client(app, flask_test_client=web)
    client.emit("join", {"event": EVENT_REF}, callback=True)
    lid = bench.warm_list_id

    def scan(code):
        return client.emit("checkin:scan", {"event": EVENT_REF, "list": lid,
                                            "nonce": uuid.uuid4().hex, "code": code},
                           callback=True)

    for code in bench.secrets[:50]:
        scan(code)
    parts.clear()
    statements.clear()
    t, cpu = time.perf_counter(), time.process_time()
    for code in bench.secrets[50:50 + n]:
        assert scan(code)["result"]["verdict"] == "in"
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    print(f"\none 'in' scan at a time, in-process ({n} scans): {wall / n * 1000:.2f} ms wall, "
          f"{cpu / n * 1000:.2f} ms CPU of this process, {len(statements) / n:.0f} SQL "
          f"statements ({', '.join(f'{k} {v // n}' for k, v in sorted(_count(statements)))})")
    for name, secs in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"   {name:20} {secs / n * 1000:6.2f} ms")
    for owner, name, f in undo:
        setattr(owner, name, f)
    # This app's coalesced broadcasts have nobody to reach: stop them before the database goes.
    publisher = app.extensions["daihoi_publisher"]
    publisher.flush = publisher._pending.clear
    time.sleep(2 * publisher.interval)
    app.extensions["daihoi_db"].engine.dispose()


def _count(words: list[str]) -> list[tuple[str, int]]:
    out: dict[str, int] = {}
    for w in words:
        out[w] = out.get(w, 0) + 1
    return list(out.items())


def run_cluster(bench: Bench, args, counts: list[int]) -> tuple[list[dict], list[dict]]:
    """Each process count in turn: BenchCluster, stations split evenly over the processes by
    their route cookies, the same steps into fresh lists."""
    rows, warms = [], []
    for k, count in enumerate(counts):
        bc = BenchCluster(bench, count)
        try:
            # Route values picked so that station i lands on process i mod N.
            routes = []
            for i in range(len(bench.stations)):
                for j in range(1000):
                    value = f"station-{i}-{j}"
                    if bc.routes([value])[0] == i % count:
                        routes.append(value)
                        break
                else:
                    raise RuntimeError("no route value found for a process")
            bench.url = bc.url
            workers = bc.workers()
            split = [len(range(p, len(routes), count)) for p in range(count)]
            print(f"\n#### gunicorn ×{count} (one gevent worker each), Redis queue, nginx in "
                  f"front; {len(bench.stations)} stations split {split}; "
                  f"load average {os.getloadavg()[0]:.2f}")
            r, warm = asyncio.run(run(bench, args, {
                "stats": bc.stats, "pid": workers[0], "pids": bc.pids(), "routes": routes,
                "list0": k * len(args.rates)}))
            for row in r:
                row["setup"] = f"gunicorn ×{count}"
            rows += r
            warms.append(warm)
        finally:
            bc.stop()
            bench.url = ""
        time.sleep(3)
    return rows, warms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="PostgreSQL URL of a server to make a scratch database on "
                                 "(default: a SQLite file)")
    ap.add_argument("--redis", help="Redis URL for the Socket.IO message queue (as deployed "
                                    "with DAIHOI_REDIS_URL)")
    ap.add_argument("--rates", default="50,100,150,200,300,400,600",
                    help="offered total rates, scans/s, rising (default 50,100,150,200,300,400,"
                         "600); after the first rate not sustained, only --target still runs")
    ap.add_argument("--target", type=float, default=300, help="the issue's rate (default 300)")
    ap.add_argument("--all", action="store_true", help="run every rate, even past a break")
    ap.add_argument("--seconds", type=float, default=15, help="per rate (default 15)")
    ap.add_argument("--stations", type=int, default=10)
    ap.add_argument("--delegates", type=int, default=1000)
    ap.add_argument("--unknown", type=float, default=0.03, help="share of unknown codes")
    ap.add_argument("--retry", type=float, default=0.02,
                    help="share of retries of an earlier nonce")
    ap.add_argument("--async-mode", default="threading", choices=("threading", "gevent"))
    ap.add_argument("--profile", default="",
                    help="rates to profile the server at with py-spy, e.g. 300,600")
    ap.add_argument("--serialize-scans", action="store_true",
                    help="experiment: the server runs the module's scan handler one at a time "
                         "(a lock around plugins.checkin.realtime.scan; not the app as shipped)")
    ap.add_argument("--cost", action="store_true",
                    help="first time single scans in this process, by part (see cost())")
    ap.add_argument("--seed", type=int, default=2027)
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (logs, profiles)")
    ap.add_argument("--processes", default="",
                    help="cluster mode (needs --db and --async-mode gevent): the production "
                         "set-up for each process count, e.g. 1,2 (see the module's docstring)")
    args = ap.parse_args()
    counts = [int(x) for x in args.processes.split(",") if x]
    if counts and (not args.db or args.async_mode != "gevent"):
        ap.error("--processes needs --db (PostgreSQL) and --async-mode gevent")
    args.rates = [float(x) for x in args.rates.split(",") if x]
    args.profile = {float(x) for x in args.profile.split(",") if x}

    t = time.perf_counter()
    bench = Bench(pg=args.db, delegates=args.delegates,
                  lists=len(args.rates) * max(1, len(counts)),
                  stations=args.stations, redis=args.redis, async_mode=args.async_mode,
                  serialize_scans=args.serialize_scans)
    try:
        print("DaiHoi check-in scans benchmark")
        print(machine(bench.db_url))
        print(f"{'PostgreSQL' if args.db else 'SQLite'}{' + Redis queue' if args.redis else ''}"
              f", async mode {args.async_mode}; {args.delegates} approved delegates + 20 guests,"
              f" {args.stations} stations, {args.seconds:.0f} s per rate; "
              f"{args.unknown:.0%} unknown codes, {args.retry:.0%} retried nonces; "
              f"world built in {bench.build_seconds:.1f} s"
              + ("; EXPERIMENT: scans serialized in the server" if args.serialize_scans else ""))
        if args.cost:
            cost(bench)
        if not args.rates:
            return
        if counts:
            rows, warms = run_cluster(bench, args, counts)
        else:
            bench.start_server()
            rows, warm = asyncio.run(run(bench, args))
            warms = [warm]
        stored = sum(bench.count_scans().values())
        expected = sum(r["answered"] - r["errors"] - r["verdicts"].get("replay", 0)
                       for r in [*warms, *rows])
        unanswered = sum(r["n"] - r["answered"] for r in [*warms, *rows])
        print(f"\nscans stored: {stored}; acknowledged as new, warm-up included: {expected}"
              + (": ok" if stored == expected else
                 f"; {unanswered} sends never answered within the wait" if unanswered else
                 ": MISMATCH"))
        ok = [r["offered"] for r in rows if sustained(r)]
        print(f"\nhighest rate sustained with server p99 < 50 ms: "
              f"{max(ok):.0f} scans/s" if ok else "\nno rate sustained with server p99 < 50 ms")
        for target in [r for r in rows if r["offered"] == args.target]:
            print(f"target {args.target:.0f} scans/s with p99 < 50 ms"
                  + (f" ({target['setup']})" if "setup" in target else "") + ": "
                  + ("MET" if sustained(target) else "NOT MET"))
        print("\n| set-up | offered /s | answered /s | server p50 | p95 | p99 | max | "
              "station ack p50 | p99 | server CPU | CPU s: app / postgres / nginx / redis / "
              "driver / other+unaccounted (busy of wall×cores) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for r in rows:
            m = r["server"]["metrics"].get("scan_total", summary([]))
            c = r["client"]
            u = r.get("cpu", {})
            print(f"| {r.get('setup', 'daihoi run')} "
                  f"| {r['offered']:.0f} | {r['ack_rate']:.0f} | {m['p50']:.1f} ms | "
                  f"{m['p95']:.1f} ms | {m['p99']:.1f} ms | {m['max']:.0f} ms | "
                  f"{c['p50']:.1f} ms | {c['p99']:.1f} ms | "
                  f"{100 * r['server']['cpu_s'] / r['server']['wall_s']:.0f}% | "
                  + " / ".join(f"{u.get(k, 0):.1f}" for k in ("app", "postgres", "nginx",
                                                             "redis", "driver"))
                  + f" / {u.get('other', 0) + u.get('unaccounted', 0):.1f} "
                  f"({u.get('_busy', 0):.1f} of "
                  f"{u.get('_wall', 0) * (os.cpu_count() or 1):.1f}) |")
    finally:
        bench.close(keep=args.keep)
    print(f"\ntotal {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
