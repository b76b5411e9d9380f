"""Fixtures for the check-in module: the 300-delegate roster in event "a", its lists, helpers."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.db import session, utcnow
from plugins.checkin import services
from plugins.delegates.models import Delegate


def nonce() -> str:
    return uuid.uuid4().hex


def person(event, code) -> Delegate:
    return session().scalar(select(Delegate).where(Delegate.event_id == event.id,
                                                   Delegate.code == code))


def lists_of(event):
    """The event's check-in lists (preparatory first), opened an hour ago."""
    lists = services.ensure_lists(session(), event)
    for lst in lists:
        lst.opens_at = utcnow() - timedelta(hours=1)
    session().commit()
    return lists


def approve_all(event) -> None:
    for d in session().scalars(select(Delegate).where(Delegate.event_id == event.id,
                                                      Delegate.kind == "delegate")):
        d.status = "approved"
    session().commit()


def scan(event, lst, code, **kw):
    kw.setdefault("nonce", nonce())
    result = services.record_scan(session(), event, lst, code=code, **kw)
    session().commit()
    return result


@pytest.fixture
def hall(app, roster_world):
    """Event "a" with 300 delegates (all approved) and 20 guests, its two lists open."""
    with app.app_context():
        ev = roster_world.event("a")
        approve_all(ev)
        lists_of(ev)
    return roster_world
