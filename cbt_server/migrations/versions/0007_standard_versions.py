"""standard versions: a position's competency standard is versioned

- ``standard_versions``: one row per version of a position's standard (the required level per
  competency), numbered 1, 2, … per position, with when, who (an admin in the browser; none for
  an import or this migration), the source and the reason. ``position_requirements`` keeps the
  newest version, so everything that reads the current standard is unchanged.
- Existing data: every position with requirements gets version 1 holding them, created now;
  profiles of results measured before then use the oldest version (docs/profiling.md).
Downgrading drops the table (the history of standards is lost; the current standard stays).

Revision ID: 0007_standard_versions
Revises: 0006_staff_accounts
Create Date: 2026-12-02 02:45:00

"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_standard_versions'
down_revision = '0006_staff_accounts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('standard_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('position_code', sa.String(length=32), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('levels', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_standard_versions_created_by_id_users')),
    sa.ForeignKeyConstraint(['position_code'], ['positions.code'], name=op.f('fk_standard_versions_position_code_positions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standard_versions')),
    sa.UniqueConstraint('position_code', 'number', name=op.f('uq_standard_versions_position_code_number'))
    )
    with op.batch_alter_table('standard_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standard_versions_position_code'), ['position_code'], unique=False)

    requirements = sa.table(
        'position_requirements',
        sa.column('position_code', sa.String),
        sa.column('competency_code', sa.String),
        sa.column('level', sa.Integer),
    )
    rows = op.get_bind().execute(
        sa.select(requirements.c.position_code, requirements.c.competency_code, requirements.c.level)
    ).all()
    standards: dict[str, dict[str, int]] = {}
    for position, competency, level in rows:
        standards.setdefault(position, {})[competency] = level
    if standards:
        versions = sa.table(
            'standard_versions',
            sa.column('position_code', sa.String),
            sa.column('number', sa.Integer),
            sa.column('levels', sa.JSON),
            sa.column('created_at', sa.DateTime),
            sa.column('source', sa.String),
        )
        # Naive UTC, as the application stores times.
        at = datetime.now(UTC).replace(tzinfo=None)
        op.bulk_insert(versions, [
            {'position_code': code, 'number': 1, 'levels': levels, 'created_at': at, 'source': 'migration'}
            for code, levels in sorted(standards.items())
        ])


def downgrade():
    with op.batch_alter_table('standard_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standard_versions_position_code'))
    op.drop_table('standard_versions')
