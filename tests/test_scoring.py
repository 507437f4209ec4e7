"""The scoring engine: every item type, levels, aggregation, batch = reference on random data."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from cbt_server.scoring import (
    INVALID_CODE,
    NOT_PRESENTED,
    NOT_PRESENTED_CODE,
    SHORT_RIGHT,
    SHORT_WRONG,
    ItemTable,
    KeyedItem,
    aggregate,
    encode_responses,
    grade,
    max_scores,
    normalise_answer,
    percent_of,
    percent_of_max,
    score_attempts,
    score_item,
    to_group_levels,
    to_levels,
    validate_cuts,
)
from cbt_server.scoring.engine import popcount, popcount_swar

A, B, C, D, E = 0, 1, 2, 3, 4
BENAR, SALAH = 0, 1

SINGLE = KeyedItem("single", points=2.0, n_options=4, key=(B,))
MULTIPLE = KeyedItem("multiple", n_options=4, key=(A, C))
TRUE_ITEM = KeyedItem("truefalse", n_options=2, key=(BENAR,))
FALSE_ITEM = KeyedItem("truefalse", points=3.0, n_options=2, key=(SALAH,))
WEIGHTED = KeyedItem("weighted", n_options=4, weights=(2, 5, 3, 1))
LIKERT5 = KeyedItem("likert", likert_points=5)
LIKERT5_REV = KeyedItem("likert", likert_points=5, reverse=True)
LIKERT4 = KeyedItem("likert", likert_points=4)
LIKERT4_REV = KeyedItem("likert", likert_points=4, reverse=True)
SHORT = KeyedItem("short", points=2.0, accept=("DKI Jakarta", "Jakarta"))
KTSP = KeyedItem("short", accept=("KTSP",))


def batch_score(item: KeyedItem, response: Any) -> float:
    """The engine's score of one response (encode → grade)."""
    codes = encode_responses([item], [[response]])
    return float(grade(ItemTable.build([item]), codes)[0, 0])


def both(item: KeyedItem, response: Any) -> tuple[float, float]:
    return score_item(item, response), batch_score(item, response)


# --- items ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (SINGLE, 2.0),
        (MULTIPLE, 1.0),
        (FALSE_ITEM, 3.0),
        (WEIGHTED, 5.0),
        (LIKERT5_REV, 5.0),
        (LIKERT4, 4.0),
        (SHORT, 2.0),
        (KeyedItem("weighted", points=9.0, n_options=2, weights=(1.5, 0.5)), 1.5),
    ],
)
def test_max_score(item: KeyedItem, expected: float) -> None:
    assert item.max_score == expected
    assert ItemTable.build([item]).max_score[0] == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"type": "essay"},
        {"type": "single", "n_options": 4, "key": (A, B)},
        {"type": "single", "n_options": 4, "key": ()},
        {"type": "single", "n_options": 4, "key": (4,)},
        {"type": "single", "n_options": 1, "key": (0,)},
        {"type": "single", "n_options": 17, "key": (0,)},
        {"type": "single", "points": -1.0, "n_options": 4, "key": (A,)},
        {"type": "multiple", "n_options": 4, "key": ()},
        {"type": "multiple", "n_options": 4, "key": (A, A)},
        {"type": "truefalse", "n_options": 3, "key": (0,)},
        {"type": "weighted", "n_options": 4, "weights": (1, 2, 3)},
        {"type": "weighted", "n_options": 2, "weights": (1, -2)},
        {"type": "weighted", "n_options": 2, "weights": None},
        {"type": "likert", "likert_points": 1},
        {"type": "likert", "likert_points": 12},
        {"type": "likert"},
        {"type": "short", "accept": ()},
        {"type": "short", "accept": ("   ",)},
    ],
)
def test_invalid_keyed_items_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        KeyedItem(**kwargs)


# --- every type: right, wrong, partial, blank --------------------------------------------------


@pytest.mark.parametrize(
    ("item", "response", "expected"),
    [
        (SINGLE, frozenset({B}), 2.0),
        (SINGLE, (A,), 0.0),
        (SINGLE, (D,), 0.0),
        (SINGLE, None, 0.0),
        (SINGLE, (), 0.0),
        (TRUE_ITEM, (BENAR,), 1.0),
        (TRUE_ITEM, (SALAH,), 0.0),
        (TRUE_ITEM, None, 0.0),
        (FALSE_ITEM, (SALAH,), 3.0),
        (FALSE_ITEM, (BENAR,), 0.0),
        (WEIGHTED, (A,), 2.0),
        (WEIGHTED, (B,), 5.0),
        (WEIGHTED, (C,), 3.0),
        (WEIGHTED, (D,), 1.0),
        (WEIGHTED, None, 0.0),
        (KeyedItem("weighted", n_options=3, weights=(0, 4, 2)), (A,), 0.0),
    ],
)
def test_one_choice_items(item: KeyedItem, response: Any, expected: float) -> None:
    assert both(item, response) == (expected, expected)


@pytest.mark.parametrize(
    ("response", "expected"),
    [  # the documented example, key [A, C], points 1
        ({A, C}, 1.0),
        ({A}, 0.5),
        ({C}, 0.5),
        ({A, B}, 0.0),
        ({A, B, C}, 0.5),
        ({A, B, C, D}, 0.0),
        ({B, D}, 0.0),
        ({B}, 0.0),
        (set(), 0.0),
        (None, 0.0),
    ],
)
def test_multiple_partial_credit(response: Any, expected: float) -> None:
    response = frozenset(response) if response is not None else None
    assert both(MULTIPLE, response) == (expected, expected)


@pytest.mark.parametrize(
    ("response", "expected"),
    [({A}, 1.0), ({A, B}, 2.0), ({A, B, C}, 3.0), ({A, B, D}, 1.0), ({A, D}, 0.0), ({D, E}, 0.0)],
)
def test_multiple_partial_credit_with_points(response: set[int], expected: float) -> None:
    item = KeyedItem("multiple", points=3.0, n_options=5, key=(A, B, C))
    assert both(item, tuple(sorted(response))) == (expected, expected)


@pytest.mark.parametrize(
    ("item", "expected_by_point"),
    [
        (LIKERT5, {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0, 5: 5.0}),
        (LIKERT5_REV, {1: 5.0, 2: 4.0, 3: 3.0, 4: 2.0, 5: 1.0}),
        (LIKERT4, {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0}),
        (LIKERT4_REV, {1: 4.0, 2: 3.0, 3: 2.0, 4: 1.0}),
    ],
)
def test_likert_every_point(item: KeyedItem, expected_by_point: dict[int, float]) -> None:
    for point, expected in expected_by_point.items():
        assert both(item, point) == (expected, expected), point
    assert both(item, None) == (0.0, 0.0)


def test_likert_batch_of_every_point_at_once() -> None:
    items = [LIKERT5, LIKERT5_REV, LIKERT4, LIKERT4_REV]
    rows = [[x, x, min(x, 4), min(x, 4)] for x in range(1, 6)]
    scores = grade(ItemTable.build(items), encode_responses(items, rows))
    np.testing.assert_array_equal(
        scores,
        [[1, 5, 1, 4], [2, 4, 2, 3], [3, 3, 3, 2], [4, 2, 4, 1], [5, 1, 4, 1]],
    )


# --- short answers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("  DKI   jakarta ", "dki jakarta"),
        ("DKI\tJakarta\n", "dki jakarta"),
        ("DKI\u00a0\u2003Jakarta", "dki jakarta"),
        ("Straße", "strasse"),
        ("D.K.I. Jakarta!", "d.k.i. jakarta!"),
        ("   ", ""),
    ],
)
def test_normalise_answer(text: str, normalised: str) -> None:
    assert normalise_answer(text) == normalised


@pytest.mark.parametrize(
    ("answer", "expected", "code"),
    [
        ("DKI Jakarta", 2.0, SHORT_RIGHT),
        ("  dki   JAKARTA ", 2.0, SHORT_RIGHT),
        ("jakarta", 2.0, SHORT_RIGHT),
        ("\tJAKARTA\n", 2.0, SHORT_RIGHT),
        ("DKIJakarta", 0.0, SHORT_WRONG),
        ("D.K.I. Jakarta", 0.0, SHORT_WRONG),
        ("Jakarta.", 0.0, SHORT_WRONG),
        ("DKI-Jakarta", 0.0, SHORT_WRONG),
        ("Bandung", 0.0, SHORT_WRONG),
        ("", 0.0, 0),
        ("    ", 0.0, 0),
        (None, 0.0, 0),
    ],
)
def test_short_answer(answer: str | None, expected: float, code: int) -> None:
    assert both(SHORT, answer) == (expected, expected)
    assert encode_responses([SHORT], [[answer]])[0, 0] == code


def test_short_answer_accepted_forms_are_normalised_too() -> None:
    item = KeyedItem("short", accept=("  KTSP ", "Kurikulum Tingkat  Satuan Pendidikan"))
    assert both(item, "ktsp") == (1.0, 1.0)
    assert both(item, "kurikulum tingkat satuan pendidikan") == (1.0, 1.0)
    assert both(KTSP, "K.T.S.P") == (0.0, 0.0)


# --- invalid answers and codes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "response"),
    [
        (SINGLE, (B, C)),  # two options on a one-choice item
        (SINGLE, (4,)),  # outside the options
        (SINGLE, (-1,)),
        (TRUE_ITEM, (BENAR, SALAH)),
        (TRUE_ITEM, (2,)),
        (WEIGHTED, (A, B)),
        (WEIGHTED, (7,)),
        (MULTIPLE, (A, C, 4)),  # every key chosen, but also an option that does not exist
        (LIKERT5, 0),
        (LIKERT5, 6),
        (LIKERT5_REV, -1),
        (LIKERT4, 5),
    ],
)
def test_impossible_answers_score_zero_with_their_maximum(item: KeyedItem, response: Any) -> None:
    assert both(item, response) == (0.0, 0.0)
    codes = encode_responses([item], [[response]])
    assert max_scores(ItemTable.build([item]), codes)[0, 0] == item.max_score


def test_out_of_range_answers_encode_as_invalid() -> None:
    items = [SINGLE, LIKERT5, LIKERT5]
    codes = encode_responses(items, [[(9,), 0, 6]])
    assert codes.tolist() == [[INVALID_CODE, INVALID_CODE, INVALID_CODE]]


@pytest.mark.parametrize(
    ("item", "code"),
    [
        (SINGLE, 0b0110),  # two bits
        (SINGLE, 0b10010),  # the key and a bit beyond the 4 options
        (SINGLE, 1 << 20),
        (SINGLE, -7),
        (TRUE_ITEM, 0b11),
        (TRUE_ITEM, 0b100),
        (FALSE_ITEM, 0b110),
        (WEIGHTED, 0b0011),  # two options (weights 2 and 5)
        (WEIGHTED, 0b10000),  # option 4 of 4: a NaN weight column if it were read
        (WEIGHTED, INVALID_CODE),
        (MULTIPLE, 0b10101),  # the whole key plus a bit outside the options
        (MULTIPLE, -2),
        (LIKERT5, 6),
        (LIKERT5_REV, 6),  # would be (1 + 5) - 6 = 0 — still 0, but by the range check
        (LIKERT5_REV, 7),  # would be -1 if the range were not checked
        (LIKERT4_REV, 5),
        (LIKERT4, -3),
        (SHORT, 3),
        (SHORT, -2),
    ],
)
def test_invalid_codes_score_zero(item: KeyedItem, code: int) -> None:
    table = ItemTable.build([item])
    codes = np.array([[code]], dtype=np.int64)
    assert grade(table, codes)[0, 0] == 0.0
    assert max_scores(table, codes)[0, 0] == item.max_score


def test_wrong_python_shapes_raise_type_error() -> None:
    for item, response in [
        (SINGLE, "B"),
        (SINGLE, 1),
        (SINGLE, (True,)),
        (LIKERT5, 3.0),
        (LIKERT5, True),
        (LIKERT5, (3,)),
        (SHORT, ("Jakarta",)),
    ]:
        with pytest.raises(TypeError):
            score_item(item, response)
        with pytest.raises(TypeError, match=r"attempt row 0: item 1"):
            encode_responses([KTSP, item], [["KTSP", response]])


def test_encode_refuses_rows_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="attempt row 1 has 1 responses for 2 items"):
        encode_responses([SINGLE, KTSP], [[None, None], [None]])


def test_grade_refuses_codes_of_the_wrong_shape() -> None:
    table = ItemTable.build([SINGLE, KTSP])
    with pytest.raises(ValueError):
        grade(table, np.zeros((3, 3), dtype=np.int64))
    with pytest.raises(ValueError):
        grade(table, np.zeros((3, 2), dtype=np.float64))


def test_not_presented() -> None:
    assert math.isnan(score_item(SINGLE, NOT_PRESENTED))
    items = [SINGLE, LIKERT5, SHORT]
    codes = encode_responses(items, [[NOT_PRESENTED, 4, NOT_PRESENTED]])
    assert codes.tolist() == [[NOT_PRESENTED_CODE, 4, NOT_PRESENTED_CODE]]
    table = ItemTable.build(items)
    np.testing.assert_array_equal(grade(table, codes), [[np.nan, 4.0, np.nan]])
    np.testing.assert_array_equal(max_scores(table, codes), [[np.nan, 5.0, np.nan]])


# --- levels -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cuts", "percent", "level"),
    [
        ([40, 55, 70, 85], 0.0, 1),
        ([40, 55, 70, 85], 39.999, 1),
        ([40, 55, 70, 85], 40.0, 2),
        ([40, 55, 70, 85], 54.999, 2),
        ([40, 55, 70, 85], 55.0, 3),
        ([40, 55, 70, 85], 69.999, 3),
        ([40, 55, 70, 85], 70.0, 4),
        ([40, 55, 70, 85], 84.999, 4),
        ([40, 55, 70, 85], 85.0, 5),
        ([40, 55, 70, 85], 100.0, 5),
        ([45, 60, 72, 88], 44.9999999, 1),
        ([45, 60, 72, 88], 45.0, 2),
        ([45, 60, 72, 88], 59.9999999, 2),
        ([45, 60, 72, 88], 60.0, 3),
        ([45, 60, 72, 88], 71.9999999, 3),
        ([45, 60, 72, 88], 72.0, 4),
        ([45, 60, 72, 88], 87.9999999, 4),
        ([45, 60, 72, 88], 88.0, 5),
        ([0, 25, 50, 100], 0.0, 2),
        ([0, 25, 50, 100], 99.99, 4),
        ([0, 25, 50, 100], 100.0, 5),
        ([40, 55, 70, 85], np.nan, 0),
    ],
)
def test_to_levels_at_every_boundary(cuts: list[float], percent: float, level: int) -> None:
    assert to_levels(np.array([percent]), cuts).tolist() == [level]
    assert to_group_levels(np.array([[percent]]), [cuts]).tolist() == [[level]]


def test_to_levels_keeps_the_shape() -> None:
    percent = np.array([[10.0, 40.0], [np.nan, 90.0]])
    assert to_levels(percent, [40, 55, 70, 85]).tolist() == [[1, 2], [0, 5]]


def test_group_levels_use_each_groups_cuts() -> None:
    percent = np.array([[50.0, 50.0, np.nan], [72.0, 72.0, 0.0]])
    cuts = [[40, 55, 70, 85], [45, 50, 72, 88], [10, 20, 30, 40]]
    assert to_group_levels(percent, cuts).tolist() == [[2, 3, 0], [4, 4, 1]]


@pytest.mark.parametrize(
    "cuts",
    [
        [40, 55, 70],
        [40, 55, 70, 85, 95],
        [40, 55, 55, 85],
        [55, 40, 70, 85],
        [-1, 55, 70, 85],
        [40, 55, 70, 100.5],
        [40, float("nan"), 70, 85],
    ],
)
def test_cut_points_are_validated(cuts: list[float]) -> None:
    with pytest.raises(ValueError):
        validate_cuts(cuts)
    with pytest.raises(ValueError):
        to_levels(np.array([50.0]), cuts)


def test_percent_of_max_is_exact_on_cuts_and_nan_without_maximum() -> None:
    assert 100 * 0.29 / 1.0 < 29  # the float noise percent_of_max rounds away
    percent = percent_of_max(np.array([[0.29, 7.0, 0.0]]), np.array([[1.0, 10.0, 0.0]]))
    assert percent[0, 0] == 29.0
    assert percent[0, 1] == 70.0
    assert math.isnan(percent[0, 2])
    assert to_levels(percent, [29, 50, 70, 90]).tolist() == [[2, 4, 0]]


def test_one_attempt_and_the_engine_round_a_percentage_alike() -> None:
    """Grading one attempt (percent_of) and the vectorised engine (percent_of_max) put the same
    score on the same side of every cut: 2 of 3 at a cut of 66.66667 is level 4 in both (it was
    4 for one attempt and 3 in bulk when the two rounded to 4 and 9 decimals)."""
    cuts = [40, 55, 66.66667, 85]
    bulk = percent_of_max(np.array([[2.0]]), np.array([[3.0]]))
    single = percent_of(2.0, 3.0)
    assert single == bulk[0, 0] == 66.6667
    assert to_levels(np.array([single]), cuts).tolist() == [4]
    assert to_levels(bulk, cuts).tolist() == [[4]]
    scores = np.array([[k / 2 for k in range(0, 61)]])
    for maximum in (3.0, 7.0, 9.0, 11.0, 12.5, 30.0):
        maxima = np.full_like(scores, maximum)
        engine = percent_of_max(scores, maxima)[0]
        assert [percent_of(float(k), maximum) for k in scores[0]] == engine.tolist()
    assert percent_of(0.0, 0.0) is None


# --- aggregation --------------------------------------------------------------------------------


def test_aggregate_with_items_not_presented() -> None:
    items = [SINGLE, MULTIPLE, WEIGHTED, LIKERT5_REV, SHORT]
    groups = np.array([0, 0, 1, 2, 1])
    rows = [
        [(B,), (A,), (C,), 2, "jakarta"],  # 2 + 0.5 | 3 + 2 | 4
        [NOT_PRESENTED, (A, C), NOT_PRESENTED, NOT_PRESENTED, None],  # 1 | 0 | —
        [NOT_PRESENTED, NOT_PRESENTED, (B,), 5, NOT_PRESENTED],  # — | 5 | 1
    ]
    table = ItemTable.build(items)
    codes = encode_responses(items, rows)
    sums, max_sums = aggregate(grade(table, codes), max_scores(table, codes), groups, 3)
    np.testing.assert_array_equal(sums, [[2.5, 5.0, 4.0], [1.0, 0.0, 0.0], [0.0, 5.0, 1.0]])
    np.testing.assert_array_equal(max_sums, [[3.0, 7.0, 5.0], [1.0, 2.0, 0.0], [0.0, 5.0, 5.0]])
    percent = percent_of_max(sums, max_sums)
    np.testing.assert_array_equal(
        percent, [[83.3333, 71.4286, 80.0], [100.0, 0.0, np.nan], [np.nan, 100.0, 20.0]]
    )  # 250/3 and 500/7, to the 4 decimals every percentage is rounded to
    assert to_levels(percent, [40, 55, 70, 85]).tolist() == [[4, 4, 4], [5, 1, 0], [0, 5, 1]]


def test_aggregate_skips_items_in_no_group_and_validates() -> None:
    scores = np.array([[1.0, 2.0, np.nan]])
    maxes = np.array([[1.0, 2.0, np.nan]])
    sums, max_sums = aggregate(scores, maxes, np.array([-1, 1, 1]), 2)
    assert sums.tolist() == [[0.0, 2.0]]
    assert max_sums.tolist() == [[0.0, 2.0]]
    with pytest.raises(ValueError):
        aggregate(scores, maxes, np.array([0, 1, 2]), 2)
    with pytest.raises(ValueError):
        aggregate(scores, maxes, np.array([0, 1]), 2)


def test_score_attempts() -> None:
    items = [SINGLE, LIKERT4_REV, KTSP]
    result = score_attempts(
        items,
        [[(B,), 1, " ktsp "], [(A,), NOT_PRESENTED, None]],
        {"section": (np.array([0, 0, 0]), 1), "competency": (np.array([0, 1, 0]), 2)},
    )
    assert result.total.tolist() == [7.0, 0.0]
    assert result.total_max.tolist() == [7.0, 3.0]
    assert result.groups["competency"].sums.tolist() == [[3.0, 4.0], [0.0, 0.0]]
    np.testing.assert_array_equal(result.groups["competency"].percent, [[100, 100], [0, np.nan]])


def test_popcount_fallback_agrees() -> None:
    values = np.random.default_rng(3).integers(0, 2**62, size=1000, dtype=np.int64)
    values[:4] = [0, 1, 2**62 - 1, 0xFFFF]
    expected = [bin(int(v)).count("1") for v in values]
    assert popcount_swar(values).tolist() == expected
    assert popcount(values).tolist() == expected


# --- batch = reference on random data -----------------------------------------------------------

SHORT_POOL = (
    "DKI Jakarta",
    "  dki  jakarta",
    "Jakarta",
    "JAKARTA ",
    "Bandung",
    "D.K.I. Jakarta",
    "KTSP",
    "ktsp.",
    "  ",
    "kurikulum  tingkat satuan pendidikan",
)
#: random invalid option indices are drawn below this
MAX_INDEX = 40


def random_item(rng: np.random.Generator) -> KeyedItem:
    kind = rng.choice(["single", "multiple", "truefalse", "weighted", "likert", "short"])
    points = float(rng.choice([1.0, 2.0, 0.5, 3.0]))
    n = int(rng.integers(2, 9))
    if kind == "single":
        return KeyedItem("single", points, n, (int(rng.integers(n)),))
    if kind == "multiple":
        key = rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False)
        return KeyedItem("multiple", points, n, tuple(int(i) for i in key))
    if kind == "truefalse":
        return KeyedItem("truefalse", points, 2, (int(rng.integers(2)),))
    if kind == "weighted":
        return KeyedItem(
            "weighted", n_options=n, weights=tuple(float(w) for w in rng.integers(0, 6, size=n))
        )
    if kind == "likert":
        return KeyedItem(
            "likert", likert_points=int(rng.integers(2, 12)), reverse=bool(rng.integers(2))
        )
    accept = tuple(
        rng.choice(
            ["DKI Jakarta", "Jakarta", "KTSP", "Kurikulum Tingkat Satuan Pendidikan"],
            size=int(rng.integers(1, 3)),
            replace=False,
        )
    )
    return KeyedItem("short", points, accept=accept)


def random_response(rng: np.random.Generator, item: KeyedItem) -> Any:
    roll = rng.random()
    if roll < 0.08:
        return NOT_PRESENTED
    if roll < 0.16:
        return None
    invalid = roll < 0.22
    if item.type == "likert":
        k = item.likert_points or 0
        return int(rng.choice([0, k + 1, -3])) if invalid else int(rng.integers(1, k + 1))
    if item.type == "short":
        return str(rng.choice(SHORT_POOL))
    n = item.n_options
    if invalid:
        return frozenset({int(rng.integers(n, MAX_INDEX))} | {int(rng.integers(n))})
    if item.type == "multiple" or rng.random() < 0.05:  # sometimes several on a one-choice item
        size = int(rng.integers(0, n + 1))
        return frozenset(int(i) for i in rng.choice(n, size=size, replace=False))
    return (int(rng.integers(n)),)


@pytest.mark.parametrize("seed", [20260101, 7])
def test_batch_scorer_equals_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    items = [random_item(rng) for _ in range(60)]
    rows = [[random_response(rng, item) for item in items] for _ in range(2000)]
    assert {item.type for item in items} == {
        "single",
        "multiple",
        "truefalse",
        "weighted",
        "likert",
        "short",
    }

    table = ItemTable.build(items)
    codes = encode_responses(items, rows)
    scores = grade(table, codes)
    maxes = max_scores(table, codes)

    expected = np.array(
        [[score_item(item, r) for item, r in zip(items, row, strict=True)] for row in rows]
    )
    expected_max = np.array(
        [
            [
                math.nan if r is NOT_PRESENTED else item.max_score
                for item, r in zip(items, row, strict=True)
            ]
            for row in rows
        ]
    )
    np.testing.assert_array_equal(np.isnan(scores), np.isnan(expected))
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(maxes, expected_max)
    # the data exercise every branch: partial credit, invalid codes, both short outcomes
    assert np.any((scores > 0) & (scores < maxes))
    assert np.any(codes == INVALID_CODE)
    assert np.any(codes == SHORT_RIGHT) and np.any(codes == SHORT_WRONG)
    assert np.count_nonzero(codes == NOT_PRESENTED_CODE) > 0.05 * codes.size

    groups = rng.integers(0, 7, size=len(items))
    sums, max_sums = aggregate(scores, maxes, groups, 7)
    for g in range(7):
        members = groups == g
        np.testing.assert_allclose(sums[:, g], np.nansum(expected[:, members], axis=1))
        np.testing.assert_allclose(max_sums[:, g], np.nansum(expected_max[:, members], axis=1))
