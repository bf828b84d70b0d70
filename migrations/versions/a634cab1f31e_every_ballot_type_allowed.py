"""every ballot type allowed

Revision ID: a634cab1f31e
Revises: c8b14879766d
Create Date: 2026-11-22 01:55:48.449519

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a634cab1f31e'
down_revision = 'c8b14879766d'
branch_labels = None
depends_on = None


OLD = "ballot_type IN ('approval')"
NEW = "ballot_type IN ('approval', 'knapsack', 'cumulative', 'ranked')"


def _replace_check(condition: str) -> None:
    with op.batch_alter_table("funding_round", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_funding_round_ballot_type"), type_="check")
        batch_op.create_check_constraint(op.f("ck_funding_round_ballot_type"), condition)


def upgrade():
    # The previous revision added the ballot settings but left the enum's CHECK allowing
    # only approval ballots.
    _replace_check(NEW)


def downgrade():
    op.execute("UPDATE funding_round SET ballot_type = 'approval'")
    _replace_check(OLD)
