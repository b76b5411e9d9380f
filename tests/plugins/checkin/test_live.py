"""Check-in over real Socket.IO clients, and two stations racing on one badge."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select

from core.db import session
from core.events import create_projector_link
from core.models import Event
from plugins.checkin import services
from plugins.checkin.models import CheckinList, CheckinScan, Presence
from tests.conftest import PG_URL, wait_for
from tests.plugins.checkin.conftest import person

REF = "lao-cai/dai-hoi"


@pytest.fixture
def hall_screen(app, hall):
    """The official session is the one open (the preparatory one closed); a screen link."""
    with app.app_context():
        ev = hall.event("a")
        prep, official = services.ensure_lists(session(), ev)
        services.close_list(session(), ev, prep, actor=None)
        official.self_checkin = True
        _link, token = create_projector_link(session(), ev, actor=None, label="Hội trường")
        secrets = {d: person(ev, d).checkin_secret for d in ("DB0001", "DB0002", "DB0003")}
        session().commit()
        return {"list": official.id, "token": token, "secrets": secrets}


def scan_payload(hs, code="DB0001", **extra):
    payload = {"event": REF, "list": hs["list"], "nonce": uuid.uuid4().hex,
               "code": hs["secrets"][code], "station": "Cổng A"}
    payload.update(extra)
    return payload


def test_a_scan_reaches_the_hall_screen_and_the_consoles(hall_screen, sockets):
    hs = hall_screen
    screen = sockets(auth={"projector": hs["token"]})
    state = screen.call("join", {"event": REF, "as": "projector"})["state"]
    assert state["checkin"]["attendance"]["list_id"] == hs["list"]
    assert state["checkin"]["attendance"]["present"] == 0
    console = sockets("a.admin")
    assert console.call("join", {"event": REF})["ok"]
    station = sockets("a.checkin")
    ack = station.call("checkin:scan", scan_payload(hs))
    assert ack["ok"] and ack["result"]["verdict"] == "in"
    assert ack["result"]["person"]["code"] == "DB0001"
    assert wait_for(lambda: any(a["present"] == 1 for a in screen.got("checkin:attendance")))
    assert wait_for(lambda: any(a["present"] == 1 for a in console.got("checkin:attendance")))
    assert wait_for(lambda: console.got("checkin:recent"))
    assert console.got("checkin:recent")[-1]["scans"][0]["code"] == "DB0001"
    # The hall screen never receives names of who scanned.
    assert screen.got("checkin:recent") == []
    again = station.call("checkin:scan", scan_payload(hs, station="Cổng B"))
    assert again["result"]["verdict"] == "again"
    assert "Cổng A" in again["result"]["message"]


def test_the_same_nonce_over_the_socket_is_answered_from_the_first_record(hall_screen,
                                                                          sockets, app):
    hs = hall_screen
    station = sockets("a.checkin")
    payload = scan_payload(hs, "DB0002")
    first = station.call("checkin:scan", payload)
    second = station.call("checkin:scan", payload)
    assert first["result"]["scan_id"] == second["result"]["scan_id"]
    assert second["result"]["replay"] is True
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(CheckinScan)) == 1


def test_who_may_call_the_check_in_events(hall_screen, sockets, app):
    hs = hall_screen
    delegate = sockets("a.delegate")
    assert delegate.call("checkin:scan", scan_payload(hs))["error"] == "forbidden"
    assert delegate.call("checkin:self_code", {"event": REF})["error"] == "forbidden"
    other = sockets("b.checkin")
    assert other.call("checkin:scan", scan_payload(hs))["error"] == "not_found"
    screen = sockets(auth={"projector": hs["token"]})
    assert screen.call("checkin:scan", scan_payload(hs))["error"] == "forbidden"
    code = screen.call("checkin:self_code", {"event": REF})
    assert code["ok"] and code["code"]["list_id"] == hs["list"]
    assert code["code"]["svg"].startswith("<?xml") or "<svg" in code["code"]["svg"]
    assert "/checkin/here/" in code["code"]["url"]
    assert screen.call("checkin:attendance", {"event": REF})["attendance"]["present"] == 0
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(CheckinScan)) == 0


def test_bad_socket_payloads_get_a_message_and_change_nothing(hall_screen, sockets, app):
    hs = hall_screen
    station = sockets("a.checkin")
    for payload in ({"event": REF}, {"event": REF, "list": "1"},
                    {"event": REF, "list": 99999, "nonce": "n" * 20, "code": "x"},
                    scan_payload(hs, nonce="short"), scan_payload(hs, nonce=None),
                    scan_payload(hs, scanned_at="soon"), scan_payload(hs, direction="up"),
                    "not a dict", None):
        ack = station.call("checkin:scan", payload)
        assert ack["ok"] is False and ack["message"], payload
    assert station.call("checkin:manual", {"event": REF, "list": hs["list"]})["ok"] is False
    assert station.call("checkin:undo", {"event": REF, "scan": "1"})["ok"] is False
    assert station.call("checkin:undo", {"event": REF, "scan": 99999})["ok"] is False
    assert station.call("checkin:search", {"event": REF, "list": hs["list"], "q": 5})["ok"] \
        is False
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(CheckinScan)) == 0


def test_manual_search_and_undo_over_the_socket(hall_screen, sockets, app):
    hs = hall_screen
    station = sockets("a.checkin")
    with app.app_context():
        d = person(_event_a(), "DB0003")
        name, delegate_id = d.full_name, d.id
    found = station.call("checkin:search", {"event": REF, "list": hs["list"],
                                            "q": name.split()[-1]})
    assert delegate_id in [p["id"] for p in found["people"]]
    refused = station.call("checkin:manual", {"event": REF, "list": hs["list"],
                                              "delegate": delegate_id, "reason": " ",
                                              "nonce": uuid.uuid4().hex})
    assert refused["ok"] is False and "reason" in refused["message"]
    ack = station.call("checkin:manual", {"event": REF, "list": hs["list"],
                                          "delegate": delegate_id, "reason": "Quên thẻ",
                                          "nonce": uuid.uuid4().hex})
    assert ack["ok"] and ack["result"]["method"] == "manual"
    undone = station.call("checkin:undo", {"event": REF, "scan": ack["result"]["scan_id"]})
    assert undone["ok"] and undone["result"]["undone"] is True
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Presence)) == 0


def _event_a():
    from tenants.models import Unit

    unit = session().scalar(select(Unit).where(Unit.code == "lao-cai"))
    return session().scalar(select(Event).where(Event.unit_id == unit.id,
                                                Event.slug == "dai-hoi"))


def test_two_stations_scanning_one_badge_at_once_record_one_check_in(app, hall):
    """Real concurrency: on PostgreSQL the second scan waits on the row lock of the first."""
    with app.app_context():
        ev = hall.event("a")
        event_id = ev.id
        list_id = services.ensure_lists(session(), ev)[1].id
        session().commit()
        secrets = [person(ev, f"DB{n:04d}").checkin_secret for n in range(100, 120)]
    verdicts: dict[str, list[str]] = {s: [] for s in secrets}
    errors: list[BaseException] = []

    def station(name: str, secret: str, barrier: threading.Barrier) -> None:
        try:
            with app.app_context():
                db = session()
                ev, lst = db.get(Event, event_id), db.get(CheckinList, list_id)
                barrier.wait()
                result = services.record_scan(db, ev, lst, code=secret,
                                              nonce=uuid.uuid4().hex, station=name)
                db.commit()
                verdicts[secret].append(result.verdict)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    for secret in secrets:
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=station, args=(n, secret, barrier))
                   for n in ("Cổng A", "Cổng B")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert errors == []
    assert all(sorted(v) == ["again", "in"] for v in verdicts.values()), verdicts
    with app.app_context():
        rows = session().scalars(select(Presence).where(Presence.list_id == list_id)).all()
        assert len(rows) == len(secrets)
        assert all(p.present and p.stations == 2 for p in rows)
        assert session().scalar(select(func.count()).select_from(CheckinScan)) == 2 * len(
            secrets)


@pytest.mark.skipif(not PG_URL, reason="the duplicate-nonce race needs PostgreSQL")
def test_one_nonce_uploaded_twice_at_once_records_once(app, hall):
    with app.app_context():
        ev = hall.event("a")
        event_id = ev.id
        list_id = services.ensure_lists(session(), ev)[1].id
        session().commit()
        secret = person(ev, "DB0200").checkin_secret
    nonce = uuid.uuid4().hex
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def upload() -> None:
        with app.app_context():
            db = session()
            ev, lst = db.get(Event, event_id), db.get(CheckinList, list_id)
            barrier.wait()
            result = services.record_scan(db, ev, lst, code=secret, nonce=nonce)
            db.commit()
            answers.append(result.scan.id)

    threads = [threading.Thread(target=upload) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 2 and answers[0] == answers[1]
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(CheckinScan)) == 1


def test_lists_made_while_a_screen_joins_are_kept(app, world, sockets):
    with app.app_context():
        _link, token = create_projector_link(session(), world.event("a"), actor=None,
                                             label="Hall")
        session().commit()
        assert session().scalar(select(func.count()).select_from(CheckinList)) == 0
    screen = sockets(auth={"projector": token})
    state = screen.call("join", {"event": REF, "as": "projector"})["state"]
    with app.app_context():
        kept = session().get(CheckinList, state["checkin"]["attendance"]["list_id"])
        assert kept is not None and kept.event_id == world.event("a").id


def test_stations_scanning_the_same_badges_at_once_through_the_writer(hall_screen, sockets,
                                                                       app):
    hs = hall_screen
    with app.app_context():
        ev = _event_a()
        badges = [person(ev, f"DB{n:04d}").checkin_secret for n in range(290, 300)]
    stations = [sockets("a.checkin") for _ in range(4)]
    verdicts: dict[str, list[str]] = {b: [] for b in badges}
    barrier = threading.Barrier(len(stations))

    def run(station) -> None:
        barrier.wait()
        for b in badges:
            ack = station.call("checkin:scan", {"event": REF, "list": hs["list"],
                                                "nonce": uuid.uuid4().hex, "code": b})
            verdicts[b].append(ack["result"]["verdict"])

    threads = [threading.Thread(target=run, args=(s,)) for s in stations]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(sorted(v) == ["again", "again", "again", "in"] for v in verdicts.values()), \
        verdicts
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Presence)) == 10
