"""A secret poll, once run, leaves nothing that links a delegate to a ballot: every table and
the logs are inspected after the poll, and the stored order of the rows is checked."""

from __future__ import annotations

import logging
import re

from flask import current_app
from sqlalchemy import inspect, select, text

from core.db import Base, session
from plugins.voting import ballots, services
from plugins.voting.models import Ballot, PollVoter
from tests.plugins.checkin.conftest import person
from tests.plugins.voting.conftest import PRESENT, opened, option_ids


def run_secret_poll(ev):
    poll = opened(ev, kind="election", mode="secret", seats=2, title="Bầu Ủy ban Kiểm tra",
                  options=(("Lò Văn Sơn", None), ("Giàng Thị Mỷ", None), ("Vàng A Páo", None)))
    a, b, c = option_ids(poll)
    plan = [[a, b], [a, c], [b, c], [a], [c], [], [a, b], [b]]
    app = current_app._get_current_object()
    receipts = {}
    for code, choices in zip(PRESENT, plan, strict=False):
        item = ballots.vote_input(user_id=person(ev, code).user_id, choices=choices,
                                  nonce=f"nonce-{code}-x")
        result = ballots.cast_votes(app, ev.id, poll.id, [item])[0]
        assert result.status == "recorded"
        receipts[code] = result.receipt
    services.close_poll(session(), ev, poll, actor=None)
    session().commit()
    return poll, receipts


def text_cells(db):
    """(table, column, value) of every text and JSON value in the database."""
    for table in Base.metadata.sorted_tables:
        names = [c.name for c in table.columns]
        for row in db.execute(select(table)).mappings():
            for name in names:
                value = row[name]
                if isinstance(value, str | dict | list):
                    yield table.name, name, str(value)


def test_nothing_stored_links_a_delegate_to_a_ballot(app, assembly, caplog):
    caplog.set_level(logging.DEBUG)
    with app.app_context():
        ev = assembly.event("a")
        poll, receipts = run_secret_poll(ev)
        db = session()
        # The ballot table has no column that could hold a time, an order or a voter but the
        # two that a named poll uses, and they are empty here.
        assert {c.name for c in Ballot.__table__.columns} == {
            "id", "poll_id", "receipt", "choices", "valid", "delegate_id", "cast_at"}
        rows = list(db.scalars(select(Ballot).where(Ballot.poll_id == poll.id)))
        assert len(rows) == len(receipts) == 8
        assert all(b.delegate_id is None and b.cast_at is None for b in rows)
        assert sorted(b.receipt for b in rows) == sorted(receipts.values())
        # "Has voted" keeps the delegate and nothing else; the device nonces are gone.
        voters = list(db.scalars(select(PollVoter).where(PollVoter.poll_id == poll.id)))
        assert {v.delegate_id for v in voters} == {person(ev, c).id for c in receipts}
        assert all(v.nonce is None for v in voters)
        # No receipt, ballot id or nonce anywhere but on the ballot itself: not in the audit
        # log, not in a job payload, not in any other table.
        secrets = set(receipts.values()) | {b.id for b in rows} | {
            f"nonce-{c}-x" for c in receipts}
        for table, column, value in text_cells(db):
            if table == "poll_ballots" and column in ("id", "receipt"):
                continue
            assert not any(s in value for s in secrets), (table, column)
        # Nor in the logs.
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert not any(s in logged for s in secrets)


def test_the_stored_order_says_nothing_about_the_order_of_voting(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll, _receipts = run_secret_poll(ev)
        db = session()
        dialect = db.get_bind().dialect.name
        ids = [r for r in db.scalars(select(Ballot.id).where(Ballot.poll_id == poll.id)
                                     .order_by(Ballot.id))]
        if dialect == "sqlite":
            # No rowid (which would count arrival); the rows sit in key order.
            for table in ("poll_ballots", "poll_voters"):
                try:
                    db.execute(text(f"SELECT rowid FROM {table}"))  # noqa: S608
                    raise AssertionError(f"{table} has a rowid")
                except Exception as exc:  # noqa: BLE001
                    assert "rowid" in str(exc), exc
                db.rollback()
            stored = list(db.scalars(text("SELECT id FROM poll_ballots WHERE poll_id = :p"),
                                     {"p": poll.id}))
            assert stored == ids
        else:
            # Every row was rewritten by the closing transaction, in key order: one xmin for
            # all, and the physical order (ctid) is the random ids' order.
            rows = db.execute(text(
                "SELECT id, xmin::text AS x, ctid::text AS c FROM poll_ballots "
                "WHERE poll_id = :p"), {"p": poll.id}).all()
            voters = db.execute(text(
                "SELECT delegate_id, xmin::text AS x, ctid::text AS c FROM poll_voters "
                "WHERE poll_id = :p"), {"p": poll.id}).all()
            assert len({r.x for r in rows} | {v.x for v in voters}) == 1

            def position(ctid):
                page, item = re.match(r"\((\d+),(\d+)\)", ctid).groups()
                return int(page), int(item)

            assert [r.id for r in sorted(rows, key=lambda r: position(r.c))] == ids
            assert [v.delegate_id for v in sorted(voters, key=lambda v: position(v.c))] == \
                sorted(v.delegate_id for v in voters)


def test_a_named_poll_keeps_who_voted_what_for_the_board(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = opened(ev, mode="named")
        yes = option_ids(poll)[0]
        item = ballots.vote_input(user_id=person(ev, "DB0001").user_id, choices=[yes],
                                  nonce="named-vote-1")
        ballots.cast_votes(current_app._get_current_object(), ev.id, poll.id, [item])
        services.close_poll(session(), ev, poll, actor=None)
        session().commit()
        (d, b), = services.named_votes(session(), poll)
        assert d.code == "DB0001" and b.choices == str(yes) and b.cast_at is not None
        assert services.named_votes(session(), run_secret_poll(ev)[0]) == []


def test_the_ballot_tables_have_no_time_columns():
    # A guard for later changes: a timestamp on either table would date each vote.
    for model in (Ballot, PollVoter):
        for column in inspect(model).columns:
            if model is Ballot and column.name == "cast_at":
                continue  # named polls only; asserted empty for secret ones above
            assert "DateTime" not in type(column.type).__name__, column
