"""calibrated levels: a level read off a calibrated scale keeps its ability and calibration

``attempt_scores.theta`` / ``theta_se``: the ability (EAP) and its error on the bank's newest
Rasch calibration, ``calibration_id``: which calibration, when the competency's level was read
off that scale instead of percentage cuts (docs/psychometrics.md, "Levels with their error").

Revision ID: 0012_calibrated_levels
Revises: 0011_calibrations
Create Date: 2026-12-02 07:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_calibrated_levels'
down_revision = '0011_calibrations'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('attempt_scores', sa.Column('theta', sa.Float(), nullable=True))
    op.add_column('attempt_scores', sa.Column('theta_se', sa.Float(), nullable=True))
    fk_name = op.f('fk_attempt_scores_calibration_id_calibrations')
    if op.get_bind().dialect.name == 'sqlite':
        # As in 0008: a plain ADD COLUMN with its reference, no copy of every stored score.
        op.execute(
            f'ALTER TABLE attempt_scores ADD COLUMN calibration_id INTEGER '
            f'CONSTRAINT {fk_name} REFERENCES calibrations (id)'
        )
    else:
        op.add_column('attempt_scores', sa.Column('calibration_id', sa.Integer(), nullable=True))
        op.create_foreign_key(fk_name, 'attempt_scores', 'calibrations', ['calibration_id'], ['id'])


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # As in 0008: the column is in a foreign key, so the batch copies the table.
        with op.batch_alter_table('attempt_scores', schema=None, recreate='always') as batch_op:
            batch_op.drop_column('calibration_id')
    else:
        op.drop_constraint(op.f('fk_attempt_scores_calibration_id_calibrations'), 'attempt_scores', type_='foreignkey')
        op.drop_column('attempt_scores', 'calibration_id')
    op.drop_column('attempt_scores', 'theta_se')
    op.drop_column('attempt_scores', 'theta')
