"""Polls through the services: eligibility frozen at opening, every refusal of a vote, the
poll's life (close, countdown, cancel, publish, never reopen), paper figures, appointed
results, clones and new rounds."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.db import session, utcnow
from core.errors import ServiceError
from core.models import AuditEntry
from plugins.checkin import services as checkin
from plugins.voting import ballots, services
from plugins.voting.models import Ballot, Poll, PollEligible, PollVoter
from tests.plugins.checkin.conftest import person
from tests.plugins.voting.conftest import PRESENT, cast, make_poll, opened, option_ids

CANDIDATES = (("Nguyễn Văn An", "Thành đoàn"), ("Trần Thị Bình", None),
              ("Lê Văn Cường", None), ("Phạm Thị Dung", None))


def election(ev, **kw):
    kw.setdefault("options", CANDIDATES)
    kw.setdefault("seats", 2)
    return opened(ev, kind="election", mode="secret", title="Bầu Ban Chấp hành", **kw)


def counts(poll_id):
    db = session()
    return (db.scalar(select(func.count()).select_from(PollVoter)
                      .where(PollVoter.poll_id == poll_id)),
            db.scalar(select(func.count()).select_from(Ballot).where(Ballot.poll_id == poll_id)))


def test_opening_freezes_the_approved_delegates_present(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        rejected = person(ev, "DB0003")
        rejected.status = "rejected"
        session().commit()
        poll = opened(ev)
        eligible = set(session().scalars(select(PollEligible.delegate_id)
                                         .where(PollEligible.poll_id == poll.id)))
        assert eligible == {person(ev, c).id for c in PRESENT if c != "DB0003"}
        assert poll.eligible_count == 9 and poll.convened_count == ev.convened_count
        # Checked in after the opening: not on the frozen list.
        official = checkin.current_list(session(), ev)
        checkin.record_scan(session(), ev, official, nonce=uuid.uuid4().hex,
                            code=person(ev, "DB0050").checkin_secret)
        session().commit()
        assert cast(ev, poll, "DB0050", [option_ids(poll)[0]]).status == "not_eligible"
        assert cast(ev, poll, "DB0003", [option_ids(poll)[0]]).status == "not_eligible"
        assert cast(ev, poll, "DB0004", [option_ids(poll)[0]]).status == "recorded"
        audit = session().scalar(select(AuditEntry)
                                 .where(AuditEntry.action == "voting.poll_opened"))
        assert audit.detail["eligible"] == 9


def test_nobody_present_means_the_poll_does_not_open(app, hall):
    with app.app_context():
        ev = hall.event("a")
        poll = make_poll(ev)
        with pytest.raises(ServiceError) as err:
            services.open_poll(session(), ev, poll, actor=None)
        assert err.value.code == "nobody_eligible"
        session().rollback()
        assert session().get(Poll, poll.id).status == "draft"


def test_one_vote_per_delegate_and_a_resend_is_answered_recorded(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = opened(ev)
        yes, no, _abstain = option_ids(poll)
        first = cast(ev, poll, "DB0001", [yes], nonce="device-a-0001")
        assert first.status == "recorded" and ballots.RECEIPT_RE.match(first.receipt)
        # The same request again (its answer was lost): recorded, nothing added.
        assert cast(ev, poll, "DB0001", [yes], nonce="device-a-0001").status == "replay"
        # A second device: refused.
        assert cast(ev, poll, "DB0001", [no], nonce="device-b-0001").status == "already_voted"
        assert counts(poll.id) == (1, 1)


def test_two_devices_in_one_batch(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = opened(ev)
        yes, no, _ = option_ids(poll)
        uid = person(ev, "DB0001").user_id
        items = [ballots.vote_input(user_id=uid, choices=[yes], nonce="phone-0001"),
                 ballots.vote_input(user_id=uid, choices=[no], nonce="tablet-001"),
                 ballots.vote_input(user_id=uid, choices=[yes], nonce="phone-0001")]
        results = ballots.record_votes(session(), ballots.load_open_poll(session(), poll), items)
        session().commit()
        assert [r.status for r in results] == ["recorded", "already_voted", "replay"]
        assert results[2].receipt == results[0].receipt
        assert counts(poll.id) == (1, 1)


@pytest.mark.parametrize(("choices", "reason"), [
    ([1, 2, 3], "too_many"), ([999999], "unknown_option"), ([], "no_answer")])
def test_refused_ballots_write_nothing(app, assembly, choices, reason):
    with app.app_context():
        ev = assembly.event("a")
        poll = opened(ev, kind="choice", options=(("Sáng", None), ("Chiều", None),
                                                   ("Tối", None)), seats=2)
        ids = option_ids(poll)
        real = [ids[c - 1] if c <= 3 else c for c in choices]
        result = cast(ev, poll, "DB0001", real)
        assert (result.status, result.reason) == ("invalid", reason)
        assert counts(poll.id) == (0, 0)
        # The delegate can still vote properly.
        assert cast(ev, poll, "DB0001", ids[:2]).status == "recorded"


def test_election_ballots(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = election(ev)
        a, b, c, _d = option_ids(poll)
        assert cast(ev, poll, "DB0001", [a, b, c]).reason == "too_many"
        assert cast(ev, poll, "DB0001", [a]).status == "recorded"  # fewer than N: valid
        assert cast(ev, poll, "DB0002", [a, b]).status == "recorded"
        assert cast(ev, poll, "DB0004", []).status == "recorded"  # all struck: invalid
        closed = services.close_poll(session(), ev, poll, actor=None)
        session().commit()
        r = closed.result
        assert (r["returned"], r["valid"], r["invalid"]) == (3, 2, 1)
        assert [o["votes"] for o in r["options"]] == [2, 1, 0, 0]
        # 3 returned: 2 needed; only A reaches it.
        assert r["needed"] == 2 and r["elected"] == [a] and r["open_seats"] == 1


def test_a_single_candidate_is_a_yes_or_no(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = opened(ev, kind="election", title="Bầu Bí thư", options=(("Lò Văn Sơn", None),))
        (only,) = option_ids(poll)
        assert cast(ev, poll, "DB0001", [only]).status == "recorded"
        assert cast(ev, poll, "DB0002", []).status == "recorded"  # against: a valid ballot
        r = services.close_poll(session(), ev, poll, actor=None).result
        assert (r["valid"], r["invalid"], r["options"][0]["votes"]) == (2, 0, 1)
        assert r["elected"] == []  # 1 of 2 is not more than half


def test_motion_needs_one_answer(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = opened(ev, base="present")
        yes, no, abstain = option_ids(poll)
        assert cast(ev, poll, "DB0001", [yes, no]).reason == "one_answer"
        for code in PRESENT[:6]:
            cast(ev, poll, code, [yes])
        cast(ev, poll, "DB0007", [abstain])
        r = services.close_poll(session(), ev, poll, actor=None).result
        # 6 of the 10 present is more than half.
        assert r["passed"] is True and r["base_value"] == 10 and r["needed"] == 6


def test_closed_poll_refuses_votes_and_never_reopens(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = opened(ev)
        yes = option_ids(poll)[0]
        cast(ev, poll, "DB0001", [yes])
        services.close_poll(session(), ev, poll, actor=None)
        session().commit()
        assert cast(ev, poll, "DB0002", [yes]).status == "closed"
        for change in (services.open_poll, services.close_poll):
            with pytest.raises(ServiceError):
                change(session(), ev, poll, actor=None)
            session().rollback()
        with pytest.raises(ServiceError):
            services.cancel_poll(session(), ev, poll, "thử", actor=None)
        session().rollback()
        assert counts(poll.id) == (1, 1)


def test_a_draft_poll_takes_no_vote(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = make_poll(ev)
        item = ballots.vote_input(user_id=person(ev, "DB0001").user_id,
                                  choices=[option_ids(poll)[0]], nonce=uuid.uuid4().hex)
        from flask import current_app
        result = ballots.cast_votes(current_app._get_current_object(), ev.id, poll.id, [item])
        assert result[0].status == "not_open"


def test_a_poll_of_another_event_or_tenant_is_not_found(app, assembly):
    with app.app_context():
        ev, other = assembly.event("a"), assembly.event("b")
        poll = opened(ev)
        from flask import current_app
        item = ballots.vote_input(user_id=person(ev, "DB0001").user_id,
                                  choices=[option_ids(poll)[0]], nonce=uuid.uuid4().hex)
        app_ = current_app._get_current_object()
        assert ballots.cast_votes(app_, other.id, poll.id, [item])[0].status == "not_found"
        assert ballots.cast_votes(app_, assembly.event("a.district").id, poll.id,
                                  [item])[0].status == "not_found"
        assert counts(poll.id) == (0, 0)
        assert ballots.cast_votes(app_, ev.id, poll.id, [item])[0].status == "recorded"


def test_countdown_refuses_late_votes_and_the_poll_closes(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = opened(ev)
        yes = option_ids(poll)[0]
        services.start_countdown(session(), ev, poll, 30, actor=None)
        session().commit()
        assert cast(ev, poll, "DB0001", [yes]).status == "recorded"
        poll.closes_at = utcnow() - timedelta(seconds=1)
        session().commit()
        assert cast(ev, poll, "DB0002", [yes]).status == "closed"
        closed = services.settle_deadlines(session(), ev)
        session().commit()
        assert [p.id for p in closed] == [poll.id]
        assert session().get(Poll, poll.id).status == "closed"
        assert session().get(Poll, poll.id).result["returned"] == 1


def test_cancel_keeps_ballots_uncounted(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = opened(ev)
        cast(ev, poll, "DB0001", [option_ids(poll)[0]])
        with pytest.raises(ServiceError):
            services.cancel_poll(session(), ev, poll, "  ", actor=None)
        session().rollback()
        services.cancel_poll(session(), ev, poll, "Sai danh sách ứng cử viên", actor=None)
        session().commit()
        assert session().get(Poll, poll.id).status == "cancelled"
        assert cast(ev, poll, "DB0002", [option_ids(poll)[0]]).status == "closed"
        with pytest.raises(ServiceError):
            services.publish_poll(session(), ev, poll, actor=None)


def test_paper_figures_are_checked_and_added(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = election(ev)
        a, b, c, d = option_ids(poll)
        cast(ev, poll, "DB0001", [a, b])
        cast(ev, poll, "DB0002", [a, c])
        with pytest.raises(ServiceError):  # not closed yet
            services.enter_paper(session(), ev, poll, issued=1, returned=1, invalid=0,
                                 votes={}, actor=None)
        session().rollback()
        services.close_poll(session(), ev, poll, actor=None)
        session().commit()
        bad = [
            dict(issued=9, returned=1, invalid=0, votes={}),   # 10 eligible - 2 voted = 8
            dict(issued=3, returned=4, invalid=0, votes={}),
            dict(issued=3, returned=3, invalid=4, votes={}),
            dict(issued=3, returned=3, invalid=1, votes={a: 3}),  # 2 valid ballots
            dict(issued=3, returned=3, invalid=1, votes={a: 2, b: 2, c: 1}),  # > 2 x 2 seats
            dict(issued=3, returned=3, invalid=1, votes={a: -1}),
            dict(issued="ba", returned=3, invalid=1, votes={}),
        ]
        for figures in bad:
            with pytest.raises(ServiceError):
                services.enter_paper(session(), ev, poll, actor=None, **figures)
            session().rollback()
        assert session().get(Poll, poll.id).result["paper"] is None
        services.enter_paper(session(), ev, poll, issued=3, returned=3, invalid=1,
                             votes={a: 2, str(d): 1}, actor=None)
        session().commit()
        r = services.publish_poll(session(), ev, poll, actor=None).result
        session().commit()
        assert (r["issued"], r["returned"], r["valid"], r["invalid"]) == (10, 5, 4, 1)
        assert [o["votes"] for o in r["options"]] == [4, 1, 1, 1]
        assert r["electronic"]["issued"] == 7 and r["paper"]["issued"] == 3
        assert r["elected"] == [a]  # 5 returned: 3 needed
        with pytest.raises(ServiceError):  # published: figures are final
            services.enter_paper(session(), ev, poll, issued=1, returned=1, invalid=0,
                                 votes={}, actor=None)


def test_a_paper_poll(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = opened(ev, channel="paper")
        assert cast(ev, poll, "DB0001", [option_ids(poll)[0]]).status == "paper"
        services.close_poll(session(), ev, poll, actor=None)
        session().commit()
        with pytest.raises(ServiceError):  # no figures yet
            services.publish_poll(session(), ev, poll, actor=None)
        session().rollback()
        yes, no, abstain = option_ids(poll)
        with pytest.raises(ServiceError):  # answers must add up to the valid ballots
            services.enter_paper(session(), ev, poll, issued=10, returned=10, invalid=0,
                                 votes={yes: 6, no: 2}, actor=None)
        session().rollback()
        services.enter_paper(session(), ev, poll, issued=10, returned=10, invalid=0,
                             votes={yes: 6, no: 2, abstain: 2}, actor=None)
        r = services.publish_poll(session(), ev, poll, actor=None).result
        assert r["passed"] is True and r["electronic"] is None and r["returned"] == 10


def test_appointed_result(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = make_poll(ev, kind="election", options=CANDIDATES, seats=2,
                         title="Ban Chấp hành lâm thời")
        a, b, c, _ = option_ids(poll)
        with pytest.raises(ServiceError):
            services.record_appointment(session(), ev, poll, [a, b, c], "", actor=None)
        session().rollback()
        done = services.record_appointment(session(), ev, poll, [a, b],
                                           "Quyết định số 12-QĐ/TWĐTN", actor=None)
        session().commit()
        assert done.status == "published" and done.channel == "appointed"
        assert done.result["elected"] == [a, b]
        with pytest.raises(ServiceError):
            services.open_poll(session(), ev, done, actor=None)


def test_a_tie_leads_to_a_new_round_of_the_tied(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = election(ev, seats=1, options=CANDIDATES[:3])
        a, b, c = option_ids(poll)
        for code, choice in zip(PRESENT, [a, a, a, b, b, b, c], strict=False):
            cast(ev, poll, code, [choice])
        r = services.close_poll(session(), ev, poll, actor=None).result
        session().commit()
        assert r["tie"] == [] and r["elected"] == []  # 3 of 7 is not more than half
        nxt = services.new_round(session(), ev, poll, actor=None)
        session().commit()
        assert [o.label for o in nxt.options] == [o[0] for o in CANDIDATES[:3]]
        assert (nxt.previous_id, nxt.round, nxt.status, nxt.seats) == (poll.id, 2, "draft", 1)
        copy = services.clone_poll(session(), ev, poll, actor=None)
        session().commit()
        assert copy.status == "draft" and copy.mode == "secret" and len(copy.options) == 3


def test_tie_at_the_last_seat(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = election(ev, seats=2, options=CANDIDATES[:3], base="present")
        a, b, c = option_ids(poll)
        plan = [[a, b], [a, b], [a, c], [a, c], [a, b], [a, c], [a], [b, c]]
        for code, choice in zip(PRESENT, plan, strict=False):
            cast(ev, poll, code, choice)
        r = services.close_poll(session(), ev, poll, actor=None).result
        session().commit()
        # 10 present: 6 needed; A 7, B 4+... : B 4, C 4 -> neither passes.
        assert r["elected"] == [a]
        poll2 = election(ev, seats=2, options=CANDIDATES[:3], base="returned")
        a, b, c = option_ids(poll2)
        plan = [[a, b], [a, c], [a, b], [a, c], [b, c], [b, c]]
        for code, choice in zip(PRESENT, plan, strict=False):
            cast(ev, poll2, code, choice)
        r = services.close_poll(session(), ev, poll2, actor=None).result
        session().commit()
        # 6 returned: 4 needed; A 4, B 4, C 4: a three-way tie for two seats.
        assert (r["elected"], sorted(r["tie"]), r["open_seats"]) == ([], [a, b, c], 2)
        nxt = services.new_round(session(), ev, poll2, actor=None)
        assert len(nxt.options) == 3 and nxt.seats == 2


def test_prepared_polls_keep_agenda_order_and_only_drafts_change(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        first = make_poll(ev, title="Một")
        second = make_poll(ev, title="Hai")
        assert [p.title for p in services.list_polls(session(), ev)] == ["Một", "Hai"]
        assert second.position > first.position
        services.update_poll(session(), ev, second, services.PollInput(
            title="Hai", position=0), actor=None)
        session().commit()
        assert [p.title for p in services.list_polls(session(), ev)] == ["Hai", "Một"]
        services.open_poll(session(), ev, first, actor=None)
        session().commit()
        with pytest.raises(ServiceError):
            services.update_poll(session(), ev, first, services.PollInput(title="x"),
                                 actor=None)
        session().rollback()
        with pytest.raises(ServiceError):
            services.delete_poll(session(), ev, first, actor=None)


@pytest.mark.parametrize("data", [
    dict(title=""), dict(title="x" * 301), dict(kind="referendum"), dict(mode="open"),
    dict(fraction="gt_9_10"), dict(base="everyone"),
    dict(kind="election", options=()), dict(kind="election", options=(("A", None),), seats=2),
    dict(kind="election", options=(("A", None), ("a", None))),
    dict(kind="choice", options=(("A", None),)),
    dict(session_id=999999),
])
def test_bad_poll_input_is_refused(app, assembly, data):
    with app.app_context():
        ev = assembly.event("a")
        data.setdefault("title", "Bầu")
        with pytest.raises(ServiceError):
            services.create_poll(session(), ev, services.PollInput(**data), actor=None)
        session().rollback()
        assert services.list_polls(session(), ev) == []
