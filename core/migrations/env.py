"""Alembic environment: the engine comes from the app (core.migrate), never from an ini file."""

from __future__ import annotations

from alembic import context

from core.db import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    engine = config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


run()
