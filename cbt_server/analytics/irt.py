"""Item response theory (pure): Rasch and 2PL calibration by marginal maximum likelihood, item
fit, and person abilities (EAP and WLE) with standard errors.

Scores are persons × items of 0/1, NaN where the item was not presented (random forms: every
person answers a subset of the bank, all forms analysed together). The person's ability θ and
an item's difficulty b share one scale; the chance of a correct answer is

    P(x = 1 | θ) = 1 / (1 + exp(−a (θ − b)))

with a = 1 for every item in the Rasch model (θ and b in logits) and a free slope a per item in
the 2PL. Abilities follow a normal population N(μ, σ²) in the calibration:

- **Rasch**: μ = 0 and σ estimated (so b is "logits above the population mean"); with anchors
  (items whose b is fixed from an earlier calibration) μ is estimated too, which places the new
  calibration on the earlier scale.
- **2PL**: μ = 0, σ = 1 (θ in population SDs, as in ltm, mirt and girth); with anchors (a and b
  fixed) μ and σ are estimated.

Estimation is Bock & Aitkin's (1981) EM on a fixed grid of quadrature points, vectorised over
persons and points. Internally every model is one logistic regression per item on the standard
normal grid z, η = α z + γ, with θ = μ + σ z; the free parameters map linearly onto (α, γ) and
each M step is one Newton step on them. Standard errors come from the observed information
(Louis 1982) at the estimate. Rules and sources: ``docs/psychometrics.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

MODEL_RASCH = "rasch"
MODEL_2PL = "2pl"

#: an item is calibrated from at least this many responses (a difficulty SE of ~0.4 logit)
MIN_RESPONSES = 30
#: an item gets its own 2PL slope from at least this many responses ...
MIN_RESPONSES_2PL = 200
#: ... of which at least this many correct and this many wrong
MIN_EACH_2PL = 20

#: quadrature of the calibration: equally spaced points on ±6 population SDs
QUADRATURE_POINTS = 61
QUADRATURE_RANGE = 6.0
#: a finer grid for EAP (each person's posterior is narrower than the population)
EAP_POINTS = 241

#: EM stops when no free parameter moves more than this in one iteration
TOLERANCE = 1e-6
MAX_ITERATIONS = 2000
#: no parameter moves more than this in one Newton step (keeps early steps sane)
MAX_STEP = 1.0

STATUS_CALIBRATED = "calibrated"
STATUS_ANCHOR = "anchor"
STATUS_TOO_FEW = "too_few"
STATUS_TOO_FEW_2PL = "too_few_for_2pl"
STATUS_ALL_CORRECT = "all_correct"
STATUS_ALL_WRONG = "all_wrong"
USABLE = (STATUS_CALIBRATED, STATUS_ANCHOR)

#: mean squares in 0.7–1.3 fit well for multiple-choice items (Wright, Linacre et al. 1994) ...
FIT_GOOD = (0.7, 1.3)
#: ... 0.5–1.5 are productive for measurement, above 2.0 degrade it (Linacre 2002)
FIT_PRODUCTIVE = (0.5, 1.5)
FIT_DEGRADING = 2.0


@dataclass(frozen=True)
class Calibration:
    """Item parameters (K,) on the θ scale, NaN for items not calibrated (see ``status``).

    Standard errors are 0 for values fixed by the model or an anchor (the Rasch slope; μ and σ
    where fixed) and NaN when the information matrix cannot be inverted.
    """

    model: str
    difficulty: np.ndarray
    difficulty_se: np.ndarray
    discrimination: np.ndarray
    discrimination_se: np.ndarray
    population_mean: float
    population_mean_se: float
    population_sd: float
    population_sd_se: float
    log_likelihood: float
    iterations: int
    converged: bool
    #: responses per item (persons who were presented it)
    n: np.ndarray
    #: per item: calibrated, anchor, too_few, too_few_for_2pl, all_correct or all_wrong
    status: tuple[str, ...]
    #: persons with at least one response to a calibrated item (those in the likelihood)
    persons: int

    @property
    def usable(self) -> np.ndarray:
        """(K,) bool: the item has parameters (calibrated or anchored)."""
        return np.isin(np.asarray(self.status), USABLE)


@dataclass(frozen=True)
class Abilities:
    """Per person (N,): EAP with its posterior SD and WLE with its SE; NaN WLE without items."""

    eap: np.ndarray
    eap_se: np.ndarray
    wle: np.ndarray
    wle_se: np.ndarray
    #: items with parameters the person answered
    n_items: np.ndarray


@dataclass(frozen=True)
class ItemFit:
    """Per item (K,): infit and outfit mean squares; NaN for items without parameters."""

    infit: np.ndarray
    outfit: np.ndarray
    #: responses used (persons with a non-extreme score on their items)
    n: np.ndarray


@dataclass(frozen=True)
class _Design:
    """How the free parameters φ give each modelled item's α and γ: (α; γ) = matrix φ + offset.

    ``report(φ)`` gives (a, b) of the modelled items and (μ, σ); it is also differentiated
    numerically for the standard errors of what is reported.
    """

    items: np.ndarray
    matrix: np.ndarray
    offset: np.ndarray
    start: np.ndarray
    report: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, float, float]]
    #: index of σ in φ (None when fixed at 1); a step that leaves it ≤ 0 is halved
    sd_index: int | None

    def natural(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = self.matrix @ phi + self.offset
        return np.split(values, 2)


# ---- calibration ----------------------------------------------------------------------------


def full_marks(scores: np.ndarray, max_points: np.ndarray) -> np.ndarray:
    """(N, K) stored item scores → 1 where the item got its full marks, 0 where it got less
    (a blank included), NaN where it was not presented: the 0/1 data the models here take from
    items that can earn partial credit (a multiple-response item counts as right only whole)."""
    scores = np.asarray(scores, dtype=float)
    with np.errstate(invalid="ignore"):
        full = scores >= np.asarray(max_points, dtype=float)[None, :] * (1 - 1e-9)
    return np.where(np.isnan(scores), np.nan, full.astype(float))


def calibrate_rasch(
    scores: np.ndarray,
    anchors: Mapping[int, float] | None = None,
    *,
    min_responses: int = MIN_RESPONSES,
    points: int = QUADRATURE_POINTS,
    tolerance: float = TOLERANCE,
    max_iterations: int = MAX_ITERATIONS,
) -> Calibration:
    """Rasch difficulties (logits) by marginal maximum likelihood, population N(μ, σ²).

    ``scores`` (N, K) 0/1, NaN = not presented. ``anchors`` maps item index → fixed difficulty
    from an earlier calibration; with anchors μ is estimated, without them μ = 0. An item is
    calibrated when at least ``min_responses`` persons answered it and it has both a correct
    and a wrong answer (an anchor needs one response); the others are reported, not estimated.
    """
    x, seen, status, n = _prepare(scores, anchors, min_responses)
    items = np.flatnonzero(np.isin(status, USABLE))
    fixed = _anchor_values(anchors, items, lambda value: float(value))
    design = _rasch_design(x[:, items], seen[:, items], items, fixed)
    return _calibrate(MODEL_RASCH, x, seen, design, status, n, points, tolerance, max_iterations)


def calibrate_2pl(
    scores: np.ndarray,
    anchors: Mapping[int, tuple[float, float]] | None = None,
    *,
    min_responses: int = MIN_RESPONSES_2PL,
    min_each: int = MIN_EACH_2PL,
    points: int = QUADRATURE_POINTS,
    tolerance: float = TOLERANCE,
    max_iterations: int = MAX_ITERATIONS,
) -> Calibration:
    """2PL slopes and difficulties by marginal maximum likelihood, where the data allow.

    An item is calibrated when at least ``min_responses`` persons answered it, at least
    ``min_each`` of them correctly and ``min_each`` wrongly; the others are reported as
    ``too_few_for_2pl`` (or all_correct / all_wrong) and left out. ``anchors`` maps item index
    → fixed (a, b); with anchors the population's μ and σ are estimated, without them N(0, 1).
    Starting values come from a Rasch calibration of the same items.
    """
    x, seen, status, n = _prepare(scores, anchors, MIN_RESPONSES)
    correct = x.sum(axis=0)
    enough = (n >= min_responses) & (correct >= min_each) & (n - correct >= min_each)
    status = np.where((status == STATUS_CALIBRATED) & ~enough, STATUS_TOO_FEW_2PL, status)
    items = np.flatnonzero(np.isin(status, USABLE))
    fixed = _anchor_values(anchors, items, lambda pair: (float(pair[0]), float(pair[1])))
    design = _two_pl_design(x[:, items], seen[:, items], items, fixed, points)
    return _calibrate(MODEL_2PL, x, seen, design, status, n, points, tolerance, max_iterations)


def _prepare(
    scores: np.ndarray, anchors: Mapping[int, object] | None, min_responses: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2:
        raise ValueError("scores must be persons × items")
    seen = ~np.isnan(scores)
    x = np.where(seen, scores, 0.0)
    if not np.isin(x[seen], (0.0, 1.0)).all():
        raise ValueError("scores must be 0, 1 or NaN (not presented)")
    k = scores.shape[1]
    n = seen.sum(axis=0)
    correct = x.sum(axis=0)
    status = np.full(k, STATUS_CALIBRATED, dtype=object)
    status[correct == n] = STATUS_ALL_CORRECT
    status[correct == 0] = STATUS_ALL_WRONG
    status[n < min_responses] = STATUS_TOO_FEW
    for item in anchors or {}:
        if not 0 <= item < k:
            raise ValueError(f"anchor item {item} is not a column of scores (0..{k - 1})")
        status[item] = STATUS_ANCHOR if n[item] > 0 else STATUS_TOO_FEW
    if anchors and not (status == STATUS_ANCHOR).any():
        raise ValueError("no anchor item was presented to anyone: the scales cannot be linked")
    return x, seen, status.astype(str), n


def _anchor_values(
    anchors: Mapping[int, object] | None, items: np.ndarray, convert: Callable
) -> dict[int, object]:
    """Position within ``items`` → converted anchor value, for anchors in the model."""
    position = {int(item): i for i, item in enumerate(items)}
    return {position[item]: convert(v) for item, v in (anchors or {}).items() if item in position}


def _rasch_design(
    x: np.ndarray, seen: np.ndarray, items: np.ndarray, fixed: dict[int, float]
) -> _Design:
    """φ = (b of the free items, σ[, μ with anchors]); α = σ and γ = μ − b for every item."""
    f = len(items)
    free = [i for i in range(f) if i not in fixed]
    linked = bool(fixed)
    size = len(free) + 1 + linked
    sd, mean = len(free), len(free) + 1
    matrix = np.zeros((2 * f, size))
    offset = np.zeros(2 * f)
    matrix[:f, sd] = 1.0
    for column, i in enumerate(free):
        matrix[f + i, column] = -1.0
    for i, b in fixed.items():
        offset[f + i] = -b
    if linked:
        matrix[f:, mean] = 1.0
    # PROX-like start: log-odds of the item's p spread by a population SD of 1.
    p = _clipped_p(x, seen)
    guess = np.log((1.0 - p) / p) * np.sqrt(1.0 + 1.0 / 2.89)
    start = np.zeros(size)
    start[: len(free)] = guess[free]
    start[sd] = 1.0
    if linked:
        shift = float(np.mean([b - guess[i] for i, b in fixed.items()]))
        start[: len(free)] += shift
        start[mean] = shift

    def report(phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
        b = np.empty(f)
        b[free] = phi[: len(free)]
        for i, value in fixed.items():
            b[i] = value
        return np.ones(f), b, float(phi[mean]) if linked else 0.0, float(phi[sd])

    return _Design(items, matrix, offset, start, report, sd)


def _two_pl_design(
    x: np.ndarray,
    seen: np.ndarray,
    items: np.ndarray,
    fixed: dict[int, tuple[float, float]],
    points: int,
) -> _Design:
    """φ = (α, γ of the free items[, σ, μ with anchors]); an anchor has α = a σ, γ = a (μ − b)."""
    f = len(items)
    free = [i for i in range(f) if i not in fixed]
    linked = bool(fixed)
    size = 2 * len(free) + 2 * linked
    sd, mean = 2 * len(free), 2 * len(free) + 1
    matrix = np.zeros((2 * f, size))
    offset = np.zeros(2 * f)
    for column, i in enumerate(free):
        matrix[i, column] = 1.0
        matrix[f + i, len(free) + column] = 1.0
    for i, (a, b) in fixed.items():
        matrix[i, sd] = a
        matrix[f + i, mean] = a
        offset[f + i] = -a * b
    # Start from a Rasch fit of the same items: its (α, γ) for the free items; for anchors, the
    # σ and μ that bring their (α, γ) closest to the Rasch ones.
    rasch = _em(x, seen, _rasch_design(x, seen, items, {}), points, 1e-3, 200)[0] if f else [1.0]
    sigma, delta = rasch[-1], np.asarray(rasch[:-1])
    start = np.zeros(size)
    start[: len(free)] = sigma
    start[len(free) : 2 * len(free)] = -delta[free]
    if linked:
        slopes = np.array([a for a, _b in fixed.values()])
        start[sd] = sigma / float(np.mean(slopes))
        start[mean] = float(np.mean([b - delta[i] / a for i, (a, b) in fixed.items()]))

    def report(phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
        alpha, gamma = np.split(matrix @ phi + offset, 2)
        sigma = float(phi[sd]) if linked else 1.0
        mu = float(phi[mean]) if linked else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            return alpha / sigma, mu - gamma * sigma / alpha, mu, sigma

    return _Design(items, matrix, offset, start, report, sd if linked else None)


def _clipped_p(x: np.ndarray, seen: np.ndarray) -> np.ndarray:
    n = np.maximum(seen.sum(axis=0), 1)
    return np.clip((x.sum(axis=0) + 0.5) / (n + 1.0), 0.01, 0.99)


def _calibrate(
    model: str,
    x: np.ndarray,
    seen: np.ndarray,
    design: _Design,
    status: np.ndarray,
    n: np.ndarray,
    points: int,
    tolerance: float,
    max_iterations: int,
) -> Calibration:
    k = x.shape[1]
    items = design.items
    nan = np.full(k, np.nan)
    if not len(items):
        return Calibration(
            model, nan, nan.copy(), nan.copy(), nan.copy(), np.nan, np.nan, np.nan, np.nan,
            np.nan, 0, False, n, tuple(str(s) for s in status), 0,
        )  # fmt: skip
    persons = seen[:, items].any(axis=1)
    xs, ss = x[persons][:, items], seen[persons][:, items]
    phi, iterations, converged = _em(xs, ss, design, points, tolerance, max_iterations)
    z, log_w = _grid(points)
    alpha, gamma = design.natural(phi)
    post, log_likelihood = _posterior(xs, ss, _eta(alpha, gamma, z), log_w)
    info = design.matrix.T @ _observed_information(xs, ss, post, alpha, gamma, z) @ design.matrix
    try:
        cov = np.linalg.inv(info)
        if not np.all(np.diag(cov) > 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        cov = np.full(info.shape, np.nan)
    a, b, mu, sigma = design.report(phi)
    se = _delta_method_se(design.report, phi, cov)
    f = len(items)
    difficulty, difficulty_se = nan.copy(), nan.copy()
    discrimination, discrimination_se = nan.copy(), nan.copy()
    difficulty[items], difficulty_se[items] = b, se[f : 2 * f]
    discrimination[items], discrimination_se[items] = a, se[:f]
    return Calibration(
        model=model,
        difficulty=difficulty,
        difficulty_se=difficulty_se,
        discrimination=discrimination,
        discrimination_se=discrimination_se,
        population_mean=mu,
        population_mean_se=float(se[2 * f]),
        population_sd=sigma,
        population_sd_se=float(se[2 * f + 1]),
        log_likelihood=log_likelihood,
        iterations=iterations,
        converged=converged,
        n=n,
        status=tuple(str(s) for s in status),
        persons=int(persons.sum()),
    )


def _delta_method_se(
    report: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, float, float]],
    phi: np.ndarray,
    cov: np.ndarray,
) -> np.ndarray:
    """SEs of (a, b, μ, σ) from the covariance of φ; the Jacobian by central differences (the
    map is algebraic and cheap, and exactly 0 for anchored values)."""

    def flat(p: np.ndarray) -> np.ndarray:
        a, b, mu, sigma = report(p)
        return np.concatenate([a, b, [mu, sigma]])

    step = 1e-6
    columns = []
    for j in range(len(phi)):
        delta = np.zeros(len(phi))
        delta[j] = step
        columns.append((flat(phi + delta) - flat(phi - delta)) / (2 * step))
    jacobian = np.column_stack(columns) if columns else np.zeros((len(flat(phi)), 0))
    jacobian[np.abs(jacobian) < 1e-9] = 0.0
    variance = np.einsum("ij,jk,ik->i", jacobian, np.nan_to_num(cov), jacobian)
    variance[np.isnan(cov).any() & (np.abs(jacobian).sum(axis=1) > 0)] = np.nan
    return np.sqrt(np.maximum(variance, 0.0))


# ---- EM ---------------------------------------------------------------------------------------


def _grid(points: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard normal quadrature: equally spaced z on ±6 and log weights summing to 1.

    Equal spacing integrates a smooth posterior to near machine precision once its SD exceeds
    the spacing (0.2 with 61 points), where Gauss–Hermite nodes would straddle a narrow one.
    """
    z = np.linspace(-QUADRATURE_RANGE, QUADRATURE_RANGE, points)
    log_w = -0.5 * z**2
    return z, log_w - np.logaddexp.reduce(log_w)


def _eta(alpha: np.ndarray, gamma: np.ndarray, z: np.ndarray) -> np.ndarray:
    return alpha[:, None] * z[None, :] + gamma[:, None]


def _expit(eta: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -eta))


def _posterior(
    x: np.ndarray, seen: np.ndarray, eta: np.ndarray, log_w: np.ndarray
) -> tuple[np.ndarray, float]:
    """(N, Q) posterior weights of each person over the grid and the marginal log-likelihood.

    log L(x_p | z_q) = Σ_i seen (x η − log(1 + e^η)): two matrix products, no loop per person.
    """
    log_joint = x @ eta - seen.astype(float) @ np.logaddexp(0.0, eta) + log_w
    top = log_joint.max(axis=1, keepdims=True)
    joint = np.exp(log_joint - top)
    total = joint.sum(axis=1, keepdims=True)
    return joint / total, float((np.log(total) + top).sum())


def _em(
    x: np.ndarray,
    seen: np.ndarray,
    design: _Design,
    points: int,
    tolerance: float,
    max_iterations: int,
) -> tuple[np.ndarray, int, bool]:
    """Bock–Aitkin EM: the E step gives each item's expected correct (r) and presented (n)
    counts at each point; the M step is one Newton step on the expected complete-data
    log-likelihood, which is a logistic regression per item on the grid."""
    z, log_w = _grid(points)
    phi = design.start.copy()
    data = np.hstack([x, seen.astype(float)])
    f = x.shape[1]
    for iteration in range(1, max_iterations + 1):
        alpha, gamma = design.natural(phi)
        post, _ = _posterior(x, seen, _eta(alpha, gamma, z), log_w)
        counts = data.T @ post
        step = _m_step(phi, design, counts[:f], counts[f:], z)
        if step is None:  # no step improves the M-step objective: stuck, not converged
            return phi, iteration, False
        phi = phi + step
        if np.max(np.abs(step), initial=0.0) < tolerance:
            return phi, iteration, True
    return phi, max_iterations, False


def _expected(
    phi: np.ndarray, design: _Design, r: np.ndarray, n: np.ndarray, z: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Expected complete-data log-likelihood, its gradient and information in φ."""
    alpha, gamma = design.natural(phi)
    eta = _eta(alpha, gamma, z)
    value = _expected_value(eta, r, n)
    p = _expit(eta)
    residual = r - n * p
    gradient = design.matrix.T @ np.concatenate([residual @ z, residual.sum(axis=1)])
    w = n * p * (1.0 - p)
    h_aa, h_ag, h_gg = w @ z**2, w @ z, w.sum(axis=1)
    f = len(alpha)
    m_a, m_g = design.matrix[:f], design.matrix[f:]
    info = m_a.T @ (h_aa[:, None] * m_a + h_ag[:, None] * m_g)
    info += m_g.T @ (h_ag[:, None] * m_a + h_gg[:, None] * m_g)
    return value, gradient, info


def _expected_value(eta: np.ndarray, r: np.ndarray, n: np.ndarray) -> float:
    return float((r * eta - n * np.logaddexp(0.0, eta)).sum())


def _m_step(
    phi: np.ndarray, design: _Design, r: np.ndarray, n: np.ndarray, z: np.ndarray
) -> np.ndarray | None:
    """One Newton step, capped and halved until the expected log-likelihood does not fall;
    None when no step of the 30 halvings keeps it from falling."""
    value, gradient, info = _expected(phi, design, r, n, z)
    try:
        step = np.linalg.solve(info, gradient)
    except np.linalg.LinAlgError:
        step = np.linalg.lstsq(info, gradient, rcond=None)[0]
    largest = np.max(np.abs(step), initial=0.0)
    if largest > MAX_STEP:
        step *= MAX_STEP / largest
    for _ in range(30):
        candidate = phi + step
        sd_ok = design.sd_index is None or candidate[design.sd_index] > 0.05
        if sd_ok:
            eta = _eta(*design.natural(candidate), z)
            if _expected_value(eta, r, n) >= value - 1e-12 * abs(value):
                return step
        step = step / 2
    return None


def _observed_information(
    x: np.ndarray,
    seen: np.ndarray,
    post: np.ndarray,
    alpha: np.ndarray,
    gamma: np.ndarray,
    z: np.ndarray,
) -> np.ndarray:
    """Observed information of (α; γ) by Louis's (1982) formula, summed over persons:

        I = Σ_p E_p[−∂²ℓ_c] − Σ_p Cov_p[∂ℓ_c]

    with expectations over each person's posterior on the grid. The complete-data score of item
    j at point q is e = seen (x − P) (times z for α); the covariance needs, for every item pair,
    B_jkq = Σ_p post_pq seen_pj seen_pk, the one N·K²·Q product here (computed once).
    """
    f = len(alpha)
    seen_f = seen.astype(float)
    p = _expit(_eta(alpha, gamma, z))
    n = seen_f.T @ post
    w = n * p * (1.0 - p)
    powers = [np.ones_like(z), z, z**2]
    complete = [w @ zm for zm in powers]  # item-diagonal: γγ, αγ, αα
    moments = [post @ zm for zm in powers]  # (N,): E_p[z^m]
    expected_p = [post @ (p * zm).T for zm in powers]  # (N, F): E_p[z^m P_j]
    pairs = _pair_weights(seen_f, post)

    def second(m: int) -> np.ndarray:
        """Σ_p Σ_q post z^m e_j e_k."""
        cross = x.T @ (seen_f * expected_p[m])
        pair = np.einsum("jkq,jq,kq->jk", pairs, p * powers[m], p, optimize=True)
        return (x * moments[m][:, None]).T @ x - cross - cross.T + pair

    score_g = x - seen_f * expected_p[0]
    score_a = x * moments[1][:, None] - seen_f * expected_p[1]
    info_aa = np.diag(complete[2]) - second(2) + score_a.T @ score_a
    info_ag = np.diag(complete[1]) - second(1) + score_a.T @ score_g
    info_gg = np.diag(complete[0]) - second(0) + score_g.T @ score_g
    info = np.block([[info_aa, info_ag], [info_ag.T, info_gg]])
    return (info + info.T) / 2 if f else info


def _pair_weights(seen: np.ndarray, post: np.ndarray, chunk: int = 256) -> np.ndarray:
    """(F, F, Q): B_jkq = Σ_p post_pq seen_pj seen_pk (one product when nothing is missing)."""
    n, f = seen.shape
    q = post.shape[1]
    if seen.all():
        return np.broadcast_to(post.sum(axis=0), (f, f, q))
    pairs = np.zeros((f * q, f))
    for start in range(0, n, chunk):
        s, w = seen[start : start + chunk], post[start : start + chunk]
        pairs += (s[:, :, None] * w[:, None, :]).reshape(len(s), f * q).T @ s
    return pairs.reshape(f, q, f).transpose(0, 2, 1)


# ---- abilities ------------------------------------------------------------------------------


def abilities(
    scores: np.ndarray, calibration: Calibration, *, points: int = EAP_POINTS
) -> Abilities:
    """EAP (prior: the calibration's population) and WLE of each person, on the items with
    parameters that the person answered."""
    a, b = _scoring_items(calibration)
    mean, se = eap(
        scores, a, b, calibration.population_mean, calibration.population_sd, points=points
    )
    theta, theta_se = wle(scores, a, b)
    n_items = (~np.isnan(np.asarray(scores, dtype=float)) & ~np.isnan(b)).sum(axis=1)
    return Abilities(mean, se, theta, theta_se, n_items)


def _scoring_items(calibration: Calibration) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) with NaN for items not usable for scoring (no parameters, or a slope ≤ 0)."""
    usable = calibration.usable & (calibration.discrimination > 0)
    return (
        np.where(usable, calibration.discrimination, np.nan),
        np.where(usable, calibration.difficulty, np.nan),
    )


def _person_data(
    scores: np.ndarray, discrimination: np.ndarray, difficulty: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scores restricted to items with finite parameters: (x, seen, a, b)."""
    scores = np.asarray(scores, dtype=float)
    a = np.broadcast_to(np.asarray(discrimination, dtype=float), scores.shape[1:])
    b = np.asarray(difficulty, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    if (a[keep] <= 0).any():
        raise ValueError("slopes must be positive to score persons")
    scores = scores[:, keep]
    seen = ~np.isnan(scores)
    return np.where(seen, scores, 0.0), seen, a[keep], b[keep]


def eap(
    scores: np.ndarray,
    discrimination: np.ndarray | float,
    difficulty: np.ndarray,
    mean: float = 0.0,
    sd: float = 1.0,
    *,
    points: int = EAP_POINTS,
) -> tuple[np.ndarray, np.ndarray]:
    """(EAP, posterior SD) per person under the prior N(mean, sd²); items with NaN parameters
    are skipped. A person with no items gets the prior's mean and SD. Always finite."""
    x, seen, a, b = _person_data(scores, discrimination, difficulty)
    z, log_w = _grid(points)
    theta = mean + sd * z
    post, _ = _posterior(x, seen, a[:, None] * (theta[None, :] - b[:, None]), log_w)
    estimate = post @ theta
    spread = np.sqrt((post * (theta[None, :] - estimate[:, None]) ** 2).sum(axis=1))
    return estimate, spread


def wle(
    scores: np.ndarray,
    discrimination: np.ndarray | float,
    difficulty: np.ndarray,
    *,
    tolerance: float = 1e-8,
    max_iterations: int = 200,
) -> tuple[np.ndarray, np.ndarray]:
    """(WLE, SE) per person: Warm's (1989) weighted likelihood estimate, the root of

        Σ a (x − P) + J / (2 I) = 0,   I = Σ a² P Q,   J = Σ a³ P Q (1 − 2P),

    over the person's items, SE = 1 / √I(θ̂). Finite for all-correct and all-wrong patterns (the
    correction term pulls them in); NaN for a person with no items. Newton steps kept inside a
    bracket that shrinks by bisection whenever Newton would leave it.
    """
    x, seen, a, b = _person_data(scores, discrimination, difficulty)
    persons = x.shape[0]
    has_items = seen.any(axis=1)
    if not len(b):
        return np.full(persons, np.nan), np.full(persons, np.nan)
    # The equation is > 0 far below every item and < 0 far above (it tends to Σx + a/2 and
    # Σ(x − 1) − a/2): 40 / min(a) logits beyond the items is far enough for exp() to settle.
    reach = 40.0 / float(a.min())
    low = np.full(persons, float(b.min()) - reach)
    high = np.full(persons, float(b.max()) + reach)
    share = (x.sum(axis=1) + 0.5) / (seen.sum(axis=1) + 1.0)
    theta = np.clip(np.log(share / (1 - share)) + np.average(b), low, high)
    for _ in range(max_iterations):
        value, slope, _info = _wle_equation(theta, x, seen, a, b)
        above = value > 0
        low = np.where(above, theta, low)
        high = np.where(above, high, theta)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = theta - value / slope
        inside = np.isfinite(newton) & (newton >= low) & (newton <= high)
        following = np.where(inside, newton, (low + high) / 2)
        moved = np.abs(following - theta)
        theta = following
        if np.max(np.where(has_items, moved, 0.0)) < tolerance:
            break
    _value, _slope, info = _wle_equation(theta, x, seen, a, b)
    with np.errstate(divide="ignore"):
        se = 1.0 / np.sqrt(info)
    return np.where(has_items, theta, np.nan), np.where(has_items, se, np.nan)


def _wle_equation(
    theta: np.ndarray, x: np.ndarray, seen: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Warm's estimating function, its derivative in θ and the test information, per person."""
    p = _expit(a[None, :] * (theta[:, None] - b[None, :]))
    pq = np.where(seen, p * (1.0 - p), 0.0)
    score = (np.where(seen, x - p, 0.0) * a).sum(axis=1)
    info = pq @ a**2
    third = (pq * (1.0 - 2.0 * p)) @ a**3  # dI/dθ
    fourth = (pq * (1.0 - 6.0 * pq)) @ a**4  # d²I/dθ²
    with np.errstate(divide="ignore", invalid="ignore"):
        value = score + third / (2.0 * info)
        slope = -info + (fourth * info - third**2) / (2.0 * info**2)
    return value, slope, info


# ---- item fit -------------------------------------------------------------------------------


def item_fit(
    scores: np.ndarray, calibration: Calibration, theta: np.ndarray | None = None
) -> ItemFit:
    """Infit and outfit mean squares of each item with parameters (Wright & Masters 1982):

        outfit = mean of z² = Σ (x − P)² / (P Q) / n,   infit = Σ (x − P)² / Σ P Q,

    over persons at their ability ``theta`` (default: WLE). Persons with all items correct or
    all wrong are left out: their residuals say nothing about the item. Both are 1 when the data
    fit; see ``fit_category`` for the ranges.
    """
    scores = np.asarray(scores, dtype=float)
    a, b = _scoring_items(calibration)
    if theta is None:
        theta = wle(scores, a, b)[0]
    seen = ~np.isnan(scores) & ~np.isnan(b)[None, :]
    x = np.where(seen, scores, 0.0)
    count, total = seen.sum(axis=1), x.sum(axis=1)
    used = seen & ((total > 0) & (total < count) & np.isfinite(theta))[:, None]
    p = _expit(np.nan_to_num(a)[None, :] * (np.nan_to_num(theta)[:, None] - np.nan_to_num(b)))
    variance = p * (1.0 - p)
    squared = np.where(used, (x - p) ** 2, 0.0)
    n = used.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        outfit = np.where(used, squared / variance, 0.0).sum(axis=0) / n
        infit = squared.sum(axis=0) / np.where(used, variance, 0.0).sum(axis=0)
    valid = (n > 0) & ~np.isnan(b)
    return ItemFit(np.where(valid, infit, np.nan), np.where(valid, outfit, np.nan), n)


def fit_category(mean_square: float | None) -> str | None:
    """The band of a mean square: good (0.7–1.3), productive (0.5–1.5), overfit (< 0.5: too
    predictable), noisy (1.5–2.0) or degrading (> 2.0); None when undefined."""
    if mean_square is None or not np.isfinite(mean_square):
        return None
    if FIT_GOOD[0] <= mean_square <= FIT_GOOD[1]:
        return "good"
    if FIT_PRODUCTIVE[0] <= mean_square <= FIT_PRODUCTIVE[1]:
        return "productive"
    if mean_square < FIT_PRODUCTIVE[0]:
        return "overfit"
    return "noisy" if mean_square <= FIT_DEGRADING else "degrading"
