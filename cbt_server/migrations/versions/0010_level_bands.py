"""level bands: each stored level with its band and whether the score measures anything

``attempt_scores.level_low`` / ``level_high``: the levels the score may stand for (a 68 % band);
``quality``: None when measured, else blank | nearly_blank | at_chance | below_chance (random
responding would reach the score: not measured, never a level that counts toward the JPM);
``chance_p``: the probability that random responding reaches the score (docs/psychometrics.md,
"Levels with their error"). Scores graded before this revision have none of these until a
regrade: the pages call them "not yet checked".

Revision ID: 0010_level_bands
Revises: 0009_item_time
Create Date: 2026-12-02 06:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_level_bands'
down_revision = '0009_item_time'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('attempt_scores', sa.Column('level_low', sa.Integer(), nullable=True))
    op.add_column('attempt_scores', sa.Column('level_high', sa.Integer(), nullable=True))
    op.add_column('attempt_scores', sa.Column('quality', sa.String(length=16), nullable=True))
    op.add_column('attempt_scores', sa.Column('chance_p', sa.Float(), nullable=True))


def downgrade():
    # Native DROP COLUMN (SQLite >= 3.35), as in 0006.
    for name in ('chance_p', 'quality', 'level_high', 'level_low'):
        op.drop_column('attempt_scores', name)
