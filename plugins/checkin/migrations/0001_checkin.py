"""Check-in tables (the check-in module's own Alembic branch): lists, scans, presence.

Revision ID: 0001_checkin
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = '0001_checkin'
down_revision = None
branch_labels = ('checkin',)
depends_on = '0002_delegates'


def upgrade() -> None:
    op.create_table('checkin_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('admit_delegates', sa.String(length=10), nullable=False),
    sa.Column('admit_guests', sa.Boolean(), nullable=False),
    sa.Column('track_exit', sa.Boolean(), nullable=False),
    sa.Column('self_checkin', sa.Boolean(), nullable=False),
    sa.Column('opens_at', sa.DateTime(), nullable=True),
    sa.Column('closes_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("admit_delegates IN ('approved', 'convened', 'none')", name=op.f('ck_checkin_lists_known_admit')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_checkin_lists_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['event_sessions.id'], name=op.f('fk_checkin_lists_session_id_event_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkin_lists')),
    sa.UniqueConstraint('session_id', name=op.f('uq_checkin_lists_session_id'))
    )
    with op.batch_alter_table('checkin_lists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkin_lists_event_id'), ['event_id'], unique=False)

    op.create_table('checkin_presence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('delegate_id', sa.Integer(), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('first_in_at', sa.DateTime(), nullable=False),
    sa.Column('first_station', sa.String(length=80), nullable=False),
    sa.Column('first_method', sa.String(length=6), nullable=False),
    sa.Column('state_at', sa.DateTime(), nullable=False),
    sa.Column('stations', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['delegate_id'], ['delegates.id'], name=op.f('fk_checkin_presence_delegate_id_delegates'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['list_id'], ['checkin_lists.id'], name=op.f('fk_checkin_presence_list_id_checkin_lists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkin_presence')),
    sa.UniqueConstraint('list_id', 'delegate_id', name=op.f('uq_checkin_presence_list_id_delegate_id'))
    )
    with op.batch_alter_table('checkin_presence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkin_presence_delegate_id'), ['delegate_id'], unique=False)

    op.create_table('checkin_scans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('delegate_id', sa.Integer(), nullable=True),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('method', sa.String(length=6), nullable=False),
    sa.Column('scanned_at', sa.DateTime(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('station', sa.String(length=80), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('verdict', sa.String(length=8), nullable=True),
    sa.Column('reason', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('undone_at', sa.DateTime(), nullable=True),
    sa.Column('undone_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("direction IN ('in', 'out')", name=op.f('ck_checkin_scans_known_direction')),
    sa.CheckConstraint("method IN ('badge', 'self', 'manual')", name=op.f('ck_checkin_scans_known_method')),
    sa.ForeignKeyConstraint(['delegate_id'], ['delegates.id'], name=op.f('fk_checkin_scans_delegate_id_delegates'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_checkin_scans_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['list_id'], ['checkin_lists.id'], name=op.f('fk_checkin_scans_list_id_checkin_lists'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['undone_by_id'], ['users.id'], name=op.f('fk_checkin_scans_undone_by_id_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_checkin_scans_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkin_scans')),
    sa.UniqueConstraint('event_id', 'nonce', name=op.f('uq_checkin_scans_event_id_nonce'))
    )
    with op.batch_alter_table('checkin_scans', schema=None) as batch_op:
        batch_op.create_index('ix_checkin_scans_list_delegate', ['list_id', 'delegate_id'], unique=False)
        batch_op.create_index('ix_checkin_scans_list_received', ['list_id', 'received_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('checkin_scans', schema=None) as batch_op:
        batch_op.drop_index('ix_checkin_scans_list_received')
        batch_op.drop_index('ix_checkin_scans_list_delegate')

    op.drop_table('checkin_scans')
    with op.batch_alter_table('checkin_presence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkin_presence_delegate_id'))

    op.drop_table('checkin_presence')
    with op.batch_alter_table('checkin_lists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkin_lists_event_id'))

    op.drop_table('checkin_lists')
