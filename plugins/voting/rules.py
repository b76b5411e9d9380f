"""Counting per the charter, as pure functions of the figures (no database).

A candidate (or a motion's "yes") passes when its votes reach the poll's fraction of the
poll's base: the ballots returned, the valid ballots, the delegates present (the frozen
eligible list) or the delegates convened. Arithmetic is in integers: "more than half of 301"
needs 151, "at least 2/3 of 300" needs 200. Of those who pass, the top N (seats) are elected;
a tie across the last seat elects none of the tied and leaves their seats for a new round.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from plugins.voting.models import FRACTIONS


@dataclass
class Figures:
    """What was counted: ballots and votes per option id (electronic and paper together)."""

    issued: int
    returned: int
    invalid: int
    votes: dict[int, int] = field(default_factory=dict)

    @property
    def valid(self) -> int:
        return self.returned - self.invalid


def needed(base: int, fraction: str) -> int:
    """The fewest votes that pass; for "plurality" one vote."""
    rule = FRACTIONS[fraction]
    if rule is None:
        return 1
    num, den, strict = rule
    if strict:
        n = base * num // den + 1
    else:
        n = -(-base * num // den)
    # Nobody passes on zero votes, even of an empty base.
    return max(n, 1)


def base_value(base: str, figures: Figures, *, present: int, convened: int) -> int:
    return {"returned": figures.returned, "valid": figures.valid, "present": present,
            "convened": convened}[base]


def percent(votes: int, of: int) -> float:
    return round(100.0 * votes / of, 2) if of else 0.0


def count(*, kind: str, seats: int, base: str, fraction: str, options: list[dict],
          figures: Figures, present: int, convened: int) -> dict:
    """The result of a poll; `options` are {"id", "label", "answer"} in ballot order.

    Motion: passed when "yes" passes. Election and choice: `elected` (top `seats` of those
    who pass), `tie` (tied across the last seat, none of them elected) and `open_seats`.
    """
    of = base_value(base, figures, present=present, convened=convened)
    need = needed(of, fraction)
    rows = []
    for o in options:
        votes = figures.votes.get(o["id"], 0)
        rows.append({"id": o["id"], "label": o["label"], "detail": o.get("detail"),
                     "answer": o.get("answer"), "votes": votes, "percent": percent(votes, of),
                     "passed": votes >= need, "elected": False, "tie": False})
    result = {
        "issued": figures.issued, "returned": figures.returned, "valid": figures.valid,
        "invalid": figures.invalid, "base": base, "base_value": of, "fraction": fraction,
        "needed": need, "present": present, "convened": convened, "seats": seats,
        "options": rows, "elected": [], "tie": [], "open_seats": 0, "passed": None,
    }
    if kind == "motion":
        yes = next((r for r in rows if r["answer"] == "yes"), None)
        result["passed"] = bool(yes and yes["passed"])
        return result
    order = {r["id"]: n for n, r in enumerate(rows)}
    passing = sorted((r for r in rows if r["passed"]),
                     key=lambda r: (-r["votes"], order[r["id"]]))
    elected, tie = passing, []
    if len(passing) > seats:
        cutoff = passing[seats - 1]["votes"]
        above = [r for r in passing if r["votes"] > cutoff]
        at = [r for r in passing if r["votes"] == cutoff]
        if len(above) + len(at) <= seats:
            elected = above + at
        else:
            elected, tie = above, at
    for r in elected:
        r["elected"] = True
    for r in tie:
        r["tie"] = True
    result["elected"] = [r["id"] for r in elected]
    result["tie"] = [r["id"] for r in tie]
    result["open_seats"] = seats - len(elected)
    return result
