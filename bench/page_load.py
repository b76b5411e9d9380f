"""Benchmark: thousands of delegates opening their pages at once, on the production set-up
(issue 7, load benchmark (c)).

The production set-up is tests/cluster.py's `Cluster`: N app processes, each
`gunicorn -c deploy/gunicorn.conf.py wsgi:app` (one gevent worker), on PostgreSQL, Redis as
the Socket.IO message queue, nginx in front with the shipped site (sticky by the
`daihoi_route` cookie).

The world comes from bench/checkin_server.py (`Bench(voting=1)`: a scratch PostgreSQL database,
`--delegates` approved delegates through the real roster import, every one checked in, one
motion poll opened by the real `open_poll`, a Flask session cookie per delegate account signed
with the app's key as a sign-in leaves it); on top of it the documents module is turned on and
one document published through the real `create_document` (the political report PDF made by
WeasyPrint, plugins/documents/demo.py).

Each delegate is one aiohttp session of its own (its own cookie jar, kept by aiohttp with the
`daihoi_route` cookie nginx sets, and its own TCP connection), in `--client-procs` client
processes; all start at one instant of the machine's monotonic clock and each loads, one
after the other, the event's home page, the documents list and the ballot page (HTML only: no
CSS, scripts, images, fonts or the PDF; no redirects followed). Any answer but 200 is an error.
Measured per page: from the request sent to the body read. Per app process: the CPU the
gunicorn worker used during the step (from /proc), and nginx's, PostgreSQL's and the clients'.

    python bench/page_load.py                                   # 1, 2, 4 processes; 2,000
    python bench/page_load.py --processes 4 --concurrency 500,1000,2000,4000
    python bench/page_load.py --processes 1 --concurrency 2000 --profile   # py-spy a worker
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from checkin_server import (  # noqa: E402
    EVENT_REF,
    ROOT,
    SECRET_KEY,
    Bench,
    Profiler,
    machine,
    publish_political_report,
    summary,
)

sys.path.insert(0, str(ROOT))

PAGES = (
    ("home", f"/{EVENT_REF}/"),                 # core/views_event.py home
    ("documents", f"/{EVENT_REF}/documents/"),  # plugins/documents/views.py index
    ("ballot", f"/{EVENT_REF}/voting/ballot"),  # plugins/voting/views.py ballot
)


# ---------------------------------------------------------------- /proc

def cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def tree_cpu_s(pid: int) -> float:
    """CPU of a server and all its children, the ended ones included (the kernel adds a
    child's time to its parent's once the parent waits for it)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        own = sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return own + sum(cpu_s(int(p)) for p in out.split())


def postmaster() -> int:
    out = subprocess.run(["pgrep", "-o", "-u", "postgres", "postgres"], capture_output=True,
                         text=True).stdout
    return int(out.split()[0]) if out.split() else 0


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = f[3] + f[4]
    return sum(f) - idle, sum(f)


def wait_quiet(max_s: float, busy_below: float = 0.25) -> str:
    """Wait (at most `max_s`) for the machine to be quiet: less than `busy_below` of its CPU
    busy over 2 s (our own processes idle included). Returns what was seen."""
    end = time.monotonic() + max_s
    while True:
        b0, t0 = machine_busy()
        time.sleep(2)
        b1, t1 = machine_busy()
        share = (b1 - b0) / max(1, t1 - t0)
        if share < busy_below or time.monotonic() > end:
            return (f"machine {share:.0%} busy over 2 s, load average "
                    f"{os.getloadavg()[0]:.2f}" + ("" if share < busy_below else
                                                   " (waited the maximum, went on)"))


# ---------------------------------------------------------------- the world

def build_world(args) -> Bench:
    """Bench's hall (delegates, check-in, one open poll, cookies) plus one published
    document, through the real services."""
    from sqlalchemy import func, select

    from core.app import create_app
    from core.db import session, utcnow
    from core.models import Event
    from core.modules import enable_module

    bench = Bench(pg=args.db, delegates=args.delegates, lists=1, stations=0, voting=1)
    t = time.perf_counter()
    app = create_app({"DATABASE_URL": bench.db_url, "SECRET_KEY": SECRET_KEY},
                     instance_path=bench.tmp / "instance")
    with app.app_context():
        app.extensions["daihoi_publisher"].publish = lambda *a, **k: None
        db = session()
        event = db.get(Event, bench.event_id)
        enable_module(db, event, "documents", actor=None)
        doc, pdf = publish_political_report(db, event, utcnow() - timedelta(minutes=5))
        db.commit()
        bench.document = (doc.id, len(pdf), doc.current.pages)
        from plugins.delegates.models import Delegate

        bench.approved = db.scalar(select(func.count()).select_from(Delegate).where(
            Delegate.event_id == event.id, Delegate.status == "approved"))
    app.extensions["daihoi_db"].engine.dispose()
    bench.build_seconds += time.perf_counter() - t
    return bench


# ---------------------------------------------------------------- a client process

async def client_main(args) -> None:
    """Loads the pages of delegates g = proc_index, proc_index + procs, … below `n`."""
    import aiohttp
    from yarl import URL

    cmd = json.loads(sys.stdin.readline())
    cookies = json.loads(Path(args.cookies).read_text())
    mine = [g for g in range(args.proc_index, cmd["n"], args.procs)]
    base = URL(cmd["url"])
    records: list[dict] = []
    cpu0 = time.process_time()

    async def delegate(g: int) -> None:
        name, value = cookies[g].split("=", 1)
        jar = aiohttp.CookieJar(unsafe=True)
        jar.update_cookies({name: value}, base)
        async with aiohttp.ClientSession(
                cookie_jar=jar, connector=aiohttp.TCPConnector(limit=1),
                timeout=aiohttp.ClientTimeout(total=cmd["timeout"])) as http:
            delay = cmd["t0"] - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            for kind, path in PAGES:
                rec = {"g": g, "kind": kind, "start": time.monotonic()}
                try:
                    async with http.get(base.join(URL(path)), allow_redirects=False) as r:
                        body = await r.read()
                        rec["status"] = r.status
                        rec["bytes"] = len(body)
                        rec["upstream"] = r.headers.get("X-Upstream")
                        if r.status == 200 and b"<html" not in body[:2000].lower():
                            rec["status"] = "not a page"
                except Exception as exc:  # noqa: BLE001 - counted as an error
                    rec["status"] = type(exc).__name__
                rec["end"] = time.monotonic()
                records.append(rec)

    await asyncio.gather(*(delegate(g) for g in mine))
    Path(cmd["out"]).write_text(json.dumps(records))
    sys.stdout.write(json.dumps({"done": len(records), "cpu_s": time.process_time() - cpu0})
                     + "\n")
    sys.stdout.flush()


async def run_clients(url: str, cookies: Path, n: int, procs: int, tmp: Path, timeout: float,
                      lead: float) -> tuple[list[dict], float, float]:
    """Start the client processes, let them go at one instant; their records, t0, CPU."""
    ps = []
    for i in range(procs):
        ps.append(await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).resolve()), "--client", "--cookies",
            str(cookies), "--proc-index", str(i), "--procs", str(procs),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**24))
    await asyncio.sleep(1.5)  # the processes have imported aiohttp
    t0 = time.monotonic() + lead
    outs = [tmp / f"pages-{n}-{i}.json" for i in range(procs)]
    for p, out in zip(ps, outs, strict=True):
        p.stdin.write((json.dumps({"url": url, "n": n, "t0": t0, "timeout": timeout,
                                   "out": str(out)}) + "\n").encode())
        await p.stdin.drain()
    cpu = 0.0
    for p in ps:
        line = await p.stdout.readline()
        if not line:
            raise RuntimeError("a client process died")
        cpu += json.loads(line)["cpu_s"]
        await p.wait()
    records = [r for out in outs for r in json.loads(out.read_text())]
    return records, t0, cpu


# ---------------------------------------------------------------- the driver

def step(cluster, bench: Bench, args, n: int, cookies: Path, label: str) -> dict:
    workers = [next((p for p in a.pids if p != a.proc.pid), a.proc.pid) for a in cluster.apps]
    others = {"nginx": cluster.nginx.proc.pid, "postgres": postmaster()}
    cpu_w0 = [cpu_s(p) for p in workers]
    cpu_o0 = {k: tree_cpu_s(v) for k, v in others.items()}
    busy0 = machine_busy()
    prof = None
    lead = 1.0
    if args.profile:
        prof = Profiler(workers[0], bench.tmp / f"profile-{label}-{n}.txt",
                        lead + args.profile_seconds, rate=args.profile_rate, gil=False)
    records, t0, client_cpu = asyncio.run(run_clients(
        cluster.url, cookies, n, args.client_procs, bench.tmp, args.timeout, lead))
    busy1 = machine_busy()
    cpu_w1 = [cpu_s(p) for p in workers]
    cpu_o1 = {k: tree_cpu_s(v) for k, v in others.items()}
    end = max(r["end"] for r in records)
    wall = end - t0
    row = {"n": n, "label": label, "processes": len(cluster.apps), "wall_s": wall,
           "pages": len(records), "client_cpu_s": client_cpu,
           "worker_cpu_s": [b - a for a, b in zip(cpu_w0, cpu_w1, strict=True)],
           "worker_rss_mb": [rss_mb(p) for p in workers],
           "other_cpu_s": {k: cpu_o1[k] - cpu_o0[k] for k in others},
           "machine_busy": (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])}
    ok = [r for r in records if r["status"] == 200]
    row["ok"] = len(ok)
    errors: dict[str, int] = {}
    for r in records:
        if r["status"] != 200:
            key = f"{r['kind']} {r['status']}"
            errors[key] = errors.get(key, 0) + 1
    row["errors"] = errors
    row["pages_per_s"] = len(ok) / wall
    row["by_kind"] = {kind: summary([(r["end"] - r["start"]) * 1000 for r in ok
                                     if r["kind"] == kind]) for kind, _p in PAGES}
    row["bytes"] = {kind: summary([r["bytes"] for r in ok if r["kind"] == kind])["p50"]
                    for kind, _p in PAGES}
    per_delegate: dict[int, list[dict]] = {}
    for r in records:
        per_delegate.setdefault(r["g"], []).append(r)
    done = [max(x["end"] for x in rs) - t0 for rs in per_delegate.values()
            if all(x["status"] == 200 for x in rs)]
    row["delegate_done"] = summary([x * 1000 for x in done])
    row["delegates_all_ok"] = len(done)
    # Stickiness: every page of a delegate from one process.
    row["unsticky"] = sum(1 for rs in per_delegate.values()
                          if len({x.get("upstream") for x in rs if x.get("upstream")}) > 1)
    spread: dict[str, int] = {}
    for r in ok:
        spread[r.get("upstream") or "?"] = spread.get(r.get("upstream") or "?", 0) + 1
    row["per_upstream"] = spread
    if prof is not None:
        row["profile"] = prof.finish(top=args.profile_top)
    return row


def fmt_ms(m: dict) -> str:
    if not m["n"]:
        return "-"
    return " / ".join(f"{m[k]:,.0f}" for k in ("p50", "p99"))


def print_row(r: dict) -> None:
    print(f"\n== {r['processes']} process(es), {r['n']:,} delegates at once ({r['label']})")
    print(f"   {r['ok']:,} of {r['pages']:,} pages 200 in {r['wall_s']:.1f} s: "
          f"{r['pages_per_s']:.0f} pages/s; errors {r['errors'] or 0}; "
          f"{r['delegates_all_ok']:,} delegates had all 3 pages")
    for kind, _p in PAGES:
        m = r["by_kind"][kind]
        print(f"   {kind:9s} p50/p95/p99/max ms: " + (" / ".join(
            f"{m[k]:,.0f}" for k in ("p50", "p95", "p99", "max")) if m["n"] else "-")
            + f"  ({r['bytes'][kind]:,.0f} bytes)" if m["n"] else "")
    d = r["delegate_done"]
    if d["n"]:
        print(f"   delegate has all 3 pages p50/p99/max ms: {d['p50']:,.0f} / {d['p99']:,.0f}"
              f" / {d['max']:,.0f}")
    print("   worker CPU s: " + ", ".join(f"{c:.1f}" for c in r["worker_cpu_s"])
          + " (" + ", ".join(f"{c / r['wall_s']:.0%}" for c in r["worker_cpu_s"])
          + " of a core); RSS MB " + ", ".join(f"{x:.0f}" for x in r["worker_rss_mb"]))
    print(f"   nginx {r['other_cpu_s']['nginx']:.1f} s, PostgreSQL "
          f"{r['other_cpu_s']['postgres']:.1f} s, clients {r['client_cpu_s']:.1f} s of CPU; "
          f"machine {r['machine_busy']:.0%} busy (2 cores = 100 %)")
    print(f"   pages per upstream {dict(sorted(r['per_upstream'].items()))}; "
          f"delegates served by two processes: {r['unsticky']}")
    if r.get("profile"):
        print("   profile (py-spy, worker of process 1, non-idle):")
        print("     " + r["profile"].replace("\n", "\n     "))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/postgres",
                    help="PostgreSQL server to make the scratch database on")
    ap.add_argument("--processes", default="1,2,4", help="app process counts (default 1,2,4)")
    ap.add_argument("--concurrency", default="2000",
                    help="delegates at once, one step each, e.g. 500,1000,2000,4000")
    ap.add_argument("--delegates", type=int, help="approved delegates (default: the largest "
                                                  "--concurrency)")
    ap.add_argument("--client-procs", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=180, help="per page, client side (s)")
    ap.add_argument("--warmup", type=int, default=40, help="delegates in a warm-up step")
    ap.add_argument("--quiet-wait", type=float, default=120,
                    help="before each step, wait at most this long for a quiet machine")
    ap.add_argument("--profile", action="store_true",
                    help="py-spy the first process's worker during each step (disturbs)")
    ap.add_argument("--profile-seconds", type=float, default=20)
    ap.add_argument("--profile-rate", type=int, default=100)
    ap.add_argument("--profile-top", type=int, default=30)
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--cookies", help=argparse.SUPPRESS)
    ap.add_argument("--proc-index", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--procs", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        asyncio.run(client_main(args))
        return
    from tests.cluster import Cluster, RedisServer

    steps = [int(x) for x in args.concurrency.split(",") if x]
    procs = [int(x) for x in args.processes.split(",") if x]
    args.delegates = args.delegates or max(steps)
    t_all = time.perf_counter()
    print("DaiHoi page load benchmark (issue 7 (c))")
    print(f"load average before {os.getloadavg()[0]:.2f}")
    bench = build_world(args)
    redis = None
    rows = []
    try:
        print(machine(bench.db_url) + " · " + ", ".join(
            f"{d} {_version(d)}" for d in ("gevent", "gevent-websocket", "gunicorn", "aiohttp",
                                           "SQLAlchemy", "psycopg"))
            + " · " + subprocess.run(["/usr/sbin/nginx", "-v"], capture_output=True,
                                     text=True).stderr.strip())
        doc_id, pdf_bytes, pdf_pages = bench.document
        print(f"world: {bench.approved:,} approved delegates checked in, 1 open poll, "
              f"1 published document ({pdf_pages} pages, {pdf_bytes:,} bytes); built in "
              f"{bench.build_seconds:.1f} s; pages {[p for _k, p in PAGES]}; "
              f"{args.client_procs} client processes")
        cookies = bench.tmp / "cookies.json"
        cookies.write_text(json.dumps(bench.delegate_cookies))
        redis = RedisServer(bench.tmp / "redis").start()
        for n_procs in procs:
            cluster = Cluster(bench.tmp / f"cluster-{n_procs}", database_url=bench.db_url,
                              redis_url=redis.url, processes=n_procs, nginx=True,
                              secret_key=SECRET_KEY,
                              env={"DAIHOI_FILES_DIR": str(bench.tmp / "instance" / "files"),
                                   "DAIHOI_LOCALE": "vi"})
            t = time.perf_counter()
            cluster.start()
            print(f"\n{n_procs} app process(es) up in {time.perf_counter() - t:.1f} s "
                  f"(nginx {cluster.url}, apps {[a.port for a in cluster.apps]})")
            try:
                if args.warmup:
                    w = step(cluster, bench, args, args.warmup, cookies, "warm-up")
                    print(f"   warm-up: {w['ok']} of {w['pages']} pages 200, errors "
                          f"{w['errors'] or 0}")
                for n in steps:
                    print("   " + wait_quiet(args.quiet_wait))
                    row = step(cluster, bench, args, n, cookies, "measured")
                    rows.append(row)
                    print_row(row)
                    sys.stdout.flush()
            finally:
                cluster.stop()
                logs = cluster.logs()
                bad = [ln for ln in logs.splitlines() if "Traceback" in ln or "ERROR" in ln
                       or "WORKER TIMEOUT" in ln]
                if bad:
                    print(f"   app logs: {len(bad)} error lines, e.g. " + " | ".join(bad[:3]))
                kept = bench.tmp.parent / f"{bench.tmp.name}-app-logs-{n_procs}.txt"
                kept.write_text(logs)
                print(f"   app logs: {kept}")
        report(rows)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
    finally:
        if redis is not None:
            redis.stop()
        bench.close(keep=args.keep)
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "-"


def report(rows: list[dict]) -> None:
    print("\n| processes | delegates | pages 200 / errors | pages/s | home p50 / p99 | "
          "documents p50 / p99 | ballot p50 / p99 | all 3 p50 / p99 | worker CPU (each) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        errs = sum(r["errors"].values())
        print(f"| {r['processes']} | {r['n']:,} | {r['ok']:,} / {errs:,} | "
              f"{r['pages_per_s']:.0f} | {fmt_ms(r['by_kind']['home'])} ms | "
              f"{fmt_ms(r['by_kind']['documents'])} ms | {fmt_ms(r['by_kind']['ballot'])} ms | "
              f"{fmt_ms(r['delegate_done'])} ms | "
              + ", ".join(f"{c / r['wall_s']:.0%}" for c in r["worker_cpu_s"]) + " |")


if __name__ == "__main__":
    main()
