"""Alembic, driven from code: core's history plus each plugin's own branch."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(app: Flask) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    locations = [str(MIGRATIONS / "versions")]
    for extra in app.extensions["daihoi_pm"].hook.daihoi_migration_locations():
        locations.extend(extra or [])
    # Alembic splits on the separator; os.pathsep keeps paths with spaces intact.
    cfg.set_main_option("path_separator", "os")
    import os

    cfg.set_main_option("version_locations", os.pathsep.join(locations))
    cfg.set_main_option("sqlalchemy.url", app.config["DATABASE_URL"].replace("%", "%%"))
    cfg.attributes["engine"] = app.extensions["daihoi_db"].engine
    return cfg


def upgrade(app: Flask, revision: str = "heads") -> None:
    command.upgrade(alembic_config(app), revision)


def pending_heads(app: Flask) -> set[str]:
    """Heads not yet applied to the database; empty when it is up to date."""
    script = ScriptDirectory.from_config(alembic_config(app))
    with app.extensions["daihoi_db"].engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    # A plugin branch that depends on core's head stands for both in alembic_version.
    applied = {r.revision for r in script.iterate_revisions(current, "base")} if current else set()
    return set(script.get_heads()) - applied
