"""Self check-in with the hall screen's code, and the quorum arithmetic."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import session
from plugins.checkin import services
from plugins.delegates.models import Delegate
from plugins.delegates.services import adopt_account
from tests.conftest import login
from tests.plugins.checkin.conftest import person, scan

EV = "/lao-cai/dai-hoi"


@pytest.fixture
def screen(app, hall):
    """The official list with self check-in on; a.delegate is delegate DB0001."""
    with app.app_context():
        ev = hall.event("a")
        lst = services.ensure_lists(session(), ev)[1]
        lst.self_checkin = True
        adopt_account(session(), ev, "DB0001", hall.user("a.delegate"))
        session().commit()
        return lst.id


def code_for(app, hall, list_id, age=0.0):
    """A screen code as the hall screen got it `age` seconds ago."""
    import itsdangerous.timed

    with app.test_request_context():
        lst = services.get_list(session(), hall.event("a"), list_id)
        real = itsdangerous.timed.time.time
        itsdangerous.timed.time.time = lambda: real() - age
        try:
            return services.self_code(lst)
        finally:
            itsdangerous.timed.time.time = real


def test_a_signed_in_delegate_checks_in_with_the_screen_code(app, hall, screen):
    token = code_for(app, hall, screen)
    phone = login(app.test_client(), "a.delegate")
    page = phone.get(f"{EV}/checkin/here/{token}").get_data(as_text=True)
    assert "data-self-checkin" in page
    r = phone.post(f"{EV}/checkin/here/{token}")
    assert r.status_code == 200
    assert 'data-verdict="in"' in r.get_data(as_text=True)
    # Reloading the page (posting the same code again) adds nothing.
    r = phone.post(f"{EV}/checkin/here/{token}")
    assert 'data-verdict="in"' in r.get_data(as_text=True)
    with app.app_context():
        lst = services.get_list(session(), hall.event("a"), screen)
        att = services.attendance(session(), hall.event("a"), lst)
        assert att["present"] == 1
    assert "checked in at" in phone.get(f"{EV}/checkin/me").get_data(as_text=True)


def test_an_expired_screen_code_is_refused(app, hall, screen):
    token = code_for(app, hall, screen, age=services_ttl(app) + 1)
    phone = login(app.test_client(), "a.delegate")
    r = phone.post(f"{EV}/checkin/here/{token}")
    assert r.status_code == 400
    assert "expired" in r.get_data(as_text=True)
    assert phone.get(f"{EV}/checkin/here/{token}").status_code == 400
    with app.app_context():
        lst = services.get_list(session(), hall.event("a"), screen)
        assert services.attendance(session(), hall.event("a"), lst)["present"] == 0


def services_ttl(app) -> int:
    with app.app_context():
        return services.self_code_ttl()


def test_forged_foreign_and_switched_off_codes_are_refused(app, hall, screen):
    phone = login(app.test_client(), "a.delegate")
    token = code_for(app, hall, screen)
    assert phone.post(f"{EV}/checkin/here/{token[:-2]}xx").status_code == 400
    # A code of the other province's screen means nothing here.
    with app.test_request_context():
        other = services.ensure_lists(session(), hall.event("b"))[1]
        other.self_checkin = True
        session().commit()
        foreign = services.self_code(other)
    assert phone.post(f"{EV}/checkin/here/{foreign}").status_code == 400
    with app.app_context():
        services.get_list(session(), hall.event("a"), screen).self_checkin = False
        session().commit()
    r = phone.post(f"{EV}/checkin/here/{token}")
    assert r.status_code == 400 and "Self check-in is off" in r.get_data(as_text=True)


def test_only_people_of_the_roster_check_themselves_in(app, hall, screen):
    token = code_for(app, hall, screen)
    staff = login(app.test_client(), "a.checkin")
    assert staff.post(f"{EV}/checkin/here/{token}").status_code == 403
    assert app.test_client().get(f"{EV}/checkin/here/{token}").status_code == 302
    assert login(app.test_client(), "b.delegate").get(
        f"{EV}/checkin/here/{token}").status_code == 404


def test_a_rejected_delegate_cannot_check_in_by_phone(app, hall, screen):
    with app.app_context():
        person(hall.event("a"), "DB0001").status = "rejected"
        session().commit()
    r = login(app.test_client(), "a.delegate").post(
        f"{EV}/checkin/here/{code_for(app, hall, screen)}")
    assert 'data-verdict="refused"' in r.get_data(as_text=True)


# ---------------------------------------------------------------- quorum

@pytest.mark.parametrize(("total", "fraction", "needed"), [
    (300, "2/3", 200), (301, "2/3", 201), (299, "2/3", 200), (3, "2/3", 2), (0, "2/3", 0),
    (235, "2/3", 157), (980, "2/3", 654), (300, "1/2", 150), (301, "1/2", 151),
    (300, "3/4", 225), (1, "2/3", 1),
])
def test_needed_is_the_smallest_count_reaching_the_fraction(total, fraction, needed):
    assert services.needed(total, fraction) == needed
    if total:
        assert needed * int(fraction[2]) >= total * int(fraction[0])
        assert (needed - 1) * int(fraction[2]) < total * int(fraction[0])


def keep_convened(ev, codes):
    """Only `codes` stay convened; everyone else's credentials are refused."""
    for d in session().scalars(select(Delegate).where(Delegate.event_id == ev.id)):
        if d.code not in codes:
            d.status = "rejected"
    session().commit()


def test_quorum_at_exactly_two_thirds_and_one_below(ctx, hall):
    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    codes = [f"DB{n:04d}" for n in range(1, 10)]  # 9 convened: 6 needed
    keep_convened(ev, codes)
    for code in codes[:5]:
        scan(ev, lst, person(ev, code).checkin_secret)
    att = services.attendance(session(), ev, lst)
    assert (att["present"], att["convened"], att["quorum"]["needed"]) == (5, 9, 6)
    assert att["quorum"]["met"] is False
    scan(ev, lst, person(ev, codes[5]).checkin_secret)
    att = services.attendance(session(), ev, lst)
    assert att["present"] == 6 and att["quorum"]["met"] is True


def test_guests_and_refused_people_do_not_count_towards_the_quorum(ctx, hall):
    from plugins.delegates.services import set_kind

    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    keep_convened(ev, ["DB0001", "DB0002", "DB0003", "DB0004"])
    set_kind(session(), ev, person(ev, "DB0004"), "guest")
    session().commit()
    scan(ev, lst, person(ev, "DB0004").checkin_secret)
    scan(ev, lst, person(ev, "DB0005").checkin_secret)  # refused: credentials rejected
    scan(ev, lst, person(ev, "DB0001").checkin_secret)
    att = services.attendance(session(), ev, lst)
    assert (att["present"], att["convened"], att["guests_present"]) == (1, 3, 1)
    assert att["quorum"]["met"] is False


def test_the_delegations_rule_needs_two_thirds_of_units_represented(ctx, hall):
    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    people = [person(ev, f"DB{n:04d}") for n in range(1, 7)]
    for d, unit in zip(people, ["A", "A", "A", "A", "B", "C"], strict=True):
        d.unit_name = f"Đoàn {unit}"
    keep_convened(ev, [d.code for d in people])
    services.set_quorum_rule(session(), ev, fraction="2/3", units=True, actor=None)
    session().commit()
    for d in people[:4]:  # 4 of 6 delegates, all of delegation A: 1 of 3 delegations
        scan(ev, lst, d.checkin_secret)
    q = services.attendance(session(), ev, lst)["quorum"]
    assert (q["met_delegates"], q["units_present"], q["units_needed"], q["met"]) == \
        (True, 1, 2, False)
    scan(ev, lst, people[4].checkin_secret)  # delegation B: 2 of 3 = exactly 2/3
    q = services.attendance(session(), ev, lst)["quorum"]
    assert (q["units_present"], q["met_units"], q["met"]) == (2, True, True)
    services.set_quorum_rule(session(), ev, fraction="2/3", units=False, actor=None)
    assert services.attendance(session(), ev, lst)["quorum"]["units_rule"] is False


def test_by_group_and_by_delegation_add_up(ctx, hall):
    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    for n in range(1, 31):
        scan(ev, lst, person(ev, f"DB{n:04d}").checkin_secret)
    att = services.attendance(session(), ev, lst)
    assert att["convened"] == 300 and att["present"] == 30
    for table in ("by_group", "by_unit"):
        assert sum(r["present"] for r in att[table]) == 30
        assert sum(r["convened"] for r in att[table]) == 300
