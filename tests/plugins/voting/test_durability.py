"""Issue 5: "A vote acknowledged to the client is committed: killing the server (SIGKILL) in the
middle of a poll and starting it again loses no acknowledged vote and counts none twice."

A real server process, started as `daihoi run` starts it (`core.cli.main(["run", ...])`, the
way bench/checkin_server.py does), takes the votes of 110 phones connected over Socket.IO. Each
phone keeps its vote (choices, nonce, receipt) before sending it, as the ballot page does
(plugins/voting/static/ballot.js). The votes stream in with always IN_FLIGHT of them sent and
not yet answered; at the KILL_AT-th answer (40 %) the process gets SIGKILL. It is started
again on the same database (SQLite file or PostgreSQL); every phone without an answer sends its
vote again with the same nonce and receipt, a few answered phones send theirs again too (they
are told "replay", not counted again) and one answered delegate tries from a second device (he
is refused). The database then holds one "has voted" row and one ballot per delegate who was
told "ok", each acknowledged receipt with the choices its phone made, and closing the poll
counts exactly those.

Shown to fail (nothing of it is left in core/ or plugins/): with the server's GroupCommit._write
monkeypatched, through a throw-away sitecustomize.py on PYTHONPATH, to wake the handlers (so
they acknowledge) 50 ms before it commits, the test failed: 105 voter rows and ballots for 110
delegates told "ok", acknowledged votes lost with the killed process.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from core.db import session
from core.models import User
from plugins.checkin import services as checkin
from plugins.voting import ballots, services
from plugins.voting.models import Ballot, Poll, PollVoter
from tests.conftest import REDIS_URL
from tests.plugins.checkin.conftest import person
from tests.plugins.voting.conftest import PRESENT as CHECKED_IN
from tests.plugins.voting.conftest import opened, option_ids, run_async

# Connections the killed server drops are expected; their readers' complaints are noise.
logging.getLogger("socketio.client").setLevel(logging.CRITICAL)
logging.getLogger("engineio.client").setLevel(logging.CRITICAL)

ROOT = Path(__file__).resolve().parents[3]
REF = "lao-cai/dai-hoi"
PRESENT = [f"DB{n:04d}" for n in range(1, 121)]  # checked in when the poll opens: eligible
VOTERS = PRESENT[:110]  # the last ten eligible delegates never vote
IN_FLIGHT = 16  # votes sent and not yet answered at any moment of the stream
KILL_AT = len(VOTERS) * 40 // 100  # answers received when the server is killed
REPLAYS = 8  # answered phones that send their vote again after the restart
CANDIDATES = tuple((f"Ứng cử viên {n}", None) for n in range(1, 6))
SEATS = 3

# `daihoi run` itself (the CLI's own command), with the app's instance folder in the test's
# temporary folder rather than the repository's.
LAUNCH = """
import sys

import core.app
from core.cli import main

make_app = core.app.create_app


def create_app(overrides=None, **kw):
    kw.setdefault("instance_path", sys.argv[2])
    return make_app(overrides, **kw)


core.app.create_app = create_app
main(["run", "--host", "127.0.0.1", "--port", sys.argv[1]])
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def signed_in_cookie(app, user: User) -> str:
    """The Cookie header of a browser signed in as `user`: what a sign-in leaves in the session
    (Flask-Login's user id "<id>:<session_version>", as core.app's user loader reads it),
    signed with the app's key. A hundred phones without a hundred argon2 sign-ins."""
    serializer = app.session_interface.get_signing_serializer(app)
    value = serializer.dumps({"_user_id": user.get_id(), "_fresh": True})
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"


class Server:
    """`daihoi run` in a process of its own, on the test's database, always on one port."""

    def __init__(self, db_url: str, secret_key: str, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tmp_path
        self.proc: subprocess.Popen | None = None
        self.logs: list[Path] = []
        self.env = dict(os.environ)
        self.env.pop("DAIHOI_REDIS_URL", None)
        self.env.update({
            "DAIHOI_DATABASE_URL": db_url, "DAIHOI_SECRET_KEY": secret_key,
            "DAIHOI_COOKIE_SECURE": "0", "DAIHOI_ASYNC_MODE": "threading",
            "DAIHOI_LOCALE": "en", "PYTHONUNBUFFERED": "1",
        })
        if REDIS_URL:  # the PostgreSQL pass runs Socket.IO over Redis, as deployed
            self.env["DAIHOI_REDIS_URL"] = REDIS_URL

    def start(self, timeout: float = 60) -> None:
        path = self.tmp / f"server-{len(self.logs) + 1}.log"
        self.logs.append(path)
        with open(path, "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", LAUNCH, str(self.port), str(self.tmp / "instance")],
                env=self.env, cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError("the server exited:\n" + self.log_tail())
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("the server did not answer /health:\n" + self.log_tail())

    def kill(self) -> None:
        """SIGKILL: no handler, no clean-up, no flush; whatever was not committed is lost."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)

    def wait_dead(self, timeout: float = 15) -> None:
        assert self.proc is not None
        self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log_tail(self, size: int = 4000) -> str:
        return "\n".join(p.read_text(errors="replace")[-size:] for p in self.logs if p.exists())


@dataclass
class Phone:
    """A delegate's phone and the vote it keeps until answered (as ballot.js keeps it)."""

    code: str
    delegate_id: int
    cookie: str
    choices: list[int]
    nonce: str = field(default_factory=lambda: uuid.uuid4().hex)
    receipt: str = field(default_factory=ballots.new_receipt)
    sent: bool = False
    answers: list[dict] = field(default_factory=list)

    def payload(self, poll_id: int) -> dict:
        return {"event": REF, "poll": poll_id, "choices": self.choices, "nonce": self.nonce,
                "receipt": self.receipt}

    @property
    def told_ok(self) -> bool:
        return any(isinstance(a, dict) and a.get("ok") for a in self.answers)


# ---------------------------------------------------------------- Socket.IO clients

async def wait_until(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        await asyncio.sleep(0.02)
    return True


async def connect_all(url: str, cookies: list[str], opened: list, at_once: int = 20) -> list:
    """One python-socketio AsyncClient per cookie (websocket transport, no reconnection),
    in order; each is appended to `opened` as soon as it exists, for `drop`."""
    import socketio

    gate = asyncio.Semaphore(at_once)

    async def one(cookie: str):
        async with gate:
            sio = socketio.AsyncClient(reconnection=False)
            opened.append(sio)
            await sio.connect(url, headers={"Cookie": cookie}, transports=["websocket"],
                              wait_timeout=20)
            return sio

    return list(await asyncio.gather(*(one(c) for c in cookies)))


async def drop(clients) -> None:
    """Drop connections as a phone losing its network would (no polite close handshake)."""

    async def one(sio) -> None:
        try:
            await asyncio.wait_for(sio.eio.disconnect(abort=True), 2)
        except Exception:  # noqa: BLE001, S110 - already gone with the server
            pass

    await asyncio.gather(*(one(c) for c in clients))


async def call_vote(sio, payload: dict) -> dict:
    """A vote and its answer; "busy" is sent again with the same nonce, as the phone does."""
    for _attempt in range(5):
        ack = await sio.call("voting:vote", payload, timeout=30)
        if not (isinstance(ack, dict) and ack.get("error") == "busy"):
            return ack
    return ack


async def vote_until_killed(server: Server, phones: list[Phone], poll_id: int) -> dict:
    """Stream the phones' votes, IN_FLIGHT unanswered at a time, and SIGKILL the server right
    after sending a vote once KILL_AT answers are in. Every answer received, before or after
    the kill, is in its phone's `answers`: an answer the server wrote before dying was
    committed before it was written."""
    opened: list = []
    clients = dict(zip((p.code for p in phones),
                       await connect_all(server.url, [p.cookie for p in phones], opened),
                       strict=True))
    window = asyncio.Semaphore(IN_FLIGHT)
    state = {"killed": False, "sent": 0, "answered": 0, "in_flight_at_kill": None}

    def answered(phone: Phone, ack=None) -> None:
        phone.answers.append(ack)
        state["answered"] += 1
        window.release()

    try:
        for phone in phones:
            # A server that stops answering fails the test instead of hanging it.
            await asyncio.wait_for(window.acquire(), 30)
            phone.sent = True
            state["sent"] += 1
            await clients[phone.code].emit("voting:vote", phone.payload(poll_id),
                                           callback=functools.partial(answered, phone))
            if state["answered"] >= KILL_AT:
                server.kill()
                state["killed"] = True
                state["in_flight_at_kill"] = state["sent"] - state["answered"]
                break
        await asyncio.get_running_loop().run_in_executor(None, server.wait_dead)
        # A connection is seen closed only after everything the server wrote on it was read:
        # once all are closed, no answer can still arrive.
        state["all_closed"] = await wait_until(
            lambda: not any(c.connected for c in clients.values()), 20)
        state["answered_in_the_end"] = state["answered"]
    finally:
        await drop(opened)
    return state


async def vote_again(server: Server, phones: list[Phone], second: Phone, poll_id: int) -> dict:
    """After the restart: `phones` send their kept vote again, all at once, with the same nonce
    and receipt; `second` votes from another device (a new nonce, receipt and choice)."""
    opened: list = []
    try:
        clients = await connect_all(server.url, [p.cookie for p in phones] + [second.cookie],
                                    opened)
        other = {**second.payload(poll_id), "nonce": uuid.uuid4().hex,
                 "receipt": ballots.new_receipt(), "choices": second.choices[:1]}
        answers = await asyncio.gather(
            *(call_vote(c, p.payload(poll_id)) for c, p in zip(clients, phones, strict=False)),
            call_vote(clients[-1], other))
        for p, ack in zip(phones, answers, strict=False):
            p.answers.append(ack)
        return {"second_device": answers[-1], "second_device_receipt": other["receipt"]}
    finally:
        await drop(opened)


# ---------------------------------------------------------------- the test

def test_a_server_killed_mid_poll_loses_no_acknowledged_vote_and_counts_none_twice(
        app, assembly, db_url, tmp_path):
    with app.app_context():
        db = session()
        ev = assembly.event("a")
        official = checkin.current_list(db, ev)
        checkin.record_scans(db, ev, official, [
            checkin.scan_input(nonce=uuid.uuid4().hex, delegate=person(ev, code), station="A")
            for code in PRESENT if code not in CHECKED_IN])  # the fixture checked in ten
        db.commit()
        poll = opened(ev, kind="election", mode="secret", title="Bầu Ban Chấp hành",
                      options=CANDIDATES, seats=SEATS)
        assert poll.status == "open" and poll.eligible_count == len(PRESENT)
        poll_id, options = poll.id, option_ids(poll)
        rnd = random.Random(2027)
        phones = []
        for code in VOTERS:
            d = person(ev, code)
            phones.append(Phone(code, d.id, signed_in_cookie(app, db.get(User, d.user_id)),
                                sorted(rnd.sample(options, rnd.randint(1, SEATS)))))
        silent = {person(ev, code).id for code in PRESENT if code not in VOTERS}

    server = Server(db_url, app.config["SECRET_KEY"], tmp_path)
    try:
        server.start()
        first = run_async(vote_until_killed(server, phones, poll_id))
        assert first["killed"], server.log_tail()
        assert first["all_closed"], "a connection stayed open after the server was killed"
        answered = [p for p in phones if p.answers]
        summary = (f"{first}; answered before the restart: {len(answered)} of {len(phones)}, "
                   f"sent: {sum(p.sent for p in phones)}")
        # Killed mid-poll: votes answered, votes sent and not answered when the signal went
        # (their answers may still have come), votes not sent at all.
        assert first["in_flight_at_kill"] > 0, summary
        assert KILL_AT <= len(answered) <= sum(p.sent for p in phones) < len(phones), summary
        for p in answered:
            assert len(p.answers) == 1, (p.code, p.answers)
            ack = p.answers[0]
            assert ack["ok"] is True and ack["status"] == "recorded", (p.code, ack)
            assert ack["receipt"] == ballots.format_receipt(p.receipt), (p.code, ack)

        server.start()  # the same database, the same port
        unanswered = [p for p in phones if not p.answers]
        replays = answered[:REPLAYS]
        second = answered[REPLAYS]
        again = run_async(vote_again(server, unanswered + replays, second, poll_id))
    finally:
        server.stop()

    for p in unanswered:
        ack = p.answers[-1]
        assert ack["ok"] is True and ack["status"] in ("recorded", "replay"), (p.code, ack)
        if ack["status"] == "recorded":
            assert ack["receipt"] == ballots.format_receipt(p.receipt), (p.code, ack)
        else:  # committed before the kill, its answer lost with the server
            assert p.sent, (p.code, "never sent before the kill, yet already recorded")
    for p in replays:
        ack = p.answers[-1]
        assert ack["ok"] is True and ack["status"] == "replay", (p.code, ack)
        assert "already recorded" in ack["message"]
    refused = again["second_device"]
    assert refused["ok"] is False and refused["error"] == "already_voted", refused
    assert "already voted" in refused["message"]

    told_ok = {p.delegate_id for p in phones if p.told_ok}
    assert told_ok == {p.delegate_id for p in phones}, "every phone got its vote in"
    with app.app_context():
        db = session()
        voters = list(db.scalars(select(PollVoter.delegate_id)
                                 .where(PollVoter.poll_id == poll_id)))
        rows = db.execute(select(Ballot.receipt, Ballot.choices, Ballot.valid)
                          .where(Ballot.poll_id == poll_id)).all()
        kept = {r.receipt: r.choices for r in rows}
        assert len(kept) == len(rows)
        # Every acknowledged receipt is a ballot, with the choices its phone made; the second
        # device's vote is nowhere.
        lost = [p.code for p in answered if p.receipt not in kept]
        assert lost == [], f"acknowledged before the kill, then lost: {lost}; {summary}"
        assert kept == {p.receipt: ",".join(map(str, p.choices)) for p in phones}
        assert again["second_device_receipt"] not in kept
        assert all(r.valid for r in rows)
        # One "has voted" row and one ballot per delegate told ok; nobody twice, no one else.
        assert len(voters) == len(set(voters)) == len(rows) == len(told_ok), (
            len(voters), len(set(voters)), len(rows), len(told_ok), summary)
        assert set(voters) == told_ok and not set(voters) & silent

        closed = services.close_poll(db, assembly.event("a"), db.get(Poll, poll_id), actor=None)
        db.commit()
        result = closed.result
        assert result["returned"] == len(told_ok) == services.voted_count(db, poll_id)
        assert result["issued"] == len(PRESENT) and result["invalid"] == 0
        tally = Counter(o for p in phones for o in p.choices)
        assert {o["id"]: o["votes"] for o in result["options"]} == {
            o: tally[o] for o in options}
