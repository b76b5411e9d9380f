"""The signed session cookie, read once per cookie instead of once per request.

Flask-SocketIO handles every socket event (every vote, every scan) inside a fresh Flask
request context built from the connection's handshake, and opening that context parses the
Cookie header (walking the whole WSGI environ) and checks the session's signature again, for
a connection whose cookie has not changed. Measured under a burst of votes, that was the
largest single cost of a worker after the socket server itself (docs/benchmarks.md,
"Scale-out"). Here a cookie header that was verified in the last minute gives its data again
without parsing or checking it anew; a changed cookie is a new header, verified as before.
"""

from __future__ import annotations

import copy
import time

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class CachingSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the verified data of recent cookie headers kept."""

    TTL_SECONDS = 60.0
    MAX_ENTRIES = 50_000

    def __init__(self) -> None:
        # Raw Cookie header -> (until when, the session data it carries).
        self._verified: dict[str, tuple[float, dict]] = {}

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        raw = request.environ.get("HTTP_COOKIE")
        if not raw:
            return super().open_session(app, request)
        now = time.monotonic()
        hit = self._verified.get(raw)
        if hit is not None and hit[0] > now:
            # A copy each time: a request that changes its session (or a value inside it)
            # must not change what the next request with the same cookie gets.
            return self.session_class(copy.deepcopy(hit[1]))
        opened = super().open_session(app, request)
        if opened is not None:
            if len(self._verified) >= self.MAX_ENTRIES:
                self._verified.clear()
            self._verified[raw] = (now + self.TTL_SECONDS, copy.deepcopy(dict(opened)))
        return opened
