"""Benchmark: from a scan to the hall screen's counter changing, with 1,000 screens connected
(issue target: under 500 ms at p99).

Builds the hall and starts the app as bench/checkin_scans.py does (bench/checkin_server.py).
Listener processes then connect N Socket.IO clients (websocket) as the projector page does,
`auth: {projector: <link token>}` then `join` with `"as": "projector"`, and optionally some
staff consoles (signed-in check-in accounts, plain `join`); both get `checkin:attendance`.
They connect in batches (Werkzeug's listen backlog is 128), then record, for every
`checkin:attendance` they get, the time (the machine's monotonic clock, common to all
processes) and its `present`. Meanwhile the stations send `checkin:scan` at a steady rate,
each scan a delegate not yet in, so the k-th scan (in the order the server numbered them)
makes `present` reach k. For every scan and every client, the latency is the time from the
station sending the scan to that client first receiving a `present` of at least k.
Coalescing (DAIHOI_REALTIME_FLUSH_SECONDS, 0.2 s) is part of it, by design.

    python bench/checkin_broadcast.py                              # SQLite, 1,000 screens
    python bench/checkin_broadcast.py --db postgresql://postgres@127.0.0.1:5432/postgres
    python bench/checkin_broadcast.py --clients 900 --consoles 100 --rates 5,50
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import logging
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from checkin_server import EVENT_REF, Bench, Profiler, machine, summary  # noqa: E402

logging.getLogger("socketio.client").setLevel(logging.CRITICAL)
logging.getLogger("engineio.client").setLevel(logging.CRITICAL)


# ---------------------------------------------------------------- listener process

async def listen(args) -> None:
    """Connect the clients, report READY, record `checkin:attendance` until told to stop."""
    import socketio

    cookies = json.loads(Path(args.cookies).read_text()) if args.cookies else []
    clients: list[socketio.AsyncClient] = []
    receipts: list[list] = []
    failures: list[str] = []
    connect_ms: list[float] = []
    cpu0 = time.process_time()

    async def one(i: int) -> None:
        sio = socketio.AsyncClient(reconnection=False)
        got: list = []

        async def attendance(data):
            got.append((time.monotonic(), data.get("list_id"), data.get("present")))

        sio.on("checkin:attendance", attendance)
        console = i < args.consoles
        t = time.perf_counter()
        try:
            if console:
                await sio.connect(args.url, headers={"Cookie": cookies[i % len(cookies)]},
                                  transports=["websocket"], wait_timeout=60)
                ack = await sio.call("join", {"event": EVENT_REF}, timeout=60)
            else:
                await sio.connect(args.url, auth={"projector": args.token},
                                  transports=["websocket"], wait_timeout=60)
                ack = await sio.call("join", {"event": EVENT_REF, "as": "projector"}, timeout=60)
            assert ack.get("ok"), ack
        except Exception as exc:  # noqa: BLE001 - counted and reported
            failures.append(f"{type(exc).__name__}: {exc}"[:200])
            try:
                await sio.disconnect()
            except Exception:  # noqa: BLE001, S110 - already gone
                pass
            return
        connect_ms.append((time.perf_counter() - t) * 1000)
        clients.append(sio)
        receipts.append(got)

    t0 = time.perf_counter()
    for start in range(0, args.clients, args.batch):
        await asyncio.gather(*(one(i) for i in range(start, min(args.clients,
                                                                 start + args.batch))))
    took = time.perf_counter() - t0
    print(f"READY {len(clients)} {len(failures)} {took:.1f}", flush=True)
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    del line
    lost = sum(1 for c in clients if not c.connected)
    Path(args.out).write_text(json.dumps({
        "receipts": receipts, "failures": failures[:20], "failed": len(failures),
        "connect_ms": connect_ms, "connect_s": took, "lost": lost,
        "cpu_s": time.process_time() - cpu0}))
    print("DONE", flush=True)
    for c in clients:
        try:
            await asyncio.wait_for(c.eio.disconnect(abort=True), 1)
        except Exception:  # noqa: BLE001, S110 - the server may be gone first
            pass
    os._exit(0)  # leftover client tasks need not be waited for


# ---------------------------------------------------------------- the driver

def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def stations_run(bench: Bench, args, listeners: list[subprocess.Popen]) -> list[dict]:
    import socketio

    stations = []
    for username in bench.stations:
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(bench.url, headers={"Cookie": bench.sign_in(username)},
                          transports=["websocket"], wait_timeout=30)
        ack = await sio.call("join", {"event": EVENT_REF}, timeout=30)
        assert ack.get("ok"), ack
        stations.append(sio)
    loop = asyncio.get_running_loop()
    steps = []
    rnd = random.Random(args.seed)
    for i, rate in enumerate(args.rates):
        badges = list(bench.secrets)
        rnd.shuffle(badges)
        n = min(len(badges), int(rate * args.seconds))
        bench.stats(reset=True)
        prof = None
        if rate in args.profile:
            prof = Profiler(bench.proc.pid, bench.tmp / f"profile-{rate}.txt",
                            n / rate)
        scans: list[dict] = []
        t0 = loop.time() + 0.05
        for k in range(n):
            due = t0 + k / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            rec = {"sent": time.monotonic()}

            def answered(ack=None, rec=rec):
                rec["acked"] = time.monotonic()
                rec["ack"] = ack

            scans.append(rec)
            await stations[k % len(stations)].emit("checkin:scan", {
                "event": EVENT_REF, "list": bench.list_ids[i], "nonce": uuid.uuid4().hex,
                "code": badges[k], "scanned_at": now_iso(), "direction": "in",
                "station": f"Cổng {k % len(stations) + 1}"}, callback=answered)
        end = time.monotonic() + 30
        while any("acked" not in s for s in scans) and time.monotonic() < end:
            await asyncio.sleep(0.05)
        await asyncio.sleep(2)  # the last flush, and its way to every client
        stats = bench.stats(raw=True)
        steps.append({"rate": rate, "list_id": bench.list_ids[i], "scans": scans,
                      "server": stats, "profile": prof.finish() if prof else None})
        print(f"  step {rate:g} scans/s: {n} scans sent", flush=True)
    for sio in stations:
        await sio.disconnect()
    return steps


def analyse(step: dict, receipts: list[list]) -> dict:
    """Latency from each scan's send to each client's first `present` ≥ that scan's rank."""
    lid = step["list_id"]
    good = [s for s in step["scans"] if isinstance(s.get("ack"), dict) and s["ack"].get("ok")
            and s["ack"]["result"]["verdict"] == "in"]
    bad = len(step["scans"]) - len(good)
    good.sort(key=lambda s: s["ack"]["result"]["scan_id"])
    sends = [s["sent"] for s in good]
    acks = [(s["acked"] - s["sent"]) * 1000 for s in good]
    raw = step["server"].get("raw", {})
    flush_ms = raw.get("flush", [])
    flush_ends = step["server"].get("flush_ends", [])
    flush_starts = sorted(e - d / 1000 for e, d in zip(flush_ends, flush_ms, strict=False))
    lat: list[float] = []
    delivery: list[float] = []
    missed = 0
    for got in receipts:
        mine = [(t, p) for t, lst, p in got if lst == lid and isinstance(p, int)]
        mine.sort()
        j, best = 0, -1
        for k, sent in enumerate(sends, start=1):
            while best < k and j < len(mine):
                best = max(best, mine[j][1])
                j += 1
            if best >= k:
                lat.append((mine[j - 1][0] - sent) * 1000)
            else:
                missed += len(sends) - k + 1
                break
        for t, _p in mine:
            f = bisect.bisect_right(flush_starts, t) - 1
            if f >= 0:
                delivery.append((t - flush_starts[f]) * 1000)
    return {"rate": step["rate"], "scans": len(good), "bad": bad, "latency": summary(lat),
            "missed": missed, "ack": summary(acks), "delivery": summary(delivery),
            "server": step["server"], "profile": step.get("profile")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="PostgreSQL URL of a server to make a scratch database on "
                                 "(default: a SQLite file)")
    ap.add_argument("--redis", help="Redis URL for the Socket.IO message queue")
    ap.add_argument("--clients", type=int, default=1000, help="hall screens (default 1000)")
    ap.add_argument("--consoles", type=int, default=0,
                    help="of those, how many connect as signed-in staff consoles instead")
    ap.add_argument("--rates", default="5,50", help="scans/s, one step each (default 5,50)")
    ap.add_argument("--seconds", type=float, default=20, help="per step (default 20)")
    ap.add_argument("--stations", type=int, default=5)
    ap.add_argument("--batch", type=int, default=50, help="clients connecting at once")
    ap.add_argument("--procs", type=int, default=2, help="listener processes (default 2)")
    ap.add_argument("--async-mode", default="threading", choices=("threading", "gevent"))
    ap.add_argument("--flush", type=float, help="DAIHOI_REALTIME_FLUSH_SECONDS (default 0.2)")
    ap.add_argument("--profile", default="",
                    help="steps (rates) to profile with py-spy (with thousands of threads in "
                         "threading mode py-spy disturbs the run: figures then do not count)")
    ap.add_argument("--seed", type=int, default=2027)
    ap.add_argument("--keep", action="store_true")
    # Internal: one listener process.
    ap.add_argument("--listen", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--token", help=argparse.SUPPRESS)
    ap.add_argument("--cookies", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.listen:
        asyncio.run(listen(args))
        return
    args.rates = [float(x) for x in args.rates.split(",") if x]
    args.profile = {float(x) for x in args.profile.split(",") if x}

    t_all = time.perf_counter()
    bench = Bench(pg=args.db, delegates=1000, lists=len(args.rates), stations=args.stations,
                  redis=args.redis, async_mode=args.async_mode, flush=args.flush)
    listeners: list[subprocess.Popen] = []
    try:
        print("DaiHoi check-in broadcast benchmark")
        print(machine(bench.db_url))
        print(f"{'PostgreSQL' if args.db else 'SQLite'}{' + Redis queue' if args.redis else ''}"
              f", async mode {args.async_mode}, flush every {args.flush or 0.2:g} s; "
              f"{args.clients} clients ({args.clients - args.consoles} hall screens, "
              f"{args.consoles} staff consoles) in {args.procs} listener processes, "
              f"connecting {args.batch} at a time; {args.stations} stations")
        bench.start_server()
        cookies_file = bench.tmp / "cookies.json"
        cookies_file.write_text(json.dumps([bench.sign_in(u) for u in bench.stations]))
        per = [args.clients // args.procs + (1 if i < args.clients % args.procs else 0)
               for i in range(args.procs)]
        consoles = [args.consoles // args.procs + (1 if i < args.consoles % args.procs else 0)
                    for i in range(args.procs)]
        t = time.perf_counter()
        for i, (n, c) in enumerate(zip(per, consoles, strict=True)):
            listeners.append(subprocess.Popen(
                [sys.executable, __file__, "--listen", "--url", bench.url,
                 "--token", bench.projector_token, "--cookies", str(cookies_file),
                 "--clients", str(n), "--consoles", str(c),
                 "--batch", str(max(1, args.batch // args.procs)),
                 "--out", str(bench.tmp / f"receipts-{i}.json")],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        connected = failed = 0
        for p in listeners:
            line = p.stdout.readline().split()
            if not line or line[0] != "READY":
                raise RuntimeError(f"listener failed: {line}\n" + bench.server_log()[-2000:])
            connected += int(line[1])
            failed += int(line[2])
        connect_s = time.perf_counter() - t
        st = bench.stats()
        print(f"connected {connected} of {args.clients} clients in {connect_s:.1f} s "
              f"({failed} failed); server: {st['threads']} threads, RSS {st['rss_mb']:.0f} MB")
        steps = asyncio.run(stations_run(bench, args, listeners))
        receipts: list[list] = []
        info = []
        for i, p in enumerate(listeners):
            p.stdin.write("stop\n")
            p.stdin.flush()
            p.stdout.readline()
            data = json.loads((bench.tmp / f"receipts-{i}.json").read_text())
            receipts += data["receipts"]
            info.append(data)
        lost = sum(d["lost"] for d in info)
        failures = [f for d in info for f in d["failures"]]
        connect_ms = summary([x for d in info for x in d["connect_ms"]])
        print(f"clients dropped during the run: {lost}; connect+join per client p50 "
              f"{connect_ms['p50']:.0f} ms, p99 {connect_ms['p99']:.0f} ms")
        if failures:
            print("connect failures (first ones): " + "; ".join(sorted(set(failures))[:5]))
        rows = [analyse(s, receipts) for s in steps]
        for r in rows:
            lat, s = r["latency"], r["server"]
            m = s["metrics"]
            ok = lat["p99"] < 500 and r["missed"] == 0 and r["bad"] == 0
            print(f"\n== {r['rate']:g} scans/s: {r['scans']} scans ('in'), {r['bad']} not 'in', "
                  f"{lat['n']} (scan, client) pairs, {r['missed']} never seen  -> "
                  f"{'MET' if ok else 'NOT MET'} (p99 < 500 ms)")
            print(f"   scan sent → counter at a client  p50/p95/p99/max ms: {lat['p50']:.0f} / "
                  f"{lat['p95']:.0f} / {lat['p99']:.0f} / {lat['max']:.0f}")
            print(f"   station ack                      p50/p99 ms: {r['ack']['p50']:.1f} / "
                  f"{r['ack']['p99']:.1f}")
            if "flush" in m:
                print(f"   server flush (count + emit to all) p50/p99/max ms: "
                      f"{m['flush']['p50']:.0f} / {m['flush']['p99']:.0f} / "
                      f"{m['flush']['max']:.0f}, {m['flush']['n']} flushes")
            if "emit checkin:attendance" in m:
                e = m["emit checkin:attendance"]
                print(f"   of which emit checkin:attendance to the rooms p50/p99 ms: "
                      f"{e['p50']:.0f} / {e['p99']:.0f}")
            print(f"   flush start → received by a client p50/p99 ms: {r['delivery']['p50']:.0f} / "
                  f"{r['delivery']['p99']:.0f}")
            if "scan_total" in m:
                print(f"   server time per scan p50/p99 ms: {m['scan_total']['p50']:.1f} / "
                      f"{m['scan_total']['p99']:.1f}")
            print(f"   server CPU {100 * s['cpu_s'] / s['wall_s']:.0f}% of one core, "
                  f"{s['threads']} threads, RSS {s['rss_mb']:.0f} MB")
            if r["profile"]:
                print("   profile (py-spy --gil, server process):")
                print("     " + r["profile"].replace("\n", "\n     "))
        print(f"\nlistener CPU: {sum(d['cpu_s'] for d in info):.0f} s in total")
        print("\n| scans/s | clients | p50 | p95 | p99 | max | server flush p50 / p99 | "
              "never seen |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in rows:
            lat, f = r["latency"], r["server"]["metrics"].get("flush", summary([]))
            print(f"| {r['rate']:g} | {connected} | {lat['p50']:.0f} ms | {lat['p95']:.0f} ms | "
                  f"{lat['p99']:.0f} ms | {lat['max']:.0f} ms | {f['p50']:.0f} / "
                  f"{f['p99']:.0f} ms | {r['missed']} |")
    finally:
        for p in listeners:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        bench.close(keep=args.keep)
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
