"""Benchmark: a thousand delegates voting from their phones at once (issue 5).

Targets, on the embedded default (SQLite) and on PostgreSQL, with N = 1,000 delegates:

- burst: all N vote at the same instant: 0 votes lost, 0 counted twice, every
  acknowledgement within 1 s at p99 (aim: 500 ms, within 2x of a bare handler);
- hall pace: N votes spread evenly over 10 s: acknowledgement p99 under 100 ms;
- the projector shows the final turnout within 1 s of the last acknowledgement.

Builds the world with bench/checkin_server.py (`Bench(voting=K)`: a fresh database, N approved
delegates from the real roster import, every one checked in to the session by the real
`record_scans`, K motion polls of that session opened by the real `open_poll`, a session cookie
per delegate account signed with the app's key, a projector link) and starts the app in its
own process as `daihoi run` does, instrumented (`/_bench/stats`). Client processes (`--procs`,
python-socketio `AsyncClient`, websocket transport) connect the N phones with their cookies,
`--batch` at a time (the embedded servers listen with a backlog of 128), each joined to the
event as the phone's page is; the driver process connects one projector (`auth: {projector:
token}`, `join` with `"as": "projector"`) and records every `voting:turnout` it gets.

After a warm-up poll (`--warmup` phones over 2 s), each measured step votes in a fresh poll,
the hall pace first, then the burst: every phone emits `voting:vote` (`choices`, a fresh
nonce, a receipt made on the phone) at its due time on the machine's monotonic clock, common to
all processes: evenly over `--pace-seconds` (hall pace) or all at one instant (burst);
`--resend` of the phones send the same vote again at once (same nonce), as a phone that got
no answer would. Measured per vote: from just before the emit to the acknowledgement's
callback. Afterwards the database must hold exactly one voter row and one ballot per
acknowledged phone, with the receipts the phones were given; the projector's latency is from
the last acknowledgement to the first `voting:turnout` of that poll with `voted == N`.

`--bare` first runs the same clients and steps against a trivial Flask-SocketIO server (same
async mode, same `async_handlers=False`, same `daihoi run`-like `sio.run`) whose handler acks
without touching a database, so the "within 2x of a bare handler" figure is measured here.
`--steps 500,1000,1500,2000` repeats the steps with more phones (connected on top of the
previous ones) until one breaks (a vote lost or counted twice, a client not connected, or the
burst's p99 over 1 s; `--all` goes on). `--profile` samples the server with py-spy during each
step. `--experiment` tries a change inside the server process only (bench/checkin_server.py
EXPERIMENTS), to measure what a proposed change to the app would buy.

    python bench/voting_burst.py --async-mode gevent --bare                        # SQLite
    python bench/voting_burst.py --async-mode gevent --bare \\
        --db postgresql://postgres@127.0.0.1:5432/postgres
    python bench/voting_burst.py --async-mode gevent --steps 500,1000,1500,2000
    python bench/voting_burst.py --async-mode gevent --profile
"""

from __future__ import annotations

import os
import sys

if "--serve-bare" in sys.argv and os.environ.get("DAIHOI_ASYNC_MODE") == "gevent":
    from gevent import monkey

    monkey.patch_all()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from checkin_server import (  # noqa: E402
    EVENT_REF,
    EXPERIMENTS,
    ROOT,
    Bench,
    BenchCluster,
    Profiler,
    cpu_delta,
    cpu_snapshot,
    free_port,
    machine,
    summary,
)

logging.getLogger("socketio.client").setLevel(logging.CRITICAL)
logging.getLogger("engineio.client").setLevel(logging.CRITICAL)

RECEIPT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # as plugins.voting.ballots


def rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status)[1]) / 1024
    except (OSError, TypeError):
        return float("nan")


# ---------------------------------------------------------------- the bare server

def serve_bare(port: int, async_mode: str) -> None:
    """Flask-SocketIO with a `voting:vote` handler that acks at once: no database, no
    sign-in, no guard; the same async mode and handler setting as the app."""
    from flask import Flask, jsonify
    from flask_socketio import SocketIO

    app = Flask("bare")
    app.config["SECRET_KEY"] = "bare"  # noqa: S105
    sio = SocketIO(app, async_mode=async_mode, manage_session=False, ping_interval=20,
                   ping_timeout=20, async_handlers=False)

    @sio.on("connect")
    def on_connect(auth=None):
        return True

    @sio.on("join")
    def on_join(payload=None):
        return {"ok": True}

    @sio.on("voting:vote")
    def on_vote(payload=None):
        receipt = (payload or {}).get("receipt") or "ABCDEFGHJK"
        return {"ok": True, "status": "recorded", "message": "Your vote is recorded.",
                "receipt": f"{receipt[:5]}-{receipt[5:]}"}

    @app.route("/health")
    def health():
        return jsonify(ok=True)

    sio.run(app, host="127.0.0.1", port=port, allow_unsafe_werkzeug=True, use_reloader=False,
            log_output=False)


class BareServer:
    def __init__(self, async_mode: str, tmp: Path) -> None:
        self.tmp = tmp
        port = free_port()
        env = dict(os.environ, DAIHOI_ASYNC_MODE=async_mode)
        self.log = open(tmp / "bare.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve-bare", "--port", str(port),
             "--async-mode", async_mode], env=env, cwd=str(ROOT), stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{port}"
        import requests

        end = time.monotonic() + 30
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("bare server exited:\n"
                                   + (tmp / "bare.log").read_text()[-2000:])
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("bare server did not answer")

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


# ---------------------------------------------------------------- a client process

async def client_main(args) -> None:
    """Holds the phones g = proc_index, proc_index + procs, …; obeys JSON lines on stdin."""
    import socketio

    cookies = json.loads(Path(args.cookies).read_text())
    mine = list(range(args.proc_index, len(cookies), args.procs))
    clients: dict[int, socketio.AsyncClient] = {}
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(obj: dict) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    async def connect(upto: int) -> dict:
        # New phones, and phones the server dropped (they reconnect, as a phone does).
        todo = [g for g in mine if g < upto and (g not in clients or not clients[g].connected)]
        sem = asyncio.Semaphore(args.batch)
        failures: list[str] = []
        connect_ms: list[float] = []

        async def one(g: int) -> None:
            async with sem:
                sio = socketio.AsyncClient(reconnection=False)
                t = time.perf_counter()
                try:
                    await sio.connect(args.url, headers={"Cookie": cookies[g]},
                                      transports=["websocket"], wait_timeout=60)
                    ack = await sio.call("join", {"event": EVENT_REF}, timeout=60)
                    assert isinstance(ack, dict) and ack.get("ok"), ack
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
                "new": len(todo) - len(failures),
                "failed": len(failures), "failures": failures[:10],
                "seconds": time.perf_counter() - t, "connect_ms": connect_ms}

    async def vote(cmd: dict) -> dict:
        rnd = random.Random(f"{cmd['seed']}-{args.proc_index}")
        n, t0, spread = cmd["n"], cmd["t0"], cmd["spread"]
        voters = [g for g in mine if g < n]
        records: list[dict] = []
        cpu0 = time.process_time()
        for g in voters:
            sio = clients.get(g)
            due = t0 + spread * g / n
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if sio is None or not sio.connected:
                records.append({"g": g, "sent": None, "resend": False})
                continue
            if cmd["kind"] == "motion":
                choices = [rnd.choice(cmd["options"])]
            else:
                choices = sorted(rnd.sample(cmd["options"], rnd.randint(1, cmd["seats"])))
            payload = {"event": EVENT_REF, "poll": cmd["poll"], "choices": choices,
                       "nonce": uuid.uuid4().hex,
                       "receipt": "".join(rnd.choice(RECEIPT_ALPHABET) for _ in range(10))}
            copies = 2 if rnd.random() < cmd["resend"] else 1
            for c in range(copies):
                rec = {"g": g, "resend": c > 0, "late": (time.monotonic() - due) * 1000}

                def answered(ack=None, rec=rec):
                    rec["acked"] = time.monotonic()
                    rec["ack"] = ack

                rec["sent"] = time.monotonic()
                records.append(rec)
                await sio.emit("voting:vote", payload, callback=answered)
        end = time.monotonic() + cmd["wait"]
        while time.monotonic() < end and any(
                r["sent"] is not None and "acked" not in r for r in records):
            await asyncio.sleep(0.02)
        Path(cmd["out"]).write_text(json.dumps(records))
        return {"done": len(records), "cpu_s": time.process_time() - cpu0,
                "dropped": sum(1 for g in voters if g in clients and not clients[g].connected)}

    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        if cmd["cmd"] == "connect":
            reply(await connect(cmd["upto"]))
        elif cmd["cmd"] == "vote":
            reply(await vote(cmd))
        elif cmd["cmd"] == "stop":
            break
    for sio in clients.values():
        try:
            await asyncio.wait_for(sio.eio.disconnect(abort=True), 1)
        except Exception:  # noqa: BLE001, S110 - the server may be gone first
            pass
    reply({"stopped": True})
    os._exit(0)  # leftover client tasks need not be waited for


class Clients:
    """The client processes, driven from the driver's event loop."""

    def __init__(self, procs: list) -> None:
        self.procs = procs

    @classmethod
    async def start(cls, url: str, cookies: Path, procs: int, batch: int,
                    script: str | None = None, extra: tuple[str, ...] = ()) -> Clients:
        """`script`: the file whose `--client` mode the processes run (default this one),
        with `extra` arguments (bench/forum_live.py)."""
        ps = []
        for i in range(procs):
            ps.append(await asyncio.create_subprocess_exec(
                sys.executable, script or str(Path(__file__).resolve()), "--client", "--url",
                url, "--cookies", str(cookies), "--proc-index", str(i), "--procs", str(procs),
                "--batch", str(max(1, batch // procs)), *extra,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**24))
        return cls(ps)

    async def ask(self, cmds: list[dict]) -> list[dict]:
        for p, cmd in zip(self.procs, cmds, strict=True):
            p.stdin.write((json.dumps(cmd) + "\n").encode())
            await p.stdin.drain()
        out = []
        for p in self.procs:
            line = await p.stdout.readline()
            if not line:
                raise RuntimeError("a client process died")
            out.append(json.loads(line))
        return out

    async def stop(self) -> None:
        for p in self.procs:
            try:
                p.stdin.write(b'{"cmd": "stop"}\n')
                await p.stdin.drain()
                await asyncio.wait_for(p.wait(), 10)
            except Exception:  # noqa: BLE001 - TimeoutError included
                p.kill()


# ---------------------------------------------------------------- the driver

class Projector:
    def __init__(self) -> None:
        import socketio

        self.sio = socketio.AsyncClient(reconnection=False)
        self.turnouts: list[tuple[float, dict]] = []
        self.sio.on("voting:turnout", self._turnout)

    async def _turnout(self, data) -> None:
        self.turnouts.append((time.monotonic(), data))

    async def connect(self, url: str, token: str) -> None:
        await self.sio.connect(url, auth={"projector": token}, transports=["websocket"],
                               wait_timeout=30)
        ack = await self.sio.call("join", {"event": EVENT_REF, "as": "projector"}, timeout=30)
        assert ack.get("ok"), ack

    def final(self, poll: int, voted: int) -> tuple[float | None, int | None]:
        """When the projector first got `voted` for `poll` (None: never), and the last count
        it got for it."""
        last = None
        for t, d in self.turnouts:
            if d.get("poll") == poll:
                last = d.get("voted")
                if d.get("voted") == voted:
                    return t, last
        return None, last


def normal_receipt(text: str | None) -> str | None:
    return re.sub(r"[\s-]", "", text).upper() if text else None


async def vote_step(target: dict, clients: Clients, args, *, label: str, poll_index: int,
                    n: int, spread: float, profile: bool) -> dict:
    """One measured step: n phones vote in a fresh poll, all at once or over `spread` s."""
    bench: Bench | None = target.get("bench")
    stats = target.get("stats")  # the server's /_bench/stats (None: not instrumented)
    poll_index += target.get("poll0", 0)
    poll_id = bench.poll_ids[poll_index] if bench else poll_index + 1
    options = bench.poll_options[poll_index] if bench else [1, 2, 3]
    seats = bench.poll_seats if bench else 1
    kind = bench.poll_kind if bench else "motion"
    if bench and "gc-freeze-step" in args.experiment.split(","):
        import requests

        gc_info = requests.get(bench.url + "/_bench/gc", params={"freeze": "1"}, timeout=60).json()
        print(f"   (experiment: gc.collect() {gc_info['ms']:.0f} ms, then gc.freeze(): "
              f"{gc_info['frozen']} objects frozen)")
    if stats:
        try:
            stats(reset=True)
        except Exception:  # noqa: BLE001, S110 - an overwhelmed server: figures missing only
            pass
    pids = target.get("pids") or [target["pid"]]
    groups = {"app": set(pids), "clients": {p.pid for p in clients.procs},
              "driver": {os.getpid()}}
    snap0 = cpu_snapshot(groups)
    per0 = [_cpu_s(p) for p in target.get("workers", [])]
    cpu0 = sum(_cpu_s(p) for p in pids)
    lead = 1.5 if profile else 0.5
    t0 = time.monotonic() + lead
    prof = None
    if profile:
        prof = Profiler(target["pid"], target["tmp"] / f"profile-{target['key']}-{label}-{n}.txt",
                        lead + spread + 4, rate=args.profile_rate,
                        gil=args.async_mode == "threading")
    outs = [str(target["tmp"] / f"votes-{target['key']}-{label}-{n}-{i}.json")
            for i in range(len(clients.procs))]
    cmd = {"cmd": "vote", "poll": poll_id, "options": options, "seats": seats, "kind": kind,
           "t0": t0, "spread": spread, "n": n, "resend": args.resend, "wait": args.wait,
           "seed": f"{args.seed}-{label}-{n}"}
    replies = await clients.ask([dict(cmd, out=o) for o in outs])
    # The last coalesced turnout, on its way: until the projector has a count for every
    # phone told "recorded" (at most --flush-wait s).
    end = time.monotonic() + args.flush_wait
    expected = sum(1 for o in outs for r in json.loads(Path(o).read_text())
                   if not r["resend"] and isinstance(r.get("ack"), dict) and r["ack"].get("ok"))
    while time.monotonic() < end and not (
            bench and target["projector"].final(poll_id, expected)[0] is not None):
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    cpu1 = sum(_cpu_s(p) for p in pids)
    per1 = [_cpu_s(p) for p in target.get("workers", [])]
    snap1 = cpu_snapshot(groups)
    records = [r for o in outs for r in json.loads(Path(o).read_text())]
    row = analyse(records, n)
    row.update({"label": label, "n": n, "spread": spread, "poll": poll_id,
                "client_cpu_s": sum(r["cpu_s"] for r in replies),
                "dropped": sum(r["dropped"] for r in replies)})
    row["cpu"] = cpu_delta(snap0, snap1)
    row["cpu_per_process"] = [b - a for a, b in zip(per0, per1, strict=True)]
    if bench:
        try:
            row["server"] = stats(raw=True) if stats else {"metrics": {}}
        except Exception as exc:  # noqa: BLE001 - an overwhelmed server: reported, not fatal
            print(f"   (server figures unavailable: {type(exc).__name__})")
            row["server"] = {"metrics": {}}
        Path(target["tmp"] / f"stats-{label}-{n}.json").write_text(json.dumps(row["server"]))
        row["timeline"] = timeline(row["server"].get("marks", {}), row["first_sent"])
        row["server"].pop("raw", None)
        row["server"].pop("marks", None)
        row["db"] = bench.count_votes(poll_id)
        check_db(row)
        seen, last = target["projector"].final(poll_id, row["db"]["voters"])
        row["projector_ms"] = (seen - row["last_ack"]) * 1000 if seen is not None and \
            row["last_ack"] is not None else None
        row["projector_last"] = last
    else:
        row["server"] = {"cpu_s": cpu1 - cpu0, "wall_s": None}
    row["server_cpu_s"] = cpu1 - cpu0
    if prof is not None:
        row["profile"] = prof.finish(top=args.profile_top)
    return row


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def analyse(records: list[dict], n: int) -> dict:
    first = [r for r in records if not r["resend"]]
    resends = [r for r in records if r["resend"]]
    sent = [r for r in first if r["sent"] is not None]
    answered = [r for r in sent if "acked" in r]
    ok = [r for r in answered if isinstance(r.get("ack"), dict) and r["ack"].get("ok")]
    errors: dict[str, int] = {}
    for r in answered:
        if r not in ok:
            key = r["ack"].get("error", "?") if isinstance(r.get("ack"), dict) else repr(r["ack"])
            errors[key] = errors.get(key, 0) + 1
    statuses: dict[str, int] = {}
    for r in ok + [r for r in resends if isinstance(r.get("ack"), dict)]:
        key = ("resend " if r["resend"] else "") + str(r["ack"].get("status"))
        statuses[key] = statuses.get(key, 0) + 1
    all_acked = [r for r in records if "acked" in r]
    lat = [(r["acked"] - r["sent"]) * 1000 for r in answered]
    first_sent = min((r["sent"] for r in sent), default=None)
    last_sent = max((r["sent"] for r in sent), default=None)
    last_ack = max((r["acked"] for r in all_acked), default=None)
    receipts = [normal_receipt(r["ack"].get("receipt")) for r in ok]
    # A phone told "recorded" twice with two receipts would be a vote counted twice.
    by_phone: dict[int, set] = {}
    for r in records:
        if isinstance(r.get("ack"), dict) and r["ack"].get("ok") and r["ack"].get("receipt"):
            by_phone.setdefault(r["g"], set()).add(normal_receipt(r["ack"]["receipt"]))
    return {
        "sent": len(sent), "not_sent": len(first) - len(sent), "answered": len(answered),
        "ok": len(ok), "errors": errors, "statuses": statuses, "resends": len(resends),
        "resends_answered": sum(1 for r in resends if "acked" in r),
        "resends_ok": sum(1 for r in resends if isinstance(r.get("ack"), dict)
                          and r["ack"].get("ok")),
        "two_receipts": sum(1 for s in by_phone.values() if len(s) > 1),
        "ack": summary(lat), "late": summary([r["late"] for r in sent]),
        "send_spread_ms": (last_sent - first_sent) * 1000 if sent else None,
        "first_sent": first_sent,
        "last_ack": last_ack,
        "rate": len(answered) / (last_ack - first_sent) if answered and last_ack > first_sent
        else float("nan"),
        "receipts": receipts,
    }


def timeline(marks: dict, t0: float | None) -> dict:
    """When, after the first send (ms), the server had decoded, started handling and
    acknowledged the first, the median and the last vote; how long its writer was busy."""
    if t0 is None or "vote_total" not in marks:
        return {}

    def points(xs: list[float]) -> tuple[float, float, float]:
        xs = sorted((x - t0) * 1000 for x in xs)
        return (xs[0], xs[len(xs) // 2], xs[-1]) if xs else (float("nan"),) * 3

    batches = marks.get("batch vote-writer", [])
    return {
        "decoded": points([a for a, _b in marks["vote_total"]]),
        "handler": points([a for a, _b in marks.get("vote_handler", [])]),
        "acked": points([b for _a, b in marks["vote_total"]]),
        "batches": len(batches),
        "writer_busy_ms": sum(b - a for a, b in batches) * 1000,
        "writer_first": (batches[0][0] - t0) * 1000 if batches else float("nan"),
    }


def check_db(row: dict) -> None:
    """0 lost, 0 twice: voters == ballots == phones acknowledged, receipts the same."""
    db = row["db"]
    stored = set(db["receipts"])
    acked = {r for r in row["receipts"] if r}
    row["acked_missing"] = len(acked - stored)  # acknowledged, not in the database
    row["lost"] = row["sent"] - db["voters"] + row["acked_missing"]
    row["twice"] = (db["ballots"] - db["distinct_voters"]) + (db["voters"]
                                                              - db["distinct_voters"]) \
        + row["two_receipts"]
    row["unacked_stored"] = db["voters"] - row["ok"]  # stored, the phone not told (yet)
    row["db_ok"] = (db["voters"] == db["ballots"] == db["distinct_voters"] == row["ok"]
                    == row["sent"] and row["acked_missing"] == 0 and row["twice"] == 0)


def burst_ok(r: dict) -> bool:
    return (r["ok"] == r["n"] and r.get("lost", 0) == 0 and r.get("twice", 0) == 0
            and r.get("db_ok", True) and r["ack"]["p99"] <= 1000)


def fmt(m: dict, keys=("p50", "p95", "p99", "max")) -> str:
    return " / ".join(f"{m[k]:.0f}" if m[k] >= 100 else f"{m[k]:.1f}" for k in keys)


def print_row(r: dict, target: str) -> None:
    srv = r["server"]
    when = "all at once" if not r["spread"] else f"over {r['spread']:g} s"
    print(f"\n== {target}: {r['label']} of {r['n']} phones ({when}), poll {r['poll']}")
    spread = f"{r['send_spread_ms']:.0f}" if r["send_spread_ms"] is not None else "-"
    print(f"   sent {r['sent']} (+{r['resends']} resends; not sent: {r['not_sent']}) over "
          f"{spread} ms, send lateness p99 {r['late']['p99']:.1f} ms; "
          f"answered {r['answered']}, ok {r['ok']}, errors {r['errors'] or 0}; "
          f"statuses {dict(sorted(r['statuses'].items()))}")
    print(f"   phone, emit → ack           p50/p95/p99/max ms: {fmt(r['ack'])}; "
          f"{r['rate']:.0f} votes/s (first send → last ack)")
    m = srv.get("metrics", {})
    if "vote_total" in m:
        print(f"   server, packet → ack queued p50/p95/p99/max ms: {fmt(m['vote_total'])}")
        print(f"   server, voting.realtime.vote p50/p95/p99/max ms: {fmt(m['vote_handler'])}")
        if "socket_context" in m:
            c = m["socket_context"]
            print(f"   server, caller resolved (core.realtime.socket_context) p50/p99 "
                  f"{c['p50']:.2f} / {c['p99']:.2f} ms, {c['mean'] * c['n']:.0f} ms in all")
    if "batch vote-writer" in m:
        b, s = m["batch vote-writer"], m["batch vote-writer size"]
        print(f"   vote writer: {b['n']} batches, size mean {s['mean']:.0f} max {s['max']:.0f};"
              f" batch p50/max {b['p50']:.1f} / {b['max']:.1f} ms, busy "
              f"{b['mean'] * b['n']:.0f} ms in all")
    tl = r.get("timeline")
    if tl:
        def pts(k):
            return " / ".join(f"{x:.0f}" for x in tl[k])

        print(f"   timeline, ms after the first send (first / median / last): packet decoded "
              f"{pts('decoded')}; handler entered (caller resolved) {pts('handler')}; ack "
              f"queued {pts('acked')}; writer's first batch at {tl['writer_first']:.0f}")
    if "flush" in m:
        print(f"   realtime flushes: {m['flush']['n']}, p50/max {m['flush']['p50']:.1f} / "
              f"{m['flush']['max']:.1f} ms")
    gcs = {k: v for k, v in m.items() if k.startswith("gc gen")}
    if gcs:
        print("   garbage collector pauses: " + "; ".join(
            f"{k[3:]} {v['n']}× max {v['max']:.1f} ms" for k, v in sorted(gcs.items())))
    if "db" in r:
        d = r["db"]
        print(f"   database: {d['voters']} voters ({d['distinct_voters']} distinct), "
              f"{d['ballots']} ballots; lost {r['lost']}, counted twice {r['twice']}, "
              f"acknowledged but missing {r['acked_missing']}  -> "
              f"{'OK' if r['db_ok'] else 'MISMATCH'}")
    if "projector_ms" in r:
        pm = r["projector_ms"]
        print("   projector: final turnout " + (f"{pm:.0f} ms after the last ack"
                                                if pm is not None else
                                                f"NEVER seen (last count {r['projector_last']})"))
    print(f"   server CPU {r['server_cpu_s']:.2f} s; clients CPU {r['client_cpu_s']:.2f} s; "
          f"phones dropped {r['dropped']}")
    if r.get("cpu_per_process"):
        print("   server CPU per process (worker): " + " / ".join(
            f"{x:.2f}" for x in r["cpu_per_process"]) + " s")
    if r.get("cpu"):
        c = r["cpu"]
        parts = ", ".join(f"{k} {v:.2f}" for k, v in sorted(c.items(), key=lambda kv: -kv[1])
                          if not k.startswith("_"))
        print(f"   CPU s during the step ({c['_wall']:.1f} s wall; machine busy {c['_busy']:.2f}"
              f" s, idle {c['_idle']:.2f} s of {os.cpu_count()} cores): {parts}")
    if r.get("profile"):
        print("   profile (py-spy, server process):")
        print("     " + r["profile"].replace("\n", "\n     "))


async def run_target(target: dict, args, steps: list[int]) -> dict:
    """Connect the phones (in steps), warm up, then for each step a hall pace and a burst."""
    bench = target.get("bench")
    out = {"steps": [], "rows": [], "memory": []}
    name = target["name"]
    if bench:
        target["projector"] = Projector()
        await target["projector"].connect(target.get("projector_url", bench.url),
                                          bench.projector_token)
    await asyncio.sleep(0.5)
    workers = target.get("workers") or [target["pid"]]
    phone_process = target.get("phone_process")  # the process each phone lands on (cluster)
    clients = await Clients.start(target["url"], target["cookies"], args.procs, args.batch)
    broke = None
    poll = 0
    try:
        for i, n in enumerate(steps):
            if broke is not None and not args.all:
                print(f"\n== {name}: {n} phones: skipped (broke at {broke})")
                continue
            rss0s = [rss_mb(p) for p in workers]
            rss0 = sum(rss0s)
            before = out["memory"][-1]["connected"] if out["memory"] else 0
            replies = await clients.ask([{"cmd": "connect", "upto": n}] * len(clients.procs))
            await asyncio.sleep(2)  # settle (handshakes' garbage, pings)
            rss1s = [rss_mb(p) for p in workers]
            rss1 = sum(rss1s)
            connected = sum(r["connected"] for r in replies)
            failed = sum(r["failed"] for r in replies)
            cm = summary([x for r in replies for x in r["connect_ms"]])
            mem = {"n": n, "connected": connected, "failed": failed,
                   "seconds": max(r["seconds"] for r in replies), "rss_before": rss0,
                   "rss_after": rss1, "per_conn_kb": (rss1 - rss0) * 1024 / max(
                       1, connected - before), "connect": cm,
                   "failures": sorted({f for r in replies for f in r["failures"]})[:5],
                   "rss_before_per_process": rss0s, "rss_after_per_process": rss1s}
            if phone_process is not None:
                mem["phones_per_process"] = [sum(1 for x in phone_process[:n] if x == i)
                                             for i in range(len(workers))]
            out["memory"].append(mem)
            print(f"\n{name}: {connected} of {n} phones connected and joined "
                  f"({failed} failed) in {mem['seconds']:.1f} s, {args.batch} at a time; "
                  f"connect+join p50/p99 {cm['p50']:.0f} / {cm['p99']:.0f} ms; server RSS "
                  f"{rss0:.0f} → {rss1:.0f} MB: {mem['per_conn_kb']:.0f} KB per connection")
            if len(workers) > 1:
                print("   per process: phones " + " / ".join(
                    str(x) for x in mem.get("phones_per_process", [])) + "; RSS " + " / ".join(
                    f"{a:.0f} → {b:.0f}" for a, b in zip(rss0s, rss1s, strict=True)) + " MB")
            if mem["failures"]:
                print("   failures: " + "; ".join(mem["failures"]))
            if i == 0 and args.warmup:
                warm = await vote_step(target, clients, args, label="warm-up",
                                       poll_index=poll, n=min(args.warmup, n), spread=2,
                                       profile=False)
                poll += 1
                print(f"   warm-up: {warm['ok']} of {warm['n']} ok, ack p99 "
                      f"{warm['ack']['p99']:.1f} ms")
            # The hall's pace first: a burst that overwhelms the server (threading mode) drops
            # phones, which would spoil what follows.
            ok = failed == 0
            if not args.no_pace:
                pace = await vote_step(target, clients, args, label="pace", poll_index=poll,
                                       n=n, spread=args.pace_seconds, profile=args.profile)
                poll += 1
                print_row(pace, name)
                out["rows"].append(pace)
                ok = ok and pace["ok"] == n and pace.get("lost", 0) == 0 \
                    and pace.get("twice", 0) == 0
                await asyncio.sleep(1)
            burst = await vote_step(target, clients, args, label="burst", poll_index=poll,
                                    n=n, spread=0, profile=args.profile)
            poll += 1
            burst["failed_connects"] = failed
            print_row(burst, name)
            out["rows"].append(burst)
            ok = ok and burst_ok(burst)
            if not ok and broke is None:
                broke = n
            await asyncio.sleep(1)
    finally:
        await clients.stop()
        if bench:
            await target["projector"].sio.disconnect()
    out["broke"] = broke
    return out


def polls_needed(args, steps: list[int]) -> int:
    return (1 if args.warmup else 0) + len(steps) * (1 if args.no_pace else 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="PostgreSQL URL of a server to make a scratch database on "
                                 "(default: a SQLite file)")
    ap.add_argument("--async-mode", default="threading", choices=("threading", "gevent"))
    ap.add_argument("--delegates", type=int, default=1000, help="phones (default 1000)")
    ap.add_argument("--steps", default="",
                    help="phone counts to go through, rising, e.g. 500,1000,1500,2000 "
                         "(default: --delegates); stops after the first that breaks")
    ap.add_argument("--all", action="store_true", help="run every step, even past a break")
    ap.add_argument("--bare", action="store_true",
                    help="first run the same against a bare handler (no database)")
    ap.add_argument("--bare-only", action="store_true", help="only the bare handler")
    ap.add_argument("--no-pace", action="store_true", help="bursts only")
    ap.add_argument("--pace-seconds", type=float, default=10)
    ap.add_argument("--resend", type=float, default=0.02,
                    help="share of phones sending their vote twice (same nonce; default 0.02)")
    ap.add_argument("--warmup", type=int, default=50,
                    help="phones voting in a warm-up poll before the first step (default 50)")
    ap.add_argument("--poll", default="motion", choices=("motion", "election"),
                    help="motion (3 answers) or election (15 candidates, 11 seats)")
    ap.add_argument("--secret", action="store_true", help="secret ballots (default named)")
    ap.add_argument("--procs", type=int, default=2, help="client processes (default 2)")
    ap.add_argument("--batch", type=int, default=50,
                    help="phones connecting at once, all processes together (default 50)")
    ap.add_argument("--flush", type=float, help="DAIHOI_REALTIME_FLUSH_SECONDS (default 0.2)")
    ap.add_argument("--wait", type=float, default=30,
                    help="how long after its last send a client waits for acks (default 30)")
    ap.add_argument("--flush-wait", type=float, default=5,
                    help="how long after a step the projector may take to show the final "
                         "turnout before it counts as never shown (default 5 s)")
    ap.add_argument("--experiment", default="",
                    help="comma-separated changes tried in the server process, not the app as "
                         "shipped: " + "; ".join(f"{k}: {v}" for k, v in EXPERIMENTS.items()))
    ap.add_argument("--profile", action="store_true",
                    help="py-spy the server during each step (disturbs the figures)")
    ap.add_argument("--profile-rate", type=int, default=250)
    ap.add_argument("--profile-top", type=int, default=30)
    ap.add_argument("--seed", type=int, default=2027)
    ap.add_argument("--keep", action="store_true", help="keep the temp folder")
    ap.add_argument("--processes", default="",
                    help="cluster mode (needs --db): the production set-up of tests/cluster.py "
                         "for each count, e.g. 1,2,4: N gunicorns (deploy/gunicorn.conf.py, one "
                         "gevent worker each), a private Redis as message queue, nginx in front "
                         "(deploy/nginx); phones through nginx, each with a route cookie of its "
                         "own, the projector on the first process")
    ap.add_argument("--compare-run", action="store_true",
                    help="cluster mode, at 1 process: also `daihoi run` (the instrumented "
                         "start_server, gevent) behind the same nginx with a Redis queue")
    ap.add_argument("--no-instrument", action="store_true",
                    help="cluster mode: gunicorn workers without /_bench/stats "
                         "(bench/checkin_server.py SITECUSTOMIZE)")
    ap.add_argument("--cluster-env", action="append", default=[], metavar="NAME=VALUE",
                    help="cluster mode: more environment for the app processes, e.g. "
                         "DAIHOI_DB_POOL_SIZE=5 (repeatable)")
    # Internal: a client process, the bare server.
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--cookies", help=argparse.SUPPRESS)
    ap.add_argument("--proc-index", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_bare:
        serve_bare(args.port, args.async_mode)
        return
    if args.client:
        asyncio.run(client_main(args))
        return
    steps = [int(x) for x in args.steps.split(",") if x] or [args.delegates]
    counts = [int(x) for x in args.processes.split(",") if x]
    if counts and not args.db:
        ap.error("--processes needs --db (PostgreSQL)")
    if counts and args.async_mode != "gevent":
        ap.error("--processes: the production set-up is gevent; add --async-mode gevent")
    targets = len(counts) + (1 if args.compare_run and 1 in counts else 0) if counts else 1
    t_all = time.perf_counter()
    load = os.getloadavg()
    print("DaiHoi voting benchmark (issue 5)")
    bench = Bench(pg=args.db, delegates=max(steps), lists=1, stations=0,
                  async_mode=args.async_mode, flush=args.flush,
                  voting=polls_needed(args, steps) * targets, poll_kind=args.poll,
                  poll_mode="secret" if args.secret else "named",
                  experiments=tuple(x for x in args.experiment.split(",") if x))
    results = {}
    try:
        print(machine(bench.db_url))
        print(f"{'PostgreSQL' if args.db else 'SQLite'}, async mode {args.async_mode}, "
              f"flush every {args.flush or 0.2:g} s; {max(steps)} approved delegates present, "
              f"{'secret' if args.secret else 'named'} {args.poll} polls; phones {steps} in "
              f"{args.procs} client processes, {args.batch} connecting at a time; "
              f"{args.resend:.0%} resend at once; load average before {load[0]:.2f}; world "
              f"built in {bench.build_seconds:.1f} s"
              + (f"; EXPERIMENT: {args.experiment}" if args.experiment else ""))
        cookies = bench.tmp / "cookies.json"
        cookies.write_text(json.dumps(bench.delegate_cookies))
        if args.bare or args.bare_only:
            bare = BareServer(args.async_mode, bench.tmp)
            try:
                results["bare"] = asyncio.run(run_target(
                    {"name": "bare handler", "key": "bare", "url": bare.url,
                     "pid": bare.proc.pid, "tmp": bench.tmp, "cookies": cookies}, args, steps))
            finally:
                bare.stop()
            time.sleep(2)
        if counts:
            results = run_cluster(bench, args, steps, counts, cookies)
            report_cluster(results, args, steps)
        elif not args.bare_only:
            bench.start_server()
            results["app"] = asyncio.run(run_target(
                {"name": "DaiHoi", "key": "app", "url": bench.url, "pid": bench.proc.pid,
                 "tmp": bench.tmp, "cookies": cookies, "bench": bench, "stats": bench.stats},
                args, steps))
        if not counts:
            report(results, args, steps)
    finally:
        bench.close(keep=args.keep)
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")


def run_cluster(bench: Bench, args, steps: list[int], counts: list[int],
                cookies: Path) -> dict:
    """Each process count in turn on the same world (fresh polls): a private Redis, the
    cluster, the phones through nginx; at 1 process with --compare-run, `daihoi run` first."""
    from tests.cluster import Nginx, RedisServer

    per = polls_needed(args, steps)
    poll0 = 0
    results = {}
    env = dict(x.split("=", 1) for x in args.cluster_env)
    phone_cookies = json.loads(cookies.read_text())
    routes = [f"phone-{args.seed}-{g}" for g in range(len(phone_cookies))]
    routed = bench.tmp / "cookies-routed.json"
    # A phone keeps the route cookie nginx gave it on its first answer: here each has one.
    routed.write_text(json.dumps([f"{c}; daihoi_route={r}"
                                  for c, r in zip(phone_cookies, routes, strict=True)]))
    for count in counts:
        if count == 1 and args.compare_run:
            folder = bench.tmp / "daihoi-run"
            redis = RedisServer(folder / "redis").start()
            bench.redis = redis.url
            nginx = None
            try:
                url = bench.start_server(env_extra={"DAIHOI_PROXY_COUNT": "1", **env})
                nginx = Nginx(folder / "nginx", [int(url.rsplit(":", 1)[1])]).start()
                pid = bench.proc.pid
                print(f"\n#### daihoi run (gevent, instrumented), 1 process, Redis queue, nginx "
                      f"in front; load average {os.getloadavg()[0]:.2f}")
                results["run-1"] = asyncio.run(run_target(
                    {"name": "daihoi run ×1", "key": "run1", "url": nginx.url, "pid": pid,
                     "pids": [pid], "workers": [pid], "tmp": bench.tmp, "cookies": routed,
                     "bench": bench, "stats": bench.stats, "projector_url": url,
                     "poll0": poll0, "processes": 1, "server": "daihoi run"}, args, steps))
            finally:
                if nginx is not None:
                    nginx.stop()
                bench.stop_server()
                redis.stop()
                bench.redis = None
            poll0 += per
            time.sleep(3)
        bc = BenchCluster(bench, count, instrument_app=not args.no_instrument, env=env)
        try:
            phone_process = bc.routes(routes[:max(steps)])
            workers = bc.workers()
            print(f"\n#### gunicorn ×{count} (one gevent worker each), Redis queue, nginx in "
                  f"front; workers {workers}; phones per process "
                  f"{[phone_process.count(i) for i in range(count)]} (of {max(steps)}); load "
                  f"average {os.getloadavg()[0]:.2f}")
            results[f"gunicorn-{count}"] = asyncio.run(run_target(
                {"name": f"gunicorn ×{count}", "key": f"g{count}", "url": bc.url,
                 "pid": workers[0], "pids": bc.pids(), "workers": workers, "tmp": bench.tmp,
                 "cookies": routed, "bench": bench,
                 "stats": None if args.no_instrument else bc.stats,
                 "projector_url": bc.apps[0].url, "poll0": poll0,
                 "phone_process": phone_process, "processes": count, "server": "gunicorn"},
                args, steps))
        finally:
            bc.stop()
        poll0 += per
        time.sleep(3)
    return results


def report_cluster(results: dict, args, steps: list[int]) -> None:
    """Markdown tables: per set-up and step, the burst (and pace), memory, CPU by part."""
    print("\n| set-up | phones | step | ok / lost / twice | ack p50 | p99 | max | votes/s | "
          "projector after last ack | server CPU s per process | machine CPU s: app / "
          "postgres / nginx / redis / clients+driver / other+unaccounted (busy of wall×cores) |")
    print("| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for name, res in results.items():
        for r in res["rows"]:
            c = r.get("cpu", {})
            pm = r.get("projector_ms")
            cores = os.cpu_count() or 1
            print(f"| {name} | {r['n']} | {r['label']} | {r['ok']} / {r.get('lost', '-')} / "
                  f"{r.get('twice', '-')} | {r['ack']['p50']:.0f} ms | {r['ack']['p99']:.0f} ms"
                  f" | {r['ack']['max']:.0f} ms | {r['rate']:.0f} | "
                  + (f"{pm:.0f} ms" if pm is not None else "never") + " | "
                  + " / ".join(f"{x:.2f}" for x in r.get("cpu_per_process", [])) + " | "
                  + " / ".join(f"{c.get(k, 0):.2f}" for k in ("app", "postgres", "nginx",
                                                             "redis"))
                  + f" / {c.get('clients', 0) + c.get('driver', 0):.2f} / "
                  f"{c.get('other', 0) + c.get('unaccounted', 0):.2f}"
                  f" ({c.get('_busy', 0):.1f} of {c.get('_wall', 0) * cores:.1f}) |")
    print("\n| set-up | phones | connected (failed) | connect s | connect+join p50 / p99 | "
          "RSS before → after per process | KB per connection |")
    print("| --- | ---: | --- | ---: | ---: | --- | ---: |")
    for name, res in results.items():
        for m in res["memory"]:
            per = " / ".join(f"{a:.0f} → {b:.0f}" for a, b in zip(
                m["rss_before_per_process"], m["rss_after_per_process"], strict=True))
            print(f"| {name} | {m['n']} | {m['connected']} ({m['failed']}) | "
                  f"{m['seconds']:.1f} | {m['connect']['p50']:.0f} / {m['connect']['p99']:.0f} "
                  f"ms | {per} MB | {m['per_conn_kb']:.0f} |")
        print(f"{name}: " + (f"first break at {res['broke']} phones" if res["broke"]
                             else f"no break up to {steps[-1]} phones"))


def report(results: dict, args, steps: list[int]) -> None:
    app, bare = results.get("app"), results.get("bare")
    bare_rows = {(r["label"], r["n"]): r for r in (bare or {}).get("rows", [])}
    print("\n| phones | step | ok / lost / twice | ack p50 | p95 | p99 | max | votes/s | "
          "server packet→ack p99 | projector after last ack | bare p99 | p99 / bare |")
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in (app or bare)["rows"]:
        b = bare_rows.get((r["label"], r["n"])) if app else None
        m = r["server"].get("metrics", {}).get("vote_total")
        pm = r.get("projector_ms")
        cells = [str(r["n"]), r["label"],
                 f"{r['ok']} / {r.get('lost', '-')} / {r.get('twice', '-')}",
                 *(f"{r['ack'][k]:.0f} ms" for k in ("p50", "p95", "p99", "max")),
                 f"{r['rate']:.0f}", f"{m['p99']:.0f} ms" if m else "-",
                 f"{pm:.0f} ms" if pm is not None else "-",
                 f"{b['ack']['p99']:.0f} ms" if b else "-",
                 f"{r['ack']['p99'] / b['ack']['p99']:.1f}x" if b else "-"]
        print("| " + " | ".join(cells) + " |")
    for name, res in (("bare handler", bare), ("DaiHoi", app)):
        if not res:
            continue
        for m in res["memory"]:
            print(f"{name}: {m['connected']} connected ({m['failed']} failed): RSS "
                  f"{m['rss_before']:.0f} → {m['rss_after']:.0f} MB, "
                  f"{m['per_conn_kb']:.0f} KB per connection")
        print(f"{name}: " + (f"first break at {res['broke']} phones" if res["broke"]
                             else f"no break up to {steps[-1]} phones"))
    if app:
        for r in app["rows"]:
            target = 1000 if r["label"] == "burst" else 100
            verdict = []
            verdict.append(f"ack p99 {r['ack']['p99']:.0f} ms "
                           f"{'<=' if r['ack']['p99'] <= target else '>'} {target} ms")
            verdict.append("0 lost, 0 twice" if r.get("lost") == 0 and r.get("twice") == 0
                           else f"lost {r.get('lost')}, twice {r.get('twice')}")
            pm = r.get("projector_ms")
            verdict.append("projector " + (f"{pm:.0f} ms {'<=' if pm <= 1000 else '>'} 1 s"
                                           if pm is not None else "never"))
            print(f"{r['n']} {r['label']}: " + "; ".join(verdict))


if __name__ == "__main__":
    main()
