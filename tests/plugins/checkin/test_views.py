"""Check-in pages and the station's upload endpoint through the Flask test client."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from core.db import session
from core.models import AuditEntry
from plugins.checkin import services
from plugins.checkin.models import CheckinScan
from tests.conftest import login
from tests.plugins.checkin.conftest import person

EV = "/lao-cai/dai-hoi"
API = "/api/v1/events/lao-cai/dai-hoi"


def lists(app, hall):
    with app.app_context():
        return [lst.id for lst in services.ensure_lists(session(), hall.event("a"))]


def secret(app, hall, code):
    with app.app_context():
        return person(hall.event("a"), code).checkin_secret


def test_console_pages_by_role(app, hall):
    prep, official = lists(app, hall)
    for user in ("a.admin", "a.secretariat", "a.checkin", "a.credentials"):
        c = login(app.test_client(), user)
        r = c.get(f"{EV}/checkin/")
        assert r.status_code == 200, user
        assert "Phiên trù bị" in r.get_data(as_text=True)
        assert c.get(f"{EV}/checkin/lists/{official}").status_code == 200
    assert login(app.test_client(), "a.credentials").get(f"{EV}/checkin/station").status_code \
        == 403
    assert login(app.test_client(), "a.checkin").get(f"{EV}/checkin/station").status_code == 200
    delegate = login(app.test_client(), "a.delegate")
    assert delegate.get(f"{EV}/checkin/").status_code == 403
    assert delegate.get(f"{EV}/checkin/station").status_code == 403
    other = login(app.test_client(), "b.admin")
    assert other.get(f"{EV}/checkin/").status_code == 404
    assert other.get(f"/yen-bai/dai-hoi/checkin/lists/{official}").status_code == 404
    assert app.test_client().get(f"{EV}/checkin/").status_code == 302


def test_open_close_settings_and_quorum_rule(app, hall):
    prep, official = lists(app, hall)
    staff = login(app.test_client(), "a.checkin")
    assert staff.post(f"{EV}/checkin/lists/{official}/close").status_code == 403
    c = login(app.test_client(), "a.secretariat")
    r = c.post(f"{EV}/checkin/lists/{official}/close", follow_redirects=True)
    assert "Check-in is closed." in r.get_data(as_text=True)
    r = c.post(f"{EV}/checkin/lists/{official}/close", follow_redirects=True)
    assert "is not open" in r.get_data(as_text=True)
    c.post(f"{EV}/checkin/lists/{official}/open")
    r = c.post(f"{EV}/checkin/lists/{official}", data={
        "admit_delegates": "convened", "track_exit": "y", "self_checkin": "y",
        "opens_at": "2026-12-01T07:30", "closes_at": ""}, follow_redirects=True)
    assert "Saved." in r.get_data(as_text=True)
    with app.app_context():
        lst = services.get_list(session(), hall.event("a"), official)
        assert (lst.admit_delegates, lst.admit_guests, lst.track_exit, lst.self_checkin) == \
            ("convened", False, True, True)
        # Typed in Hanoi time (UTC+7), stored as UTC, shown again as typed.
        assert lst.opens_at.isoformat() == "2026-12-01T00:30:00"
    assert 'value="2026-12-01T07:30"' in c.get(f"{EV}/checkin/lists/{official}").get_data(
        as_text=True)
    r = c.post(f"{EV}/checkin/lists/{official}", data={
        "admit_delegates": "convened", "opens_at": "2026-12-01T09:00",
        "closes_at": "2026-12-01T08:00"}, follow_redirects=True)
    assert "must close after it opens" in r.get_data(as_text=True)
    r = c.post(f"{EV}/checkin/lists/{official}", data={"admit_delegates": "all"},
               follow_redirects=True)
    assert "Check the fields" in r.get_data(as_text=True)
    r = c.post(f"{EV}/checkin/quorum", data={"fraction": "3/4", "units": "y"},
               follow_redirects=True)
    assert "Saved." in r.get_data(as_text=True)
    r = c.post(f"{EV}/checkin/quorum", data={"fraction": "99/100"}, follow_redirects=True)
    assert "fraction from the list" in r.get_data(as_text=True)
    with app.app_context():
        assert services.quorum_rule(hall.event("a")) == {"fraction": "3/4", "units": True}
        actions = set(session().scalars(select(AuditEntry.action)))
        assert {"checkin.open", "checkin.close", "checkin.settings",
                "checkin.quorum_rule"} <= actions


def test_station_upload_records_each_scan_once_and_answers_each(app, hall):
    _prep, official = lists(app, hall)
    c = login(app.test_client(), "a.checkin")
    good = {"nonce": uuid.uuid4().hex, "code": secret(app, hall, "DB0001"),
            "scanned_at": "2026-01-01T00:00:00Z", "station": "Cổng A"}
    body = {"scans": [good, good, {"nonce": uuid.uuid4().hex, "code": "forged"},
                      {"nonce": "x", "code": "y"}, "not an object"]}
    r = c.post(f"{API}/checkin/lists/{official}/scans", json=body)
    assert r.status_code == 200
    results = r.get_json()["results"]
    assert [x["ok"] for x in results] == [True, True, True, False, False]
    assert results[0]["result"]["person"]["code"] == "DB0001"
    assert results[1]["result"]["replay"] is True
    assert results[2]["result"]["reason"] == "unknown"
    # The list opened an hour ago: a scan time before that is a scan made while closed.
    assert results[0]["result"]["verdict"] == "refused"
    again = c.post(f"{API}/checkin/lists/{official}/scans",
                   json={"scans": [dict(good, nonce=uuid.uuid4().hex, scanned_at=None)]})
    assert again.get_json()["results"][0]["result"]["verdict"] == "in"
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(CheckinScan)) == 3
    for bad in ({}, {"scans": []}, {"scans": "x"}, {"scans": [{}] * 501}):
        r = c.post(f"{API}/checkin/lists/{official}/scans", json=bad)
        assert r.status_code == 400 and r.get_json()["error"] == "bad_request"
    assert c.post(f"{API}/checkin/lists/{official}/scans", data="x").status_code == 400
    assert c.post(f"{API}/checkin/lists/99999/scans", json=body).status_code == 404


def test_station_upload_is_refused_to_others(app, hall):
    _prep, official = lists(app, hall)
    body = {"scans": [{"nonce": uuid.uuid4().hex, "code": secret(app, hall, "DB0002")}]}
    assert login(app.test_client(), "a.delegate").post(
        f"{API}/checkin/lists/{official}/scans", json=body).status_code == 403
    assert login(app.test_client(), "b.checkin").post(
        f"{API}/checkin/lists/{official}/scans", json=body).status_code == 404
    assert app.test_client().post(f"{API}/checkin/lists/{official}/scans",
                                  json=body).status_code == 401
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(CheckinScan)) == 0


def test_home_widget_and_projector_panel_show_attendance(app, hall):
    from core.events import create_projector_link

    c = login(app.test_client(), "a.admin")
    assert "delegates present / convened" in c.get(f"{EV}/").get_data(as_text=True)
    with app.app_context():
        _link, token = create_projector_link(session(), hall.event("a"), actor=None,
                                             label="Hall")
        session().commit()
    screen = app.test_client()
    screen.get(f"/p/{token}")
    page = screen.get(f"{EV}/projector").get_data(as_text=True)
    assert "data-att-present" in page and "data-self-code" in page
    # A delegate's home has no staff widget.
    assert "delegates present / convened" not in login(
        app.test_client(), "a.delegate").get(f"{EV}/").get_data(as_text=True)
