"""Counting rules as a table of cases: each base and fraction, ties at the last seat, fewer
names kept than seats."""

from __future__ import annotations

import pytest

from plugins.voting.rules import Figures, count, needed


@pytest.mark.parametrize(("base", "fraction", "n"), [
    (300, "gt_1_2", 151), (301, "gt_1_2", 151), (0, "gt_1_2", 1), (1, "gt_1_2", 1),
    (300, "ge_1_2", 150), (301, "ge_1_2", 151), (2, "ge_1_2", 1),
    (300, "ge_2_3", 200), (299, "ge_2_3", 200), (298, "ge_2_3", 199), (0, "ge_2_3", 1),
    (300, "gt_2_3", 201), (9, "gt_2_3", 7), (300, "ge_3_4", 225), (301, "ge_3_4", 226),
    (300, "plurality", 1),
])
def test_needed(base, fraction, n):
    assert needed(base, fraction) == n


OPTS = [{"id": i, "label": name} for i, name in enumerate("ABCDE", start=1)]


def elect(votes, *, seats, base="returned", fraction="gt_1_2", returned=100, invalid=0,
          present=120, convened=150):
    fig = Figures(issued=present, returned=returned, invalid=invalid,
                  votes=dict(zip(range(1, 6), votes, strict=False)))
    return count(kind="election", seats=seats, base=base, fraction=fraction, options=OPTS,
                 figures=fig, present=present, convened=convened)


@pytest.mark.parametrize(("votes", "seats", "kw", "elected", "tie", "open_seats"), [
    # Top N of those above half of the 100 returned (51 needed).
    ((90, 80, 70, 60, 10), 3, {}, [1, 2, 3], [], 0),
    # D passes (60 > 50) but ranks fourth: not elected.
    ((90, 80, 70, 60, 50), 3, {}, [1, 2, 3], [], 0),
    # Exactly half is not "more than half": 50 of 100 fails.
    ((90, 50, 50, 10, 10), 3, {}, [1], [], 2),
    # Tie across the last seat: C and D share 70 for one seat, neither is elected.
    ((90, 80, 70, 70, 10), 3, {}, [1, 2], [3, 4], 1),
    # A tie that fits inside the seats elects all of the tied.
    ((90, 70, 70, 10, 10), 3, {}, [1, 2, 3], [], 0),
    # Base: valid ballots (100 returned, 20 invalid -> 80 valid, 41 needed).
    ((45, 41, 40, 10, 10), 3, {"base": "valid", "invalid": 20}, [1, 2], [], 1),
    # Base: returned with the same figures (51 needed).
    ((45, 41, 40, 10, 10), 3, {"invalid": 20}, [], [], 3),
    # Base: present delegates (120 -> 61 needed).
    ((70, 61, 60, 10, 10), 3, {"base": "present"}, [1, 2], [], 1),
    # Base: convened delegates (150 -> 76 needed).
    ((80, 76, 75, 10, 10), 3, {"base": "convened"}, [1, 2], [], 1),
    # At least 2/3 of 90 returned: 60 needed.
    ((60, 59, 0, 0, 0), 2, {"fraction": "ge_2_3", "returned": 90}, [1], [], 1),
    # More than 2/3 of 90: 61 needed.
    ((61, 60, 0, 0, 0), 2, {"fraction": "gt_2_3", "returned": 90}, [1], [], 1),
    # At least 3/4 of 100: 75 needed.
    ((75, 74, 0, 0, 0), 2, {"fraction": "ge_3_4"}, [1], [], 1),
    # At least half of 100: 50 is enough.
    ((50, 49, 0, 0, 0), 2, {"fraction": "ge_1_2"}, [1], [], 1),
    # One seat, tie at the top among those who pass.
    ((60, 60, 0, 0, 0), 1, {}, [], [1, 2], 1),
])
def test_election(votes, seats, kw, elected, tie, open_seats):
    result = elect(votes, seats=seats, **kw)
    assert result["elected"] == elected
    assert result["tie"] == tie
    assert result["open_seats"] == open_seats
    assert [o["elected"] for o in result["options"]] == [o["id"] in elected for o in OPTS]


def test_percentages_are_of_the_base():
    result = elect((90, 80, 70, 60, 10), seats=3, base="present")
    assert result["base_value"] == 120
    assert result["options"][0]["percent"] == 75.0
    assert (result["returned"], result["valid"], result["invalid"]) == (100, 100, 0)


def test_plurality_choice():
    fig = Figures(issued=10, returned=10, invalid=0, votes={1: 4, 2: 4, 3: 2})
    r = count(kind="choice", seats=1, base="valid", fraction="plurality", options=OPTS[:3],
              figures=fig, present=10, convened=10)
    assert (r["elected"], r["tie"]) == ([], [1, 2])
    fig.votes = {1: 5, 2: 3, 3: 2}
    r = count(kind="choice", seats=1, base="valid", fraction="plurality", options=OPTS[:3],
              figures=fig, present=10, convened=10)
    assert (r["elected"], r["tie"]) == ([1], [])


@pytest.mark.parametrize(("yes", "base", "fraction", "passed"), [
    (151, "present", "gt_1_2", True), (150, "present", "gt_1_2", False),
    (200, "convened", "ge_2_3", True), (199, "convened", "ge_2_3", False),
    (101, "returned", "gt_1_2", True), (100, "returned", "gt_1_2", False),
])
def test_motion(yes, base, fraction, passed):
    options = [{"id": 1, "label": "Tán thành", "answer": "yes"},
               {"id": 2, "label": "Không tán thành", "answer": "no"},
               {"id": 3, "label": "Không biểu quyết", "answer": "abstain"}]
    fig = Figures(issued=300, returned=200, invalid=0, votes={1: yes, 2: 200 - yes})
    r = count(kind="motion", seats=1, base=base, fraction=fraction, options=options,
              figures=fig, present=300, convened=300)
    assert r["passed"] is passed
