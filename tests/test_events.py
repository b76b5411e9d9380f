"""Events: creation and its rules, sessions, people, hall-screen links, the home page, i18n."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from core.db import session
from core.errors import Forbidden, ServiceError
from core.events import add_member, create_event, create_projector_link, resolve_projector_token
from core.models import Event
from tests.conftest import login, make_app

EV = "/lao-cai/dai-hoi"


@pytest.mark.parametrize("kwargs,reason", [
    ({"name": ""}, "needs a name"), ({"slug": "Bad Slug"}, "short name"),
    ({"slug": "new-event"}, "short name"), ({"slug": "dai-hoi"}, "already has"),
    ({"kind": "party"}, "unknown kind"), ({"convened_count": -1}, "between 0"),
    ({"starts_on": date(2027, 9, 16), "ends_on": date(2027, 9, 14)}, "end before")])
def test_bad_event_input_is_refused(ctx, world, kwargs, reason):
    before = session().scalar(select(func.count()).select_from(Event))
    args = {"name": "Đại hội", "slug": "dai-hoi-moi", **kwargs}
    with pytest.raises(ServiceError, match=reason):
        create_event(session(), actor=world.user("a.admin"), unit=world.unit("lao-cai"), **args)
    session().rollback()
    assert session().scalar(select(func.count()).select_from(Event)) == before


def test_only_the_units_own_event_runners_create_events(ctx, world):
    for who, unit in (("a.admin", "sa-pa"), ("a.reports", "lao-cai"), ("a.admin", "yen-bai"),
                      ("tw.admin", "lao-cai")):
        with pytest.raises(Forbidden):
            create_event(session(), actor=world.user(who), unit=world.unit(unit), name="X",
                         slug="x-event")


def test_same_slug_in_two_units_are_two_events(ctx, world):
    a, b = world.event("a"), world.event("b")
    assert a.slug == b.slug and a.id != b.id


def test_members_come_from_the_event_unit_or_below(ctx, world):
    ev = world.event("a")
    add_member(session(), ev, actor=None, username="a.district", role="checkin")
    with pytest.raises(ServiceError, match="outside"):
        add_member(session(), ev, actor=None, username="b.admin", role="checkin")
    with pytest.raises(ServiceError, match="outside"):
        add_member(session(), ev, actor=None, username="tw.admin", role="tellers")
    with pytest.raises(ServiceError, match="already"):
        add_member(session(), ev, actor=None, username="a.tellers", role="tellers")
    with pytest.raises(ServiceError, match="unknown role"):
        add_member(session(), ev, actor=None, username="a.tellers", role="king")


def test_projector_tokens_are_signed_and_revocable(ctx, world):
    link, token = create_projector_link(session(), world.event("a"), actor=None, label="Màn 1")
    session().commit()
    assert resolve_projector_token(session(), token).id == link.id
    assert resolve_projector_token(session(), token[:-2] + "xx") is None
    assert resolve_projector_token(session(), "") is None


def test_create_event_through_the_page_then_set_it_up(app, world):
    c = login(app.test_client(), "a.admin")
    r = c.post("/lao-cai/new-event", data={
        "name": "Hội nghị Ban Chấp hành lần thứ 2", "slug": "hoi-nghi-bch-2", "kind": "conference",
        "starts_on": "2027-10-01", "ends_on": "2027-10-01", "venue": "Hội trường A",
        "convened_count": "45"})
    assert r.status_code == 302 and r.headers["Location"] == "/lao-cai/hoi-nghi-bch-2/manage"
    page = c.get("/lao-cai/hoi-nghi-bch-2/").get_data(as_text=True)
    assert "Hội nghị Ban Chấp hành lần thứ 2" in page and "01/10/2027" in page
    r = c.post("/lao-cai/new-event", data={"name": "X", "slug": "hoi-nghi-bch-2",
                                           "kind": "conference", "convened_count": "1"})
    assert "already has an event" in r.get_data(as_text=True)
    r = c.post("/lao-cai/hoi-nghi-bch-2/manage", data={
        "name": "Hội nghị BCH lần 2", "kind": "conference", "convened_count": "-3"},
        follow_redirects=True)
    assert r.status_code == 200
    with app.app_context():
        ev = session().scalar(select(Event).where(Event.slug == "hoi-nghi-bch-2"))
        assert ev.convened_count == 45 and ev.name == "Hội nghị Ban Chấp hành lần thứ 2"


def test_roles_give_the_right_pages(app, world):
    delegate = login(app.test_client(), "a.delegate")
    assert delegate.get(f"{EV}/").status_code == 200
    assert delegate.get(f"{EV}/manage").status_code == 403
    assert delegate.post(f"{EV}/manage/members", data={"m-username": "a.delegate",
                                                       "m-role": "tellers"}).status_code == 403
    organiser = login(app.test_client(), "a.admin")
    r = organiser.post(f"{EV}/manage/members", data={"m-username": "a.delegate",
                                                     "m-role": "tellers"})
    assert r.status_code == 302
    assert delegate.get(f"{EV}/manage").status_code == 403
    page = delegate.get(f"{EV}/").get_data(as_text=True)
    assert "Vote-counting board" in page and "Delegate" in page


def test_projector_link_flow(app, world):
    organiser = login(app.test_client(), "a.admin")
    r = organiser.post(f"{EV}/manage/projectors", data={"p-label": "Màn hình chính"},
                       follow_redirects=True)
    page = r.get_data(as_text=True)
    url = page.split("data-new-projector-url>")[1].split("<")[0]
    assert "/p/" in url
    assert "data-new-projector-url" not in organiser.get(f"{EV}/manage").get_data(as_text=True)
    screen = app.test_client()
    r = screen.get(url.split("localhost")[1])
    assert r.headers["Location"] == f"{EV}/projector"
    assert "Đại hội lao-cai" in screen.get(f"{EV}/projector").get_data(as_text=True)
    with app.app_context():
        from core.models import ProjectorLink

        link_id = session().scalar(select(ProjectorLink.id))
    organiser.post(f"{EV}/manage/projectors/{link_id}/revoke")
    assert screen.get(f"{EV}/projector").status_code == 302


def test_vietnamese_is_the_default_language(db_url, tmp_path):
    from tests.conftest import build_world

    app = make_app(db_url, tmp_path, DEFAULT_LOCALE="vi")
    build_world(app)
    c = app.test_client()
    assert "Đăng nhập" in c.get("/login").get_data(as_text=True)
    r = c.post("/login", data={"username": "a.admin", "password": "wrong"})
    assert "Sai tên đăng nhập hoặc mật khẩu." in r.get_data(as_text=True)
    login(c, "a.admin")
    page = c.get(f"{EV}/").get_data(as_text=True)
    assert "Đăng xuất" in page
    c.post("/lang/en", data={"next": f"{EV}/"})
    assert "Sign out" in c.get(f"{EV}/").get_data(as_text=True)
    assert c.post("/lang/fr").status_code == 404
    app.extensions["daihoi_db"].engine.dispose()


def test_remove_own_session_and_member_through_settings(app, world):
    from core.models import EventMember, EventSession

    organiser = login(app.test_client(), "a.admin")
    with app.app_context():
        sess_id = session().scalar(select(EventSession.id).where(
            EventSession.event_id == world.ids["a"]))
        member_id = session().scalar(select(EventMember.id).where(
            EventMember.event_id == world.ids["a"], EventMember.role == "guest"))
    r = organiser.post(f"{EV}/manage/sessions/{sess_id}/remove", follow_redirects=True)
    assert "Session removed." in r.get_data(as_text=True)
    r = organiser.post(f"{EV}/manage/members/{member_id}/remove", follow_redirects=True)
    assert "Role removed." in r.get_data(as_text=True)
    assert organiser.post(f"{EV}/manage/members/{member_id}/remove").status_code == 404
    assert login(app.test_client(), "a.guest").get(f"{EV}/").status_code == 404
