"""Voting tables (the voting module's own Alembic branch): polls, options, the frozen eligible
list, who has voted, ballots, paper figures.

Revision ID: 0001_voting
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = '0001_voting'
down_revision = None
branch_labels = ('voting',)
depends_on = '0001_checkin'


def upgrade() -> None:
    op.create_table('polls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('mode', sa.String(length=6), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('seats', sa.Integer(), nullable=False),
    sa.Column('base', sa.String(length=10), nullable=False),
    sa.Column('fraction', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('eligible_count', sa.Integer(), nullable=True),
    sa.Column('convened_count', sa.Integer(), nullable=True),
    sa.Column('opened_at', sa.DateTime(), nullable=True),
    sa.Column('closes_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("channel IN ('electronic', 'paper', 'appointed')", name=op.f('ck_polls_known_channel')),
    sa.CheckConstraint("kind IN ('motion', 'election', 'choice')", name=op.f('ck_polls_known_kind')),
    sa.CheckConstraint("mode IN ('named', 'secret')", name=op.f('ck_polls_known_mode')),
    sa.CheckConstraint("status IN ('draft', 'open', 'closed', 'published', 'cancelled')", name=op.f('ck_polls_known_status')),
    sa.CheckConstraint('seats >= 1', name=op.f('ck_polls_seats_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_polls_created_by_id_users')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_polls_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['previous_id'], ['polls.id'], name=op.f('fk_polls_previous_id_polls'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['event_sessions.id'], name=op.f('fk_polls_session_id_event_sessions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_polls'))
    )
    op.create_index(op.f('ix_polls_event_id'), 'polls', ['event_id'], unique=False)
    op.create_table('poll_ballots',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('receipt', sa.String(length=16), nullable=False),
    sa.Column('choices', sa.String(length=2000), nullable=False),
    sa.Column('valid', sa.Boolean(), nullable=False),
    sa.Column('delegate_id', sa.Integer(), nullable=True),
    sa.Column('cast_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['delegate_id'], ['delegates.id'], name=op.f('fk_poll_ballots_delegate_id_delegates')),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_ballots_poll_id_polls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_poll_ballots')),
    sa.UniqueConstraint('poll_id', 'receipt', name=op.f('uq_poll_ballots_poll_id_receipt')),
    sqlite_with_rowid=False
    )
    op.create_index(op.f('ix_poll_ballots_poll_id'), 'poll_ballots', ['poll_id'], unique=False)
    op.create_table('poll_eligible',
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('delegate_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['delegate_id'], ['delegates.id'], name=op.f('fk_poll_eligible_delegate_id_delegates')),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_eligible_poll_id_polls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_poll_eligible_user_id_users')),
    sa.PrimaryKeyConstraint('poll_id', 'delegate_id', name=op.f('pk_poll_eligible'))
    )
    op.create_table('poll_options',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=300), nullable=False),
    sa.Column('detail', sa.String(length=300), nullable=True),
    sa.Column('answer', sa.String(length=10), nullable=True),
    sa.Column('delegate_id', sa.Integer(), nullable=True),
    sa.Column('appointed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['delegate_id'], ['delegates.id'], name=op.f('fk_poll_options_delegate_id_delegates'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_options_poll_id_polls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_poll_options'))
    )
    op.create_index(op.f('ix_poll_options_poll_id'), 'poll_options', ['poll_id'], unique=False)
    op.create_table('poll_paper_counts',
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('issued', sa.Integer(), nullable=False),
    sa.Column('returned', sa.Integer(), nullable=False),
    sa.Column('invalid', sa.Integer(), nullable=False),
    sa.Column('votes', sa.JSON(), nullable=False),
    sa.Column('entered_at', sa.DateTime(), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('issued >= 0 AND returned >= 0 AND invalid >= 0', name=op.f('ck_poll_paper_counts_not_negative')),
    sa.ForeignKeyConstraint(['entered_by_id'], ['users.id'], name=op.f('fk_poll_paper_counts_entered_by_id_users')),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_paper_counts_poll_id_polls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('poll_id', name=op.f('pk_poll_paper_counts'))
    )
    op.create_table('poll_voters',
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('delegate_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['delegate_id'], ['delegates.id'], name=op.f('fk_poll_voters_delegate_id_delegates')),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_voters_poll_id_polls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('poll_id', 'delegate_id', name=op.f('pk_poll_voters')),
    sqlite_with_rowid=False
    )


def downgrade() -> None:
    op.drop_table('poll_voters')
    op.drop_table('poll_paper_counts')
    op.drop_index(op.f('ix_poll_options_poll_id'), table_name='poll_options')
    op.drop_table('poll_options')
    op.drop_table('poll_eligible')
    op.drop_index(op.f('ix_poll_ballots_poll_id'), table_name='poll_ballots')
    op.drop_table('poll_ballots')
    op.drop_index(op.f('ix_polls_event_id'), table_name='polls')
    op.drop_table('polls')
