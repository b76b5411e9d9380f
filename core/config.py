"""Configuration read from the environment, so one build runs everywhere.

Every setting has a DAIHOI_ variable; the defaults give the embedded set-up (a SQLite file
under instance/, Socket.IO in-process, no Redis) that needs no other server.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_UNIT_LEVELS = (
    ("central", "Trung ương"),
    ("province", "Tỉnh, thành phố và tương đương"),
    ("district", "Huyện, quận và tương đương"),
    ("grassroots", "Cơ sở"),
    ("chapter", "Chi đoàn"),
)


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(instance_path: Path) -> str:
    """Use DAIHOI_SECRET_KEY, or a random key kept in instance/ so sessions survive a restart."""
    key = os.environ.get("DAIHOI_SECRET_KEY")
    if key:
        return key
    instance_path.mkdir(parents=True, exist_ok=True)
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def parse_unit_levels(spec: str | None) -> tuple[tuple[str, str], ...]:
    """Parse 'code:Name,code:Name' from DAIHOI_UNIT_LEVELS, top level first."""
    if not spec:
        return DEFAULT_UNIT_LEVELS
    levels = []
    for part in spec.split(","):
        code, _, name = part.partition(":")
        code = code.strip()
        if code:
            levels.append((code, name.strip() or code))
    return tuple(levels)


def load_config(instance_path: Path, overrides: dict | None = None) -> dict:
    env = os.environ
    overrides = overrides or {}
    db_url = overrides.get("DATABASE_URL") or env.get("DAIHOI_DATABASE_URL")
    if not db_url:
        instance_path.mkdir(parents=True, exist_ok=True)
        db_url = f"sqlite:///{instance_path / 'daihoi.sqlite3'}"
    if db_url.startswith(("postgresql://", "postgres://")):
        # psycopg 3 is the driver we ship; accept the plain URL people copy from their host.
        db_url = "postgresql+psycopg://" + db_url.split("://", 1)[1]
    redis_url = overrides.get("REDIS_URL") or env.get("DAIHOI_REDIS_URL") or None
    config = {
        "SECRET_KEY": overrides.get("SECRET_KEY") or _secret_key(instance_path),
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        # Connections each app process may hold (PostgreSQL). Every process's pool plus its
        # overflow, summed over processes and the job worker, must stay under the server's
        # max_connections (100 by default): docs/deploy.md.
        "DB_POOL_SIZE": int(env.get("DAIHOI_DB_POOL_SIZE", "10")),
        "DB_MAX_OVERFLOW": int(env.get("DAIHOI_DB_MAX_OVERFLOW", "10")),
        # How long a request waits for a free connection before it is told to try again.
        "DB_POOL_TIMEOUT": float(env.get("DAIHOI_DB_POOL_TIMEOUT", "20")),
        "SOCKETIO_ASYNC_MODE": env.get("DAIHOI_ASYNC_MODE", "threading"),
        # Off: each connection's events run in order in its reader; on: a new thread each.
        "SOCKETIO_ASYNC_HANDLERS": _flag(env.get("DAIHOI_ASYNC_HANDLERS"), False),
        # Origins allowed to open Socket.IO connections. Unset: same origin only. Set, it replaces
        # that default, so list the site's own origin too (and the union's app, say).
        "SOCKETIO_CORS_ORIGINS": [o.strip() for o in env.get("DAIHOI_CORS_ORIGINS", "").split(",")
                                  if o.strip()] or None,
        "UNIT_LEVELS": parse_unit_levels(env.get("DAIHOI_UNIT_LEVELS")),
        "SESSION_COOKIE_SECURE": _flag(env.get("DAIHOI_COOKIE_SECURE"), True),
        "REMEMBER_COOKIE_SECURE": _flag(env.get("DAIHOI_COOKIE_SECURE"), True),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_NAME": "daihoi_session",
        # Proxies in front of the app (nginx: 1). Their X-Forwarded-For/-Proto/-Host are then
        # believed, so sign-in limits count each phone, not the proxy, and links use https.
        "PROXY_COUNT": int(env.get("DAIHOI_PROXY_COUNT", "0")),
        "LOGIN_RATE_LIMIT": env.get("DAIHOI_LOGIN_RATE_LIMIT", "5 per minute"),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # Redis restarting must not lock everyone out of signing in: count in memory meanwhile.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 3, "socket_timeout": 3}
        if redis_url else {},
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        "BABEL_DEFAULT_LOCALE": "vi",
        "BABEL_DEFAULT_TIMEZONE": env.get("DAIHOI_TIMEZONE", "Asia/Ho_Chi_Minh"),
        "BABEL_TRANSLATION_DIRECTORIES": str(PROJECT_ROOT / "translations"),
        "LANGUAGES": ("vi", "en"),
        "DEFAULT_LOCALE": env.get("DAIHOI_LOCALE", "vi"),
        "CLI_LOCALE": env.get("DAIHOI_LOCALE", "vi"),
        "WTF_CSRF_TIME_LIMIT": None,
        "NODE_MODULES": Path(env.get("DAIHOI_NODE_MODULES", PROJECT_ROOT / "node_modules")),
        "JOBS_QUEUE": env.get("DAIHOI_JOBS_QUEUE", "daihoi"),
        "BADGE_WORKERS": int(env.get("DAIHOI_BADGE_WORKERS", "0")) or None,
        # The CSRF check reads the whole body before any view, so only this stops huge uploads.
        "MAX_CONTENT_LENGTH": int(env.get("DAIHOI_MAX_UPLOAD_MB", "210")) * 1024 * 1024,
        # Uploaded files (congress documents); keep it on a disk that is backed up.
        "FILES_DIR": Path(env.get("DAIHOI_FILES_DIR") or instance_path / "files"),
        "DOCUMENT_MAX_MB": int(env.get("DAIHOI_DOCUMENT_MAX_MB", "50")),
        # How long the author of a comment may still correct it.
        "FORUM_EDIT_MINUTES": int(env.get("DAIHOI_FORUM_EDIT_MINUTES", "15")),
        "PROJECTOR_LINK_MAX_AGE_DAYS": int(env.get("DAIHOI_PROJECTOR_LINK_DAYS", "30")),
        "REALTIME_FLUSH_SECONDS": float(env.get("DAIHOI_REALTIME_FLUSH_SECONDS", "0.2")),
        # The hall screen's self check-in code: how long one is valid, how often it changes.
        "CHECKIN_SELF_CODE_TTL": int(env.get("DAIHOI_CHECKIN_SELF_CODE_TTL", "30")),
        "CHECKIN_SELF_CODE_ROTATE": int(env.get("DAIHOI_CHECKIN_SELF_CODE_ROTATE", "10")),
    }
    config.update(overrides)
    return config
