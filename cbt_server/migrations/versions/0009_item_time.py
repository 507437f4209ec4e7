"""item time: time on screen per item; the event index by kind

- ``attempts.position_since``: when the page arrived at its current item (server clock), None
  while the clock stands; ``responses.time_on_screen_ms``, ``visits``, ``save_count`` and
  ``first_answered_at``: the time per item and the history of its answer in counts
  (docs/delivery.md, "Time on each item"). Existing rows get 0 and NULL: time was not recorded
  before this revision.

``attempt_events`` was indexed on ``attempt_id`` only, so counting a seat's integrity events (and
finding the ones newer than the monitor's last refresh) read every row of the attempt, most of
them heartbeats. The index on (attempt_id, kind, at) replaces it: it serves the same lookups by
attempt, and the monitor's counts and its "changed since" test come from the index alone
(docs/benchmarks.md, `bench_monitor.py`). One index before and after: an event's insert costs
the same.

Revision ID: 0009_item_time
Revises: 0008_cut_scores
Create Date: 2026-12-02 06:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_item_time'
down_revision = '0008_cut_scores'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('attempts', sa.Column('position_since', sa.DateTime(), nullable=True))
    for name in ('time_on_screen_ms', 'visits', 'save_count'):
        op.add_column('responses', sa.Column(name, sa.Integer(), server_default='0', nullable=False))
    op.add_column('responses', sa.Column('first_answered_at', sa.DateTime(), nullable=True))
    op.add_column('responses', sa.Column('first_answer_ms', sa.Integer(), nullable=True))
    op.create_index('ix_attempt_events_attempt_kind_at', 'attempt_events', ['attempt_id', 'kind', 'at'])
    op.drop_index('ix_attempt_events_attempt_id', table_name='attempt_events')


def downgrade():
    # Native DROP COLUMN (SQLite >= 3.35): a batch copy of a table that others reference would
    # cascade their rows away with the old table.
    for name in ('first_answer_ms', 'first_answered_at', 'save_count', 'visits', 'time_on_screen_ms'):
        op.drop_column('responses', name)
    op.drop_column('attempts', 'position_since')
    op.create_index('ix_attempt_events_attempt_id', 'attempt_events', ['attempt_id'])
    op.drop_index('ix_attempt_events_attempt_kind_at', table_name='attempt_events')
