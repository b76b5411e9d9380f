"""One person: manual add/edit/remove, the personal sign-in link, the delegate's own page,
corrections and the credentials committee's decisions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from core.db import session
from core.errors import ServiceError
from core.models import AuditEntry, Event
from plugins.delegates import services
from plugins.delegates.models import CorrectionRequest, Delegate
from tests.conftest import login

EV = "/lao-cai/dai-hoi"


def person(code):
    return session().scalar(select(Delegate).where(Delegate.code == code))


def signin_path(app, code):
    with app.app_context():
        return "/d/" + services.signin_token(person(code))


def sign_in_as_delegate(app, code, birth):
    c = app.test_client()
    r = c.post(signin_path(app, code), data={"birth_date": birth})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    return c


def test_personal_link_with_date_of_birth(app, roster_world):
    c = app.test_client()
    path = signin_path(app, "DB0001")
    assert "date of birth" in c.get(path).get_data(as_text=True)
    r = c.post(path, data={"birth_date": "19/06/1991"})
    assert r.status_code == 401 and "does not match" in r.get_data(as_text=True)
    r = c.post(path, data={"birth_date": "19/6/1992"})
    assert r.status_code == 302 and r.headers["Location"] == f"{EV}/delegates/me"
    page = c.get(f"{EV}/delegates/me").get_data(as_text=True)
    assert "Hoàng Văn Mạnh" in page and "19/06/1992" in page
    assert c.get(f"{EV}/delegates/").status_code == 403  # the roster is for staff
    assert c.get(f"{EV}/delegates/1").status_code == 403  # nobody else's record
    assert c.get(f"{EV}/").status_code == 200
    assert c.get("/yen-bai/dai-hoi/").status_code == 404


def test_link_tries_are_throttled(app, roster_world):
    c = app.test_client()
    path = signin_path(app, "DB0002")
    for _ in range(5):
        assert c.post(path, data={"birth_date": "01/01/2000"}).status_code == 401
    assert c.post(path, data={"birth_date": "28/09/1994"}).status_code == 429


def test_forged_revoked_and_expired_links_open_nothing(app, roster_world):
    path = signin_path(app, "DB0003")
    c = app.test_client()
    assert c.get(path + "x").status_code == 404
    with app.app_context():
        d = person("DB0003")
        services.revoke_signin_link(session(), roster_world.event("a"), d, actor=None)
        session().commit()
    assert c.get(path).status_code == 404
    assert c.get(signin_path(app, "DB0003")).status_code == 200
    with app.app_context():
        ev = roster_world.event("a")
        ev.ends_on = date.today() - timedelta(days=2)
        session().commit()
    assert c.get(signin_path(app, "DB0003")).status_code == 404


def test_rejected_delegate_link_is_dead(app, roster_world):
    path = signin_path(app, "DB0004")
    with app.app_context():
        services.set_status(session(), roster_world.event("a"), person("DB0004"), "rejected",
                            actor=None, reason="Không đủ tuổi")
        session().commit()
    assert app.test_client().get(path).status_code == 404


def test_confirm_and_request_corrections(app, roster_world):
    c = sign_in_as_delegate(app, "DB0001", "19/06/1992")
    assert c.post(f"{EV}/delegates/me/confirm").status_code == 302
    r = c.post(f"{EV}/delegates/me/corrections", data={"field": "birth_date",
                                                       "new_value": "31/02/1992"},
               follow_redirects=True)
    assert "not a date" in r.get_data(as_text=True)
    r = c.post(f"{EV}/delegates/me/corrections", data={
        "field": "ethnicity", "new_value": "Tày", "note": "Sai dân tộc"}, follow_redirects=True)
    assert "Sent to the credentials committee." in r.get_data(as_text=True)
    r = c.post(f"{EV}/delegates/me/corrections", data={"field": "ethnicity",
                                                       "new_value": "Nùng"},
               follow_redirects=True)
    assert "already waiting" in r.get_data(as_text=True)
    assert c.post(f"{EV}/delegates/me/corrections", data={
        "field": "status", "new_value": "approved"}).status_code == 302
    with app.app_context():
        reqs = session().scalars(select(CorrectionRequest)).all()
        assert [(q.field, q.old_value, q.new_value) for q in reqs] == [
            ("ethnicity", "Kinh", "Tày")]
        assert person("DB0001").confirmed_at is not None


def test_committee_accepts_and_refuses_corrections(app, roster_world):
    with app.app_context():
        ev = roster_world.event("a")
        a = services.request_correction(session(), ev, person("DB0001"), field="full_name",
                                        new_value="Hoàng Văn Mạnh Cường")
        b = services.request_correction(session(), ev, person("DB0002"), field="birth_date",
                                        new_value="29/09/1994")
        session().commit()
        a_id, b_id = a.id, b.id
    cred = login(app.test_client(), "a.credentials")
    page = cred.get(f"{EV}/delegates/credentials").get_data(as_text=True)
    assert "Hoàng Văn Mạnh Cường" in page and "29/09/1994" in page
    assert cred.post(f"{EV}/delegates/credentials/corrections/{a_id}",
                     data={"accept": "1"}).status_code == 302
    r = cred.post(f"{EV}/delegates/credentials/corrections/{b_id}", data={"accept": "0"},
                  follow_redirects=True)
    assert "give the reason" in r.get_data(as_text=True)
    cred.post(f"{EV}/delegates/credentials/corrections/{b_id}",
              data={"accept": "0", "reason": "Theo hồ sơ gốc"})
    with app.app_context():
        assert person("DB0001").full_name == "Hoàng Văn Mạnh Cường"
        assert person("DB0002").birth_date == date(1994, 9, 28)
        q = session().get(CorrectionRequest, b_id)
        assert q.status == "rejected" and q.reason == "Theo hồ sơ gốc"
        actions = session().scalars(select(AuditEntry.action)).all()
        assert "delegate.correction_accepted" in actions
        assert "delegate.correction_rejected" in actions
    assert cred.post(f"{EV}/delegates/credentials/corrections/{a_id}",
                     data={"accept": "1"}).status_code == 404  # decided already
    assert login(app.test_client(), "a.secretariat").post(
        f"{EV}/delegates/credentials/corrections/{b_id}", data={"accept": "1"}).status_code == 403


def test_status_decisions_and_replacement(app, roster_world):
    cred = login(app.test_client(), "a.credentials")
    with app.app_context():
        ids = {c: person(c).id for c in ("DB0005", "DB0006", "DB0007")}
    base = f"{EV}/delegates/credentials"
    cred.post(f"{base}/{ids['DB0005']}/decide", data={"action": "approved"})
    r = cred.post(f"{base}/{ids['DB0006']}/decide", data={"action": "rejected"},
                  follow_redirects=True)
    assert "give the reason for rejecting" in r.get_data(as_text=True)
    cred.post(f"{base}/{ids['DB0006']}/decide", data={"action": "rejected",
                                                      "reason": "Không đúng cơ cấu"})
    r = cred.post(f"{base}/{ids['DB0007']}/replace", data={"alternate_code": "DB0299"},
                  follow_redirects=True)
    assert "is replaced by" in r.get_data(as_text=True)
    r = cred.post(f"{base}/{ids['DB0005']}/replace", data={"alternate_code": "NOPE"},
                  follow_redirects=True)
    assert "no person with code NOPE" in r.get_data(as_text=True)
    with app.app_context():
        assert person("DB0005").status == "approved"
        assert (person("DB0006").status, person("DB0006").status_reason) == (
            "rejected", "Không đúng cơ cấu")
        assert person("DB0007").status == "replaced"
        assert person("DB0007").replaced_by_id == person("DB0299").id


def test_appointed_warning_above_five_percent(app, roster_world):
    with app.app_context():
        ev = roster_world.event("a")
        ev.convened_count = 300
        session().commit()
        n, share, warn = services.appointed_share(session(), ev)
        assert n == 12 and not warn  # the sample file has 12 appointed: 4%
        codes = [d.code for d in session().scalars(select(Delegate).where(
            Delegate.delegate_type != "appointed").order_by(Delegate.code).limit(4))]
        session().commit()
    cred = login(app.test_client(), "a.credentials")
    for i, code in enumerate(codes):
        with app.app_context():
            d_id = person(code).id
        r = cred.post(f"{EV}/delegates/credentials/{d_id}/decide", data={"action": "appointed"},
                      follow_redirects=True)
        warned = "more than 5%" in r.get_data(as_text=True)
        assert warned == (12 + i + 1 > 15), (i, warned)  # 15 of 300 is exactly 5%


def test_manual_add_edit_remove(app, roster_world):
    c = login(app.test_client(), "a.secretariat")
    form = {"code": "db0999", "full_name": "Lý Thị Sen", "kind": "delegate",
            "birth_date": "07/07/1997", "gender": "Nữ", "ethnicity": "Dao",
            "religion": "Không", "party_member": "Không", "delegate_type": "Chỉ định",
            "group": "Tổ 4", "email": "not-an-email"}
    r = c.post(f"{EV}/delegates/new", data=form, follow_redirects=True)
    assert "Email: not an email address" in r.get_data(as_text=True)
    form["email"] = "sen@example.vn"
    r = c.post(f"{EV}/delegates/new", data=form)
    assert r.status_code == 302
    with app.app_context():
        sen = person("DB0999")
        assert sen.delegate_type == "appointed" and sen.birth_date == date(1997, 7, 7)
        sen_id = sen.id
    r = c.post(f"{EV}/delegates/new", data={**form, "full_name": "Khác"}, follow_redirects=True)
    assert "already used" in r.get_data(as_text=True)
    c.post(f"{EV}/delegates/{sen_id}/edit", data={**form, "kind": "guest"})
    with app.app_context():
        assert person("DB0999").kind == "guest" and person("DB0999").delegate_type is None
    sign_in_as_delegate(app, "DB0999", "07/07/1997")
    c.post(f"{EV}/delegates/{sen_id}/remove")
    with app.app_context():
        assert person("DB0999") is None
        assert "delegate.remove" in session().scalars(select(AuditEntry.action)).all()


def test_regenerated_badge_secret_replaces_the_old(ctx, roster_world):
    ev = roster_world.event("a")
    d = person("DB0010")
    old = d.checkin_secret
    assert services.by_checkin_secret(session(), ev, old).id == d.id
    assert services.by_checkin_secret(session(), roster_world.event("b"), old) is None
    services.regenerate_badge(session(), ev, d, actor=None)
    session().commit()
    assert services.by_checkin_secret(session(), ev, old) is None
    assert services.by_checkin_secret(session(), ev, d.checkin_secret).id == d.id


def test_bad_correction_input(ctx, roster_world):
    ev = roster_world.event("a")
    d = person("DB0011")
    for field, value, reason in (("gender", "Robot", "Nam or Nữ"), ("phone", "abc", "phone"),
                                 ("full_name", "  ", "write the correct value"),
                                 ("code", "X", "cannot be corrected")):
        with pytest.raises(ServiceError, match=reason):
            services.request_correction(session(), ev, d, field=field, new_value=value)
    session().rollback()
    assert session().scalar(select(CorrectionRequest.id)) is None
    assert isinstance(session().get(Event, ev.id), Event)


def test_committee_accepts_many_at_once_only_those_waiting(app, roster_world):
    with app.app_context():
        ev = roster_world.event("a")
        services.set_status(session(), ev, person("DB0001"), "rejected", actor=None,
                            reason="Sai cơ cấu")
        session().commit()
        ids = [person(c).id for c in ("DB0001", "DB0002", "DB0003")]
        other = session().scalar(select(Delegate.id).where(Delegate.event_id != ev.id))
    cred = login(app.test_client(), "a.credentials")
    form = {"delegate": [str(i) for i in ids] + [str(other or 999999), "x"]}
    r = cred.post(f"{EV}/delegates/credentials/approve-many", data=form, follow_redirects=True)
    assert "Credentials accepted for 2 delegates." in r.get_data(as_text=True)
    with app.app_context():
        assert [person(c).status for c in ("DB0001", "DB0002", "DB0003")] == [
            "rejected", "approved", "approved"]
    assert login(app.test_client(), "a.secretariat").post(
        f"{EV}/delegates/credentials/approve-many", data=form).status_code == 403
