"""The example plugin's own Alembic branch (one table), to show the hook works.

Revision ID: 0001_example
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_example"
down_revision = None
branch_labels = ("example",)
depends_on = "0001_core"


def upgrade() -> None:
    op.create_table("example_notes", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("text", sa.String(50), nullable=False))


def downgrade() -> None:
    op.drop_table("example_notes")
