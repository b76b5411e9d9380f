"""Forum tables (the forum module's own Alembic branch): topics, comments and replies,
agreements, notices.

Revision ID: 0001_forum
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = '0001_forum'
down_revision = None
branch_labels = ('forum',)
depends_on = ('0001_documents', '0002_delegates')


def upgrade() -> None:
    op.create_table('forum_topics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_activity_at', sa.DateTime(), nullable=False),
    sa.Column('hidden_at', sa.DateTime(), nullable=True),
    sa.Column('hidden_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_forum_topics_created_by_id_users')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_forum_topics_document_id_documents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_forum_topics_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_topics')),
    sa.UniqueConstraint('document_id', name=op.f('uq_forum_topics_document_id'))
    )
    op.create_index(op.f('ix_forum_topics_event_id'), 'forum_topics', ['event_id'], unique=False)
    op.create_table('forum_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_folded', sa.Text(), nullable=False),
    sa.Column('section', sa.String(length=200), nullable=True),
    sa.Column('page', sa.Integer(), nullable=True),
    sa.Column('paragraph', sa.String(length=40), nullable=True),
    sa.Column('version_number', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('edited_at', sa.DateTime(), nullable=True),
    sa.Column('hidden_at', sa.DateTime(), nullable=True),
    sa.Column('hidden_by_id', sa.Integer(), nullable=True),
    sa.Column('hidden_reason', sa.Text(), nullable=True),
    sa.Column('resolution', sa.String(length=10), nullable=True),
    sa.Column('resolution_reply', sa.Text(), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("resolution IS NULL OR resolution IN ('accepted', 'noted', 'answered')", name=op.f('ck_forum_comments_known_resolution')),
    sa.CheckConstraint('page IS NULL OR page >= 1', name=op.f('ck_forum_comments_page_positive')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_forum_comments_author_id_users')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_forum_comments_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['hidden_by_id'], ['users.id'], name=op.f('fk_forum_comments_hidden_by_id_users')),
    sa.ForeignKeyConstraint(['parent_id'], ['forum_comments.id'], name=op.f('fk_forum_comments_parent_id_forum_comments')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_forum_comments_resolved_by_id_users')),
    sa.ForeignKeyConstraint(['topic_id'], ['forum_topics.id'], name=op.f('fk_forum_comments_topic_id_forum_topics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_comments'))
    )
    op.create_index(op.f('ix_forum_comments_author_id'), 'forum_comments', ['author_id'], unique=False)
    op.create_index(op.f('ix_forum_comments_event_id'), 'forum_comments', ['event_id'], unique=False)
    op.create_index(op.f('ix_forum_comments_parent_id'), 'forum_comments', ['parent_id'], unique=False)
    op.create_index('ix_forum_comments_topic_id_id', 'forum_comments', ['topic_id', 'id'], unique=False)
    op.create_table('forum_agrees',
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['forum_comments.id'], name=op.f('fk_forum_agrees_comment_id_forum_comments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_forum_agrees_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('comment_id', 'user_id', name=op.f('pk_forum_agrees'))
    )
    op.create_table('forum_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("kind IN ('reply', 'hidden', 'resolved')", name=op.f('ck_forum_notices_known_kind')),
    sa.ForeignKeyConstraint(['comment_id'], ['forum_comments.id'], name=op.f('fk_forum_notices_comment_id_forum_comments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_forum_notices_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_forum_notices_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_notices'))
    )
    op.create_index('ix_forum_notices_user_id_event_id', 'forum_notices', ['user_id', 'event_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_forum_notices_user_id_event_id', table_name='forum_notices')
    op.drop_table('forum_notices')
    op.drop_table('forum_agrees')
    op.drop_index('ix_forum_comments_topic_id_id', table_name='forum_comments')
    op.drop_index(op.f('ix_forum_comments_parent_id'), table_name='forum_comments')
    op.drop_index(op.f('ix_forum_comments_event_id'), table_name='forum_comments')
    op.drop_index(op.f('ix_forum_comments_author_id'), table_name='forum_comments')
    op.drop_table('forum_comments')
    op.drop_index(op.f('ix_forum_topics_event_id'), table_name='forum_topics')
    op.drop_table('forum_topics')
