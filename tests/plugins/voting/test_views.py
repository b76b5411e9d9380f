"""Voting pages through the Flask test client: who may do what, the board's actions, a
delegate's ballot without JavaScript and its JSON fallback, results and counted ballots."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from core.db import session
from core.models import AuditEntry
from plugins.voting.models import Ballot, Poll
from tests.conftest import login
from tests.plugins.voting.conftest import make_poll, opened, option_ids

BASE = "/lao-cai/dai-hoi/voting"


def csrf(client, url=f"{BASE}/ballot") -> str:
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html)[1]


def test_the_board_prepares_opens_and_closes_a_poll(app, assembly):
    admin = login(app.test_client(), "a.secretariat")
    token = csrf(admin, f"{BASE}/")
    r = admin.post(f"{BASE}/new", data={
        "csrf_token": token, "title": "Bầu Ban Chấp hành", "kind": "election", "mode": "secret",
        "channel": "electronic", "seats": "2", "fraction": "gt_1_2", "base": "returned",
        "session_id": "0", "options": "Nguyễn Văn An | Bí thư\nTrần Thị Bình\n\nLê Văn Cường"})
    assert r.status_code == 302
    with app.app_context():
        poll = session().scalar(select(Poll))
        assert [o.label for o in poll.options] == ["Nguyễn Văn An", "Trần Thị Bình",
                                                    "Lê Văn Cường"]
        assert poll.options[0].detail == "Bí thư" and poll.seats == 2
        pid = poll.id
    page = admin.get(r.headers["Location"]).get_data(as_text=True)
    assert "Bầu Ban Chấp hành" in page and "Open voting" in page
    assert admin.post(f"{BASE}/polls/{pid}/open", data={"csrf_token": token}).status_code == 302
    page = admin.get(f"{BASE}/polls/{pid}").get_data(as_text=True)
    assert f'data-turnout="{pid}"' in page and "Close now" in page
    # No count is on the page while it is open.
    assert "Result" not in page
    assert admin.post(f"{BASE}/polls/{pid}/close", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert session().get(Poll, pid).status == "closed"
        actions = list(session().scalars(select(AuditEntry.action)
                                         .where(AuditEntry.action.like("voting.%"))))
        assert actions == ["voting.poll_created", "voting.poll_opened", "voting.poll_closed"]
    # The secretariat may not publish: that is the counting board's.
    assert admin.post(f"{BASE}/polls/{pid}/publish", data={"csrf_token": token}).status_code \
        == 403
    tellers = login(app.test_client(), "a.tellers")
    token_t = csrf(tellers, f"{BASE}/")
    assert tellers.post(f"{BASE}/polls/{pid}/publish",
                        data={"csrf_token": token_t}).status_code == 302
    assert "Published" in tellers.get(f"{BASE}/polls/{pid}").get_data(as_text=True)


def test_bad_form_input_keeps_everything_as_it_was(app, assembly):
    admin = login(app.test_client(), "a.admin")
    token = csrf(admin, f"{BASE}/")
    r = admin.post(f"{BASE}/new", data={
        "csrf_token": token, "title": "Bầu", "kind": "election", "mode": "secret",
        "channel": "electronic", "seats": "5", "fraction": "gt_1_2", "base": "returned",
        "session_id": "0", "options": "A\nB"})
    assert r.status_code == 200
    assert "Seats must be between 1 and the number of candidates" in r.get_data(as_text=True)
    r = admin.post(f"{BASE}/new", data={"csrf_token": token, "title": "", "kind": "x"})
    assert r.status_code == 200
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Poll)) == 0
        ev = assembly.event("a")
        pid = opened(ev).id
    r = admin.post(f"{BASE}/polls/{pid}/countdown", data={"csrf_token": token, "seconds": "x"},
                   follow_redirects=True)
    assert "Choose how long the countdown lasts." in r.get_data(as_text=True)
    r = admin.post(f"{BASE}/polls/{pid}/cancel", data={"csrf_token": token, "reason": " "},
                   follow_redirects=True)
    assert "Give the reason for cancelling." in r.get_data(as_text=True)
    assert admin.post(f"{BASE}/polls/{pid}/explode", data={"csrf_token": token}).status_code \
        == 404
    with app.app_context():
        assert session().get(Poll, pid).status == "open"


def test_who_sees_what(app, assembly):
    with app.app_context():
        pid = make_poll(assembly.event("a")).id
    for user, code in (("a.delegate", 403), ("a.guest", 403), ("a.checkin", 403),
                       ("a.credentials", 403), ("a.tellers", 200), ("a.secretariat", 200),
                       ("a.admin", 200)):
        c = login(app.test_client(), user)
        assert c.get(f"{BASE}/").status_code == code, user
        assert c.get(f"{BASE}/polls/{pid}").status_code == code, user
    assert login(app.test_client(), "a.tellers").get(f"{BASE}/new").status_code == 200
    assert login(app.test_client(), "a.delegate").get(f"{BASE}/new").status_code == 403
    assert login(app.test_client(), "b.admin").get(f"{BASE}/polls/{pid}").status_code == 404
    assert app.test_client().get(f"{BASE}/ballot").status_code == 302  # to sign in
    for user in ("a.delegate", "a.guest", "a.admin"):
        assert login(app.test_client(), user).get(f"{BASE}/results").status_code == 200


def test_a_delegate_votes_without_javascript(app, assembly):
    with app.app_context():
        ev = assembly.event("a")
        poll = opened(ev, kind="election", mode="secret", seats=2, title="Bầu Ban Thường vụ",
                      options=(("Lò Văn Sơn", None), ("Giàng Thị Mỷ", None), ("Vàng A Páo", None)))
        pid, (a, b, c) = poll.id, option_ids(poll)
    phone = login(app.test_client(), "a.delegate")
    page = phone.get(f"{BASE}/ballot").get_data(as_text=True)
    assert "Bầu Ban Thường vụ" in page and f'data-ballot="{pid}"' in page
    assert "Secret ballot" in page
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)[1]
    nonce = re.search(r'name="nonce" value="([^"]+)"', page)[1]
    # Three names for two seats: refused, nothing written.
    r = phone.post(f"{BASE}/polls/{pid}/vote", data={
        "csrf_token": token, "choice": [str(a), str(b), str(c)], "nonce": nonce},
        follow_redirects=True)
    assert "Keep at most 2 names" in r.get_data(as_text=True)
    r = phone.post(f"{BASE}/polls/{pid}/vote", data={
        "csrf_token": token, "choice": [str(a), str(b)], "nonce": nonce,
        "receipt": "ABCDE23456"}, follow_redirects=True)
    text = r.get_data(as_text=True)
    assert "Your vote is recorded." in text and "ABCDE-23456" in text
    assert "You have voted." in text and f'data-ballot="{pid}"' not in text
    # The same form sent again (a double tap): answered as recorded, counted once.
    r = phone.post(f"{BASE}/polls/{pid}/vote", data={
        "csrf_token": token, "choice": [str(a)], "nonce": nonce}, follow_redirects=True)
    assert "Your vote was already recorded." in r.get_data(as_text=True)
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Ballot)) == 1


def test_the_json_fallback(app, assembly):
    with app.app_context():
        poll = opened(assembly.event("a"))
        pid, (yes, _no, _abstain) = poll.id, option_ids(poll)
    phone = login(app.test_client(), "a.delegate2")
    token = csrf(phone)
    url = f"{BASE}/polls/{pid}/vote"
    headers = {"X-CSRFToken": token}
    r = phone.post(url, json={"choices": [yes], "nonce": "json-vote-0001"}, headers=headers)
    assert r.status_code == 200 and r.json["ok"] and r.json["status"] == "recorded"
    r = phone.post(url, json={"choices": [yes], "nonce": "json-vote-0002"}, headers=headers)
    assert r.status_code == 409 and r.json["error"] == "already_voted"
    assert "already voted" in r.json["message"]
    for body in ([1], {"choices": "yes", "nonce": "json-vote-0003"},
                 {"choices": [yes], "nonce": "x"}, {"choices": [True], "nonce": "json-vote-4"}):
        r = phone.post(url, json=body, headers=headers)
        assert r.status_code in (400, 409) and r.json["ok"] is False, body
    r = phone.post(f"{BASE}/polls/999999/vote", json={"choices": [1], "nonce": "json-vote-5"},
                   headers=headers)
    assert r.status_code == 404
    # Not present at the session: not eligible.
    other = login(app.test_client(), "a.admin")
    r = other.post(url, json={"choices": [yes], "nonce": "json-vote-0006"},
                   headers={"X-CSRFToken": csrf(other)})
    assert r.status_code == 409 and r.json["error"] == "not_eligible"


def test_published_results_and_the_receipt_list(app, assembly):
    from plugins.voting import services
    from tests.plugins.voting.conftest import cast

    with app.app_context():
        ev = assembly.event("a")
        poll = opened(ev, kind="election", mode="secret", title="Bầu Bí thư",
                      options=(("Lò Văn Sơn", None), ("Giàng Thị Mỷ", None)))
        a, b = option_ids(poll)
        mine = cast(ev, poll, "DB0001", [a]).receipt
        for code in ("DB0002", "DB0003", "DB0004"):
            cast(ev, poll, code, [a])
        cast(ev, poll, "DB0005", [b])
        pid = poll.id
    phone = login(app.test_client(), "a.delegate")
    assert phone.get(f"{BASE}/polls/{pid}/ballots").status_code == 404  # not yet published
    with app.app_context():
        ev = assembly.event("a")
        p = session().get(Poll, pid)
        services.close_poll(session(), ev, p, actor=None)
        services.publish_poll(session(), ev, p, actor=None)
        session().commit()
    results = phone.get(f"{BASE}/results").get_data(as_text=True)
    assert "Bầu Bí thư" in results and "Lò Văn Sơn" in results and "elected" in results
    listing = phone.get(f"{BASE}/polls/{pid}/ballots").get_data(as_text=True)
    assert listing.count("<code>") == 5
    shown = f"{mine[:5]}-{mine[5:]}"
    found = phone.get(f"{BASE}/polls/{pid}/ballots?receipt={shown.lower()}")
    assert "Found: your ballot is counted." in found.get_data(as_text=True)
    missing = phone.get(f"{BASE}/polls/{pid}/ballots?receipt=AAAAA-AAAAA")
    assert "No counted ballot has this receipt code" in missing.get_data(as_text=True)


def test_the_hall_screen_page_shows_the_poll(app, assembly):
    from core.events import create_projector_link

    with app.app_context():
        ev = assembly.event("a")
        poll = opened(ev, title="Thông qua Quy chế")
        _link, token = create_projector_link(session(), ev, actor=None, label="Hội trường")
        session().commit()
        pid = poll.id
    screen = app.test_client()
    assert screen.get(f"/p/{token}").status_code == 302
    page = screen.get("/lao-cai/dai-hoi/projector").get_data(as_text=True)
    assert "data-vote-screen" in page and "Thông qua Quy chế" in page
    assert f'&#34;id&#34;: {pid}' in page or f'"id": {pid}' in page
