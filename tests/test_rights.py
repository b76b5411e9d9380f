"""Rights: delegation downward, read-only figures upward, nothing sideways or upward."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import accounts
from core.db import session
from core.errors import Forbidden, ServiceError
from core.models import AuditEntry
from core.rights import can_manage_events, can_manage_structure, can_view_reports, event_roles
from tests.conftest import PASSWORD, login


def test_rules_as_a_table(ctx, world):
    u = world.user
    unit = world.unit
    assert can_manage_structure(u("a.admin"), unit("sa-pa"))
    assert can_manage_structure(u("tw.admin"), unit("sa-pa"))
    assert not can_manage_structure(u("a.admin"), unit("yen-bai"))      # sideways
    assert not can_manage_structure(u("a.district"), unit("lao-cai"))   # upward
    assert not can_manage_structure(u("a.reports"), unit("sa-pa"))      # no admin right
    assert can_manage_events(u("a.admin"), unit("lao-cai"))
    assert not can_manage_events(u("a.admin"), unit("sa-pa"))           # not the units below
    assert can_view_reports(u("a.reports"), unit("sa-pa"))
    assert not can_view_reports(u("a.reports"), unit("yen-bai"))
    assert not can_view_reports(u("a.secretariat"), unit("lao-cai"))    # no right at all
    assert event_roles(u("a.admin"), world.event("a")) == {"organiser"}
    assert event_roles(u("tw.admin"), world.event("a")) == frozenset()
    assert event_roles(u("a.admin"), world.event("a.district")) == frozenset()
    assert event_roles(u("a.tellers"), world.event("a")) == {"tellers"}


def test_admin_creates_an_account_below_and_grants_rights(ctx, world):
    admin = world.user("a.admin")
    new = accounts.create_account(session(), actor=admin, unit=world.unit("sa-pa"),
                                  username="sapa.btc", full_name="Cán bộ Sa Pa",
                                  password=PASSWORD, rights=("events",))
    session().commit()
    assert new.right_names == {"events"}
    assert can_manage_events(new, world.unit("sa-pa"))
    accounts.grant_right(session(), actor=admin, user=new, right="reports")
    accounts.revoke_right(session(), actor=admin, user=new, right="events")
    session().commit()
    assert new.right_names == {"reports"}
    actions = [a.action for a in session().scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-3:] == ["account.create", "right.grant", "right.revoke"]


@pytest.mark.parametrize("actor,unit", [
    ("a.admin", "yen-bai"), ("a.district", "lao-cai"), ("a.reports", "sa-pa"),
    ("b.admin", "sa-pa")])
def test_no_account_creation_sideways_upward_or_without_admin(ctx, world, actor, unit):
    with pytest.raises(Forbidden):
        accounts.create_account(session(), actor=world.user(actor), unit=world.unit(unit),
                                username="intruder", full_name="X", password=PASSWORD)


def test_grant_refused_outside_ones_subtree(ctx, world):
    with pytest.raises(Forbidden):
        accounts.grant_right(session(), actor=world.user("a.district"),
                             user=world.user("a.admin"), right="admin")
    with pytest.raises(Forbidden):
        accounts.grant_right(session(), actor=world.user("a.admin"),
                             user=world.user("b.admin"), right="reports")


def test_cannot_revoke_own_admin_or_disable_self(ctx, world):
    a = world.user("a.admin")
    with pytest.raises(ServiceError):
        accounts.revoke_right(session(), actor=a, user=a, right="admin")
    with pytest.raises(ServiceError):
        accounts.set_active(session(), actor=a, user=a, active=False)


@pytest.mark.parametrize("username,password,reason", [
    ("ab", PASSWORD, "username"), ("ok.name", "short", "at least"),
    ("a.admin", PASSWORD, "taken")])
def test_bad_account_input_is_refused(ctx, world, username, password, reason):
    with pytest.raises(ServiceError, match=reason):
        accounts.create_account(session(), actor=world.user("a.admin"), unit=world.unit("sa-pa"),
                                username=username, full_name="X", password=password)


def test_unit_admin_pages(app, world):
    c = login(app.test_client(), "a.admin")
    assert c.get("/admin/units/lao-cai/").status_code == 200
    assert c.get("/admin/units/sa-pa/").status_code == 200
    assert c.get("/admin/units/yen-bai/").status_code == 404
    assert c.get("/admin/units/tw/").status_code == 404
    r = c.post("/admin/units/sa-pa/accounts", data={
        "a-username": "sapa.new", "a-full_name": "Người mới", "a-password": PASSWORD,
        "a-right_events": "y"}, follow_redirects=True)
    assert "sapa.new" in r.get_data(as_text=True)
    login(app.test_client(), "sapa.new")
    # bad input: a short password is refused with a message and nothing is created
    r = c.post("/admin/units/sa-pa/accounts", data={
        "a-username": "sapa.bad", "a-full_name": "X", "a-password": "123"},
        follow_redirects=True)
    assert "at least 8" in r.get_data(as_text=True)
    assert app.test_client().post("/login", data={"username": "sapa.bad",
                                                  "password": "123"}).status_code == 401
    r = c.post("/admin/units/lao-cai/children", data={
        "u-code": "bao-thang", "u-name": "Huyện đoàn Bảo Thắng", "u-level": "district"},
        follow_redirects=True)
    assert "Huyện đoàn Bảo Thắng" in r.get_data(as_text=True)
    r = c.post("/admin/units/lao-cai/children", data={
        "u-code": "bao-thang", "u-name": "Again", "u-level": "district"}, follow_redirects=True)
    assert "already exists" in r.get_data(as_text=True)


def test_district_admin_cannot_reach_the_province(app, world):
    c = login(app.test_client(), "a.district")
    assert c.get("/admin/units/sa-pa/").status_code == 200
    assert c.get("/admin/units/lao-cai/").status_code == 404
    assert c.post("/admin/units/lao-cai/accounts", data={
        "a-username": "evil", "a-full_name": "E", "a-password": PASSWORD}).status_code == 404
    assert c.get("/lao-cai/").status_code == 404
    assert c.get("/lao-cai/dai-hoi/").status_code == 404


def test_upper_level_sees_figures_read_only_not_the_event(app, world):
    c = login(app.test_client(), "tw.admin")
    page = c.get("/tw/").get_data(as_text=True)
    assert "Đại hội lao-cai" in page and "Đại hội yen-bai" in page and "Đại hội sa-pa" in page
    assert 'href="/lao-cai/dai-hoi/"' not in page  # listed, not enterable
    assert c.get("/lao-cai/dai-hoi/").status_code == 404
    assert c.get("/lao-cai/dai-hoi/manage").status_code == 404
    c = login(app.test_client(), "a.reports")
    page = c.get("/lao-cai/").get_data(as_text=True)
    assert "Đại hội sa-pa" in page and "Đại hội yen-bai" not in page
    assert c.get("/yen-bai/").status_code == 404
    assert c.get("/tw/").status_code == 404


def test_import_units_only_at_the_root(app, world):
    c = login(app.test_client(), "a.admin")
    data = {"i-file": (bytes_io(b"code,name,level,parent_code\nx,X,district,lao-cai\n"), "u.csv")}
    assert c.post("/admin/units/lao-cai/import", data=data,
                  content_type="multipart/form-data").status_code == 404
    c = login(app.test_client(), "tw.admin")
    bad = {"i-file": (bytes_io(b"code,name,level,parent_code\nx,X,district,nowhere\n"), "u.csv")}
    r = c.post("/admin/units/tw/import", data=bad, content_type="multipart/form-data",
               follow_redirects=True)
    assert "unknown parent nowhere" in r.get_data(as_text=True)
    good = {"i-file": (bytes_io(b"code,name,level,parent_code\nx,X,district,lao-cai\n"), "u.csv")}
    r = c.post("/admin/units/tw/import", data=good, content_type="multipart/form-data",
               follow_redirects=True)
    assert "1 new" in r.get_data(as_text=True)


def bytes_io(b: bytes):
    import io

    return io.BytesIO(b)
