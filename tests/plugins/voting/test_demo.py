"""The demo congress can be voted in at once: a prepared motion opened by the secretariat,
voted by the demo delegate, and shown on the hall screen."""

from __future__ import annotations

from sqlalchemy import select

from core.db import session
from core.demo import load_demo
from core.models import Event
from plugins.voting import services
from plugins.voting.models import Poll
from tests.conftest import login


def test_the_demo_delegate_votes_in_a_prepared_motion(app):
    with app.app_context():
        assert load_demo(session(), password="demo-pass-123")
        session().commit()
        event = session().scalar(select(Event).where(Event.slug == "dai-hoi-xvi"))
        polls = services.list_polls(session(), event)
        assert [p.kind for p in polls] == ["motion", "motion", "election"]
        assert polls[2].mode == "secret" and polls[2].seats == 5
        services.open_poll(session(), event, polls[0], actor=None)
        session().commit()
        assert polls[0].eligible_count == 120
        pid, yes = polls[0].id, polls[0].options[0].id
    phone = login(app.test_client(), "daibieu.demo", "demo-pass-123")
    r = phone.post(f"/lao-cai/dai-hoi-xvi/voting/polls/{pid}/vote",
                   json={"choices": [yes], "nonce": "demo-vote-0001"})
    assert r.status_code == 200 and r.json["status"] == "recorded"
    with app.app_context():
        assert services.voted_count(session(), pid) == 1
        assert session().get(Poll, pid).status == "open"
