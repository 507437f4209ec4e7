"""Vectorised scoring of many attempts at once.

The pipeline is ``ItemTable.build(items)`` → ``encode_responses`` → ``grade`` / ``max_scores``
→ ``aggregate`` → ``percent_of_max`` → ``to_levels``. Responses are first encoded as one int64
per attempt × item (the only step that loops in Python, and the only one that compares text):

=====  ======================================================================================
code   meaning
=====  ======================================================================================
 -1    the item was not presented in this attempt: score and maximum are NaN, counted nowhere
  0    blank: scores 0, its maximum counts
 > 0   option items: the bitmask of the chosen canonical indices (bit i = option i);
       likert: the point clicked, 1..k (before the reverse key);
       short: 1 = the normalised answer is accepted, 2 = it is not
 -2    invalid (``INVALID_CODE``): what ``encode_responses`` writes for an answer that is
       impossible for the item (an index outside its options, a likert point outside 1..k)
=====  ======================================================================================

``grade`` scores every code that is not a valid answer to its item as 0 — a negative code other
than -1, a bitmask with a bit outside the item's options, more than one bit on a single /
true-false / weighted item, a likert point outside 1..k, a short code other than 1 or 2 — and
still counts the item's maximum, exactly like a blank. It does not raise, so one corrupt row
cannot stop a whole session from being scored; ``encode_responses`` never produces such codes
except ``INVALID_CODE``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cbt_server.scoring.items import (
    ITEM_TYPES,
    MAX_OPTIONS,
    NOT_PRESENTED,
    OPTION_TYPES,
    KeyedItem,
    likert_point,
    normalise_answer,
    option_indices,
    short_text,
)
from cbt_server.scoring.levels import percent_of_max, to_levels

__all__ = [
    "BLANK_CODE",
    "INVALID_CODE",
    "NOT_PRESENTED",
    "NOT_PRESENTED_CODE",
    "SHORT_RIGHT",
    "SHORT_WRONG",
    "TYPE_CODES",
    "GroupScores",
    "ItemTable",
    "KeyedItem",
    "ScoreResult",
    "aggregate",
    "encode_responses",
    "grade",
    "max_scores",
    "percent_of_max",
    "score_attempts",
    "to_levels",
]

NOT_PRESENTED_CODE = -1
BLANK_CODE = 0
INVALID_CODE = -2
SHORT_RIGHT, SHORT_WRONG = 1, 2
#: item type → the small integer stored in ``ItemTable.type_code``
TYPE_CODES = {name: code for code, name in enumerate(ITEM_TYPES)}
SINGLE, MULTIPLE, TRUEFALSE, WEIGHTED, LIKERT, SHORT = (TYPE_CODES[t] for t in ITEM_TYPES)


@dataclass(frozen=True, eq=False)
class ItemTable:
    """The scoring fields of a list of items as parallel arrays (one row per item)."""

    type_code: np.ndarray  # int8, TYPE_CODES
    points: np.ndarray  # float64
    key_mask: np.ndarray  # int64, bit i set when option i is keyed
    n_keyed: np.ndarray  # int64, K (1 where there is no key, so it can divide)
    valid_mask: np.ndarray  # int64, bits of the options that exist (0 for likert / short)
    weights: np.ndarray  # float64 items × MAX_OPTIONS, NaN-padded (all NaN unless weighted)
    reverse: np.ndarray  # bool, reverse-keyed likert
    likert_k: np.ndarray  # int64, k for likert, 0 otherwise
    max_score: np.ndarray  # float64
    #: (type code, column indices) for every type present, so ``grade`` runs one block per type
    blocks: tuple[tuple[int, np.ndarray], ...]

    def __post_init__(self) -> None:
        # a table is shared by every grading call that uses it: make it as immutable as it looks
        for value in vars(self).values():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
        for _code, columns in self.blocks:
            columns.setflags(write=False)

    @property
    def n_items(self) -> int:
        return int(self.type_code.shape[0])

    @classmethod
    def build(cls, items: Sequence[KeyedItem]) -> ItemTable:
        """Arrays for ``items`` (already validated by ``KeyedItem``)."""
        n = len(items)
        type_code = np.array([TYPE_CODES[item.type] for item in items], dtype=np.int8)
        weights = np.full((n, MAX_OPTIONS), np.nan)
        for row, item in enumerate(items):
            if item.type == "weighted":
                weights[row, : item.n_options] = item.weights
        key_mask = np.array(
            [sum(1 << i for i in item.key) if _has_key(item) else 0 for item in items],
            dtype=np.int64,
        )
        n_keyed = np.array(
            [max(len(item.key), 1) if _has_key(item) else 1 for item in items], dtype=np.int64
        )
        blocks = tuple(
            (code, np.flatnonzero(type_code == code))
            for code in range(len(ITEM_TYPES))
            if np.any(type_code == code)
        )
        return cls(
            type_code=type_code,
            points=np.array([item.points for item in items], dtype=np.float64),
            key_mask=key_mask,
            n_keyed=n_keyed,
            valid_mask=np.array(
                [(1 << item.n_options) - 1 if _is_option_item(item) else 0 for item in items],
                dtype=np.int64,
            ),
            weights=weights,
            reverse=np.array(
                [item.type == "likert" and item.reverse for item in items], dtype=bool
            ),
            likert_k=np.array(
                [item.likert_points if item.type == "likert" else 0 for item in items],
                dtype=np.int64,
            ),
            max_score=np.array([item.max_score for item in items], dtype=np.float64),
            blocks=blocks,
        )


def _is_option_item(item: KeyedItem) -> bool:
    return item.type in OPTION_TYPES


def _has_key(item: KeyedItem) -> bool:
    return item.type in OPTION_TYPES and item.type != "weighted"


# --- encoding ---------------------------------------------------------------------------------


def encode_responses(items: Sequence[KeyedItem], responses_rows: Any) -> np.ndarray:
    """Encode responses (one row per attempt, one entry per item) as int64 codes.

    An entry is ``NOT_PRESENTED``, ``None`` (blank) or the answer in the engine's terms (see
    ``score_item``). Short answers are normalised and matched here. An answer of the wrong Python
    shape raises ``TypeError`` naming the row and item; a row of the wrong length, ``ValueError``.
    """
    encoders = [_encoder(position, item) for position, item in enumerate(items)]
    n_items = len(items)
    rows = []
    for row_number, row in enumerate(responses_rows):
        if len(row) != n_items:
            raise ValueError(
                f"attempt row {row_number} has {len(row)} responses for {n_items} items"
            )
        try:
            rows.append(
                [
                    NOT_PRESENTED_CODE
                    if response is NOT_PRESENTED
                    else BLANK_CODE
                    if response is None
                    else encode(response)
                    for encode, response in zip(encoders, row, strict=True)
                ]
            )
        except TypeError as error:
            raise TypeError(f"attempt row {row_number}: {error}") from None
    return np.array(rows, dtype=np.int64).reshape(len(rows), n_items)


def _encoder(position: int, item: KeyedItem) -> Callable[[Any], int]:
    where = f"item {position} ({item.type})"

    def checked(parse: Callable[[Any], Any], response: Any) -> Any:
        try:
            return parse(response)
        except TypeError as error:
            raise TypeError(f"{where}: {error}") from None

    if _is_option_item(item):
        n_options = item.n_options

        def encode_options(response: Any) -> int:
            chosen = checked(option_indices, response)
            if not all(0 <= index < n_options for index in chosen):
                return INVALID_CODE
            return sum(1 << index for index in chosen)

        return encode_options
    if item.type == "likert":
        k = item.likert_points or 0

        def encode_likert(response: Any) -> int:
            x = checked(likert_point, response)
            return x if 1 <= x <= k else INVALID_CODE

        return encode_likert
    accepted = frozenset(normalise_answer(answer) for answer in item.accept)

    def encode_short(response: Any) -> int:
        given = normalise_answer(checked(short_text, response))
        if not given:
            return BLANK_CODE
        return SHORT_RIGHT if given in accepted else SHORT_WRONG

    return encode_short


# --- grading ----------------------------------------------------------------------------------


def grade(table: ItemTable, codes: np.ndarray) -> np.ndarray:
    """Scores, attempts × items; NaN where not presented, 0 for blank and invalid codes."""
    codes = _checked_codes(table, codes)
    scores = np.zeros(codes.shape, dtype=np.float64)
    for type_code, columns in table.blocks:
        scores[:, columns] = _GRADERS[type_code](table, columns, codes[:, columns])
    scores[codes == NOT_PRESENTED_CODE] = np.nan
    return scores


def max_scores(table: ItemTable, codes: np.ndarray) -> np.ndarray:
    """Each item's maximum, attempts × items; NaN where not presented."""
    codes = _checked_codes(table, codes)
    return np.where(codes == NOT_PRESENTED_CODE, np.nan, table.max_score[np.newaxis, :])


def _checked_codes(table: ItemTable, codes: np.ndarray) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != table.n_items:
        raise ValueError(f"codes must be attempts × {table.n_items} items, got {codes.shape}")
    if codes.dtype.kind not in "iu":
        raise ValueError(f"codes must be integers, got {codes.dtype}")
    return codes.astype(np.int64, copy=False)


def _grade_one_key(table: ItemTable, columns: np.ndarray, block: np.ndarray) -> np.ndarray:
    # single / true-false: exactly the keyed bit; any other code (blank, invalid) earns nothing
    return np.where(block == table.key_mask[columns], table.points[columns], 0.0)


def _grade_multiple(table: ItemTable, columns: np.ndarray, block: np.ndarray) -> np.ndarray:
    key = table.key_mask[columns]
    valid = (block > 0) & ((block & ~table.valid_mask[columns]) == 0)
    chosen = np.where(valid, block, 0)
    right = popcount(chosen & key)
    wrong = popcount(chosen & ~key)
    return table.points[columns] * np.maximum(right - wrong, 0) / table.n_keyed[columns]


def _grade_weighted(table: ItemTable, columns: np.ndarray, block: np.ndarray) -> np.ndarray:
    one_bit = (block > 0) & ((block & (block - 1)) == 0)
    valid = one_bit & ((block & ~table.valid_mask[columns]) == 0)
    index = popcount(np.where(valid, block, 1) - 1)  # the chosen bit's position
    weight = np.take_along_axis(table.weights[columns].T, index, axis=0)
    return np.where(valid, weight, 0.0)


def _grade_likert(table: ItemTable, columns: np.ndarray, block: np.ndarray) -> np.ndarray:
    k = table.likert_k[columns]
    valid = (block >= 1) & (block <= k)
    point = np.where(table.reverse[columns], 1 + k - block, block)
    return np.where(valid, point, 0).astype(np.float64)


def _grade_short(table: ItemTable, columns: np.ndarray, block: np.ndarray) -> np.ndarray:
    return np.where(block == SHORT_RIGHT, table.points[columns], 0.0)


_GRADERS = {
    SINGLE: _grade_one_key,
    TRUEFALSE: _grade_one_key,
    MULTIPLE: _grade_multiple,
    WEIGHTED: _grade_weighted,
    LIKERT: _grade_likert,
    SHORT: _grade_short,
}


def popcount(values: np.ndarray) -> np.ndarray:
    """Set bits of each non-negative int64 (``np.bitwise_count``, or a SWAR fallback)."""
    if _bitwise_count is not None:
        return _bitwise_count(values).astype(np.int64)
    return popcount_swar(values)


def popcount_swar(values: np.ndarray) -> np.ndarray:
    """Set bits of each non-negative int64 without ``np.bitwise_count`` (numpy < 2.0)."""
    v = np.asarray(values).astype(np.uint64)
    v = v - ((v >> np.uint64(1)) & np.uint64(0x5555555555555555))
    v = (v & np.uint64(0x3333333333333333)) + ((v >> np.uint64(2)) & np.uint64(0x3333333333333333))
    v = (v + (v >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return ((v * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.int64)


_bitwise_count = getattr(np, "bitwise_count", None)


# --- aggregation ------------------------------------------------------------------------------


def aggregate(
    scores: np.ndarray, maxes: np.ndarray, group_index: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sum scores and maxima per group: (sums, max_sums), each attempts × groups.

    ``group_index[i]`` is item i's group, 0..n_groups-1, or -1 for an item in no group. NaN
    entries (items not presented) add to neither sum; a group with nothing presented has sum 0
    and maximum 0, which ``percent_of_max`` turns into NaN (not measured).
    """
    scores, maxes = np.asarray(scores, dtype=np.float64), np.asarray(maxes, dtype=np.float64)
    group_index = np.asarray(group_index)
    if scores.ndim != 2 or scores.shape != maxes.shape:
        raise ValueError(f"scores {scores.shape} and maxes {maxes.shape} must match, 2-D")
    if group_index.shape != (scores.shape[1],) or group_index.dtype.kind not in "iu":
        raise ValueError(f"group_index must be {scores.shape[1]} integers, one per item")
    if group_index.size and (group_index.min() < -1 or group_index.max() >= n_groups):
        raise ValueError(f"group_index values must be -1..{n_groups - 1}")
    member = group_index >= 0
    one_hot = np.zeros((scores.shape[1], n_groups), dtype=np.float64)
    one_hot[np.flatnonzero(member), group_index[member]] = 1.0
    sums = np.nan_to_num(scores, nan=0.0) @ one_hot
    max_sums = np.nan_to_num(maxes, nan=0.0) @ one_hot
    return sums, max_sums


@dataclass(frozen=True, eq=False)
class GroupScores:
    """Totals of one grouping (sections, competencies, integrity scales), attempts × groups."""

    sums: np.ndarray
    max_sums: np.ndarray

    @property
    def percent(self) -> np.ndarray:
        return percent_of_max(self.sums, self.max_sums)


@dataclass(frozen=True, eq=False)
class ScoreResult:
    """Everything ``score_attempts`` computes."""

    codes: np.ndarray
    scores: np.ndarray
    maxes: np.ndarray
    groups: dict[str, GroupScores]

    @property
    def total(self) -> np.ndarray:
        return np.nansum(self.scores, axis=1)

    @property
    def total_max(self) -> np.ndarray:
        return np.nansum(self.maxes, axis=1)


def score_attempts(
    items: Sequence[KeyedItem],
    responses_rows: Any,
    group_maps: Mapping[str, tuple[np.ndarray, int]],
) -> ScoreResult:
    """Encode, grade and aggregate in one call; ``group_maps`` names (group_index, n_groups)."""
    table = ItemTable.build(items)
    codes = encode_responses(items, responses_rows)
    scores, maxes = grade(table, codes), max_scores(table, codes)
    groups = {
        name: GroupScores(*aggregate(scores, maxes, index, n))
        for name, (index, n) in group_maps.items()
    }
    return ScoreResult(codes=codes, scores=scores, maxes=maxes, groups=groups)
