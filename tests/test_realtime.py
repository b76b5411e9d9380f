"""The realtime channel through real Socket.IO clients over websockets."""

from __future__ import annotations

import os
import time

import pytest
import socketio
from sqlalchemy import select

from core.db import session
from core.events import create_projector_link, revoke_projector_link
from core.realtime import publish
from tests.conftest import REDIS_URL, LiveServer, SocketClient, build_world, make_app, wait_for

EV = {"event": "lao-cai/dai-hoi"}


@pytest.fixture
def world(live_app):
    return build_world(live_app)


def test_connect_without_session_or_link_is_refused(live, world):
    with pytest.raises(socketio.exceptions.ConnectionError):
        SocketClient(live.url)
    with pytest.raises(socketio.exceptions.ConnectionError):
        SocketClient(live.url, auth={"projector": "forged.token.value"})


def test_join_returns_the_full_state(live_app, live, world, sockets):
    c = sockets("a.secretariat")
    ack = c.call("join", EV)
    assert ack["ok"] is True
    state = ack["state"]
    assert state["event"]["ref"] == "lao-cai/dai-hoi" and state["roles"] == ["secretariat"]
    assert [s["name"] for s in state["sessions"]] == ["Phiên trù bị", "Phiên chính thức"]
    assert state["modules"] == ["announcements", "checkin", "delegates", "documents", "forum",
                                "voting"]
    assert state["announcements"] == []


def test_every_reconnect_gets_the_state_it_missed(live_app, live, world, sockets):
    c = sockets("a.delegate")
    c.call("join", EV)
    c.close()
    staff = sockets("a.secretariat")
    assert staff.call("announcements:post", {**EV, "title": "Giải lao 15 phút"})["ok"]
    again = sockets("a.delegate")
    titles = [a["title"] for a in again.call("join", EV)["state"]["announcements"]]
    assert titles == ["Giải lao 15 phút"]


def test_audiences_reach_only_their_rooms(live_app, live, world, sockets):
    with live_app.app_context():
        _link, token = create_projector_link(session(), world.event("a"), actor=None, label="A")
        session().commit()
    staff, delegate = sockets("a.secretariat"), sockets("a.delegate")
    screen = sockets(auth={"projector": token})
    for c in (staff, delegate, screen):
        assert c.call("join", EV)["ok"]
    assert screen.call("join", EV)["state"]["roles"] == ["projector"]
    for audience in ("staff", "delegates", "all"):
        ack = staff.call("announcements:post", {**EV, "title": f"cho {audience}",
                                                "audience": audience})
        assert ack["ok"], ack
    assert wait_for(lambda: len(staff.got("announcements:new")) == 3)
    assert wait_for(lambda: len(delegate.got("announcements:new")) == 2)
    assert wait_for(lambda: len(screen.got("announcements:new")) == 1)
    assert {a["title"] for a in delegate.got("announcements:new")} == {"cho delegates", "cho all"}
    assert [a["title"] for a in screen.got("announcements:new")] == ["cho all"]


def test_revoked_projector_link_stops_working_at_once(live_app, live, world, sockets):
    with live_app.app_context():
        link, token = create_projector_link(session(), world.event("a"), actor=None, label="A")
        session().commit()
        link_id = link.id
    screen = sockets(auth={"projector": token})
    assert screen.call("join", EV)["ok"]
    with live_app.app_context():
        revoke_projector_link(session(), world.event("a"), link_id, actor=None)
        session().commit()
    # Disconnected by the server at once, so no later broadcast reaches the old screen.
    assert wait_for(lambda: not screen.sio.connected)
    with pytest.raises(socketio.exceptions.ConnectionError):
        SocketClient(live.url, auth={"projector": token})


def test_disabled_account_is_disconnected(live_app, live, world, sockets):
    from core.accounts import set_active

    delegate, other = sockets("a.checkin"), sockets("a.secretariat")
    assert delegate.call("join", EV)["ok"] and other.call("join", EV)["ok"]
    with live_app.app_context():
        set_active(session(), actor=world.user("a.admin"), user=world.user("a.checkin"),
                   active=False)
        session().commit()
    assert wait_for(lambda: not delegate.sio.connected)
    assert other.sio.connected
    assert other.call("announcements:post", {**EV, "title": "vẫn nhận"})["ok"]


def test_nothing_is_broadcast_for_a_rolled_back_change(live_app, live, world, sockets):
    from plugins.announcements.services import post

    c = sockets("a.secretariat")
    c.call("join", EV)
    with live_app.app_context():
        post(session(), world.event("a"), author=None, title="never saved", body="")
        session().rollback()
        post(session(), world.event("a"), author=None, title="saved", body="")
        session().commit()
    assert wait_for(lambda: c.got("announcements:new"))
    assert [a["title"] for a in c.got("announcements:new")] == ["saved"]


def test_projector_link_is_for_its_own_event_only(live_app, live, world, sockets):
    with live_app.app_context():
        _link, token = create_projector_link(session(), world.event("b"), actor=None, label="B")
        session().commit()
    screen = sockets(auth={"projector": token})
    assert screen.call("join", EV)["error"] == "not_found"
    assert screen.call("join", {"event": "yen-bai/dai-hoi"})["ok"]
    assert screen.call("announcements:post", {"event": "yen-bai/dai-hoi",
                                              "title": "x"})["error"] == "forbidden"


def test_keyed_updates_are_coalesced(live_app, live, world, sockets):
    c = sockets("a.secretariat")
    c.call("join", EV)
    with live_app.app_context():
        ev_id = world.ids["a"]
        for i in range(200):
            publish(ev_id, "counter", {"n": i}, key="present")
    assert wait_for(lambda: c.got("counter") and c.got("counter")[-1] == {"n": 199})
    assert len(c.got("counter")) <= 3  # 200 updates inside one flush interval


def test_a_settled_figure_is_computed_and_sent_again_once_quiet(live_app, live, world,
                                                                sockets):
    # Several processes each send a figure after their own commits; through Redis the sends
    # may cross, so the figure goes out once more, computed afresh, a second after the last.
    c = sockets("a.secretariat")
    c.call("join", EV)
    figure = {"n": 0}
    with live_app.app_context():
        ev_id = world.ids["a"]
        publish(ev_id, "figure", lambda: dict(figure), key="present", settle=True)
        publish(ev_id, "plain", lambda: dict(figure), key="other")
    assert wait_for(lambda: c.got("figure") == [{"n": 0}] and c.got("plain") == [{"n": 0}])
    figure["n"] = 7  # changed by another process: this one has nothing more to send
    assert wait_for(lambda: c.got("figure") == [{"n": 0}, {"n": 7}], 3)
    time.sleep(1.5)
    assert c.got("figure") == [{"n": 0}, {"n": 7}]  # once, not for ever
    assert c.got("plain") == [{"n": 0}]


def test_a_module_switched_off_ignores_its_socket_events(live_app, live, world, sockets):
    from core.modules import disable_module

    c = sockets("a.secretariat")
    with live_app.app_context():
        disable_module(session(), world.event("a"), "announcements", actor=None)
        session().commit()
    assert c.call("announcements:list", EV)["error"] == "not_found"
    assert c.call("announcements:post", {**EV, "title": "x"})["error"] == "not_found"
    assert c.call("join", EV)["state"]["modules"] == ["checkin", "delegates", "documents",
                                                      "forum", "voting"]


@pytest.mark.skipif(not REDIS_URL, reason="runs in the PostgreSQL + Redis pass (make test)")
def test_two_servers_share_one_event_through_redis(db_url, tmp_path):
    """A delegate on server A posts; a screen on server B sees it (Redis message queue)."""
    app_a = make_app(db_url, tmp_path / "a", REDIS_URL=REDIS_URL)
    app_b = make_app(db_url, tmp_path / "b", REDIS_URL=REDIS_URL)
    world = build_world(app_a)
    a, b = LiveServer(app_a).start(), LiveServer(app_b).start()
    try:
        with app_a.app_context():
            _l, token = create_projector_link(session(), world.event("a"), actor=None, label="")
            session().commit()
        screen = SocketClient(b.url, auth={"projector": token})
        assert screen.call("join", EV)["ok"]
        staff = SocketClient(a.url, cookie=a.session_cookie("a.secretariat"))
        assert staff.call("announcements:post", {**EV, "title": "Qua Redis"})["ok"]
        assert wait_for(lambda: screen.got("announcements:new"), timeout=5)
        assert screen.got("announcements:new")[0]["title"] == "Qua Redis"
        # Revoking the link on A disconnects the screen held by B.
        with app_a.app_context():
            from core.models import ProjectorLink

            link_id = session().scalar(select(ProjectorLink.id))
            revoke_projector_link(session(), world.event("a"), link_id, actor=None)
            session().commit()
        assert wait_for(lambda: not screen.sio.connected, timeout=5)
        staff.close()
    finally:
        a.stop()
        b.stop()
        for app in (app_a, app_b):
            app.extensions["daihoi_db"].engine.dispose()


def test_redis_pass_is_not_skipped_in_ci():
    if os.environ.get("CI") == "true" and os.environ.get("DAIHOI_TEST_DATABASE_URL"):
        assert REDIS_URL, "the PostgreSQL pass under CI must have Redis too"


def test_a_hall_screen_in_a_staff_browser_shows_only_what_the_hall_sees(live_app, live, world,
                                                                        sockets):
    staff_screen = sockets("a.secretariat")
    ack = staff_screen.call("join", {**EV, "as": "projector"})
    assert ack["state"]["roles"] == ["projector"]
    poster = sockets("a.secretariat")
    assert poster.call("announcements:post", {**EV, "title": "nội bộ", "audience": "staff"})["ok"]
    assert poster.call("announcements:post", {**EV, "title": "công khai"})["ok"]
    assert wait_for(lambda: staff_screen.got("announcements:new"))
    assert [a["title"] for a in staff_screen.got("announcements:new")] == ["công khai"]
    again = sockets("a.secretariat").call("join", {**EV, "as": "projector"})
    assert [a["title"] for a in again["state"]["announcements"]] == ["công khai"]


def test_losing_a_right_disconnects_to_rejoin_with_fewer_rooms(live_app, live, world, sockets):
    from core.accounts import revoke_right

    with live_app.app_context():
        from core.accounts import grant_right

        grant_right(session(), actor=world.user("a.admin"), user=world.user("a.reports"),
                    right="events")
        session().commit()
    c = sockets("a.reports")
    assert c.call("join", EV)["state"]["roles"] == ["organiser"]
    with live_app.app_context():
        revoke_right(session(), actor=world.user("a.admin"), user=world.user("a.reports"),
                     right="events")
        session().commit()
    assert wait_for(lambda: not c.sio.connected)
    assert sockets("a.reports").call("join", EV)["error"] == "not_found"


def test_a_role_added_counts_at_the_next_call(live_app, live, world, sockets):
    # Resolved callers are kept for minutes; adding a role must not wait for them to expire.
    from core.events import add_member

    c = sockets("a.guest")
    assert c.call("join", EV)["ok"]
    payload = dict(EV, list=1, q="ng")
    assert c.call("checkin:search", payload)["error"] == "forbidden"
    with live_app.app_context():
        add_member(session(), world.event("a"), actor=None, username="a.guest", role="checkin")
        session().commit()
    assert c.call("checkin:search", payload).get("error") != "forbidden"
