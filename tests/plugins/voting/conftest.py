"""Fixtures for the voting module: a hall with ten delegates checked in to the official
session, two of them with accounts that can sign in (a.delegate = DB0001, a.delegate2 =
DB0002), and helpers to make polls and vote as the services do."""

from __future__ import annotations

import uuid

import pytest

from core.accounts import create_account
from core.db import session
from plugins.checkin import services as checkin
from plugins.delegates.services import adopt_account
from plugins.voting import ballots, services
from tests.conftest import PASSWORD
from tests.plugins.checkin.conftest import approve_all, hall, lists_of, person  # noqa: F401

PRESENT = [f"DB{n:04d}" for n in range(1, 11)]


@pytest.fixture
def assembly(app, hall):  # noqa: F811 - the check-in fixture, reused
    """Event "a": 300 approved delegates, the official session open for check-in (the
    preparatory one closed) with DB0001–DB0010 present."""
    with app.app_context():
        db = session()
        ev = hall.event("a")
        adopt_account(db, ev, "DB0001", hall.user("a.delegate"))
        second = create_account(db, actor=None, unit=None, username="a.delegate2",
                                full_name="x", password=PASSWORD)
        adopt_account(db, ev, "DB0002", second)
        prep, official = checkin.ensure_lists(db, ev)
        checkin.close_list(db, ev, prep, actor=None)
        db.commit()
        for code in PRESENT:
            checkin.record_scan(db, ev, official, nonce=uuid.uuid4().hex,
                                code=person(ev, code).checkin_secret)
        db.commit()
    return hall


def make_poll(event, **kw) -> services.PollInput:
    kw.setdefault("title", "Thông qua chương trình")
    poll = services.create_poll(session(), event, services.PollInput(**kw), actor=None)
    session().commit()
    return poll


def opened(event, **kw):
    poll = make_poll(event, **kw)
    services.open_poll(session(), event, poll, actor=None)
    session().commit()
    return poll


def user_of(event, code) -> int:
    return person(event, code).user_id


def cast(event, poll, code, choices, *, nonce=None, receipt=None) -> ballots.VoteResult:
    """One vote through the services, as the vote writer records it, committed."""
    db = session()
    open_poll = ballots.load_open_poll(db, poll)
    item = ballots.vote_input(user_id=user_of(event, code), choices=list(choices),
                              nonce=nonce or uuid.uuid4().hex, receipt=receipt)
    result = ballots.record_votes(db, open_poll, [item])[0]
    db.commit()
    return result


def option_ids(poll) -> list[int]:
    return [o.id for o in poll.options]


def run_async(coro):
    """asyncio.run in a thread of its own: another test of the session (Playwright's sync
    API) may have left an event loop running in this one."""
    import asyncio
    import threading

    out = {}

    def target():
        try:
            out["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - raised again in the test's thread
            out["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")
