"""Counting failed attempts (sign-in, link + second factor) with Flask-Limiter's storage."""

from __future__ import annotations

from flask import current_app, request
from limits import parse

# Per address: a ceiling whatever names or links are tried.
ADDRESS_LIMIT = "30 per minute"


def failure_keys(scope: str, subject: str, rate: str) -> list[tuple]:
    """The counters a failed attempt at `subject` (a username, a link) is charged to."""
    strategy = current_app.extensions["daihoi_limiter"].limiter
    addr = request.remote_addr or "?"
    return [(strategy, parse(rate), (scope, addr, subject)),
            (strategy, parse(ADDRESS_LIMIT), (f"{scope}-addr", addr))]


def blocked(keys: list[tuple]) -> bool:
    """Over a limit: even a right answer waits, so guessing on teaches nothing."""
    return not all(strategy.test(rate, *ident) for strategy, rate, ident in keys)


def charge(keys: list[tuple]) -> None:
    for strategy, rate, ident in keys:
        strategy.hit(rate, *ident)
