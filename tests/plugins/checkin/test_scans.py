"""Scans through the services: verdicts, refusals, idempotency, replay order, undo, manual."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.db import session, utcnow
from core.errors import ServiceError
from core.models import AuditEntry
from plugins.checkin import services
from plugins.checkin.models import CheckinScan, Presence
from plugins.delegates.services import regenerate_badge, set_kind, set_status
from tests.plugins.checkin.conftest import lists_of, nonce, person, scan


def presence(lst, d):
    return session().scalar(select(Presence).where(Presence.list_id == lst.id,
                                                   Presence.delegate_id == d.id))


def present_count(ev, lst) -> int:
    return services.attendance(session(), ev, lst)["present"]


def test_a_badge_checks_in_once_then_reads_already(ctx, hall):
    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    d = person(ev, "DB0001")
    first = scan(ev, lst, d.checkin_secret, station="Cổng A")
    assert (first.verdict, first.reason) == ("in", None)
    assert present_count(ev, lst) == 1
    again = scan(ev, lst, d.checkin_secret, station="Cổng B")
    assert again.verdict == "again"
    assert again.presence.first_station == "Cổng A"
    assert present_count(ev, lst) == 1


@pytest.mark.parametrize("tamper", [
    lambda s: "",                                  # empty
    lambda s: "x" * 65,                            # too long to be a secret
    lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),  # one character changed
    lambda s: s.upper() if s.upper() != s else s.lower(),
    lambda s: "DB0001",                            # the printed code is not the QR secret
    lambda s: "https://example.com/?" + s,         # a forged wrapper
])
def test_forged_and_tampered_codes_are_refused_as_unknown(ctx, hall, tamper):
    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    result = scan(ev, lst, tamper(person(ev, "DB0001").checkin_secret))
    assert (result.verdict, result.reason, result.delegate) == ("refused", "unknown", None)
    assert present_count(ev, lst) == 0


def test_a_non_text_code_is_refused(ctx, hall):
    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    result = scan(ev, lst, {"secret": 1})
    assert result.reason == "unknown"


def test_a_replaced_badge_is_refused_as_revoked_and_the_new_one_works(ctx, hall):
    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    d = person(ev, "DB0002")
    old = d.checkin_secret
    regenerate_badge(session(), ev, d, actor=None)
    session().commit()
    refused = scan(ev, lst, old)
    assert (refused.reason, refused.delegate.code) == ("revoked", "DB0002")
    assert scan(ev, lst, d.checkin_secret).verdict == "in"


def test_badges_of_another_event_and_another_tenant_are_refused_without_a_name(ctx, hall):
    from plugins.delegates.roster_import import apply_roster, parse_roster
    from tests.plugins.conftest import ROSTER

    ev_a, ev_b = hall.event("a"), hall.event("b")
    apply_roster(session(), ev_b, parse_roster(ROSTER.read_bytes(), ROSTER.name), actor=None)
    session().commit()
    lst = services.ensure_lists(session(), ev_a)[1]
    other = person(ev_b, "DB0001")  # same code, another province's congress
    result = scan(ev_a, lst, other.checkin_secret)
    assert (result.verdict, result.reason, result.delegate) == ("refused", "other_event", None)
    regenerate_badge(session(), ev_b, other, actor=None)
    session().commit()
    retired = session().scalar(select(CheckinScan.id).where(CheckinScan.event_id == ev_b.id))
    assert retired is None  # nothing was written into the other event
    assert scan(ev_a, lst, other.checkin_secret).reason == "other_event"
    assert present_count(ev_a, lst) == 0


def test_status_and_admission_rules(ctx, hall):
    ev = hall.event("a")
    prep, official = services.ensure_lists(session(), ev)
    rejected, replaced, pending, guest = (person(ev, c) for c in
                                          ("DB0010", "DB0011", "DB0012", "DB0013"))
    set_status(session(), ev, rejected, "rejected", actor=None, reason="x")
    replaced.status = "replaced"
    pending.status = "convened"
    set_kind(session(), ev, guest, "guest")
    session().commit()
    assert scan(ev, official, rejected.checkin_secret).reason == "rejected"
    assert scan(ev, official, replaced.checkin_secret).reason == "replaced"
    # The official session admits accepted delegates only; the preparatory one all convened.
    assert scan(ev, official, pending.checkin_secret).reason == "not_approved"
    assert prep.admit_delegates == "convened"
    assert scan(ev, prep, pending.checkin_secret).verdict == "in"
    assert scan(ev, official, guest.checkin_secret).verdict == "in"
    official.admit_guests = False
    session().commit()
    assert scan(ev, official, guest.checkin_secret).reason == "not_admitted"


def test_a_closed_list_refuses_and_an_offline_scan_made_while_open_counts(ctx, hall):
    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    services.close_list(session(), ev, lst, actor=None)
    session().commit()
    d1, d2 = person(ev, "DB0020"), person(ev, "DB0021")
    assert scan(ev, lst, d1.checkin_secret).reason == "closed"
    made_while_open = (utcnow() - timedelta(minutes=5)).isoformat() + "Z"
    assert scan(ev, lst, d2.checkin_secret, scanned_at=made_while_open).verdict == "in"
    with pytest.raises(ServiceError):
        services.close_list(session(), ev, lst, actor=None)


def test_the_same_nonce_twice_records_once(ctx, hall):
    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    d = person(ev, "DB0030")
    n = nonce()
    first = scan(ev, lst, d.checkin_secret, nonce=n)
    second = scan(ev, lst, d.checkin_secret, nonce=n)
    # Even a different code under a known nonce is the same, already answered upload.
    third = scan(ev, lst, person(ev, "DB0031").checkin_secret, nonce=n)
    assert first.verdict == "in" and not first.replay
    assert second.replay and third.replay
    assert second.scan.id == third.scan.id == first.scan.id
    assert second.verdict == "in"
    assert session().scalar(select(func.count()).select_from(CheckinScan)) == 1
    assert present_count(ev, lst) == 1


def test_bad_nonce_and_scan_time_are_refused_before_anything_is_written(ctx, hall):
    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    secret = person(ev, "DB0032").checkin_secret
    for kw in ({"nonce": "short"}, {"nonce": None}, {"nonce": "n" * 65},
               {"nonce": nonce(), "scanned_at": "yesterday"},
               {"nonce": nonce(), "scanned_at": 12},
               {"nonce": nonce(), "direction": "sideways"}):
        with pytest.raises(ServiceError):
            services.record_scan(session(), ev, lst, code=secret, **kw)
        session().rollback()
    assert session().scalar(select(func.count()).select_from(CheckinScan)) == 0


def test_a_scan_time_ahead_of_the_server_counts_as_now(ctx, hall):
    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    future = (utcnow() + timedelta(hours=3)).isoformat()
    result = scan(ev, lst, person(ev, "DB0033").checkin_secret, scanned_at=future)
    assert result.scan.scanned_at <= result.scan.received_at


def test_an_offline_queue_replayed_out_of_order_gives_the_right_attendance(ctx, hall):
    """Station A was offline for an hour; B and C synced live. Replayed in any order, the
    result is the same: present since the earliest entry, in or out by the latest scan."""
    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    lst.track_exit = True
    lst.opens_at = utcnow() - timedelta(hours=2)
    session().commit()
    t0 = utcnow() - timedelta(minutes=90)
    people = [person(ev, f"DB{n:04d}") for n in range(40, 60)]
    scans = []
    for i, d in enumerate(people):
        at = t0 + timedelta(minutes=i)
        scans.append((d, "in", at, "Cổng A"))
        if i % 3 == 0:
            scans.append((d, "in", at + timedelta(minutes=30), "Cổng B"))  # seen twice
        if i % 4 == 0:
            scans.append((d, "out", at + timedelta(minutes=40), "Cổng C"))  # left
        if i % 8 == 0:
            scans.append((d, "in", at + timedelta(minutes=50), "Cổng C"))  # and came back
    random.Random(4).shuffle(scans)
    for d, direction, at, station in scans:
        scan(ev, lst, d.checkin_secret, direction=direction, scanned_at=at.isoformat(),
             station=station)
    for i, d in enumerate(people):
        p = presence(lst, d)
        assert p.first_in_at == t0 + timedelta(minutes=i), d.code
        assert p.first_station == "Cổng A"
        assert p.present is (i % 4 != 0 or i % 8 == 0), d.code
    expected = sum(1 for i in range(20) if i % 4 != 0 or i % 8 == 0)
    assert present_count(ev, lst) == expected
    assert {d.code for d, _s in services.conflicts(session(), ev, lst)} == \
        {people[i].code for i in range(20) if i % 3 == 0 or i % 8 == 0}


def test_check_out_is_refused_where_not_recorded_or_not_checked_in(ctx, hall):
    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    d = person(ev, "DB0070")
    assert scan(ev, lst, d.checkin_secret, direction="out").reason == "no_exit"
    lst.track_exit = True
    session().commit()
    assert scan(ev, lst, d.checkin_secret, direction="out").reason == "not_present"
    assert scan(ev, lst, d.checkin_secret).verdict == "in"
    assert scan(ev, lst, d.checkin_secret, direction="out").verdict == "out"
    assert present_count(ev, lst) == 0
    assert scan(ev, lst, d.checkin_secret).verdict == "in"  # re-entry
    assert present_count(ev, lst) == 1


def test_undo_recomputes_presence_and_is_audited(ctx, hall):
    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    staff = hall.user("a.checkin")
    d, other = person(ev, "DB0080"), person(ev, "DB0081")
    wrong = scan(ev, lst, d.checkin_secret, station="A", user=staff)
    scan(ev, lst, other.checkin_secret, station="A")
    services.undo_scan(session(), ev, wrong.scan.id, actor=staff)
    session().commit()
    assert presence(lst, d) is None
    assert present_count(ev, lst) == 1
    assert session().scalar(select(AuditEntry).where(AuditEntry.action == "checkin.undo"))
    with pytest.raises(ServiceError, match="already undone"):
        services.undo_scan(session(), ev, wrong.scan.id, actor=staff)
    session().rollback()
    refused = scan(ev, lst, "nothing")
    with pytest.raises(ServiceError):
        services.undo_scan(session(), ev, refused.scan.id, actor=staff)
    session().rollback()
    # The earlier of two entries undone: the later one is now the entry.
    first = scan(ev, lst, other.checkin_secret, station="B",
                 scanned_at=(utcnow() - timedelta(minutes=30)).isoformat())
    assert presence(lst, other).first_station == "B"
    services.undo_scan(session(), ev, first.scan.id, actor=staff)
    session().commit()
    assert presence(lst, other).first_station == "A"


def test_undo_of_another_events_scan_is_not_found(ctx, hall):
    ev_a, ev_b = hall.event("a"), hall.event("b")
    lst = services.ensure_lists(session(), ev_a)[1]
    result = scan(ev_a, lst, person(ev_a, "DB0082").checkin_secret)
    with pytest.raises(ServiceError):
        services.undo_scan(session(), ev_b, result.scan.id, actor=None)


def test_manual_check_in_needs_a_reason_and_is_audited(ctx, hall):
    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    staff = hall.user("a.checkin")
    d = person(ev, "DB0090")
    with pytest.raises(ServiceError, match="reason"):
        services.record_manual(session(), ev, lst, delegate_id=d.id, reason="  ",
                               nonce=nonce(), user=staff)
    session().rollback()
    result = services.record_manual(session(), ev, lst, delegate_id=d.id,
                                    reason="Quên thẻ đại biểu", nonce=nonce(), user=staff)
    session().commit()
    assert (result.verdict, result.scan.method, result.scan.note) == \
        ("in", "manual", "Quên thẻ đại biểu")
    entry = session().scalar(select(AuditEntry).where(AuditEntry.action == "checkin.manual"))
    assert entry.detail["reason"] == "Quên thẻ đại biểu" and entry.actor_id == staff.id
    other_event_person = person(hall.event("a"), "DB0091").id + 10_000
    with pytest.raises(ServiceError):
        services.record_manual(session(), ev, lst, delegate_id=other_event_person,
                               reason="x", nonce=nonce(), user=staff)


def test_search_ignores_accents_and_finds_codes(ctx, hall):
    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    d = person(ev, "DB0001")
    plain = d.full_name.split()[-1].lower()
    from plugins.delegates.vietnamese import fold

    found = services.search(session(), ev, lst, fold(plain))
    assert d.id in {p.id for p, _pr in found}
    assert [p.code for p, _ in services.search(session(), ev, lst, "db0001")] == ["DB0001"]
    assert services.search(session(), ev, lst, "x") == []


def test_lists_follow_sessions_with_the_usual_rules(ctx, world):
    ev = world.event("a")
    lists = lists_of(ev)
    assert [lst.session.kind for lst in lists] == ["preparatory", "official"]
    assert [lst.admit_delegates for lst in lists] == ["convened", "approved"]
    assert services.ensure_lists(session(), ev)[0].id == lists[0].id  # made once
    assert services.current_list(session(), ev).id == lists[1].id or \
        services.current_list(session(), ev).id == lists[0].id
    with pytest.raises(ServiceError):
        services.update_list(session(), ev, lists[0], admit_delegates="everyone",
                             admit_guests=True, track_exit=False, self_checkin=False,
                             opens_at=None, closes_at=None, actor=None)
    with pytest.raises(ServiceError):
        services.update_list(session(), ev, lists[0], admit_delegates="approved",
                             admit_guests=True, track_exit=False, self_checkin=False,
                             opens_at=utcnow(), closes_at=utcnow() - timedelta(hours=1),
                             actor=None)


def test_a_batch_is_judged_in_arrival_order_and_answers_every_item(ctx, hall):
    ev = hall.event("a")
    lst = services.ensure_lists(session(), ev)[1]
    lst.track_exit = True
    session().commit()
    a, b = person(ev, "DB0120"), person(ev, "DB0121")
    n1, n2 = nonce(), nonce()

    def item(d, n=None, **kw):
        return services.scan_input(nonce=n or nonce(), code=d.checkin_secret if d else "x" * 20,
                                   station="Cổng A", **kw)

    batch = [item(a, n1), item(a), item(None), item(a, n1), item(b, n2),
             item(a, direction="out"), item(b, direction="out"), item(a)]
    results = services.record_scans(session(), ev, lst, batch)
    session().commit()
    assert [r.verdict for r in results] == ["in", "again", "refused", "in", "in", "out", "out",
                                            "in"]
    assert [r.replay for r in results] == [False, False, False, True, False, False, False, False]
    assert results[0].scan.id == results[3].scan.id
    assert presence(lst, a).present is True and presence(lst, b).present is False
    # Sent again as a whole (a station retrying its queue): nothing new.
    again = services.record_scans(session(), ev, lst, batch[:2])
    assert all(r.replay for r in again)
    assert session().scalar(select(func.count()).select_from(CheckinScan)) == 7
