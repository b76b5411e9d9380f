"""Delegates module tables (its own Alembic branch): delegates, correction requests, badge jobs.

Revision ID: 0001_delegates
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = '0001_delegates'
down_revision = None
branch_labels = ('delegates',)
depends_on = '0001_core'


def upgrade() -> None:
    op.create_table('delegate_badge_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('layout', sa.String(length=10), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('file', sa.String(length=200), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_delegate_badge_jobs_created_by_id_users')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_delegate_badge_jobs_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delegate_badge_jobs'))
    )
    with op.batch_alter_table('delegate_badge_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delegate_badge_jobs_event_id'), ['event_id'], unique=False)

    op.create_table('delegates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('gender', sa.String(length=10), nullable=True),
    sa.Column('ethnicity', sa.String(length=60), nullable=True),
    sa.Column('religion', sa.String(length=60), nullable=True),
    sa.Column('unit_name', sa.String(length=300), nullable=True),
    sa.Column('position', sa.String(length=200), nullable=True),
    sa.Column('education', sa.String(length=100), nullable=True),
    sa.Column('political_theory', sa.String(length=100), nullable=True),
    sa.Column('party_member', sa.Boolean(), nullable=True),
    sa.Column('delegate_type', sa.String(length=20), nullable=True),
    sa.Column('group', sa.String(length=100), nullable=True),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('replaced_by_id', sa.Integer(), nullable=True),
    sa.Column('checkin_secret', sa.String(length=64), nullable=False),
    sa.Column('signin_nonce', sa.String(length=64), nullable=False),
    sa.Column('photo', sa.String(length=200), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('delegate', 'guest')", name=op.f('ck_delegates_known_kind')),
    sa.CheckConstraint("status IN ('convened', 'approved', 'rejected', 'replaced')", name=op.f('ck_delegates_known_status')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_delegates_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['replaced_by_id'], ['delegates.id'], name=op.f('fk_delegates_replaced_by_id_delegates')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_delegates_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delegates')),
    sa.UniqueConstraint('checkin_secret', name=op.f('uq_delegates_checkin_secret')),
    sa.UniqueConstraint('event_id', 'code', name=op.f('uq_delegates_event_id_code')),
    sa.UniqueConstraint('user_id', name=op.f('uq_delegates_user_id'))
    )
    with op.batch_alter_table('delegates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delegates_event_id'), ['event_id'], unique=False)

    op.create_table('delegate_corrections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delegate_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=False),
    sa.Column('old_value', sa.Text(), nullable=True),
    sa.Column('new_value', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name=op.f('ck_delegate_corrections_known_status')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_delegate_corrections_decided_by_id_users')),
    sa.ForeignKeyConstraint(['delegate_id'], ['delegates.id'], name=op.f('fk_delegate_corrections_delegate_id_delegates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delegate_corrections'))
    )
    with op.batch_alter_table('delegate_corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delegate_corrections_delegate_id'), ['delegate_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('delegate_corrections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delegate_corrections_delegate_id'))

    op.drop_table('delegate_corrections')
    with op.batch_alter_table('delegates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delegates_event_id'))

    op.drop_table('delegates')
    with op.batch_alter_table('delegate_badge_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delegate_badge_jobs_event_id'))

    op.drop_table('delegate_badge_jobs')
