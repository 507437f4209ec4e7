"""Pure psychometrics: hand-computed fixtures, a plain-Python reference on random data with
missing items, scipy as an outside check, the published LSAT-6 example, and flags on their cuts."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from cbt_server.analytics import (
    FLAG_NEGATIVE_D,
    FLAG_NEGATIVE_R,
    FLAG_P_HIGH,
    FLAG_P_LOW,
    criterion_totals,
    d_category,
    item_flags,
    item_statistics,
    percentile_ranks,
    reliability,
    standard_scores,
    stanines,
    tie_counts,
    upper_lower_weights,
)
from tests import psychometrics_reference as ref

NAN = np.nan

# Bock & Lieberman (1970), LSAT Section 6: 1000 persons × 5 items as the 32 response patterns
# (00000, 00001, …, 11111 in binary order) and their counts (R packages ltm / mirt, data LSAT;
# the same table as the OpenBUGS "LSAT" example).
LSAT6_COUNTS = [3, 6, 2, 11, 1, 1, 3, 4, 1, 8, 0, 16, 0, 3, 2, 15]
LSAT6_COUNTS += [10, 29, 14, 81, 3, 28, 15, 80, 16, 56, 21, 173, 11, 61, 28, 298]
LSAT6_P = [0.924, 0.709, 0.553, 0.763, 0.870]
LSAT6_ALPHA = 0.295


def lsat6() -> np.ndarray:
    patterns = np.array(list(itertools.product([0.0, 1.0], repeat=5)))
    return np.repeat(patterns, LSAT6_COUNTS, axis=0)


# ---- hand-computed fixture ------------------------------------------------------------------

# Six persons, three 0/1 items; totals 3, 2, 0, 2, 1, 1.
HAND = np.array(
    [
        [1, 1, 1],
        [1, 0, 1],
        [0, 0, 0],
        [1, 0, 1],
        [0, 0, 1],
        [0, 0, 1],
    ],
    dtype=float,
)


def test_difficulty_and_discrimination_by_hand():
    stats = item_statistics(HAND, np.ones(3))
    assert stats.n.tolist() == [6, 6, 6]
    assert stats.p.tolist() == pytest.approx([3 / 6, 1 / 6, 5 / 6], abs=1e-12)
    # Upper 27 % = 1.62 persons: the 3, then 0.62 shared by the two tied 2s (0.31 each);
    # lower: the 0, then 0.62 shared by the two tied 1s. Item 1: upper mean 1, lower mean 0.
    assert stats.d[0] == pytest.approx(1.0, abs=1e-12)
    assert stats.d[1] == pytest.approx(1 / 1.62, abs=1e-12)  # only the top person has it
    assert stats.d[2] == pytest.approx(1 - 0.62 / 1.62, abs=1e-12)
    # Item 3 against its rest score (2, 1, 0, 1, 0, 0), Pearson's r written out:
    x, rest = HAND[:, 2], HAND.sum(axis=1) - HAND[:, 2]
    dx, dy = x - x.mean(), rest - rest.mean()
    assert stats.r[2] == pytest.approx((dx @ dy) / math.sqrt((dx @ dx) * (dy @ dy)), abs=1e-12)
    assert stats.flags == [(), (FLAG_P_LOW,), ()]


def test_kr20_sem_and_standard_scores_by_hand():
    result = reliability(HAND)
    # Σ item variances 0.3 + 1/6 + 1/6 = 19/30; total variance 1.1 → α = 3/2 · (1 − 19/33) = 7/11
    assert result.coefficient == "KR-20" and result.complete and result.k == 3
    assert result.alpha == pytest.approx(7 / 11, abs=1e-12)
    assert result.sd == pytest.approx(math.sqrt(1.1), abs=1e-12)
    assert result.sem == pytest.approx(math.sqrt(1.1 * 4 / 11), abs=1e-12)  # = √0.4
    scores = standard_scores(HAND.sum(axis=1))
    assert scores.percentile[:, 0].tolist() == pytest.approx(
        [100 * 5.5 / 6, 100 * 4 / 6, 100 * 0.5 / 6, 100 * 4 / 6, 100 * 2 / 6, 100 * 2 / 6]
    )
    z = (3 - 1.5) / math.sqrt(1.1)
    assert scores.z[0, 0] == pytest.approx(z) and scores.t[0, 0] == pytest.approx(50 + 10 * z)
    assert scores.stanine[:, 0].tolist() == [8, 6, 2, 6, 4, 4]


def test_ties_at_the_cut_share_the_places_and_do_not_depend_on_row_order():
    criterion = np.array([[5.0], [4.0], [4.0], [4.0], [1.0], [0.0], [0.0], [0.0], [0.0], [0.0]])
    upper, lower = upper_lower_weights(criterion)
    # 2.7 places: the 5, then 1.7 shared by the three 4s
    assert upper[:, 0].tolist() == pytest.approx([1, 1.7 / 3, 1.7 / 3, 1.7 / 3, 0, 0, 0, 0, 0, 0])
    assert lower[:, 0].tolist() == pytest.approx([0, 0, 0, 0, 0] + [2.7 / 5] * 5)
    order = np.random.default_rng(3).permutation(10)
    shuffled, _ = upper_lower_weights(criterion[order])
    assert shuffled[:, 0].tolist() == pytest.approx(upper[order, 0].tolist())


# ---- flags on their cut points ----------------------------------------------------------------


def test_flags_at_the_boundaries():
    p = np.array([0.2, 0.9, 0.2 - 1e-6, 0.9 + 1e-6, 0.5, 0.5, NAN])
    r = np.array([0.1, 0.1, 0.1, 0.1, -0.01, 0.0, NAN])
    d = np.array([0.1, 0.1, 0.1, 0.1, 0.3, -0.05, NAN])
    assert item_flags(p, r, d) == [
        (),
        (),
        (FLAG_P_LOW,),
        (FLAG_P_HIGH,),
        (FLAG_NEGATIVE_R,),
        (FLAG_NEGATIVE_D,),
        (),
    ]


def test_p_exactly_on_the_cuts_from_data_is_not_flagged():
    # 2 of 10 and 9 of 10 right (0.2 and 0.9 exactly), and a 0/3 item whose mean is 0.6 = 0.2 · 3
    scores = np.zeros((10, 3))
    scores[:2, 0] = 1
    scores[:9, 1] = 1
    scores[:, 2] = [3, 3, 0, 0, 0, 0, 0, 0, 0, 0]
    stats = item_statistics(scores, np.array([1.0, 1.0, 3.0]))
    assert stats.p.tolist() == pytest.approx([0.2, 0.9, 0.2])
    assert all(FLAG_P_LOW not in f and FLAG_P_HIGH not in f for f in stats.flags)


def test_an_item_the_weak_get_right_is_flagged_negative():
    scores = np.array([[1, 1, 1, 0], [1, 1, 1, 0], [1, 0, 1, 0], [0, 0, 0, 1], [0, 1, 0, 1]])
    stats = item_statistics(scores.astype(float), np.ones(4))
    assert stats.r[3] < 0 and stats.d[3] < 0
    assert FLAG_NEGATIVE_R in stats.flags[3] and FLAG_NEGATIVE_D in stats.flags[3]
    assert [d_category(v) for v in (0.4, 0.3999999999, 0.3, 0.2, 0.19, None)] == [
        "very_good",
        "very_good",
        "good",
        "revise",
        "discard",
        None,
    ]


# ---- undefined values: zero variance, too few persons, nothing presented ----------------------


def test_zero_variance_and_tiny_samples_give_nan_not_errors():
    constant = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 0.0]])
    stats = item_statistics(constant, np.ones(2))
    assert stats.p[0] == 1.0 and np.isnan(stats.r[0]) and stats.d[0] == 0.0
    assert stats.flags[0] == (FLAG_P_HIGH,)  # the NaN r raises no flag
    one = item_statistics(np.array([[1.0, 0.0]]), np.ones(2))
    assert np.isnan(one.r).all() and np.isnan(one.d).all()
    flat = reliability(np.ones((4, 3)))
    assert flat.alpha is None and flat.sem is None and flat.sd == 0.0
    opposed = reliability(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]))
    assert opposed.alpha is not None and opposed.alpha < 0 and opposed.sem is None
    single = reliability(np.array([[1.0], [0.0]]))
    assert single.alpha is None
    nobody = reliability(np.full((3, 2), NAN))
    assert nobody.n == 0 and nobody.alpha is None and nobody.mean is None
    scores = standard_scores(np.array([[4.0, 7.0], [4.0, NAN], [4.0, NAN]]))
    assert np.isnan(scores.z).all() and np.isnan(scores.sd[1])
    assert scores.percentile[:, 0].tolist() == [50.0, 50.0, 50.0]
    assert scores.percentile[0, 1] == 50.0 and np.isnan(scores.percentile[1, 1])
    unscored = item_statistics(np.array([[0.0], [0.0]]), np.array([0.0]))
    assert np.isnan(unscored.p[0])


def test_stanine_rounds_halves_up_and_clips():
    assert stanines(np.array([-0.25, 0.25, -3.0, 3.0, NAN]))[:4].tolist() == [5, 6, 1, 9]


# ---- random data with missing items against the reference ------------------------------------


def _random_matrix(seed: int, n: int = 60, k: int = 9):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    ability = rng.normal(size=(n, 1))
    max_points = np.array([1, 1, 1, 1, 2, 4, 5, 5, 1], dtype=float)[:k]
    raw = ability + rng.normal(size=(n, k))
    scores = np.clip(np.round((raw + 1.5) / 3 * max_points * 2) / 2, 0, max_points)
    scores[:, :4] = (raw[:, :4] > 0).astype(float)
    scores[rng.random((n, k)) < 0.2] = NAN  # items drawn at random: not presented
    groups = ["S1"] * 5 + ["S2"] * (k - 5)
    chosen = np.zeros((n, k, 4), dtype=bool)
    picks = rng.integers(0, 4, size=(n, k))
    chosen[np.arange(n)[:, None], np.arange(k)[None, :], picks] = True
    return scores, max_points, groups, chosen


def _rows(scores: np.ndarray) -> list[list[float | None]]:
    return [[None if np.isnan(v) else float(v) for v in row] for row in scores]


@pytest.mark.parametrize("seed", range(5))
def test_items_match_the_plain_python_reference(seed: int):
    scores, max_points, groups, chosen = _random_matrix(seed)
    stats = item_statistics(scores, max_points, groups, chosen)
    expected = ref.item_stats(_rows(scores), max_points.tolist(), groups)
    for k, want in enumerate(expected):
        assert stats.n[k] == want["n"]
        for name in ("p", "r", "d"):
            got = getattr(stats, name)[k]
            if want[name] is None:
                assert np.isnan(got), (k, name)
            else:
                assert got == pytest.approx(want[name], abs=1e-9), (k, name)
    assert stats.options is not None
    for k, o in [(0, 0), (3, 2), (6, 1), (8, 3)]:
        want = ref.option_stats(_rows(scores), chosen.tolist(), groups, k, o)
        assert stats.options.share[k, o] == pytest.approx(want["share"], abs=1e-9)
        assert stats.options.upper[k, o] == pytest.approx(want["upper"], abs=1e-9)
        assert stats.options.lower[k, o] == pytest.approx(want["lower"], abs=1e-9)
        assert stats.options.rest_r[k, o] == pytest.approx(want["rest_r"], abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_alpha_and_standard_scores_match_the_reference(seed: int):
    scores, _max, _groups, _chosen = _random_matrix(seed)
    incomplete = reliability(scores)
    assert not incomplete.complete
    assert incomplete.alpha == pytest.approx(ref.pairwise_alpha(_rows(scores)), abs=1e-9)
    complete = np.nan_to_num(scores)
    assert reliability(complete).alpha == pytest.approx(ref.cronbach(complete.tolist()), abs=1e-9)
    assert reliability(complete).alpha == pytest.approx(
        ref.pairwise_alpha(complete.tolist()), abs=1e-9
    )
    totals = np.nansum(scores, axis=1)
    result = standard_scores(totals)
    assert result.z[:, 0].tolist() == pytest.approx(ref.z_scores(totals.tolist()), abs=1e-9)
    assert result.percentile[:, 0].tolist() == pytest.approx(
        [ref.percentile_rank(totals.tolist(), v) for v in totals], abs=1e-9
    )


def test_scipy_agrees_on_point_biserial_and_percentile_rank():
    scores, max_points, _groups, _chosen = _random_matrix(11, n=200)
    complete = np.nan_to_num(scores)
    stats = item_statistics(complete, max_points)
    rest = complete.sum(axis=1, keepdims=True) - complete
    for k in range(4):  # the 0/1 items
        expected = scipy_stats.pointbiserialr(complete[:, k], rest[:, k]).statistic
        assert stats.r[k] == pytest.approx(expected, abs=1e-9)
    totals = complete.sum(axis=1)
    ranks = percentile_ranks(totals)[:, 0]
    expected_ranks = [scipy_stats.percentileofscore(totals, v, kind="mean") for v in totals]
    assert ranks.tolist() == pytest.approx(expected_ranks, abs=1e-9)
    z = standard_scores(totals).z[:, 0]
    assert z.tolist() == pytest.approx(scipy_stats.zscore(totals, ddof=1).tolist(), abs=1e-9)


def test_tie_counts_per_column_and_criterion_per_group():
    values = np.array([[1.0, NAN], [2.0, 5.0], [2.0, 5.0], [0.1 + 0.2, 1.0]])
    below, equal, n = tie_counts(values)
    assert n.tolist() == [4, 3]
    assert below[:, 0].tolist() == [1, 2, 2, 0] and equal[:, 0].tolist() == [1, 2, 2, 1]
    assert below[:, 1].tolist() == [0, 1, 1, 0] and equal[:, 1].tolist() == [0, 2, 2, 1]
    totals = criterion_totals(np.array([[1.0, 2.0, NAN], [0.0, NAN, 3.0]]), ["A", "A", "B"])
    assert np.array_equal(totals, np.array([[3.0, 3.0, NAN], [0.0, NAN, 3.0]]), equal_nan=True)


# ---- the published worked example ------------------------------------------------------------


def test_lsat6_reproduces_the_published_difficulties_and_alpha():
    data = lsat6()
    assert data.shape == (1000, 5)
    stats = item_statistics(data, np.ones(5))
    assert stats.p.tolist() == pytest.approx(LSAT6_P, abs=1e-3)
    result = reliability(data)
    assert result.coefficient == "KR-20"
    assert round(result.alpha, 3) == LSAT6_ALPHA
    # … and equals an independent computation to 1e-6
    rows = data.tolist()
    assert result.alpha == pytest.approx(ref.cronbach(rows), abs=1e-6)
    expected = ref.item_stats(rows, [1.0] * 5, [0] * 5)
    for k in range(5):
        assert stats.p[k] == pytest.approx(expected[k]["p"], abs=1e-6)
        assert stats.r[k] == pytest.approx(expected[k]["r"], abs=1e-6)
        assert stats.d[k] == pytest.approx(expected[k]["d"], abs=1e-6)
        rest = data.sum(axis=1) - data[:, k]
        outside = scipy_stats.pointbiserialr(data[:, k], rest).statistic
        assert stats.r[k] == pytest.approx(outside, abs=1e-6)
    kr20 = 5 / 4 * (1 - sum(p * (1 - p) for p in LSAT6_P) / np.var(data.sum(axis=1)))
    assert result.alpha == pytest.approx(kr20, abs=1e-6)  # Σpq with ddof 0 throughout
    assert result.sem == pytest.approx(result.sd * math.sqrt(1 - result.alpha), abs=1e-12)
    assert stats.flags[0] == (FLAG_P_HIGH,)  # p = .924
