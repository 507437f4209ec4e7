"""Pure scoring: keyed items, the per-item reference scorer, the vectorised engine and levels.

No Flask and no database here: callers pass ``KeyedItem`` values and responses, and get numbers
back. See ``engine`` for the response codes and ``docs/question-banks.md`` for the rules.
"""

from cbt_server.scoring.engine import (
    BLANK_CODE,
    INVALID_CODE,
    NOT_PRESENTED_CODE,
    SHORT_RIGHT,
    SHORT_WRONG,
    GroupScores,
    ItemTable,
    ScoreResult,
    aggregate,
    encode_responses,
    grade,
    max_scores,
    score_attempts,
)
from cbt_server.scoring.items import NOT_PRESENTED, KeyedItem, normalise_answer, score_item
from cbt_server.scoring.levels import (
    NOT_MEASURED,
    percent_of,
    percent_of_max,
    to_group_levels,
    to_levels,
    validate_cuts,
)

__all__ = [
    "BLANK_CODE",
    "INVALID_CODE",
    "NOT_MEASURED",
    "NOT_PRESENTED",
    "NOT_PRESENTED_CODE",
    "SHORT_RIGHT",
    "SHORT_WRONG",
    "GroupScores",
    "ItemTable",
    "KeyedItem",
    "ScoreResult",
    "aggregate",
    "encode_responses",
    "grade",
    "max_scores",
    "normalise_answer",
    "percent_of",
    "percent_of_max",
    "score_attempts",
    "score_item",
    "to_group_levels",
    "to_levels",
    "validate_cuts",
]
