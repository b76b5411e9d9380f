"""The `daihoi` command: database, accounts, units, demo data and the server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from core.db import session
from core.launch import freeze_loaded_objects


def _create_app():
    from core.app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False,
             add_version_option=False)
def main() -> None:
    """DaiHoi: congress platform of the Ho Chi Minh Communist Youth Union."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Bring the database to the newest schema and create the configured unit levels."""
    from core.migrate import upgrade
    from tenants.services import ensure_levels

    upgrade(current_app)
    levels = ensure_levels(session(), current_app.config["UNIT_LEVELS"])
    session().commit()
    click.echo(f"database up to date; unit levels: {', '.join(lv.code for lv in levels)}")


def _require_schema() -> None:
    from core.migrate import pending_heads

    if pending_heads(current_app):
        raise click.ClickException("the database is not up to date: run `daihoi db upgrade`")


@main.command("levels")
@with_appcontext
def levels() -> None:
    """List the unit levels of this deployment, top first."""
    from tenants.models import UnitLevel

    _require_schema()
    for lv in session().scalars(select(UnitLevel).order_by(UnitLevel.rank)):
        click.echo(f"{lv.rank}\t{lv.code}\t{lv.name}")


@main.command("import-units")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_units_cmd(csv_file: Path) -> None:
    """Load units from CSV_FILE (code,name,level,parent_code); a bad file is refused whole."""
    from core import audit
    from tenants.services import import_units

    _require_schema()
    report = import_units(session(), csv_file.read_bytes())
    if not report.ok:
        session().rollback()
        for problem in report.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(f"nothing imported: {len(report.problems)} problem(s)")
    audit.record("unit.import", actor=None, detail={"file": csv_file.name,
                                                    "created": report.created,
                                                    "updated": report.updated})
    session().commit()
    click.echo(f"imported: {report.created} new, {report.updated} updated, "
               f"{report.unchanged} unchanged")


@main.command("create-admin")
@click.option("--unit", "unit_code", required=True, help="Code of the unit the admin runs.")
@click.option("--unit-name", help="Name of the root unit, when the tree is still empty.")
@click.option("--username", required=True)
@click.option("--full-name", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def create_admin(unit_code: str, unit_name: str | None, username: str, full_name: str,
                 password: str) -> None:
    """Create an admin account for a unit (and the root unit itself on an empty tree)."""
    from core.accounts import create_account
    from core.errors import ServiceError
    from tenants.models import Unit, UnitLevel
    from tenants.services import create_unit

    _require_schema()
    db_ = session()
    unit = db_.scalar(select(Unit).where(Unit.code == unit_code))
    try:
        if unit is None:
            if not unit_name:
                raise click.ClickException(f"no unit {unit_code}; give --unit-name to create "
                                           "it as the root of an empty tree")
            top = db_.scalar(select(UnitLevel).order_by(UnitLevel.rank))
            unit = create_unit(db_, code=unit_code, name=unit_name, level=top, parent=None)
        create_account(db_, actor=None, unit=unit, username=username, full_name=full_name,
                       password=password, rights=("admin",))
    except ServiceError as exc:
        db_.rollback()
        raise click.ClickException(exc.message) from exc
    db_.commit()
    click.echo(f"admin {username} created for {unit.name}")


@main.command("demo")
@click.option("--password", default="daihoi-demo", show_default=True,
              help="Password of every demo account.")
@with_appcontext
def demo(password: str) -> None:
    """Create a demo province with one congress and an account for each role (idempotent)."""
    from core.demo import DEMO_EVENT, load_demo

    _require_schema()
    created = load_demo(session(), password=password)
    session().commit()
    if created:
        click.echo("demo data created")
    else:
        click.echo("demo data already present")
    click.echo(f"demo congress: /{DEMO_EVENT}/")


@main.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
@with_appcontext
def worker(burst: bool) -> None:
    """Run background jobs (a whole congress's badges) from the Redis queue."""
    from core.jobs import run_worker

    _require_schema()
    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("set DAIHOI_REDIS_URL: without Redis, jobs run inside the "
                                   "web server")
    run_worker(current_app._get_current_object(), burst=burst)


@main.command("run")
@click.option("--host", default=lambda: os.environ.get("DAIHOI_HOST", "127.0.0.1"))
@click.option("--port", default=lambda: int(os.environ.get("DAIHOI_PORT", "5000")), type=int)
@with_appcontext
def run(host: str, port: int) -> None:
    """Serve the app with Socket.IO on the embedded server (one process)."""
    _require_schema()
    sio = current_app.extensions["daihoi_socketio"]
    click.echo(f"DaiHoi on http://{host}:{port}/  (Ctrl+C to stop)")
    sys.stdout.flush()
    # Flask ignores app.run() under its own CLI; this command *is* the server, so allow it.
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    freeze_loaded_objects()
    sio.run(current_app._get_current_object(), host=host, port=port,
            allow_unsafe_werkzeug=True, use_reloader=False, log_output=False)


if __name__ == "__main__":  # pragma: no cover
    main()
