"""calibrations: a bank's item calibrations (Rasch / 2PL) from chosen sessions, as versions

- ``calibrations``: one calibration of a bank code, numbered per bank (``version`` 1, 2, …):
  the model, the sessions whose graded attempts were read (JSON), persons and responses, the
  population's mean and SD with their SEs, the log-likelihood, iterations and whether EM
  converged, the earlier calibration its anchors came from, who ran it, when, and a note.
- ``calibration_items``: per item of the bank (by its id in the bank): responses, full marks,
  status (calibrated, anchor, too_few, too_few_for_2pl, all_correct, all_wrong, excluded),
  difficulty and slope with SEs, infit, outfit and the fit category.

New tables only: existing data is untouched. Downgrading drops them (stored calibrations are
lost; nothing else refers to them).

Revision ID: 0011_calibrations
Revises: 0010_level_bands
Create Date: 2026-12-04 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_calibrations'
down_revision = '0010_level_bands'
branch_labels = None
depends_on = None

STATUSES = ('calibrated', 'anchor', 'too_few', 'too_few_for_2pl', 'all_correct', 'all_wrong', 'excluded')
FIT_CATEGORIES = ('good', 'productive', 'overfit', 'noisy', 'degrading')


def _one_of(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade():
    op.create_table('calibrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_code', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=8), nullable=False),
    sa.Column('sessions', sa.JSON(), nullable=False),
    sa.Column('persons', sa.Integer(), nullable=False),
    sa.Column('responses', sa.Integer(), nullable=False),
    sa.Column('population_mean', sa.Float(), nullable=False),
    sa.Column('population_mean_se', sa.Float(), nullable=True),
    sa.Column('population_sd', sa.Float(), nullable=False),
    sa.Column('population_sd_se', sa.Float(), nullable=True),
    sa.Column('log_likelihood', sa.Float(), nullable=False),
    sa.Column('iterations', sa.Integer(), nullable=False),
    sa.Column('converged', sa.Boolean(), nullable=False),
    sa.Column('anchored_to_id', sa.Integer(), nullable=True),
    sa.Column('anchors', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint('version >= 1', name=op.f('ck_calibrations_version')),
    sa.CheckConstraint(_one_of('model', ('rasch', '2pl')), name=op.f('ck_calibrations_model')),
    sa.ForeignKeyConstraint(['anchored_to_id'], ['calibrations.id'], name=op.f('fk_calibrations_anchored_to_id_calibrations')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_calibrations_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibrations')),
    sa.UniqueConstraint('bank_code', 'version', name=op.f('uq_calibrations_bank_code_version'))
    )

    op.create_table('calibration_items',
    sa.Column('calibration_id', sa.Integer(), nullable=False),
    sa.Column('item_code', sa.String(length=64), nullable=False),
    sa.Column('item_type', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('correct', sa.Integer(), nullable=True),
    sa.Column('difficulty', sa.Float(), nullable=True),
    sa.Column('difficulty_se', sa.Float(), nullable=True),
    sa.Column('discrimination', sa.Float(), nullable=True),
    sa.Column('discrimination_se', sa.Float(), nullable=True),
    sa.Column('infit', sa.Float(), nullable=True),
    sa.Column('outfit', sa.Float(), nullable=True),
    sa.Column('fit_category', sa.String(length=16), nullable=True),
    sa.CheckConstraint(_one_of('status', STATUSES), name=op.f('ck_calibration_items_status')),
    sa.CheckConstraint(_one_of('fit_category', FIT_CATEGORIES), name=op.f('ck_calibration_items_fit_category')),
    sa.ForeignKeyConstraint(['calibration_id'], ['calibrations.id'], name=op.f('fk_calibration_items_calibration_id_calibrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('calibration_id', 'item_code', name=op.f('pk_calibration_items'))
    )


def downgrade():
    op.drop_table('calibration_items')
    op.drop_table('calibrations')
