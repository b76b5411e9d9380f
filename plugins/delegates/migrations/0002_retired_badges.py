"""Retired badge secrets, so a scan of a replaced badge can say why it is refused.

Revision ID: 0002_delegates
Revises: 0001_delegates
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = '0002_delegates'
down_revision = '0001_delegates'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('delegate_retired_badges',
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('delegate_id', sa.Integer(), nullable=False),
    sa.Column('retired_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['delegate_id'], ['delegates.id'], name=op.f('fk_delegate_retired_badges_delegate_id_delegates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('secret', name=op.f('pk_delegate_retired_badges'))
    )
    with op.batch_alter_table('delegate_retired_badges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delegate_retired_badges_delegate_id'), ['delegate_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('delegate_retired_badges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delegate_retired_badges_delegate_id'))

    op.drop_table('delegate_retired_badges')
