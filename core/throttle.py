"""Counting failed attempts (sign-in, link + second factor) with Flask-Limiter's storage.

The counters live in Redis when it is configured. While Redis cannot be reached they are kept
in this process's memory instead, so a Redis restart does not lock everyone out of signing in
(nor lets guessing run free): the same limits, counted per process for that while.
"""

from __future__ import annotations

import logging

from flask import current_app, request
from limits import parse
from limits.storage import MemoryStorage

# Per address: a ceiling whatever names or links are tried.
ADDRESS_LIMIT = "30 per minute"

logger = logging.getLogger(__name__)


def failure_keys(scope: str, subject: str, rate: str) -> list[tuple]:
    """The counters a failed attempt at `subject` (a username, a link) is charged to."""
    addr = request.remote_addr or "?"
    return [(parse(rate), (scope, addr, subject)),
            (parse(ADDRESS_LIMIT), (f"{scope}-addr", addr))]


def _strategy(fallback: bool = False):
    primary = current_app.extensions["daihoi_limiter"].limiter
    if not fallback:
        return primary
    memory = current_app.extensions.get("daihoi_throttle_memory")
    if memory is None:
        memory = current_app.extensions.setdefault("daihoi_throttle_memory",
                                                   type(primary)(MemoryStorage()))
    return memory


def _each(call: str, keys: list[tuple]) -> list:
    try:
        strategy = _strategy()
        return [getattr(strategy, call)(rate, *ident) for rate, ident in keys]
    except Exception as exc:  # noqa: BLE001 - the storage (Redis) out of reach
        logger.warning("rate-limit storage unavailable (%s); counting in memory",
                       type(exc).__name__)
        strategy = _strategy(fallback=True)
        return [getattr(strategy, call)(rate, *ident) for rate, ident in keys]


def blocked(keys: list[tuple]) -> bool:
    """Over a limit: even a right answer waits, so guessing on teaches nothing."""
    return not all(_each("test", keys))


def charge(keys: list[tuple]) -> None:
    _each("hit", keys)
