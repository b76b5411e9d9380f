"""Voting over real Socket.IO clients: a vote acknowledged after commit, turnout live on the
hall screen without any partial count, the result once published, state after a reconnect."""

from __future__ import annotations

import uuid

import pytest

from core.db import session
from core.events import create_projector_link
from plugins.voting import services
from plugins.voting.models import Poll
from tests.conftest import wait_for
from tests.plugins.voting.conftest import opened, option_ids

REF = "lao-cai/dai-hoi"


@pytest.fixture
def hall_poll(live_app, assembly_live):
    with live_app.app_context():
        ev = assembly_live.event("a")
        poll = opened(ev, kind="election", mode="secret", seats=1, title="Bầu Bí thư",
                      options=(("Lò Văn Sơn", None), ("Giàng Thị Mỷ", None)))
        _link, token = create_projector_link(session(), ev, actor=None, label="Hội trường")
        session().commit()
        return {"poll": poll.id, "options": option_ids(poll), "token": token}


@pytest.fixture
def assembly_live(live_app):
    """The `assembly` of conftest.py, built in the live server's database."""
    from tests.conftest import build_world
    from tests.plugins.checkin.conftest import hall
    from tests.plugins.conftest import roster_world
    from tests.plugins.voting.conftest import assembly

    world = build_world(live_app)
    world = roster_world.__wrapped__(live_app, world)
    world = hall.__wrapped__(live_app, world)
    return assembly.__wrapped__(live_app, world)


def vote(client, hp, choices, nonce=None):
    return client.call("voting:vote", {"event": REF, "poll": hp["poll"], "choices": choices,
                                       "nonce": nonce or uuid.uuid4().hex})


def test_a_vote_reaches_the_screen_as_turnout_only(live_app, hall_poll, sockets):
    hp = hall_poll
    screen = sockets(auth={"projector": hp["token"]})
    state = screen.call("join", {"event": REF, "as": "projector"})["state"]
    shown = state["voting"]["screen"]
    assert (shown["id"], shown["status"], shown["voted"], shown["eligible"]) == \
        (hp["poll"], "open", 0, 10)
    assert shown["result"] is None
    board = sockets("a.tellers")
    assert board.call("join", {"event": REF})["ok"]
    phone = sockets("a.delegate")
    assert phone.call("join", {"event": REF})["ok"]
    ack = vote(phone, hp, [hp["options"][0]])
    assert ack["ok"] and ack["status"] == "recorded" and len(ack["receipt"]) == 11
    assert wait_for(lambda: any(t["voted"] == 1 for t in screen.got("voting:turnout")))
    assert wait_for(lambda: any(t["voted"] == 1 for t in board.got("voting:turnout")))
    # Delegates' phones are not sent the turnout, and nobody any count per candidate.
    assert phone.got("voting:turnout") == []
    for _name, data in screen.received + board.received + phone.received:
        assert "votes" not in str(data)
    # The phone, reconnected, sees that it has voted.
    again = sockets("a.delegate")
    polls = again.call("voting:state", {"event": REF})["polls"]
    mine = next(p for p in polls if p["id"] == hp["poll"])
    assert mine["me"] == {"eligible": True, "voted": True}
    second = vote(again, hp, [hp["options"][1]])
    assert second["error"] == "already_voted" and second["message"]


def test_closing_shows_counting_then_the_published_result(live_app, hall_poll, sockets):
    hp = hall_poll
    screen = sockets(auth={"projector": hp["token"]})
    screen.call("join", {"event": REF, "as": "projector"})
    phone = sockets("a.delegate")
    assert vote(phone, hp, [hp["options"][0]])["ok"]
    with live_app.app_context():
        ev_poll = session().get(Poll, hp["poll"])
        from core.models import Event

        ev = session().get(Event, ev_poll.event_id)
        services.close_poll(session(), ev, ev_poll, actor=None)
        session().commit()
    assert wait_for(lambda: any(p["status"] == "closed" for p in screen.got("voting:poll")))
    closed = [p for p in screen.got("voting:poll") if p["status"] == "closed"][-1]
    assert closed["result"] is None and closed["voted"] == 1
    late = vote(sockets("a.delegate2"), hp, [hp["options"][0]])
    assert late["error"] == "closed"
    with live_app.app_context():
        p = session().get(Poll, hp["poll"])
        services.publish_poll(session(), session().get(Event, p.event_id), p, actor=None)
        session().commit()
    assert wait_for(lambda: any(p["status"] == "published" for p in screen.got("voting:poll")))
    published = [p for p in screen.got("voting:poll") if p["status"] == "published"][-1]
    assert published["result"]["returned"] == 1
    assert published["result"]["options"][0]["votes"] == 1
    # A screen connecting now gets the result in its full state.
    late_screen = sockets(auth={"projector": hp["token"]})
    state = late_screen.call("join", {"event": REF, "as": "projector"})["state"]
    assert state["voting"]["screen"]["result"]["elected"] == [hp["options"][0]]


def test_bad_votes_over_the_socket(live_app, hall_poll, sockets):
    hp = hall_poll
    phone = sockets("a.delegate")
    for payload in ({"event": REF}, {"event": REF, "poll": "1"},
                    {"event": REF, "poll": hp["poll"], "choices": "x", "nonce": "abcdefgh"},
                    {"event": REF, "poll": hp["poll"], "choices": [1], "nonce": "short"}):
        ack = phone.call("voting:vote", payload)
        assert ack["ok"] is False and ack["message"], payload
    too_many = vote(phone, hp, hp["options"])
    assert too_many["error"] == "invalid" and "at most 1" in too_many["message"]
    staff = sockets("a.admin")
    assert vote(staff, hp, [hp["options"][0]])["error"] == "not_eligible"
    screen = sockets(auth={"projector": hp["token"]})
    assert vote(screen, hp, [hp["options"][0]])["error"] == "not_found"
    with live_app.app_context():
        assert services.voted_count(session(), hp["poll"]) == 0
