"""funding rounds record when their books were closed (approved -> settled)

Revision ID: b71c2e9d4a10
Revises: 5e3a1c0d7f42
Create Date: 2026-12-02 07:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b71c2e9d4a10'
down_revision = '5e3a1c0d7f42'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('funding_round', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settled_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('funding_round', schema=None) as batch_op:
        batch_op.drop_column('settled_at')
