"""The audit log is append-only; migrations build the models' schema from an empty database."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DatabaseError

from core.db import Base, session
from core.models import AuditEntry
from tests.conftest import PG_URL, _pg_admin_url, _pg_exec, login, make_app


def test_administrative_actions_are_audited_with_who_what_where(app, world):
    c = login(app.test_client(), "a.admin")
    c.post("/lao-cai/dai-hoi/manage/modules/announcements", data={"on": "0"})
    c.post("/lao-cai/dai-hoi/manage/sessions",
           data={"s-name": "Phiên bế mạc", "s-kind": "official"})
    with app.app_context():
        rows = session().scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(2)).all()
        session_add, module_off = rows
        assert module_off.action == "module.disable" and module_off.detail == {
            "module": "announcements"}
        assert module_off.actor_name == "a.admin" and module_off.event_id == world.ids["a"]
        assert module_off.unit_id == world.unit("lao-cai").id and module_off.ip == "127.0.0.1"
        assert session_add.action == "session.add" and session_add.detail["name"] == "Phiên bế mạc"


def test_audit_log_refuses_update_and_delete(ctx, world):
    entry_id = session().scalar(select(AuditEntry.id).limit(1))
    with pytest.raises(DatabaseError, match="append-only"):
        session().execute(update(AuditEntry).where(AuditEntry.id == entry_id)
                          .values(action="forged"))
    session().rollback()
    with pytest.raises(DatabaseError, match="append-only"):
        session().execute(delete(AuditEntry).where(AuditEntry.id == entry_id))
    session().rollback()
    assert session().get(AuditEntry, entry_id).action != "forged"


def test_a_refused_action_leaves_no_audit_entry(app, world):
    with app.app_context():
        before = session().query(AuditEntry).count()
    c = login(app.test_client(), "a.admin")
    r = c.post("/lao-cai/dai-hoi/manage/members", data={"m-username": "b.admin",
                                                        "m-role": "tellers"},
               follow_redirects=True)
    assert "outside this event" in r.get_data(as_text=True)
    with app.app_context():
        assert session().query(AuditEntry).count() == before


@pytest.fixture
def empty_db_url(tmp_path):
    if PG_URL:
        name = f"daihoi_empty_{tmp_path.name[-20:].replace('-', '_').lower()}"
        _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _pg_exec(f'CREATE DATABASE "{name}"')
        yield _pg_admin_url(PG_URL, name)
        _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"


def test_migrations_from_an_empty_database_match_the_models(empty_db_url, tmp_path):
    from core.migrate import pending_heads, upgrade

    app = make_app(empty_db_url, tmp_path)
    engine = app.extensions["daihoi_db"].engine
    with app.app_context():
        assert pending_heads(app) == {"0001_core", "0001_announcements", "0002_delegates",
                                      "0001_checkin", "0001_voting",
                                      "0001_documents", "0001_forum"}
        upgrade(app)
        assert pending_heads(app) == set()
        upgrade(app)  # a second run is a no-op
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], diff
        if engine.dialect.name == "sqlite":
            triggers = conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type='trigger'")).scalars().all()
            assert set(triggers) == {"audit_log_no_update", "audit_log_no_delete"}
        else:
            triggers = conn.execute(text(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars().all()
            assert triggers == ["audit_log_append_only"]
    engine.dispose()


def test_downgrade_to_base_and_up_again(empty_db_url, tmp_path):
    from alembic import command

    from core.migrate import alembic_config, upgrade

    app = make_app(empty_db_url, tmp_path)
    with app.app_context():
        upgrade(app)
        command.downgrade(alembic_config(app), "base")
        upgrade(app)
    app.extensions["daihoi_db"].engine.dispose()


def test_cli_refuses_to_run_on_an_old_schema(empty_db_url, tmp_path):
    from click.testing import CliRunner

    from core.cli import main

    app = make_app(empty_db_url, tmp_path)
    result = CliRunner().invoke(main, ["levels"], obj=_script_info(app))
    assert result.exit_code != 0 and "daihoi db upgrade" in result.output
    app.extensions["daihoi_db"].engine.dispose()


def _script_info(app):
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)
