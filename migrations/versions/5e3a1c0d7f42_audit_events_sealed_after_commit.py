"""audit events are recorded unsealed and sealed into the chain right after their commit

seq, prev_hash and hash stay empty until the event is sealed (commonpot.audit); a partial
index finds the events waiting. Existing events are all sealed and keep their values.

Revision ID: 5e3a1c0d7f42
Revises: eb852b38c823
Create Date: 2026-12-02 00:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e3a1c0d7f42'
down_revision = 'eb852b38c823'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=True)
        batch_op.create_index(
            'ix_audit_event_unsealed',
            ['id'],
            unique=False,
            postgresql_where=sa.text('seq IS NULL'),
            sqlite_where=sa.text('seq IS NULL'),
        )


def downgrade():
    # Events still waiting to be sealed cannot be kept without a seq: seal them first
    # (`commonpot audit verify` does).
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_unsealed')
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
