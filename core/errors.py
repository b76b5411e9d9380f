"""Errors a service raises for the user to read; views show them, nothing is written."""

from __future__ import annotations

from flask_babel import gettext as _


class ServiceError(Exception):
    """A refused action. `message` is already translated for the current user."""

    status = 400

    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class NotFound(ServiceError):
    status = 404

    def __init__(self, message: str = "") -> None:
        super().__init__(message or "not found", code="not_found")


class Forbidden(ServiceError):
    status = 403

    def __init__(self, message: str) -> None:
        super().__init__(message, code="forbidden")


def unavailable_message(exc: BaseException | None = None) -> str:
    """What a request is told when the database could not be reached (core.db
    `database_unavailable`): its transaction never committed. A full connection pool is the
    server being busy, not the database being gone, and is told so."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.TimeoutError):
        return _("The server is very busy right now; nothing was saved. "
                 "Try again in a moment.")
    return _("The database is not answering right now; nothing was saved. "
             "Try again in a moment.")
