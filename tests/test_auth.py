"""Sign-in: passwords, throttling, CSRF, safe redirects, signing out everywhere."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.db import session
from core.models import User
from tests.conftest import PASSWORD, login, make_app


def test_password_is_hashed_with_argon2(ctx, world):
    u = world.user("a.admin")
    assert u.password_hash.startswith("$argon2") and PASSWORD not in u.password_hash


def test_sign_in_and_out(app, world):
    c = app.test_client()
    assert c.get("/").status_code == 302  # to the login page
    r = c.post("/login", data={"username": "A.Admin ", "password": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert "Đại hội lao-cai" in c.get("/").get_data(as_text=True)
    c.get("/logout", follow_redirects=True)  # signing out is a POST (CSRF-protected) …
    assert c.get("/").status_code == 200  # … so a GET (a link, an <img>) signs nobody out
    assert c.post("/logout").status_code == 302
    assert c.get("/").status_code == 302


def test_wrong_password_is_refused_with_a_message(app, world):
    r = app.test_client().post("/login", data={"username": "a.admin", "password": "nope"})
    assert r.status_code == 401 and "Wrong username or password" in r.get_data(as_text=True)
    r = app.test_client().post("/login", data={"username": "nobody", "password": "nope"})
    assert r.status_code == 401


def test_disabled_account_cannot_sign_in(app, world):
    with app.app_context():
        session().scalar(select(User).where(User.username == "a.guest")).active = False
        session().commit()
    r = app.test_client().post("/login", data={"username": "a.guest", "password": PASSWORD})
    assert r.status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:x"])
def test_login_never_redirects_off_site(app, world, target):
    r = app.test_client().post(f"/login?next={target}",
                               data={"username": "a.admin", "password": PASSWORD})
    assert r.headers["Location"] == "/"


def test_login_redirects_back_to_the_page_asked_for(app, world):
    c = app.test_client()
    r = c.get("/lao-cai/dai-hoi/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = c.post("/login?next=/lao-cai/dai-hoi/", data={"username": "a.admin",
                                                      "password": PASSWORD})
    assert r.headers["Location"] == "/lao-cai/dai-hoi/"


def test_login_is_throttled_after_five_failures(app, world):
    c = app.test_client()
    for _ in range(5):
        assert c.post("/login", data={"username": "a.admin", "password": "x"}).status_code == 401
    # Even the right password waits now: the attacker learns nothing by guessing on.
    r = c.post("/login", data={"username": "a.admin", "password": PASSWORD})
    assert r.status_code == 429
    assert "Too many attempts" in r.get_data(as_text=True)
    # Another account from the same address is not locked by these failures.
    assert c.post("/login", data={"username": "a.secretariat",
                                  "password": PASSWORD}).status_code == 302


def test_with_redis_out_of_reach_sign_in_works_and_is_still_throttled(db_url, tmp_path, world):
    # Nothing listens on port 1: every counter call to Redis fails at once.
    app = make_app(db_url, tmp_path, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    c = app.test_client()
    assert c.post("/login", data={"username": "a.admin", "password": PASSWORD}).status_code == 302
    c = app.test_client()
    for _ in range(5):
        assert c.post("/login", data={"username": "a.reports", "password": "x"}).status_code == 401
    r = c.post("/login", data={"username": "a.reports", "password": PASSWORD})
    assert r.status_code == 429  # counted in this process's memory meanwhile
    app.extensions["daihoi_db"].engine.dispose()


def test_successful_logins_do_not_count(app, world):
    for _ in range(8):
        login(app.test_client(), "a.admin")


def test_changing_session_version_signs_out_everywhere(app, world):
    c = login(app.test_client(), "a.secretariat")
    assert c.get("/lao-cai/dai-hoi/").status_code == 200
    with app.app_context():
        session().scalar(select(User).where(User.username == "a.secretariat")).session_version += 1
        session().commit()
    assert c.get("/lao-cai/dai-hoi/").status_code == 302


@pytest.fixture
def csrf_app(db_url, tmp_path):
    app = make_app(db_url, tmp_path, WTF_CSRF_ENABLED=True)
    yield app
    app.extensions["daihoi_db"].engine.dispose()


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_forms_without_csrf_token_are_refused(csrf_app):
    from tests.conftest import build_world

    build_world(csrf_app)
    c = csrf_app.test_client()
    r = c.post("/login", data={"username": "a.admin", "password": PASSWORD})
    assert r.status_code == 400 and "Reload the page" in r.get_data(as_text=True)
    token = _token(c.get("/login").get_data(as_text=True))
    r = c.post("/login", data={"username": "a.admin", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    # Signed in, a state-changing form without the token changes nothing.
    r = c.post("/lao-cai/dai-hoi/manage/modules/announcements", data={"on": "0"})
    assert r.status_code == 400
    r = c.post("/lao-cai/dai-hoi/manage/sessions", data={"s-name": "X", "s-kind": "other"})
    assert r.status_code == 400
    with csrf_app.app_context():
        from core.modules import enabled_modules
        from tests.conftest import World

        ev = World({"a": 1}).event("a")
        assert "announcements" in enabled_modules(ev)
        assert [s.name for s in ev.sessions] == ["Phiên trù bị", "Phiên chính thức"]


def test_session_cookie_is_secure_by_default(db_url, tmp_path, monkeypatch):
    monkeypatch.delenv("DAIHOI_COOKIE_SECURE", raising=False)
    from core.app import create_app

    app = create_app({"DATABASE_URL": db_url, "SECRET_KEY": "s"},
                     instance_path=tmp_path / "i")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    app.extensions["daihoi_db"].engine.dispose()
