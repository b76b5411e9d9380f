"""Language choice: Vietnamese first, English on request, and date formats."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context, request, session
from flask_babel import Babel

LANG_SESSION_KEY = "daihoi_lang"


def select_locale() -> str:
    langs = current_app.config["LANGUAGES"]
    if not has_request_context():
        # The command line and background work speak the deployment's language.
        return current_app.config.get("CLI_LOCALE", "vi")
    chosen = session.get(LANG_SESSION_KEY)
    if chosen in langs:
        return chosen
    default = current_app.config.get("DEFAULT_LOCALE", "vi")
    # The deployment's language (Vietnamese) unless the browser asks only for another we speak.
    best = request.accept_languages.best_match(langs)
    if best and best != default and default not in request.accept_languages.values():
        return best
    return default


def format_date(value: date | datetime | None) -> str:
    """dd/mm/yyyy, as Vietnamese documents write dates."""
    if value is None:
        return ""
    return value.strftime("%d/%m/%Y")


def local_time(value: datetime) -> datetime:
    """A stored naive-UTC time in the deployment's time zone."""
    tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(tz)


def utc_from_local(value: datetime | None) -> datetime | None:
    """A time typed in the deployment's time zone, as the naive UTC the database stores."""
    if value is None:
        return None
    tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return value.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def format_datetime(value: datetime | None) -> str:
    """HH:MM dd/mm/yyyy in the deployment's time zone; stored times are naive UTC."""
    if value is None:
        return ""
    return local_time(value).strftime("%H:%M %d/%m/%Y")


def format_time(value: datetime | None) -> str:
    """HH:MM in the deployment's time zone."""
    if value is None:
        return ""
    return local_time(value).strftime("%H:%M")


def init_i18n(app) -> Babel:
    babel = Babel(app, locale_selector=select_locale)
    app.jinja_env.filters["vndate"] = format_date
    app.jinja_env.filters["vndatetime"] = format_datetime
    app.jinja_env.filters["vntime"] = format_time
    return babel
