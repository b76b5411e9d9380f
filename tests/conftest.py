"""Fixtures: a migrated database per test (SQLite, or PostgreSQL when DAIHOI_TEST_DATABASE_URL
is set), the app, two unions' worth of tenants, and a live server for Socket.IO clients."""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from werkzeug.serving import make_server

import core.accounts as core_accounts
from core.app import create_app
from core.db import session

# Socket.IO clients dropped on purpose (see SocketClient.close) log "packet queue is empty"
# from their reader threads, sometimes after pytest's summary; it is noise, not a failure.
logging.getLogger("engineio.client").setLevel(logging.CRITICAL)

# Argon2 at its real cost makes every fixture account take ~50 ms; tests keep argon2, cheaper.
core_accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

PG_URL = os.environ.get("DAIHOI_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("DAIHOI_TEST_REDIS_URL")
PASSWORD = "correct-horse-9"
SHARED = Path(__file__).resolve().parents[2] / "shared"
_counter = itertools.count()


def _pg_admin_url(url: str, dbname: str) -> str:
    base = url.replace("postgresql+psycopg://", "postgresql://")
    return base.rsplit("/", 1)[0] + "/" + dbname


def _pg_exec(sql: str) -> None:
    import psycopg

    with psycopg.connect(_pg_admin_url(PG_URL, "postgres"), autocommit=True) as conn:
        conn.execute(sql)


def _migrate(url: str, instance: Path) -> None:
    from core.migrate import upgrade
    from tenants.services import ensure_levels

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "t"}, instance_path=instance)
    with app.app_context():
        upgrade(app)
        ensure_levels(session(), app.config["UNIT_LEVELS"])
        session().commit()
    app.extensions["daihoi_db"].engine.dispose()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """Migrate once; each test then gets a copy (a file copy, or CREATE DATABASE … TEMPLATE)."""
    instance = tmp_path_factory.mktemp("instance")
    if PG_URL:
        name = f"daihoi_tpl_{uuid.uuid4().hex[:8]}"
        _pg_exec(f'CREATE DATABASE "{name}"')
        _migrate(_pg_admin_url(PG_URL, name), instance)
        yield name
        _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = instance / "template.sqlite3"
        _migrate(f"sqlite:///{path}", instance)
        yield path


@pytest.fixture
def db_url(template_db, tmp_path):
    if PG_URL:
        name = f"daihoi_t_{os.getpid()}_{next(_counter)}"
        _pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        yield _pg_admin_url(PG_URL, name)
        _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = tmp_path / "test.sqlite3"
        shutil.copy(template_db, path)
        yield f"sqlite:///{path}"


def make_app(db_url: str, tmp_path: Path, **overrides):
    config = {
        "DATABASE_URL": db_url,
        "SECRET_KEY": "test-secret",
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "REALTIME_FLUSH_SECONDS": 0.05,
        # Assertions read English; tests of the Vietnamese UI set "vi" themselves.
        "DEFAULT_LOCALE": "en",
        "CLI_LOCALE": "en",
    }
    config.update(overrides)
    extra = config.pop("EXTRA_PLUGINS", ())
    return create_app(config, extra_plugins=extra, instance_path=tmp_path / "instance")


@pytest.fixture
def app(db_url, tmp_path):
    app = make_app(db_url, tmp_path)
    yield app
    app.extensions["daihoi_db"].engine.dispose()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


@dataclass
class World:
    """Two provinces, each running one congress, with an account for every role."""

    ids: dict

    def user(self, username):
        from core.models import User

        return session().scalar(select(User).where(User.username == username))

    def event(self, key):
        from core.models import Event

        return session().get(Event, self.ids[key])

    def unit(self, code):
        from tenants.models import Unit

        return session().scalar(select(Unit).where(Unit.code == code))


ROLES = ("secretariat", "credentials", "tellers", "documents", "checkin", "delegate", "guest")


def build_world(app) -> World:
    from core.accounts import create_account
    from core.events import add_member, create_event
    from core.modules import enable_module
    from tenants.models import UnitLevel
    from tenants.services import create_unit

    with app.app_context():
        db = session()
        lv = {lvl.code: lvl for lvl in db.scalars(select(UnitLevel))}
        tw = create_unit(db, code="tw", name="Trung ương Đoàn", level=lv["central"], parent=None)
        units = {"tw": tw}
        for code, name in (("lao-cai", "Tỉnh đoàn Lào Cai"), ("yen-bai", "Tỉnh đoàn Yên Bái")):
            units[code] = create_unit(db, code=code, name=name, level=lv["province"], parent=tw)
        units["sa-pa"] = create_unit(db, code="sa-pa", name="Thị đoàn Sa Pa",
                                     level=lv["district"], parent=units["lao-cai"])
        units["van-yen"] = create_unit(db, code="van-yen", name="Huyện đoàn Văn Yên",
                                       level=lv["district"], parent=units["yen-bai"])
        ids = {}

        def account(username, unit, rights=()):
            u = create_account(db, actor=None, unit=units.get(unit), username=username,
                               full_name=username.replace(".", " ").title(), password=PASSWORD,
                               rights=rights)
            return u

        account("tw.admin", "tw", ("admin",))
        for prefix, code, district in (("a", "lao-cai", "sa-pa"), ("b", "yen-bai", "van-yen")):
            account(f"{prefix}.admin", code, ("admin",))
            account(f"{prefix}.reports", code, ("reports",))
            account(f"{prefix}.district", district, ("admin",))
            ev = create_event(db, actor=None, unit=units[code], name=f"Đại hội {code}",
                              slug="dai-hoi", convened_count=10,
                              sessions=[("Phiên trù bị", "preparatory"),
                                        ("Phiên chính thức", "official")])
            ids[prefix] = ev.id
            for role in ROLES:
                username = f"{prefix}.{role}"
                account(username, code if role not in ("delegate", "guest") else None)
                add_member(db, ev, actor=None, username=username, role=role)
            dev = create_event(db, actor=None, unit=units[district], name=f"Đại hội {district}",
                               slug="dai-hoi", convened_count=5)
            ids[f"{prefix}.district"] = dev.id
            for name in app.extensions["daihoi_modules"].modules:
                enable_module(db, ev, name, actor=None)
        db.commit()
        return World(ids=ids)


@pytest.fixture
def world(app):
    return build_world(app)


def login(client, username, password=PASSWORD):
    resp = client.post("/login", data={"username": username, "password": password})
    assert resp.status_code == 302, resp.data[:500]
    return client


@pytest.fixture
def client_for(app):
    def make(username):
        return login(app.test_client(), username)

    return make


class LiveServer:
    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.thread.join(5)

    def session_cookie(self, username, password=PASSWORD) -> str:
        """Sign in over HTTP and return the Cookie header a browser would send."""
        import requests

        s = requests.Session()
        r = s.post(f"{self.url}/login", data={"username": username, "password": password},
                   allow_redirects=False)
        assert r.status_code == 302, r.text[:300]
        return "; ".join(f"{k}={v}" for k, v in s.cookies.items())


@pytest.fixture
def live_app(db_url, tmp_path):
    app = make_app(db_url, tmp_path, REDIS_URL=REDIS_URL)
    yield app
    app.extensions["daihoi_db"].engine.dispose()


@pytest.fixture
def live(live_app):
    server = LiveServer(live_app).start()
    yield server
    server.stop()


def wait_for(predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


class SocketClient:
    """A real python-socketio client that records every event it receives."""

    def __init__(self, url: str, cookie: str | None = None, auth: dict | None = None,
                 transports: tuple[str, ...] = ("websocket",), http_session=None):
        """`http_session`: a requests.Session whose cookies go with every request, as a
        browser's do (python-engineio sends `cookie` with the first request only)."""
        import socketio

        self.received: list[tuple[str, object]] = []
        self.sio = socketio.Client(reconnection=False, http_session=http_session)
        self.sio.on("*", self._record)
        headers = {"Cookie": cookie} if cookie else {}
        self.sio.connect(url, headers=headers, auth=auth or {}, transports=list(transports),
                         wait_timeout=5)

    def _record(self, event, data=None):
        self.received.append((event, data))

    def call(self, name: str, payload=None, timeout: float = 5):
        return self.sio.call(name, payload, timeout=timeout)

    def got(self, name: str) -> list:
        return [d for e, d in self.received if e == name]

    def close(self):
        # Drop the connection as a phone losing its network would: websocket-client's polite
        # close waits 3 s for a close frame the threaded Werkzeug test server never sends.
        ws = getattr(self.sio.eio, "ws", None)
        if ws is not None:
            ws.shutdown()
        self.sio.eio.disconnect(abort=True)


@pytest.fixture
def sockets(live):
    opened: list[SocketClient] = []

    def connect(username: str | None = None, auth: dict | None = None) -> SocketClient:
        cookie = live.session_cookie(username) if username else None
        c = SocketClient(live.url, cookie=cookie, auth=auth)
        opened.append(c)
        return c

    yield connect
    for c in opened:
        try:
            c.close()
        except Exception:  # noqa: BLE001, S110 - already gone
            pass
