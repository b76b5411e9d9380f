"""Several app processes, as deployed (docs/deploy.md): gunicorn processes on one PostgreSQL
database and one Redis, nginx in front with sticky sessions (tests/cluster.py).

A delegate's phone on one process and the hall screen on another see the same congress: a
vote, a check-in, a published result cross over Redis. Then the failures a congress must
survive: a process restarted during a vote, Redis restarted, PostgreSQL out of reach.

Runs in the PostgreSQL pass (`tests/with_services.sh`, part of `.ci/run`); the processes get
a redis-server of their own, so the test may restart it without touching anyone else's.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from urllib.parse import urlparse

import pytest
import requests
from sqlalchemy import func, select

from core.accounts import create_account
from core.db import session
from core.events import create_projector_link
from plugins.checkin import services as checkin
from plugins.delegates.services import adopt_account
from plugins.voting.models import Ballot, PollVoter
from tests.cluster import NGINX, Cluster, RedisServer, TcpProxy, cluster_available
from tests.conftest import PASSWORD, PG_URL, SocketClient, wait_for
from tests.plugins.checkin.conftest import hall, person  # noqa: F401 - fixture
from tests.plugins.conftest import roster_world  # noqa: F401 - fixture
from tests.plugins.voting.conftest import PRESENT, assembly, opened, option_ids  # noqa: F401

REF = "lao-cai/dai-hoi"
SECRET = "test-secret"  # noqa: S105 - as the app fixture: projector links are signed with it

pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="several processes need PostgreSQL "
                                          "(DAIHOI_TEST_DATABASE_URL)"),
    pytest.mark.skipif(cluster_available() is not None, reason=str(cluster_available())),
]


@pytest.fixture
def congress(app, assembly):  # noqa: F811 - the voting tests' fixture
    """The voting module's hall (ten delegates present, each with an account), an open motion,
    the hall screen's link."""
    with app.app_context():
        db = session()
        ev = assembly.event("a")
        for code in PRESENT[2:]:
            user = create_account(db, actor=None, unit=None, username=f"a.{code.lower()}",
                                  full_name=code, password=PASSWORD)
            adopt_account(db, ev, code, user)
        db.commit()
        poll = opened(ev, kind="motion", mode="secret", title="Thông qua chương trình")
        _link, token = create_projector_link(db, ev, actor=None, label="Hội trường")
        official = checkin.ensure_lists(db, ev)[1]
        secret = person(ev, "DB0011").checkin_secret
        db.commit()
        data = {"poll": poll.id, "options": option_ids(poll), "token": token,
                "list": official.id, "secret": secret, "event_id": ev.id}
    app.extensions["daihoi_db"].engine.dispose()
    return data


def phones():
    """Usernames of the ten delegates present: a.delegate (DB0001), a.delegate2 (DB0002), and
    a.db0003 … a.db0010."""
    return ["a.delegate", "a.delegate2"] + [f"a.{c.lower()}" for c in PRESENT[2:]]


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def _start(tmp_path, database_url: str, redis_url: str) -> Cluster:
    cluster = Cluster(tmp_path / "cluster", database_url=database_url, redis_url=redis_url,
                      secret_key=SECRET)
    try:
        cluster.start()
    except Exception:
        cluster.stop()
        raise
    return cluster


@pytest.fixture
def cluster(congress, db_url, redis_server, tmp_path):
    c = _start(tmp_path, db_url, redis_server.url)
    yield c
    c.stop()


class Browser:
    """A signed-in browser: its cookies (session and, through nginx, the route)."""

    def __init__(self, base: str, username: str | None = None, route: str | None = None):
        self.base = base
        self.http = requests.Session()
        if route is not None:
            self.http.cookies.set("daihoi_route", route, domain=urlparse(base).hostname)
        if username is not None:
            page = self.http.get(f"{base}/login", timeout=10)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            resp = self.http.post(f"{base}/login", data={
                "username": username, "password": PASSWORD, "csrf_token": token},
                allow_redirects=False, timeout=10)
            assert resp.status_code == 302, resp.text[:300]

    @property
    def cookie(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())

    def socket(self, transports=("websocket",), auth: dict | None = None) -> SocketClient:
        return SocketClient(self.base, cookie=self.cookie, transports=transports, auth=auth,
                            http_session=self.http)

    def post_form(self, path: str, data: dict | None = None) -> requests.Response:
        page = self.http.get(self.base + path.rsplit("/", 1)[0], timeout=10)
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
        return self.http.post(self.base + path, data=dict(data or {}, csrf_token=token),
                              allow_redirects=False, timeout=10)


def screen_on(url: str, token: str) -> SocketClient:
    screen = SocketClient(url, auth={"projector": token})
    assert screen.call("join", {"event": REF, "as": "projector"})["ok"]
    return screen


def vote_payload(congress, choice: int = 0, nonce: str | None = None) -> dict:
    return {"event": REF, "poll": congress["poll"], "choices": [congress["options"][choice]],
            "nonce": nonce or uuid.uuid4().hex}


def turnout_seen(screen: SocketClient, congress, voted: int) -> bool:
    return any(t.get("poll") == congress["poll"] and t.get("voted") == voted
               for t in screen.got("voting:turnout"))


def counts(app, poll_id: int) -> tuple[int, int]:
    with app.app_context():
        db = session()
        voters = db.scalar(select(func.count()).select_from(PollVoter)
                           .where(PollVoter.poll_id == poll_id))
        ballots = db.scalar(select(func.count()).select_from(Ballot)
                            .where(Ballot.poll_id == poll_id))
    app.extensions["daihoi_db"].engine.dispose()
    return voters, ballots


def receipts(app, poll_id: int) -> set[str]:
    with app.app_context():
        found = {plain(r) for r in session().scalars(select(Ballot.receipt)
                                                    .where(Ballot.poll_id == poll_id))}
    app.extensions["daihoi_db"].engine.dispose()
    return found


def plain(receipt: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", receipt.upper())


def test_a_vote_on_one_process_reaches_the_screen_on_the_other(cluster, congress, app):
    a, b = cluster.apps
    screen = screen_on(b.url, congress["token"])
    phone = Browser(a.url, "a.delegate").socket()
    assert phone.call("join", {"event": REF})["ok"]
    ack = phone.call("voting:vote", vote_payload(congress))
    assert ack["ok"], ack
    assert wait_for(lambda: turnout_seen(screen, congress, 1), 10), screen.received
    # The chair closes on process A, the tellers publish on process B: the screen has the
    # result, and the count is the one vote cast.
    chair = Browser(a.url, "a.secretariat")
    resp = chair.post_form(f"/{REF}/voting/polls/{congress['poll']}/close")
    assert resp.status_code == 302, resp.text[:300]
    tellers = Browser(b.url, "a.tellers")
    resp = tellers.post_form(f"/{REF}/voting/polls/{congress['poll']}/publish")
    assert resp.status_code == 302, resp.text[:300]

    def published() -> dict | None:
        for data in screen.got("voting:poll"):
            if data.get("id") == congress["poll"] and data.get("status") == "published":
                return data
        return None

    assert wait_for(lambda: published() is not None, 10), screen.got("voting:poll")
    assert published()["voted"] == 1
    assert published()["result"] is not None
    assert counts(app, congress["poll"]) == (1, 1)


def test_a_check_in_on_one_process_moves_the_counter_on_the_other(cluster, congress):
    a, b = cluster.apps
    screen = screen_on(b.url, congress["token"])
    station = Browser(a.url, "a.checkin").socket()
    ack = station.call("checkin:scan", {"event": REF, "list": congress["list"],
                                        "nonce": uuid.uuid4().hex, "code": congress["secret"],
                                        "station": "Cổng A"})
    assert ack["ok"] and ack["result"]["verdict"] == "in", ack
    assert wait_for(lambda: any(x["present"] == len(PRESENT) + 1
                                for x in screen.got("checkin:attendance")), 10)


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)")
def test_through_nginx_each_browser_stays_on_its_process(cluster, congress, app):
    a, b = cluster.apps
    # A browser's first answer sets the route cookie; its next requests all reach one process.
    spread = set()
    for _ in range(12):
        browser = Browser(cluster.url)
        first = browser.http.get(cluster.url + "/login", timeout=10)
        assert "daihoi_route" in browser.http.cookies
        for _ in range(3):
            again = browser.http.get(cluster.url + "/login", timeout=10)
            assert again.headers["X-Upstream"] == first.headers["X-Upstream"]
        spread.add(first.headers["X-Upstream"])
    assert len(spread) == 2  # twelve browsers do not all land on one process
    # Long-polling needs every request of a connection on one process: a phone whose network
    # blocks websockets votes through nginx on A, the screen sits on B.
    screen = Browser(cluster.url, route=cluster.route_to(1))
    screen_socket = screen.socket(auth={"projector": congress["token"]})
    assert screen_socket.call("join", {"event": REF, "as": "projector"})["ok"]
    phone = Browser(cluster.url, "a.delegate", route=cluster.route_to(0))
    polling = phone.socket(transports=("polling",))
    assert polling.sio.transport() == "polling"
    assert polling.call("join", {"event": REF})["ok"]
    for _ in range(5):  # several round trips on one long-polling session
        assert polling.call("voting:state", {"event": REF})["ok"]
    assert polling.call("voting:vote", vote_payload(congress))["ok"]
    assert wait_for(lambda: turnout_seen(screen_socket, congress, 1), 10)
    # The client really went through nginx to A (the server answered on the right process).
    assert counts(app, congress["poll"]) == (1, 1)


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)")
def test_a_process_restarted_during_a_vote_loses_no_acknowledged_vote(cluster, congress, app):
    a, b = cluster.apps
    route_a = cluster.route_to(0)
    screen = screen_on(b.url, congress["token"])
    voters = []
    for username in phones():
        browser = Browser(cluster.url, username, route=route_a)
        sock = browser.socket()
        assert sock.call("join", {"event": REF})["ok"]
        voters.append({"browser": browser, "socket": sock, "nonce": uuid.uuid4().hex,
                       "ack": None})
    # Five phones on A have voted; five more vote at once and A is killed while those votes
    # are on their way (committed or not, answered or not: each phone knows only whether it
    # got an answer).
    def cast(v) -> None:
        try:
            v["ack"] = v["socket"].call("voting:vote", vote_payload(congress, nonce=v["nonce"]),
                                        timeout=5)
        except Exception:  # noqa: BLE001 - no answer: the phone keeps the vote to send again
            v["ack"] = None

    for v in voters[:5]:
        cast(v)
        assert v["ack"]["ok"], v["ack"]
    threads = [threading.Thread(target=cast, args=(v,)) for v in voters[5:]]
    for t in threads:
        t.start()
    time.sleep(0.01)
    a.kill()
    for t in threads:
        t.join(15)
    acknowledged = [v for v in voters if v["ack"] and v["ack"].get("ok")]
    # Every phone reconnects through nginx (same route cookie: A is down, so B), sees the poll
    # still open, and sends again what got no answer, with the same nonce.
    for v in voters:
        try:
            v["socket"].close()
        except Exception:  # noqa: BLE001, S110 - already dropped by the kill
            pass
        sock = v["browser"].socket()
        state = sock.call("join", {"event": REF})["state"]
        assert state["voting"]["screen"]["id"] == congress["poll"]
        assert state["voting"]["screen"]["status"] == "open"
        again = sock.call("voting:vote", vote_payload(congress, nonce=v["nonce"]))
        assert again["ok"], again
        if v in acknowledged:
            assert again["status"] == "replay"  # kept: recognised, not counted twice
        v["socket"] = sock
    assert counts(app, congress["poll"]) == (len(voters), len(voters))
    kept = receipts(app, congress["poll"])
    assert all(plain(v["ack"]["receipt"]) in kept for v in acknowledged)
    assert wait_for(lambda: turnout_seen(screen, congress, len(voters)), 10)
    # A comes back and takes phones again.
    a.start()
    late = Browser(cluster.url, "a.secretariat", route=route_a).socket()
    assert late.call("join", {"event": REF})["ok"]


def test_redis_restarted_the_processes_recover_without_help(cluster, congress, redis_server):
    a, b = cluster.apps
    screen = screen_on(b.url, congress["token"])
    staff = Browser(a.url, "a.secretariat").socket()
    assert staff.call("join", {"event": REF})["ok"]
    phone = Browser(a.url, "a.delegate").socket()
    assert phone.call("join", {"event": REF})["ok"]
    redis_server.stop()
    # Without Redis a vote is still recorded and acknowledged: the database is the record;
    # only the live relay between processes waits for Redis.
    assert phone.call("voting:vote", vote_payload(congress))["ok"]
    health = requests.get(a.url + "/health", timeout=10)
    assert health.status_code == 503 and health.json()["redis"].startswith("error")
    # Signing in still works (its attempts are counted in memory meanwhile).
    second = Browser(a.url, "a.delegate2")
    redis_server.start()
    # Nobody restarts anything: announcements posted on A reach the screen on B again (each
    # process's Redis listener reconnects by itself, python-socketio backs off 1 s, 2 s, …).

    def relayed() -> bool:
        ack = staff.call("announcements:post", {"event": REF, "title": "Thông báo",
                                                "body": "Kiểm tra", "audience": "all"})
        assert ack["ok"], ack
        return wait_for(lambda: bool(screen.got("announcements:new")), 1)

    assert wait_for(relayed, 30), screen.received[-5:]
    assert requests.get(a.url + "/health", timeout=10).status_code == 200
    # The count on the screen catches up with the next vote.
    phone2 = second.socket()
    assert phone2.call("join", {"event": REF})["ok"]
    assert phone2.call("voting:vote", vote_payload(congress))["ok"]
    assert wait_for(lambda: turnout_seen(screen, congress, 2), 10)


def test_postgresql_out_of_reach_fails_clearly_and_saves_nothing(congress, db_url,
                                                                 redis_server, tmp_path, app):
    port = urlparse(db_url.replace("postgresql+psycopg", "postgresql")).port or 5432
    proxy = TcpProxy(port).start()
    through = re.sub(r"@([^/:]+)(:\d+)?/", f"@127.0.0.1:{proxy.port}/", db_url)
    cluster = _start(tmp_path, through, redis_server.url)
    try:
        a, _b = cluster.apps
        browser = Browser(a.url, "a.delegate")
        phone = browser.socket()
        assert phone.call("join", {"event": REF})["ok"]
        nonce = uuid.uuid4().hex
        proxy.cut()
        refused = phone.call("voting:vote", vote_payload(congress, nonce=nonce), timeout=30)
        assert refused == {"ok": False, "error": "unavailable", "message": refused["message"]}
        assert "nothing was saved" in refused["message"] or "không" in refused["message"]
        page = browser.http.get(f"{a.url}/{REF}/", timeout=30)
        assert page.status_code == 503
        assert "Cơ sở dữ liệu" in page.text or "database" in page.text
        api = browser.http.get(f"{a.url}/{REF}/", headers={"Accept": "application/json"},
                               timeout=30)
        assert api.status_code == 503 and api.json()["error"] == "unavailable"
        health = requests.get(a.url + "/health", timeout=30)
        assert health.status_code == 503 and health.json()["database"].startswith("error")
        assert counts(app, congress["poll"]) == (0, 0)  # nothing half-written
        proxy.restore()
        # Back without a restart: the same vote, sent again, is recorded once.
        assert wait_for(lambda: requests.get(a.url + "/health", timeout=10).status_code == 200,
                        15)
        ack = phone.call("voting:vote", vote_payload(congress, nonce=nonce))
        assert ack["ok"], ack
        assert counts(app, congress["poll"]) == (1, 1)
    finally:
        cluster.stop()
        proxy.stop()
