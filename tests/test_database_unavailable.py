"""The database out of reach (a restart, a network cut, a full pool): every kind of caller is
told so in its language, with nothing saved, instead of a bare server error.

tests/test_cluster.py cuts a real PostgreSQL connection under running processes; here each
kind of answer is checked on its own, on any database.
"""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc

from core.db import database_unavailable
from core.realtime import SocketHandler, _bind
from tests.conftest import SocketClient, login


def _cut(*_args, **_kwargs):
    raise sa_exc.OperationalError("SELECT 1", {}, OSError("connection refused"))


@pytest.fixture
def failing(live_app):
    app = live_app
    app.add_url_rule("/api/_test/cut", "cut_api", _cut)
    app.add_url_rule("/_test/cut", "cut_page", _cut)
    handler = SocketHandler("test:cut", _cut)
    app.extensions["daihoi_socket_handlers"]["test:cut"] = handler
    app.extensions["daihoi_socketio"].on_event("test:cut", _bind(handler))
    return app


def test_what_counts_as_the_database_out_of_reach():
    assert database_unavailable(sa_exc.OperationalError("x", {}, OSError()))
    assert database_unavailable(sa_exc.InterfaceError("x", {}, OSError()))
    assert database_unavailable(sa_exc.TimeoutError("QueuePool limit reached"))
    assert not database_unavailable(sa_exc.IntegrityError("x", {}, OSError()))
    assert not database_unavailable(ValueError())


def test_a_page_says_the_database_is_not_answering(failing, world):
    client = login(failing.test_client(), "a.delegate")
    resp = client.get("/_test/cut")
    assert resp.status_code == 503
    page = resp.get_data(as_text=True)
    assert "The database is not answering right now; nothing was saved." in page
    # The page asks nothing of the database: no account name, no sign-out form.
    assert "Sign out" not in page


def test_a_page_in_vietnamese(failing, world):
    failing.config["DEFAULT_LOCALE"] = "vi"
    resp = failing.test_client().get("/_test/cut")
    assert resp.status_code == 503
    assert "Cơ sở dữ liệu" in resp.get_data(as_text=True)


def test_a_full_connection_pool_is_told_as_busy(failing, world):
    def full(*_args, **_kwargs):
        raise sa_exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached")

    failing.add_url_rule("/api/_test/full", "full_api", full)
    resp = failing.test_client().get("/api/_test/full")
    assert resp.status_code == 503 and resp.get_json()["error"] == "unavailable"
    assert resp.get_json()["message"].startswith("The server is very busy right now")


def test_the_api_answers_unavailable(failing):
    resp = failing.test_client().get("/api/_test/cut")
    assert resp.status_code == 503
    assert resp.get_json()["error"] == "unavailable"
    assert "nothing was saved" in resp.get_json()["message"]


def test_a_socket_call_is_acknowledged_unavailable(failing, world, live):
    client = SocketClient(live.url, cookie=live.session_cookie("a.delegate"))
    try:
        ack = client.call("test:cut", {"event": "lao-cai/dai-hoi"})
    finally:
        client.close()
    assert ack["ok"] is False and ack["error"] == "unavailable"
    assert "nothing was saved" in ack["message"]


def _refusal(url: str, auth: dict) -> list:
    """What a client is told when the server refuses its connection."""
    import socketio

    refusals = []
    client = socketio.Client(reconnection=False)
    client.on("connect_error", lambda data=None: refusals.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(url, auth=auth, transports=["websocket"], wait_timeout=5)
    return refusals


def test_a_connection_is_refused_as_unavailable_not_crashed(failing, world, live, monkeypatch):
    import core.realtime

    monkeypatch.setattr(core.realtime, "resolve_projector_token", _cut)
    # The page's script reads this reason and tries again in a few seconds.
    assert _refusal(live.url, {"projector": "any"}) == [{"message": "unavailable"}]


def test_a_refused_connection_says_why(live, world):
    # The page stops trying.
    assert _refusal(live.url, {"projector": "not-a-link"}) == [{"message": "unauthorized"}]
