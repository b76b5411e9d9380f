"""The announcements module: rules, pages and socket events."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.db import session
from core.errors import ServiceError
from plugins.announcements.models import Announcement
from plugins.announcements.services import latest, post, withdraw
from tests.conftest import build_world, login

EV = "/lao-cai/dai-hoi"


def count():
    return session().scalar(select(func.count()).select_from(Announcement))


@pytest.mark.parametrize("title,body,audience,reason", [
    ("", "x", "all", "title"), ("   ", "x", "all", "title"), ("x" * 201, "", "all", "too long"),
    ("x", "y" * 5001, "all", "too long"), ("x", "", "everyone", "audience")])
def test_bad_announcements_are_refused_and_nothing_is_written(ctx, world, title, body, audience,
                                                              reason):
    before = count()
    with pytest.raises(ServiceError, match=reason):
        post(session(), world.event("a"), author=None, title=title, body=body, audience=audience)
    session().rollback()
    assert count() == before


def test_audiences_decide_who_sees_what(ctx, world):
    ev = world.event("a")
    for aud in ("all", "delegates", "staff"):
        post(session(), ev, author=None, title=aud, body="", audience=aud)
    session().commit()
    assert {a.title for a in latest(session(), ev, {"delegate"})} == {"all", "delegates"}
    assert {a.title for a in latest(session(), ev, {"checkin"})} == {"all", "delegates", "staff"}
    assert {a.title for a in latest(session(), ev, {"projector"})} == {"all"}


def test_withdraw_is_scoped_to_the_event(ctx, world):
    a = post(session(), world.event("b"), author=None, title="B", body="")
    session().commit()
    from core.errors import NotFound

    with pytest.raises(NotFound):
        withdraw(session(), world.event("a"), a.id, actor=None)
    withdraw(session(), world.event("b"), a.id, actor=None)
    session().commit()
    assert latest(session(), world.event("b"), {"organiser"}) == []


def test_pages(app, world):
    staff = login(app.test_client(), "a.secretariat")
    r = staff.post(f"{EV}/announcements/", data={"title": "Khai mạc lúc 8 giờ", "body": "",
                                                 "audience": "all"}, follow_redirects=True)
    assert "Khai mạc lúc 8 giờ" in r.get_data(as_text=True)
    delegate = login(app.test_client(), "a.delegate")
    page = delegate.get(f"{EV}/announcements/").get_data(as_text=True)
    assert "Khai mạc lúc 8 giờ" in page and 'name="title"' not in page
    assert delegate.post(f"{EV}/announcements/", data={"title": "x"}).status_code == 403
    r = staff.post(f"{EV}/announcements/", data={"title": "", "audience": "all"},
                   follow_redirects=True)
    assert "needs a title" in r.get_data(as_text=True)
    with app.app_context():
        a_id = session().scalar(select(Announcement.id))
        assert count() == 1
    assert delegate.post(f"{EV}/announcements/{a_id}/withdraw").status_code == 403
    assert staff.post(f"{EV}/announcements/{a_id}/withdraw").status_code == 302
    assert "Khai mạc" not in delegate.get(f"{EV}/announcements/").get_data(as_text=True)
    assert staff.post(f"{EV}/announcements/{a_id}/withdraw").status_code == 404


def test_socket_post_needs_the_permission(live_app, live, sockets):
    build_world(live_app)
    ev = {"event": "lao-cai/dai-hoi"}
    d = sockets("a.delegate")
    assert d.call("announcements:post", {**ev, "title": "x"})["error"] == "forbidden"
    s = sockets("a.secretariat")
    assert s.call("announcements:post", {**ev, "title": ""})["error"] == "invalid"
    assert s.call("announcements:post", {**ev, "title": ["x"]})["error"] == "bad_request"
    ok = s.call("announcements:post", {**ev, "title": "Ăn trưa tại nhà ăn B"})
    assert ok["ok"] and ok["item"]["title"] == "Ăn trưa tại nhà ăn B"
    assert [i["title"] for i in d.call("announcements:list", ev)["items"]] == [
        "Ăn trưa tại nhà ăn B"]
