"""Database engine and the per-request session.

Plain SQLAlchemy 2.x: one engine per app, one scoped session per app context (a request, a
Socket.IO handler or a CLI command), removed on teardown so no connection leaks between them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker

# Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10,
                pool_timeout: float = 20) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    # pre_ping: a connection the server dropped (a restart, a failover) is replaced before use,
    # so the first request after PostgreSQL comes back does not fail.
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size,
                         max_overflow=max_overflow, pool_timeout=pool_timeout)


class Database:
    """Holds the engine and a scoped session bound to the Flask app context."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self._factory: sessionmaker | None = None
        self.session: scoped_session | None = None

    def init_app(self, app: Flask) -> None:
        from flask import g

        self.engine = make_engine(app.config["DATABASE_URL"],
                                  pool_size=app.config.get("DB_POOL_SIZE", 10),
                                  max_overflow=app.config.get("DB_MAX_OVERFLOW", 10),
                                  pool_timeout=app.config.get("DB_POOL_TIMEOUT", 20))
        self._factory = sessionmaker(bind=self.engine, expire_on_commit=False)

        def scope():
            # One session per app context; outside one (plain scripts) fall back to the thread.
            try:
                return id(g._get_current_object())
            except RuntimeError:
                import threading

                return threading.get_ident()

        self.session = scoped_session(self._factory, scopefunc=scope)
        app.extensions["daihoi_db"] = self

        @app.teardown_appcontext
        def _remove_session(_exc):
            self.session.remove()

    def new_session(self) -> Session:
        """A session outside the request scope, for background work."""
        return self._factory()


def database_unavailable(exc: BaseException) -> bool:
    """The database could not be reached or gave no connection in time (a restart, a network
    cut, a full pool), as opposed to a fault in our code: the request can be tried again."""
    from sqlalchemy import exc as sa_exc

    return isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError,
                            sa_exc.DisconnectionError, sa_exc.TimeoutError))


def rollback_quietly() -> None:
    """Roll back the app context's session after a failure; if the connection itself is what
    failed, drop it instead (the pool replaces it)."""
    try:
        session().rollback()
    except Exception:  # noqa: BLE001 - the connection may be the thing that failed
        session().invalidate()


def is_postgresql(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def insert_skipping_conflicts(db: Session, table, rows: list[dict], conflict: list[str],
                              *returning):
    """Insert `rows` into `table`, skipping those that clash on the unique `conflict` columns;
    the `returning` columns of the rows written.

    One compiled statement run as an executemany (SQLAlchemy batches it into multi-row
    inserts), so a batch of any size costs no new SQL compilation.
    """
    if is_postgresql(db):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).on_conflict_do_nothing(index_elements=conflict).returning(*returning)
    return db.execute(stmt, rows)


AFTER_COMMIT_KEY = "daihoi_after_commit"


def after_commit(fn, db: Session | None = None) -> None:
    """Run `fn` once `db`'s transaction commits (default: the app context's session); drop it
    if the transaction rolls back.

    For effects outside the database (Socket.IO broadcasts, evictions) that must never announce
    something that was not saved.
    """
    (db or session()).info.setdefault(AFTER_COMMIT_KEY, []).append(fn)


@event.listens_for(Session, "after_commit")
def _run_after_commit(sess: Session) -> None:
    # The data is saved by now: a failing effect is logged, never turned into an error that
    # would tell the user "nothing was saved", and it does not stop the effects after it.
    for fn in sess.info.pop(AFTER_COMMIT_KEY, []):
        try:
            fn()
        except Exception:  # noqa: BLE001
            logging.getLogger(__name__).exception("after-commit effect failed")


AFTER_ROLLBACK_KEY = "daihoi_after_rollback"


def after_rollback(fn, db: Session | None = None) -> None:
    """Run `fn` if `db`'s transaction rolls back; drop it once it commits.

    For undoing what a transaction did outside the database (a file written for a row that
    was never saved).
    """
    (db or session()).info.setdefault(AFTER_ROLLBACK_KEY, []).append(fn)


@event.listens_for(Session, "after_commit")
def _forget_after_rollback(sess: Session) -> None:
    sess.info.pop(AFTER_ROLLBACK_KEY, None)


@event.listens_for(Session, "after_rollback")
def _forget_after_commit(sess: Session) -> None:
    sess.info.pop(AFTER_COMMIT_KEY, None)
    for fn in sess.info.pop(AFTER_ROLLBACK_KEY, []):
        try:
            fn()
        except Exception:  # noqa: BLE001
            logging.getLogger(__name__).exception("after-rollback effect failed")


def get_db() -> Database:
    from flask import current_app

    return current_app.extensions["daihoi_db"]


def session() -> Session:
    """The current app context's session."""
    return get_db().session()
