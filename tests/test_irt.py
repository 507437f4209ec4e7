"""IRT calibration and abilities: recovery of simulated parameters on random forms, standard
errors against a numerical Hessian and against the spread of estimates, girth and ltm's
published LSAT-6 results as outside checks, anchors, item fit, and the edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from cbt_server.analytics.irt import (
    MIN_RESPONSES,
    MODEL_2PL,
    MODEL_RASCH,
    QUADRATURE_POINTS,
    QUADRATURE_RANGE,
    STATUS_ALL_CORRECT,
    STATUS_ALL_WRONG,
    STATUS_ANCHOR,
    STATUS_CALIBRATED,
    STATUS_TOO_FEW,
    STATUS_TOO_FEW_2PL,
    abilities,
    calibrate_2pl,
    calibrate_rasch,
    eap,
    fit_category,
    item_fit,
    wle,
)
from tests.test_item_analysis import lsat6

# ltm's published LSAT-6 fits (Rizopoulos 2006, J. Statistical Software 17(5); ltm's help):
# rasch(LSAT), θ ~ N(0, 1) with one common discrimination, and ltm(LSAT ~ z1), the 2PL.
LTM_1PL_DISCRIMINATION = 0.755
LTM_1PL_DIFFICULTY = [-3.615, -1.322, -0.318, -1.730, -2.780]
LTM_2PL_DISCRIMINATION = [0.825, 0.723, 0.890, 0.689, 0.658]
LTM_2PL_DIFFICULTY = [-3.360, -1.370, -0.280, -1.866, -3.124]
LTM_2PL_LOG_LIKELIHOOD = -2466.653


def simulate(
    theta: np.ndarray,
    difficulty: np.ndarray,
    form_length: int,
    seed: int,
    discrimination: np.ndarray | float = 1.0,
) -> np.ndarray:
    """0/1 scores, each person answering a random ``form_length`` of the bank (NaN: the rest)."""
    rng = np.random.default_rng(seed)
    persons, items = len(theta), len(difficulty)
    p = 1.0 / (1.0 + np.exp(-discrimination * (theta[:, None] - difficulty[None, :])))
    scores = (rng.random((persons, items)) < p).astype(float)
    order = np.argsort(rng.random((persons, items)), axis=1)
    presented = np.zeros((persons, items), dtype=bool)
    np.put_along_axis(presented, order[:, :form_length], True, axis=1)
    return np.where(presented, scores, np.nan)


def standardised_normal(n: int, seed: int) -> np.ndarray:
    """θ with sample mean exactly 0 and SD exactly 1: the model's population, without the
    common shift a finite sample's mean would add to every difficulty (SD 1/√n)."""
    theta = np.random.default_rng(seed).normal(size=n)
    return (theta - theta.mean()) / theta.std()


# ---- one simulated calibration shared by the recovery tests ---------------------------------

# 2,000 persons, a 40-item bank with difficulties evenly spread on −0.8..0.8, random forms of 38
# (each person skips 2 items at random; each item is presented to ~1,900). Expected SE of a
# difficulty ≈ 1/√(n · E[PQ]): E[PQ] over θ ~ N(0, 1) is .207 at b = 0 and .19 at |b| = .8, so
# 0.050–0.053 from the item's own responses (0.055–0.058 as reported, which adds the uncertainty
# of the population mean; θ is standardised, so the actual errors lack that part). 0.15 is then
# ~2.9 SE: with 2,000 persons even a complete design cannot give an item an SE below 0.045, and
# under this one the chance that some of the 40 items misses 0.15 is ~13 % per seed (5 of 30
# seeds tried). The seed is fixed; the test below also checks that the errors have the spread
# the reported SEs claim.
PERSONS, BANK, FORM = 2000, 40, 38
TRUE_B = np.linspace(-0.8, 0.8, BANK)
TRUE_THETA = standardised_normal(PERSONS, seed=11)


@pytest.fixture(scope="module")
def random_forms() -> tuple[np.ndarray, object]:
    scores = simulate(TRUE_THETA, TRUE_B, FORM, seed=12)
    return scores, calibrate_rasch(scores)


def test_rasch_recovers_generating_difficulties_on_random_forms(random_forms) -> None:
    scores, result = random_forms
    assert result.model == MODEL_RASCH and result.converged
    assert np.isnan(scores).mean() == pytest.approx(0.05)
    assert set(result.status) == {STATUS_CALIBRATED}
    assert result.n.min() > 1800 and result.persons == PERSONS
    error = result.difficulty - TRUE_B
    assert np.abs(error).max() < 0.15
    # The reported SEs are the design's and describe the actual errors.
    assert result.difficulty_se.min() > 0.054 and result.difficulty_se.max() < 0.059
    assert 0.7 < np.sqrt(np.mean((error / result.difficulty_se) ** 2)) < 1.3
    assert result.population_mean == 0.0 and result.population_mean_se == 0.0
    assert result.population_sd == pytest.approx(1.0, abs=3 * result.population_sd_se)
    assert np.all(result.discrimination == 1.0) and np.all(result.discrimination_se == 0.0)
    assert np.isfinite(result.log_likelihood) and result.log_likelihood < 0


def test_reported_ability_standard_errors_match_the_actual_errors(random_forms) -> None:
    scores, result = random_forms
    persons = abilities(scores, result)
    assert np.all(persons.n_items == FORM)
    for estimate, se in ((persons.eap, persons.eap_se), (persons.wle, persons.wle_se)):
        assert np.all(np.isfinite(estimate)) and np.all(np.isfinite(se))
        actual = np.std(estimate - TRUE_THETA)
        assert se.mean() == pytest.approx(actual, rel=0.10)
    # EAP shrinks towards the mean, WLE is (nearly) unbiased: its slope on θ is about 1.
    assert np.polyfit(TRUE_THETA, persons.wle, 1)[0] == pytest.approx(1.0, abs=0.05)
    assert np.polyfit(TRUE_THETA, persons.eap, 1)[0] < 0.95


def test_item_fit_is_near_one_for_rasch_data(random_forms) -> None:
    scores, result = random_forms
    fit = item_fit(scores, result)
    assert np.all(np.abs(fit.infit - 1.0) < 0.1) and np.all(np.abs(fit.outfit - 1.0) < 0.15)
    assert {fit_category(v) for v in fit.infit} == {"good"}


# ---- standard errors: the observed information against a numerical Hessian -------------------


def marginal_log_likelihood(
    scores: np.ndarray, slope: np.ndarray, difficulty: np.ndarray, mean: float, sd: float
) -> float:
    """log ∏_p ∫ ∏_i P(x_pi | θ) N(θ; mean, sd²) dθ on the module's grid, one person at a time."""
    z = np.linspace(-QUADRATURE_RANGE, QUADRATURE_RANGE, QUADRATURE_POINTS)
    weights = np.exp(-0.5 * z**2)
    weights /= weights.sum()
    total = 0.0
    for row in scores:
        seen = ~np.isnan(row)
        theta = mean + sd * z
        p = 1.0 / (1.0 + np.exp(-slope[seen, None] * (theta[None, :] - difficulty[seen, None])))
        likelihood = np.prod(np.where(row[seen, None] == 1.0, p, 1.0 - p), axis=0)
        total += np.log(weights @ likelihood)
    return total


def numerical_standard_errors(function, point: np.ndarray, step: float = 1e-3):
    """(gradient, SEs) of a log-likelihood by central differences."""
    k = len(point)
    gradient, hessian = np.zeros(k), np.zeros((k, k))
    unit = np.eye(k) * step
    for i in range(k):
        gradient[i] = (function(point + unit[i]) - function(point - unit[i])) / (2 * step)
        for j in range(i, k):
            hessian[i, j] = hessian[j, i] = (
                function(point + unit[i] + unit[j])
                - function(point + unit[i] - unit[j])
                - function(point - unit[i] + unit[j])
                + function(point - unit[i] - unit[j])
            ) / (4 * step * step)
    return gradient, np.sqrt(np.diag(np.linalg.inv(-hessian)))


def small_random_forms(seed: int, slopes: np.ndarray | float = 1.0) -> np.ndarray:
    theta = np.random.default_rng(seed).normal(0.0, 1.3, 400)
    return simulate(theta, np.array([-1.5, -0.8, -0.2, 0.3, 0.9, 1.6]), 4, seed + 1, slopes)


def test_rasch_is_the_maximum_and_its_ses_are_the_observed_information() -> None:
    scores = small_random_forms(21)
    result = calibrate_rasch(scores, min_responses=10)
    k = scores.shape[1]
    point = np.append(result.difficulty, result.population_sd)

    def log_likelihood(p: np.ndarray) -> float:
        return marginal_log_likelihood(scores, np.ones(k), p[:k], 0.0, p[k])

    assert log_likelihood(point) == pytest.approx(result.log_likelihood, abs=1e-8)
    gradient, se = numerical_standard_errors(log_likelihood, point)
    assert np.abs(gradient).max() < 1e-3
    reported = np.append(result.difficulty_se, result.population_sd_se)
    np.testing.assert_allclose(reported, se, rtol=1e-3)


def test_2pl_is_the_maximum_and_its_ses_are_the_observed_information() -> None:
    scores = small_random_forms(31, slopes=np.array([0.7, 1.4, 1.0, 2.0, 0.9, 1.2]))
    result = calibrate_2pl(scores, min_responses=100)
    assert result.model == MODEL_2PL and set(result.status) == {STATUS_CALIBRATED}
    k = scores.shape[1]
    point = np.concatenate([result.discrimination, result.difficulty])

    def log_likelihood(p: np.ndarray) -> float:
        return marginal_log_likelihood(scores, p[:k], p[k:], 0.0, 1.0)

    assert log_likelihood(point) == pytest.approx(result.log_likelihood, abs=1e-8)
    gradient, se = numerical_standard_errors(log_likelihood, point)
    assert np.abs(gradient).max() < 1e-3
    reported = np.concatenate([result.discrimination_se, result.difficulty_se])
    np.testing.assert_allclose(reported, se, rtol=1e-3)


# ---- outside checks: ltm's published LSAT-6 fits and girth ----------------------------------


def test_lsat6_matches_ltm_published_1pl_and_2pl() -> None:
    scores = lsat6()
    rasch = calibrate_rasch(scores)
    # ltm fixes θ ~ N(0, 1) with a common slope: slope = σ and b_ltm = b / σ on our scale.
    assert rasch.population_sd == pytest.approx(LTM_1PL_DISCRIMINATION, abs=0.002)
    np.testing.assert_allclose(
        rasch.difficulty / rasch.population_sd, LTM_1PL_DIFFICULTY, atol=0.002
    )
    two_pl = calibrate_2pl(scores)
    np.testing.assert_allclose(two_pl.discrimination, LTM_2PL_DISCRIMINATION, atol=0.01)
    np.testing.assert_allclose(two_pl.difficulty, LTM_2PL_DIFFICULTY, atol=0.01)
    assert two_pl.log_likelihood == pytest.approx(LTM_2PL_LOG_LIKELIHOOD, abs=0.01)
    # Four more parameters buy almost nothing: LSAT-6 fits the Rasch model.
    assert 0 < two_pl.log_likelihood - rasch.log_likelihood < 0.5


def girth_module():
    return pytest.importorskip("girth")


GIRTH_OPTIONS = {"quadrature_bounds": (-QUADRATURE_RANGE, QUADRATURE_RANGE), "quadrature_n": 61}


def complete_data(seed: int, slopes: np.ndarray | float) -> np.ndarray:
    theta = np.random.default_rng(seed).normal(size=1000)
    return simulate(theta, np.linspace(-2, 2, 10), 10, seed + 1, slopes)


@pytest.mark.parametrize("name", ["lsat6", "simulated"])
def test_rasch_agrees_with_girth_onepl_mml(name: str) -> None:
    girth = girth_module()
    scores = lsat6() if name == "lsat6" else complete_data(41, 1.3)
    ours = calibrate_rasch(scores)
    theirs = girth.onepl_mml(scores.T.astype(int), options=GIRTH_OPTIONS)
    assert ours.population_sd == pytest.approx(theirs["Discrimination"], abs=0.005)
    np.testing.assert_allclose(
        ours.difficulty / ours.population_sd, theirs["Difficulty"], atol=0.01
    )


@pytest.mark.parametrize("name", ["lsat6", "simulated"])
def test_2pl_agrees_with_girth_twopl_mml(name: str) -> None:
    girth = girth_module()
    scores = lsat6() if name == "lsat6" else complete_data(51, np.linspace(0.6, 2.0, 10))
    ours = calibrate_2pl(scores)
    theirs = girth.twopl_mml(scores.T.astype(int), options=GIRTH_OPTIONS)
    np.testing.assert_allclose(ours.discrimination, theirs["Discrimination"], atol=0.01)
    np.testing.assert_allclose(ours.difficulty, theirs["Difficulty"], atol=0.01)


def test_2pl_recovers_slopes_on_random_forms() -> None:
    slopes = np.tile([0.6, 1.0, 1.5, 2.0], 5)
    theta = standardised_normal(3000, seed=61)
    scores = simulate(theta, np.linspace(-1.5, 1.5, 20), 16, seed=62, discrimination=slopes)
    result = calibrate_2pl(scores)
    assert result.converged and set(result.status) == {STATUS_CALIBRATED}
    for estimate, se, truth in (
        (result.discrimination, result.discrimination_se, slopes),
        (result.difficulty, result.difficulty_se, np.linspace(-1.5, 1.5, 20)),
    ):
        assert np.all(np.abs(estimate - truth) < 3.5 * se)


# ---- anchors: linking a second calibration to the first's scale -----------------------------


def test_anchors_place_a_shifted_population_on_the_earlier_scale() -> None:
    bank = np.linspace(-2.0, 2.0, 40)
    first = simulate(standardised_normal(2000, 71), bank[:30], 24, seed=72)
    earlier = calibrate_rasch(first)
    # A later, abler and more varied population takes items 10–39; 10–29 are common.
    later_theta = 0.8 + 1.3 * standardised_normal(2000, 73)
    later = simulate(later_theta, bank[10:], 24, seed=74)
    anchors = {i: float(earlier.difficulty[10 + i]) for i in range(10)}  # bank items 10–19
    linked = calibrate_rasch(later, anchors)
    assert linked.status[:10] == (STATUS_ANCHOR,) * 10
    assert np.all(linked.difficulty[:10] == earlier.difficulty[10:20])
    assert np.all(linked.difficulty_se[:10] == 0.0)
    assert linked.population_mean == pytest.approx(0.8, abs=0.1)
    assert linked.population_sd == pytest.approx(1.3, abs=0.1)
    # The common items that were not anchored (bank 20–29) land where the first calibration put
    # them; unlinked they would sit ~0.8 lower (relative to the abler population).
    common_later, common_earlier = linked.difficulty[10:20], earlier.difficulty[20:30]
    joint_se = np.hypot(linked.difficulty_se[10:20], earlier.difficulty_se[20:30])
    assert np.all(np.abs(common_later - common_earlier) < 3 * joint_se)
    assert np.abs(common_later - common_earlier).max() < 0.2
    unlinked = calibrate_rasch(later)
    shift = np.mean(common_earlier - unlinked.difficulty[10:20])
    assert shift == pytest.approx(0.8, abs=0.1)


def test_2pl_anchors_estimate_the_population_on_the_earlier_scale() -> None:
    slopes = np.tile([0.7, 1.0, 1.4, 1.8], 5)
    bank = np.linspace(-1.5, 1.5, 20)
    earlier = calibrate_2pl(
        simulate(standardised_normal(2000, 81), bank, 20, seed=82, discrimination=slopes)
    )
    later_theta = 0.5 + 1.2 * standardised_normal(2000, 83)
    later = simulate(later_theta, bank, 20, seed=84, discrimination=slopes)
    anchors = {
        i: (float(earlier.discrimination[i]), float(earlier.difficulty[i])) for i in range(0, 20, 2)
    }
    linked = calibrate_2pl(later, anchors)
    assert linked.population_mean == pytest.approx(0.5, abs=0.1)
    assert linked.population_sd == pytest.approx(1.2, abs=0.1)
    free = np.arange(1, 20, 2)
    np.testing.assert_allclose(linked.difficulty[free], earlier.difficulty[free], atol=0.2)
    np.testing.assert_allclose(linked.discrimination[free], earlier.discrimination[free], atol=0.3)


def test_anchor_errors_name_the_problem() -> None:
    scores = simulate(standardised_normal(100, 91), np.zeros(5), 5, seed=92)
    with pytest.raises(ValueError, match="anchor item 7"):
        calibrate_rasch(scores, {7: 0.0})
    scores[:, 0] = np.nan
    with pytest.raises(ValueError, match="no anchor item"):
        calibrate_rasch(scores, {0: 0.0})


# ---- edge cases -----------------------------------------------------------------------------


def test_items_that_cannot_be_calibrated_are_reported_not_estimated() -> None:
    theta = standardised_normal(500, 101)
    scores = simulate(theta, np.linspace(-1, 1, 8), 8, seed=102)
    scores[:, 5] = 1.0  # everyone right
    scores[:, 6] = 0.0  # everyone wrong
    scores[MIN_RESPONSES - 1 :, 7] = np.nan  # seen by too few
    for result in (calibrate_rasch(scores), calibrate_2pl(scores)):
        assert result.status[5:] == (STATUS_ALL_CORRECT, STATUS_ALL_WRONG, STATUS_TOO_FEW)
        assert result.n[7] == MIN_RESPONSES - 1
        for values in (result.difficulty, result.difficulty_se, result.discrimination):
            assert np.all(np.isnan(values[5:])) and np.all(np.isfinite(values[:5]))
        assert list(result.usable) == [True] * 5 + [False] * 3
        assert result.converged
    # The 2PL wants more: below 200 responses an item keeps only its Rasch calibration.
    few = calibrate_2pl(scores[:150])
    assert set(few.status[:5]) == {STATUS_TOO_FEW_2PL} and not few.converged
    assert np.all(np.isnan(few.difficulty)) and few.iterations == 0


def test_extreme_persons_get_finite_abilities() -> None:
    b = np.linspace(-2, 2, 10)
    scores = simulate(standardised_normal(400, 111), b, 10, seed=112)
    scores[0], scores[1] = 1.0, 0.0  # all right, all wrong
    scores[2, :] = np.nan  # no items
    scores[3, 5:] = np.nan
    scores[3, :5] = 1.0  # all right on a short form
    result = calibrate_rasch(scores)
    persons = abilities(scores, result)
    for values in (persons.eap, persons.eap_se, persons.wle, persons.wle_se):
        assert np.all(np.isfinite(values[[0, 1, 3]]))
    totals = np.nansum(scores, axis=1)
    others = (totals > 0) & (totals < 10)
    assert persons.wle[0] > persons.wle[others].max() and persons.wle[1] < persons.wle[others].min()
    assert persons.eap[0] > persons.eap[others].max() and persons.eap[1] < persons.eap[others].min()
    # A person without items: no WLE, and the EAP is the population itself.
    assert np.isnan(persons.wle[2]) and np.isnan(persons.wle_se[2]) and persons.n_items[2] == 0
    assert persons.eap[2] == pytest.approx(0.0, abs=1e-12)
    assert persons.eap_se[2] == pytest.approx(result.population_sd, rel=1e-6)
    # Warm's WLE for a perfect score on 10 Rasch items spread −2..2 lies ~1.8 logits above the
    # hardest item, mirrored for a zero score (the ML estimate would be ±∞).
    theta, se = wle(np.array([np.ones(10), np.zeros(10)]), 1.0, b)
    assert 3.6 < theta[0] < 4.0 and theta[1] == pytest.approx(-theta[0], abs=1e-9)
    assert se[0] == pytest.approx(se[1], abs=1e-9) and 1.0 < se[0] < 2.0


def test_wle_solves_warms_equation_and_eap_is_the_posterior_mean() -> None:
    b = np.array([-1.0, 0.0, 0.5, 1.5])
    a = np.array([0.8, 1.2, 1.0, 1.6])
    patterns = np.array([[1, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=float)
    theta, se = wle(patterns, a, b)
    for row, t, s in zip(patterns, theta, se, strict=True):
        p = 1 / (1 + np.exp(-a * (t - b)))
        info = np.sum(a**2 * p * (1 - p))
        warm = np.sum(a * (row - p)) + np.sum(a**3 * p * (1 - p) * (1 - 2 * p)) / (2 * info)
        assert abs(warm) < 1e-8 and s == pytest.approx(1 / np.sqrt(info))
    # EAP by brute-force integration on a much finer grid.
    grid = np.linspace(-10, 10, 20001)
    mean, sd = eap(patterns, a, b, mean=0.3, sd=1.2)
    for row, m, s in zip(patterns, mean, sd, strict=True):
        p = 1 / (1 + np.exp(-a[:, None] * (grid[None, :] - b[:, None])))
        weight = np.prod(np.where(row[:, None] == 1, p, 1 - p), axis=0)
        weight *= np.exp(-0.5 * ((grid - 0.3) / 1.2) ** 2)
        weight /= weight.sum()
        assert m == pytest.approx(weight @ grid, abs=1e-6)
        assert s == pytest.approx(np.sqrt(weight @ (grid - weight @ grid) ** 2), abs=1e-6)


def test_item_fit_flags_noisy_and_too_predictable_items() -> None:
    slopes = np.ones(20)
    slopes[0], slopes[1] = 0.25, 4.0
    theta = standardised_normal(3000, 121)
    scores = simulate(theta, np.linspace(-1, 1, 20), 20, seed=122, discrimination=slopes)
    fit = item_fit(scores, calibrate_rasch(scores))
    assert fit.infit[0] > 1.15 and fit.outfit[0] > 1.15  # noisy: hardly related to ability
    assert fit.infit[1] < 0.8 and fit.outfit[1] < 0.8  # too predictable (Guttman-like)
    assert np.all(np.abs(fit.infit[2:] - 1) < 0.1)
    assert fit.n.max() < 3000  # perfect and zero scores are left out


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (1.0, "good"),
        (0.7, "good"),
        (1.3, "good"),
        (0.6, "productive"),
        (1.45, "productive"),
        (0.4, "overfit"),
        (1.8, "noisy"),
        (2.5, "degrading"),
        (float("nan"), None),
        (None, None),
    ],
)
def test_fit_category_bands(value: float | None, band: str | None) -> None:
    assert fit_category(value) == band


def test_scores_must_be_dichotomous() -> None:
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        calibrate_rasch(np.array([[0.0, 2.0], [1.0, 0.0]]))
