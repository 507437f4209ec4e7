"""Response-quality indices (pure): is a score a measure of the person at all?

Five checks, each returning a dataclass with its evidence (the numbers a proctor or assessor
reads), the cut it was judged against and the verdict:

1. ``rapid_guessing``: answers given faster than an item can be read (Wise & Kong 2005, with the
   NT10 thresholds of Wise & Ma 2012), summarised as response-time effort (RTE);
2. ``careless_responding``: long-string, within-person SD and even–odd consistency on Likert
   inventories (Johnson 2005; Meade & Craig 2012; Dunn et al. 2018);
3. ``lie_scale``: the lie / social-desirability scale against its norm group's 95th percentile,
   with a provisional fixed cut while the norm group is small;
4. ``chance_level``: the probability that uniformly random responding scores at least as much,
   exact for any mix of item types (convolution of per-item score distributions);
5. ``collusion``: Holland's (1996) K-index for identical wrong answers of seat neighbours
   (``neighbours`` infers them from seat labels), Bonferroni-corrected over the pairs tested.

A flag is a reason to look, never proof of cheating. What a caller withholds on which verdict is
in ``docs/psychometrics.md`` ("Response quality: flags and their evidence"). Every cut is a named
constant below with its source (a house rule says so); most are keyword arguments too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations

import numpy as np

from cbt_server.scoring.engine import NOT_PRESENTED_CODE
from cbt_server.scoring.items import KeyedItem, score_item

#: values are compared with this slack, so rounding noise never moves a value across a cut
TOLERANCE = 1e-9
#: sample statistics (n − 1), as in the rest of ``cbt_server.analytics``
DDOF = 1

# --- 1. rapid guessing -------------------------------------------------------------------------
#: NT10 (Wise & Ma 2012): an item's threshold is 10 % of its mean response time ...
RAPID_SHARE = 0.10
#: ... capped at 10 seconds
RAPID_CAP_SECONDS = 10.0
#: flag a person whose response-time effort is below 0.90 (Wise & Kong 2005)
RTE_CUT = 0.90

# --- 2. careless responding on inventories ----------------------------------------------------
#: long-string (Johnson 2005) flag, a house rule: the longest run of one answer covers at least
#: half of the answered items ...
LONG_STRING_SHARE = 0.5
#: ... judged only when at least this many items were answered (shorter runs mean little)
LONG_STRING_MIN_ANSWERED = 10
#: within-person SD (ddof 1) of the raw answers below this flags (near) straight-lining; a house
#: rule on a 1..5 scale (Dunn et al. 2018 look at the low tail, with no fixed cut)
SD_CUT = 0.5
#: even–odd consistency (Spearman–Brown corrected) below .30 flags (Johnson 2005)
EVEN_ODD_CUT = 0.30
#: scales with both halves answered needed for an even–odd value (a correlation of fewer points
#: is meaningless)
EVEN_ODD_MIN_SCALES = 3

FLAG_LONG_STRING = "long_string"
FLAG_LOW_SD = "low_sd"
FLAG_EVEN_ODD = "even_odd"

# --- 3. lie / social-desirability scale --------------------------------------------------------
#: invalid above this percentile of the norm group
LIE_NORM_PERCENTILE = 95.0
#: a norm group smaller than this is not used: the provisional cut applies
LIE_MIN_NORM = 30
#: provisional cut, percent of the scale's maximum (the shipped BAT-INTEGRITAS
#: ``validity_flag_percent``), invalid at or above it
LIE_PROVISIONAL_PERCENT = 85.0

BASIS_NORM = "norm"
BASIS_PROVISIONAL = "provisional"
VALID = "valid"
INVALID = "invalid"

# --- 4. chance level ---------------------------------------------------------------------------
#: a score is measured when random responding reaches it with probability at most α
CHANCE_ALPHA = 0.05
#: nearly blank (a house rule): fewer than half of the presented items answered
MIN_ANSWERED_SHARE = 0.5
#: the exact convolution runs on a lattice of at most this many score steps
MAX_LATTICE = 1_000_000

MEASURED = "measured"
NOT_MEASURED = "not_measured"
REASON_NOT_PRESENTED = "not_presented"
REASON_BLANK = "blank"
REASON_NEARLY_BLANK = "nearly_blank"
REASON_AT_CHANCE = "at_chance"
REASON_BELOW_CHANCE = "below_chance"

# --- 5. collusion ------------------------------------------------------------------------------
#: family-wise α over all (copier, source) tests of a session, Bonferroni-corrected
COLLUSION_ALPHA = 0.05
#: the match probability is estimated from at least this many other examinees
MIN_REFERENCE = 10


# ==== 1. rapid guessing ===========================================================================


@dataclass(frozen=True, eq=False)
class RapidGuessing:
    """Per item (K,) and person (N,); see :func:`rapid_guessing`."""

    thresholds: np.ndarray  # (K,) seconds; NaN where no person has a time for the item
    rapid: np.ndarray  # (N, K) bool: time below the item's threshold
    timed: np.ndarray  # (N,) items with a time and a threshold
    n_rapid: np.ndarray  # (N,)
    rte: np.ndarray  # (N,) share of timed items at or above threshold; NaN when none timed
    flagged: np.ndarray  # (N,) bool: rte < rte_cut
    rte_cut: float


def rapid_thresholds(
    times: np.ndarray, share: float = RAPID_SHARE, cap: float = RAPID_CAP_SECONDS
) -> np.ndarray:
    """Per item, ``min(share × mean time, cap)`` seconds: the NT10 normative threshold of
    Wise & Ma (2012). ``times`` (N, K) seconds, NaN = not presented; NaN where nobody has one."""
    times = _times(times)
    seen = ~np.isnan(times)
    n = seen.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(seen, times, 0.0).sum(axis=0) / n
    return np.where(n > 0, np.minimum(share * mean, cap), np.nan)


def rapid_guessing(
    times: np.ndarray, thresholds: np.ndarray | None = None, rte_cut: float = RTE_CUT
) -> RapidGuessing:
    """Rapid guesses and response-time effort (Wise & Kong 2005).

    A response is a rapid guess when its time is below the item's threshold (by default
    :func:`rapid_thresholds` of these same ``times``; pass thresholds computed on a larger group
    when this one is small). RTE is the share of a person's timed items answered at or above
    threshold ("solution behaviour"); a person is flagged when RTE < ``rte_cut``. A person with
    no timed item has RTE NaN and is not flagged.
    """
    times = _times(times)
    limits = rapid_thresholds(times) if thresholds is None else np.asarray(thresholds, float)
    if limits.shape != (times.shape[1],):
        raise ValueError(f"thresholds must be one per item ({times.shape[1]}), got {limits.shape}")
    timed_cells = ~np.isnan(times) & ~np.isnan(limits)[None, :]
    with np.errstate(invalid="ignore"):
        rapid = timed_cells & (times < limits[None, :] - TOLERANCE)
    timed = timed_cells.sum(axis=1)
    n_rapid = rapid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rte = np.where(timed > 0, (timed - n_rapid) / timed, np.nan)
        flagged = rte < rte_cut - TOLERANCE
    return RapidGuessing(limits, rapid, timed, n_rapid, rte, flagged, float(rte_cut))


def _times(times: np.ndarray) -> np.ndarray:
    times = np.asarray(times, dtype=float)
    if times.ndim != 2:
        raise ValueError(f"times must be persons × items, got shape {times.shape}")
    if np.any(times < 0):
        raise ValueError("response times must be ≥ 0 seconds (NaN = not presented)")
    return times


# ==== 2. careless responding on inventories =======================================================


@dataclass(frozen=True, eq=False)
class CarelessResponding:
    """Per person (N,); see :func:`careless_responding`."""

    answered: np.ndarray  # items answered
    long_string: np.ndarray  # longest run of one answer, in the order shown, blanks left out
    long_string_answer: np.ndarray  # the answer repeated in that run (NaN: nothing answered)
    long_string_share: np.ndarray  # long_string / answered
    sd: np.ndarray  # within-person SD of the raw answers (ddof 1); NaN below two answers
    even_odd: np.ndarray  # Spearman–Brown corrected even–odd consistency; NaN when undefined
    even_odd_scales: np.ndarray  # scales that entered the even–odd correlation
    flags: tuple[tuple[str, ...], ...]
    #: a long-string or low-SD flag: the answers follow a pattern, not the items' content, so
    #: the trait scores of this attempt are not a measure (the even–odd flag alone asks for a look)
    withhold: np.ndarray

    @property
    def flagged(self) -> np.ndarray:
        return np.array([bool(f) for f in self.flags], dtype=bool)


def reverse_key(
    responses: np.ndarray,
    reverse: Sequence[bool] | np.ndarray,
    low: float | np.ndarray = 1,
    high: float | np.ndarray = 5,
) -> np.ndarray:
    """``x' = low + high − x`` on the reverse-keyed items (columns), ``x`` elsewhere."""
    x = np.asarray(responses, dtype=float)
    flip = np.asarray(reverse, dtype=bool)
    return np.where(flip[None, :], np.asarray(low) + np.asarray(high) - x, x)


def spearman_brown(r: np.ndarray | float) -> np.ndarray:
    """A half-length correlation stepped up to full length, ``2r / (1 + r)``, kept in [−1, 1]."""
    r = np.asarray(r, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        stepped = np.where(r <= -1.0, -1.0, 2.0 * r / (1.0 + r))
    return np.clip(stepped, -1.0, 1.0)


def careless_responding(
    responses: np.ndarray,
    scales: Sequence[object] | np.ndarray,
    reverse: Sequence[bool] | np.ndarray | None = None,
    low: float | np.ndarray = 1,
    high: float | np.ndarray = 5,
    order: np.ndarray | None = None,
) -> CarelessResponding:
    """Long-string, within-person SD and even–odd consistency of Likert answers.

    ``responses`` (N, K) the points clicked (``low``..``high``, before any reverse key), NaN =
    not presented or blank; ``scales`` a scale label per item; ``reverse`` per item, True when
    reverse-keyed (x' = low + high − x; ``low``/``high`` scalars or per item); ``order`` (N, K)
    the position each item was shown at (NaN = not shown; default: column order).

    * **Long-string** (Johnson 2005): the longest run of one identical answer in the order
      shown, blanks left out; flagged when it covers ≥ ``LONG_STRING_SHARE`` of the answered
      items and at least ``LONG_STRING_MIN_ANSWERED`` items were answered.
    * **Within-person SD** of the raw answers (intra-individual response variability, Dunn et
      al. 2018): flagged when < ``SD_CUT``. Raw, not reverse-keyed: a straight line is SD 0
      whatever the keys.
    * **Even–odd consistency** (Johnson 2005; Meade & Craig 2012): within each
      scale, the person's answered items in column order are split alternately into odd and even
      halves; the half means (reverse-keyed) are correlated across scales and stepped up with
      Spearman–Brown. Flagged when < ``EVEN_ODD_CUT``; NaN (not judged) with fewer than
      ``EVEN_ODD_MIN_SCALES`` scales or halves that do not vary.
    """
    raw = np.asarray(responses, dtype=float)
    if raw.ndim != 2:
        raise ValueError(f"responses must be persons × items, got shape {raw.shape}")
    labels = np.asarray(scales, dtype=object)
    if labels.shape != (raw.shape[1],):
        raise ValueError(f"scales must give one label per item ({raw.shape[1]})")
    flip = np.zeros(raw.shape[1], bool) if reverse is None else np.asarray(reverse, bool)
    answered_cells = ~np.isnan(raw)
    answered = answered_cells.sum(axis=1)
    run, answer = _long_strings(raw, order)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(answered > 0, run / answered, np.nan)
    sd = _row_sd(raw)
    keyed = reverse_key(raw, flip, low, high)
    even_odd, n_scales = _even_odd(keyed, labels)
    with np.errstate(invalid="ignore"):
        marks = [
            (
                FLAG_LONG_STRING,
                (answered >= LONG_STRING_MIN_ANSWERED) & (share >= LONG_STRING_SHARE - TOLERANCE),
            ),
            (FLAG_LOW_SD, sd < SD_CUT - TOLERANCE),
            (FLAG_EVEN_ODD, even_odd < EVEN_ODD_CUT - TOLERANCE),
        ]
    flags = tuple(tuple(flag for flag, hit in marks if hit[n]) for n in range(raw.shape[0]))
    withhold = marks[0][1] | marks[1][1]
    return CarelessResponding(answered, run, answer, share, sd, even_odd, n_scales, flags, withhold)


def _long_strings(raw: np.ndarray, order: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Longest run and its answer per row, in ``order`` with blanks moved past the end."""
    n, k = raw.shape
    if order is None:
        position = np.broadcast_to(np.arange(k, dtype=float), raw.shape)
    else:
        position = np.asarray(order, dtype=float)
        if position.shape != raw.shape:
            raise ValueError(f"order must have the shape of responses {raw.shape}")
    position = np.where(np.isnan(raw) | np.isnan(position), np.inf, position)
    shown = np.take_along_axis(raw, np.argsort(position, axis=1, kind="stable"), axis=1)
    run = np.zeros(n)
    best = np.zeros(n)
    answer = np.full(n, np.nan)
    previous = np.full(n, np.nan)
    for column in range(k):  # one pass over the items, vectorised over persons
        x = shown[:, column]
        run = np.where(np.isnan(x), run, np.where(x == previous, run + 1, 1))
        longer = ~np.isnan(x) & (run > best)
        best = np.where(longer, run, best)
        answer = np.where(longer, x, answer)
        previous = x
    return best.astype(np.int64), answer


def _row_sd(values: np.ndarray) -> np.ndarray:
    present = ~np.isnan(values)
    n = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(present, values, 0.0).sum(axis=1) / n
        squares = np.where(present, (values - mean[:, None]) ** 2, 0.0).sum(axis=1)
        return np.where(n > DDOF, np.sqrt(squares / (n - DDOF)), np.nan)


def _even_odd(keyed: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spearman–Brown corrected correlation of odd- and even-half scale means, per person."""
    present = ~np.isnan(keyed)
    values = np.where(present, keyed, 0.0)
    halves = []
    for scale in dict.fromkeys(labels.tolist()):  # one pass per scale, vectorised over persons
        member = present & (labels == scale)[None, :]
        rank = np.cumsum(member, axis=1)  # 1, 2, … over the person's answered items of the scale
        odd = member & (rank % 2 == 1)
        even = member & (rank % 2 == 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            halves.append(
                (
                    np.where(odd, values, 0.0).sum(axis=1) / odd.sum(axis=1),
                    np.where(even, values, 0.0).sum(axis=1) / even.sum(axis=1),
                )
            )
    if not halves:
        n = keyed.shape[0]
        return np.full(n, np.nan), np.zeros(n, dtype=np.int64)
    odd_means = np.column_stack([h[0] for h in halves])
    even_means = np.column_stack([h[1] for h in halves])
    both = ~np.isnan(odd_means) & ~np.isnan(even_means)
    n_scales = both.sum(axis=1)
    r = _row_correlation(odd_means, even_means, both)
    r = np.where(n_scales >= EVEN_ODD_MIN_SCALES, r, np.nan)
    return spearman_brown(r), n_scales


def _row_correlation(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pearson r along each row where ``mask``; NaN when either side is constant."""
    n = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dx = np.where(mask, x - np.where(mask, x, 0.0).sum(axis=1, keepdims=True) / n[:, None], 0)
        dy = np.where(mask, y - np.where(mask, y, 0.0).sum(axis=1, keepdims=True) / n[:, None], 0)
        sxx, syy = (dx * dx).sum(axis=1), (dy * dy).sum(axis=1)
        r = (dx * dy).sum(axis=1) / np.sqrt(sxx * syy)
    varies = (sxx > TOLERANCE) & (syy > TOLERANCE)
    return np.where(varies, np.clip(r, -1.0, 1.0), np.nan)


# ==== 3. lie / social-desirability scale ==========================================================


@dataclass(frozen=True, eq=False)
class LieScaleCheck:
    """Per person (N,); see :func:`lie_scale`."""

    percent: np.ndarray  # the lie-scale score, percent of its maximum (NaN: not measured)
    cut: float  # the cut in percent
    #: "norm": invalid above the norm group's percentile; "provisional": the norm group is too
    #: small, invalid at or above a fixed percent of the maximum, to be replaced by a norm
    basis: str
    norm_size: int
    norm_rank: np.ndarray  # percentile rank in the norm group (NaN without a norm or a score)
    status: tuple[str, ...]  # "valid" | "invalid" | "not_measured"

    @property
    def withhold(self) -> np.ndarray:
        """True where the trait levels of the attempt must not be reported."""
        return np.array([s == INVALID for s in self.status], dtype=bool)


def lie_scale(
    percent: np.ndarray | Sequence[float] | float,
    norm_percent: np.ndarray | Sequence[float],
    percentile: float = LIE_NORM_PERCENTILE,
    min_norm: int = LIE_MIN_NORM,
    provisional_percent: float = LIE_PROVISIONAL_PERCENT,
) -> LieScaleCheck:
    """Judge lie / social-desirability scores against their own norm group.

    ``percent`` the persons' lie-scale percentages of the maximum (NaN: not measured);
    ``norm_percent`` the same for the norm group (e.g. earlier finished attempts of the battery;
    NaN dropped). With at least ``min_norm`` norm scores a person is **invalid** when strictly
    above the norm's ``percentile`` (numpy's linear interpolation, Hyndman & Fan type 7);
    otherwise the cut is **provisional**: invalid at or above ``provisional_percent`` % of the
    maximum, the rule of the battery's ``validity_flag_percent`` (docs/scoring.md).
    """
    scores = np.atleast_1d(np.asarray(percent, dtype=float))
    norm = np.asarray(norm_percent, dtype=float).reshape(-1)
    norm = norm[~np.isnan(norm)]
    if norm.size >= min_norm:
        basis, cut = BASIS_NORM, float(np.percentile(norm, percentile))
        with np.errstate(invalid="ignore"):
            invalid = scores > cut + TOLERANCE
    else:
        basis, cut = BASIS_PROVISIONAL, float(provisional_percent)
        with np.errstate(invalid="ignore"):
            invalid = scores >= cut - TOLERANCE
    rank = np.full(scores.shape, np.nan)
    if norm.size:
        below = (norm[None, :] < scores[:, None] - TOLERANCE).sum(axis=1)
        equal = (np.abs(norm[None, :] - scores[:, None]) <= TOLERANCE).sum(axis=1)
        rank = np.where(np.isnan(scores), np.nan, 100.0 * (below + 0.5 * equal) / norm.size)
    status = tuple(
        NOT_MEASURED if np.isnan(s) else INVALID if bad else VALID
        for s, bad in zip(scores, invalid, strict=True)
    )
    return LieScaleCheck(scores, cut, basis, int(norm.size), rank, status)


# ==== 4. chance level =============================================================================


@dataclass(frozen=True, eq=False)
class ScoreDistribution:
    """A score's distribution under random responding: ascending ``values`` with their
    ``probabilities``, and ``max_points``, the most the item(s) can earn (a guesser may not
    reach it: a short answer is worth 1 but 0 under guessing)."""

    values: np.ndarray
    probabilities: np.ndarray
    max_points: float

    @property
    def expected(self) -> float:
        """The mean score of random responding."""
        return float(self.values @ self.probabilities)

    @property
    def expected_percent(self) -> float | None:
        """The mean score of random responding in percent of ``max_points`` (None when 0)."""
        return 100.0 * self.expected / self.max_points if self.max_points > 0 else None

    def at_least(self, score: float) -> float:
        """P(random score ≥ ``score``)."""
        tail = self.probabilities[self.values >= score - TOLERANCE].sum()
        return float(min(1.0, tail))

    def at_most(self, score: float) -> float:
        """P(random score ≤ ``score``)."""
        head = self.probabilities[self.values <= score + TOLERANCE].sum()
        return float(min(1.0, head))


@dataclass(frozen=True)
class ChanceLevel:
    """One score (a competency's or the whole test's) against random responding."""

    observed: float
    max_points: float
    expected: float  # the mean score of random responding on the same items
    p_value: float  # P(random score ≥ observed)
    p_below: float  # P(random score ≤ observed)
    presented: int
    answered: int
    alpha: float
    status: str  # "measured" | "not_measured"
    #: None when measured; else "not_presented", "blank", "nearly_blank", "at_chance" (random
    #: responding reaches the score with probability > α) or "below_chance" (at chance, and
    #: also improbably low for a guesser: answers systematically away from the best options)
    reason: str | None

    @property
    def measured(self) -> bool:
        return self.status == MEASURED

    @property
    def percent(self) -> float | None:
        return 100.0 * self.observed / self.max_points if self.max_points > 0 else None

    @property
    def expected_percent(self) -> float | None:
        return 100.0 * self.expected / self.max_points if self.max_points > 0 else None


def score_distribution(
    values: Sequence[float] | np.ndarray,
    probabilities: Sequence[float] | np.ndarray | None = None,
    max_points: float | None = None,
) -> ScoreDistribution:
    """A distribution from its values (equally likely unless ``probabilities`` are given);
    equal values are merged. ``max_points`` defaults to the largest value."""
    x = np.asarray(values, dtype=float).reshape(-1)
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("a score distribution needs at least one finite value")
    p = np.full(x.size, 1.0 / x.size) if probabilities is None else np.asarray(probabilities, float)
    if p.shape != x.shape or np.any(p < 0) or abs(p.sum() - 1.0) > 1e-6:
        raise ValueError("probabilities must be ≥ 0, one per value, and sum to 1")
    merged, index = np.unique(np.round(x, 9), return_inverse=True)
    mass = np.bincount(index.reshape(-1), weights=p / p.sum())
    top = float(merged.max()) if max_points is None else float(max_points)
    return ScoreDistribution(merged, mass, top)


def guessing_distribution(item: KeyedItem) -> ScoreDistribution:
    """An item's score when every answer it accepts is equally likely, scored by the one
    scoring rule (:func:`cbt_server.scoring.items.score_item`).

    One option of ``single`` / ``truefalse`` / ``weighted``; one point of ``likert``; one of the
    2ⁿ − 1 non-empty option sets of ``multiple`` (each option ticked with probability ½, the item
    answered); ``short``: no text can be guessed, so it scores as a blank (0).
    """
    if item.type == "short":
        responses: list[object] = [None]
    elif item.type == "likert":
        responses = list(range(1, (item.likert_points or 0) + 1))
    elif item.type == "multiple":
        options = range(item.n_options)
        responses = [
            frozenset(chosen)
            for size in range(1, item.n_options + 1)
            for chosen in combinations(options, size)
        ]
    else:
        responses = [frozenset({index}) for index in range(item.n_options)]
    return score_distribution([score_item(item, r) for r in responses], max_points=item.max_score)


def combine(distributions: Iterable[ScoreDistribution]) -> ScoreDistribution:
    """The exact distribution of a sum of independent item scores (a convolution on the
    smallest lattice that holds every value: a Poisson-binomial for 0/1 items)."""
    parts = list(distributions)
    top = float(sum(d.max_points for d in parts))
    if not parts:
        return ScoreDistribution(np.array([0.0]), np.array([1.0]), top)
    unit = _lattice_unit(np.concatenate([d.values for d in parts]))
    offset, mass = 0, np.array([1.0])
    for part in parts:
        steps = np.rint(part.values / unit).astype(np.int64)
        cells = np.zeros(int(steps.max() - steps.min()) + 1)
        np.add.at(cells, steps - steps.min(), part.probabilities)
        if mass.size + cells.size > MAX_LATTICE:
            raise ValueError(f"the score lattice would exceed {MAX_LATTICE} steps")
        mass = np.convolve(mass, cells)
        offset += int(steps.min())
    values = (offset + np.arange(mass.size)) * unit
    keep = mass > 0
    return ScoreDistribution(values[keep], mass[keep] / mass.sum(), top)


def _lattice_unit(values: np.ndarray) -> float:
    """The largest step dividing every value (values as fractions with denominators ≤ 10⁶)."""
    fractions = []
    for value in np.unique(np.round(values, 9)):
        fraction = Fraction(float(value)).limit_denominator(1_000_000)
        if abs(float(fraction) - value) > TOLERANCE:
            raise ValueError(f"score {value!r} is not a fraction with a denominator ≤ 10⁶")
        fractions.append(fraction)
    common = math.lcm(*(f.denominator for f in fractions))
    step = math.gcd(*(int(f * common) for f in fractions))
    return step / common if step else 1.0


def form_distribution(items: Iterable[KeyedItem]) -> ScoreDistribution:
    """Random responding on a whole form (or a competency's items of it): its ``expected`` and
    ``expected_percent`` compare forms, its ``at_least`` gives the chance-level p-value."""
    return combine(guessing_distribution(item) for item in items)


def chance_level(
    observed: float,
    distribution: ScoreDistribution,
    presented: int,
    answered: int,
    alpha: float = CHANCE_ALPHA,
    min_answered_share: float = MIN_ANSWERED_SHARE,
) -> ChanceLevel:
    """Is a score distinguishable from random responding on the same presented items?

    ``distribution``: random responding on the ``presented`` items, i.e. :func:`combine` of
    their :func:`guessing_distribution` (or :func:`form_distribution`); ``answered``: how many of
    them were answered (not blank). The p-value is the exact P(random score ≥ ``observed``).
    **Not measured** when nothing was presented or answered, when fewer than
    ``min_answered_share`` of the items were answered (nearly blank), or when p > ``alpha``;
    measured when p ≤ ``alpha``.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    if not 0 <= answered <= presented:
        raise ValueError(f"answered ({answered}) must be 0..{presented} (the presented items)")
    p_value, p_below = distribution.at_least(observed), distribution.at_most(observed)
    reason = None
    if presented == 0:
        reason = REASON_NOT_PRESENTED
    elif answered == 0:
        reason = REASON_BLANK
    elif answered < min_answered_share * presented - TOLERANCE:
        reason = REASON_NEARLY_BLANK
    elif p_value > alpha + TOLERANCE:
        reason = REASON_BELOW_CHANCE if p_below <= alpha + TOLERANCE else REASON_AT_CHANCE
    return ChanceLevel(
        observed=float(observed),
        max_points=distribution.max_points,
        expected=distribution.expected,
        p_value=p_value,
        p_below=p_below,
        presented=int(presented),
        answered=int(answered),
        alpha=float(alpha),
        status=MEASURED if reason is None else NOT_MEASURED,
        reason=reason,
    )


# ==== 5. collusion between seat neighbours ========================================================


@dataclass(frozen=True)
class CopyingTest:
    """Holland's K-index for one direction of one pair: did ``copier`` copy ``source``?"""

    copier: str
    source: str
    #: the source's wrong answers on keyed items the copier was shown too: the chances to match
    opportunities: int
    copier_wrong: int  # the copier's wrong answers (its "score group")
    identical_wrong: int  # the copier gave the source's very wrong answer this often
    expected_identical: float  # opportunities × match_probability
    match_probability: float  # per opportunity, estimated from the reference group
    reference_size: int  # other examinees the probability was estimated from
    reference_wrong: tuple[int, int]  # the range of their wrong-answer counts
    k_index: float  # P(≥ identical_wrong identical wrong answers | independence)
    alpha: float  # the per-test α after the Bonferroni correction
    flagged: bool  # k_index ≤ alpha


@dataclass(frozen=True)
class CollusionReport:
    """Every test of a session, both directions of each pair; see :func:`collusion`."""

    tests: tuple[CopyingTest, ...]
    alpha: float  # family-wise, over all tests
    alpha_per_test: float  # alpha / number of tests
    flagged_pairs: frozenset[frozenset[str]]
    #: pairs not tested: a member has no answers here (an empty seat, an absent participant)
    skipped: tuple[frozenset[str], ...]


def collusion(
    answers: np.ndarray,
    key: np.ndarray | Sequence[int],
    persons: Sequence[str],
    pairs: Iterable[Collection[str]],
    alpha: float = COLLUSION_ALPHA,
    min_reference: int = MIN_REFERENCE,
) -> CollusionReport:
    """Identical wrong answers of neighbours: the K-index (Holland 1996; Sotaridona & Meijer
    2002), both directions of every pair, Bonferroni-corrected over the tests made.

    ``answers`` (N, K) the scoring engine's codes (``-1`` not presented, ``0`` blank, ``> 0`` the
    bitmask of the chosen options); ``key`` (K,) each item's keyed bitmask, ``0`` for items
    without a key (weighted, likert, short: they take no part); ``persons`` N labels (seats);
    ``pairs`` e.g. :func:`neighbours` or an explicit adjacency list.

    For (copier c, source s): the opportunities n are s's wrong answers on items c was shown, m
    how many of them c answered with the same wrong option(s). Under independence m is binomial
    (n, p), p being the share of s's wrong answers matched by the reference group: the other
    examinees whose number of wrong answers is nearest c's (widened until ``min_reference``
    persons, ties included), pooled and smoothed by adding one match in two opportunities, so a
    small group can never make a single match impossible. K = P(M ≥ m); flagged when K ≤
    ``alpha`` / tests.
    """
    codes = np.asarray(answers, dtype=np.int64)
    keys = np.asarray(key, dtype=np.int64)
    labels = [str(p) for p in persons]
    if codes.ndim != 2 or keys.shape != (codes.shape[1],) or len(labels) != codes.shape[0]:
        raise ValueError("answers must be persons × items, key one per item, persons one per row")
    if len(set(labels)) != len(labels):
        raise ValueError("person labels must be unique")
    keyed = keys > 0
    shown = keyed[None, :] & (codes != NOT_PRESENTED_CODE)
    wrong = keyed[None, :] & (codes > 0) & (codes != keys[None, :])
    same = _identical_wrong(codes, wrong)
    chances = wrong.astype(float) @ shown.T.astype(float)  # [s, j]: s's wrong items j was shown
    n_wrong = wrong.sum(axis=1)
    row = {label: n for n, label in enumerate(labels)}
    tested, skipped = [], []
    for pair in _unique_pairs(pairs):
        if all(member in row for member in pair):
            a, b = sorted(pair)
            tested += [(row[a], row[b]), (row[b], row[a])]
        else:
            skipped.append(pair)
    per_test = alpha / len(tested) if tested else alpha
    tests = tuple(
        _copying_test(c, s, labels, same, chances, n_wrong, per_test, min_reference)
        for c, s in tested
    )
    flagged = frozenset(frozenset((t.copier, t.source)) for t in tests if t.flagged)
    return CollusionReport(tests, float(alpha), float(per_test), flagged, tuple(skipped))


def _identical_wrong(codes: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    """(N, N): how many items two persons answered with the same wrong option set."""
    items, people = np.nonzero(wrong.T)
    if items.size == 0:
        return np.zeros((codes.shape[0],) * 2)
    answer = codes[people, items]
    _, column = np.unique(np.stack([items, answer], axis=1), axis=0, return_inverse=True)
    one_hot = np.zeros((codes.shape[0], int(column.max()) + 1))
    one_hot[people, column.reshape(-1)] = 1.0
    return one_hot @ one_hot.T


def _copying_test(
    c: int,
    s: int,
    labels: list[str],
    same: np.ndarray,
    chances: np.ndarray,
    n_wrong: np.ndarray,
    alpha: float,
    min_reference: int,
) -> CopyingTest:
    others = np.setdiff1d(np.arange(len(labels)), [c, s])
    distance = np.abs(n_wrong[others] - n_wrong[c])
    if others.size > min_reference:
        others = others[distance <= np.sort(distance)[min_reference - 1]]
    matches = float(same[others, s].sum())
    possible = float(chances[s, others].sum())
    p = (matches + 1.0) / (possible + 2.0)
    n, m = int(round(chances[s, c])), int(round(same[c, s]))
    k = binomial_tail(n, p, m)
    group = n_wrong[others]
    spread = (int(group.min()), int(group.max())) if group.size else (0, 0)
    return CopyingTest(
        copier=labels[c],
        source=labels[s],
        opportunities=n,
        copier_wrong=int(n_wrong[c]),
        identical_wrong=m,
        expected_identical=n * p,
        match_probability=p,
        reference_size=int(others.size),
        reference_wrong=spread,
        k_index=k,
        alpha=alpha,
        flagged=k <= alpha * (1 + TOLERANCE),
    )


def binomial_tail(n: int, p: float, m: int) -> float:
    """P(X ≥ m) for X ~ Binomial(n, p), summed exactly."""
    if m <= 0:
        return 1.0
    if m > n:
        return 0.0
    tail = sum(math.comb(n, j) * p**j * (1.0 - p) ** (n - j) for j in range(m, n + 1))
    return float(min(1.0, tail))


def _unique_pairs(pairs: Iterable[Collection[str]]) -> list[frozenset[str]]:
    seen: dict[frozenset[str], None] = {}
    for pair in pairs:
        members = frozenset(str(member) for member in pair)
        if len(members) != 2:
            raise ValueError(f"a pair needs two different seats, got {sorted(members)!r}")
        seen.setdefault(members, None)
    return sorted(seen, key=sorted)


# ---- seats -----------------------------------------------------------------------------------

_ROW_LETTER = re.compile(r"^([A-Z])[\s._-]*(\d+)$")  # A01, A-1, B 12
_ROW_NUMBER = re.compile(r"^(\d+)[\s._/-]+(\d+)$")  # 3-05, 3.5, 03/12
_NUMBERED = re.compile(r"^(.*?)[\s._-]*(\d+)$")  # PC-01, PC01, 07, Kursi 7


def seat_position(seat: str, row_length: int | None = None) -> tuple[str, int, int] | None:
    """(group, row, column) of a seat label, or None when the label ends in no number.

    A single letter and a number is row and seat (``A01`` row A, seat 1); two numbers are row and
    seat (``3-05``); any other prefix and a number is a numbered seat (``PC-01``), in row
    ``(n − 1) // row_length`` at ``(n − 1) % row_length`` when the room's ``row_length`` is
    given, else all in one row. Case and separators (space . _ - /) do not matter.
    """
    label = seat.strip().upper()
    if match := _ROW_LETTER.match(label):
        return ("row-letter", ord(match[1]) - ord("A"), int(match[2]))
    if match := _ROW_NUMBER.match(label):
        return ("row-number", int(match[1]), int(match[2]))
    if match := _NUMBERED.match(label):
        group, number = "numbered:" + match[1].strip(" ._-/"), int(match[2])
        if row_length:
            return (group, (number - 1) // row_length, (number - 1) % row_length)
        return (group, 0, number)
    return None


def neighbours(seats: Sequence[str], row_length: int | None = None) -> set[frozenset[str]]:
    """Adjacent seat pairs, from the labels alone: the seat beside (same row, seat number ± 1)
    and the seats in front and behind (row ± 1, same seat number), never diagonals, within one
    naming scheme and prefix (see :func:`seat_position`). Labels that end in no number have no
    neighbours. Without ``row_length`` numbered seats (``PC-01`` …, the roster's usual labels)
    pair only with the next number, which may join two row ends and misses front and behind: give
    the room's ``row_length`` or pass :func:`collusion` an explicit list instead.
    """
    where: dict[tuple[str, int, int], str] = {}
    for seat in seats:
        position = seat_position(seat, row_length)
        if position is not None:
            where.setdefault(position, seat)
    pairs = set()
    for (group, row, column), seat in where.items():
        for other in ((group, row, column + 1), (group, row + 1, column)):
            if other in where:
                pairs.add(frozenset((seat, where[other])))
    return pairs
