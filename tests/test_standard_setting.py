"""The modified Angoff computation (pure): cuts, spread, the panel rule, order of the cuts."""

from __future__ import annotations

import math

import pytest

from cbt_server.scoring.standard_setting import (
    CutsNotAscending,
    OutOfOrder,
    Reversal,
    angoff,
    check_ascending,
    expected_points,
    judged_as_probability,
    judgement_fault,
    out_of_order,
)

#: four items with maxima 1, 2, 3 and 4: the competency's maximum is 10 points
MAXIMA = [1.0, 2.0, 3.0, 4.0]


def _scaled(sums: list[float]) -> list[list[float]]:
    """Items × boundaries: each boundary's sum spread over the items in proportion to their
    maxima (so a panelist's cut is exactly 10 × the sum)."""
    return [[total * m / 10 for total in sums] for m in MAXIMA]


#: Panelist A expects 3, 5, 7 and 9 of the 10 points at the four boundaries, B 2, 4, 6, 8,
#: C 4, 6, 8.5, 10. By hand: cuts (30+20+40)/3 = 30, (50+40+60)/3 = 50, (70+60+85)/3 = 71.67,
#: (90+80+100)/3 = 90.
PANEL = {
    "Panelis A": _scaled([3, 5, 7, 9]),
    "Panelis B": _scaled([2, 4, 6, 8]),
    # C's third boundary is not proportional, to show it is the sums that count
    "Panelis C": [
        [0.4, 0.6, 1.0, 1.0],
        [0.8, 1.2, 2.0, 2.0],
        [1.2, 1.8, 2.5, 3.0],
        [1.6, 2.4, 3.0, 4.0],
    ],
}


def test_cuts_are_the_panels_mean_share_of_the_maximum() -> None:
    result = angoff(MAXIMA, PANEL)
    assert result.panelists == ("Panelis A", "Panelis B", "Panelis C")
    assert result.cuts == (30.0, 50.0, 71.67, 90.0)
    assert [b.level for b in result.boundaries] == [2, 3, 4, 5]
    assert result.boundaries[2].panelist_cuts == pytest.approx((70.0, 60.0, 85.0))
    assert result.out_of_order == () and result.reversals == ()
    assert result.settable and result.small_panel and not result.too_few


def test_spread_is_the_sd_of_the_panelists_cuts_and_its_standard_error() -> None:
    result = angoff(MAXIMA, PANEL)
    first, _second, third, _fourth = result.boundaries
    # 30, 20, 40: deviations -0, -10, +10 → SD = √(200 / 2) = 10, SE = 10 / √3
    assert first.sd == pytest.approx(10.0)
    assert first.se == pytest.approx(10.0 / math.sqrt(3))
    # 70, 60, 85 around 71.667: SD = √((1.667² + 11.667² + 13.333²) / 2) = √158.33
    assert third.sd == pytest.approx(math.sqrt(158.3333333), rel=1e-6)
    assert third.se == pytest.approx(third.sd / math.sqrt(3))


def test_judged_probabilities_become_expected_points() -> None:
    assert judged_as_probability("single") and judged_as_probability("truefalse")
    assert judged_as_probability("short")
    assert not judged_as_probability("weighted") and not judged_as_probability("multiple")
    assert not judged_as_probability("likert")
    assert expected_points(0.6, 2.0, True) == pytest.approx(1.2)
    assert expected_points(2.5, 4.0, False) == 2.5


@pytest.mark.parametrize(
    ("value", "maximum", "probability", "fault"),
    [
        (0.0, 1.0, True, None),
        (1.0, 2.0, True, None),
        (1.5, 2.0, True, "range"),
        (4.0, 4.0, False, None),
        (4.5, 4.0, False, "range"),
        (-0.1, 4.0, False, "range"),
        (None, 4.0, False, "missing"),
        (float("nan"), 1.0, True, "missing"),
    ],
)
def test_a_judgement_outside_its_range_is_named(
    value: float | None, maximum: float, probability: bool, fault: str | None
) -> None:
    assert judgement_fault(value, maximum, probability) == fault


def test_cuts_out_of_order_name_the_boundary() -> None:
    # Every panelist expects less at the third boundary than at the second: the panel's cut
    # for level 4 (50) falls below its cut for level 3 (60).
    panel = {
        "A": _scaled([3, 6, 5, 9]),
        "B": _scaled([2, 5, 4, 8]),
        "C": _scaled([4, 7, 6, 10]),
    }
    result = angoff(MAXIMA, panel)
    assert result.cuts == (30.0, 60.0, 50.0, 90.0)
    assert result.out_of_order == (OutOfOrder(3, 50.0, 60.0),)
    assert not result.settable
    assert str(result.out_of_order[0]) == (
        "the cut for level 4 (50) is not above the cut for level 3 (60)"
    )
    with pytest.raises(CutsNotAscending, match="level 4 .* level 3") as refused:
        check_ascending(result.cuts)
    assert refused.value.faults[0].boundary == 3
    # The same judgements at two boundaries make equal cuts: not strictly ascending either.
    assert out_of_order([30, 30, 70, 90]) == (OutOfOrder(2, 30.0, 30.0),)
    check_ascending([0, 0.01, 50, 100])


def test_a_panelist_judging_a_higher_boundary_lower_is_a_warning() -> None:
    panel = dict(PANEL)
    reversed_item = [row[:] for row in panel["Panelis B"]]
    reversed_item[1][1] = 0.1  # item 2: 0.4 at boundary 1, 0.1 at boundary 2
    panel["Panelis B"] = reversed_item
    result = angoff(MAXIMA, panel)
    assert result.reversals == (Reversal("Panelis B", 1, 2),)
    assert result.settable  # a warning for the panel to discuss, not a refusal


def test_the_panel_rule() -> None:
    two = {name: PANEL[name] for name in ("Panelis A", "Panelis B")}
    result = angoff(MAXIMA, two)
    assert result.too_few and not result.settable and not result.small_panel
    assert result.cuts == (25.0, 45.0, 65.0, 85.0)
    five = {**PANEL, "D": _scaled([3, 5, 7, 9]), "E": _scaled([3, 5, 7, 9])}
    result = angoff(MAXIMA, five)
    assert result.settable and not result.small_panel
    # the thresholds are the caller's (an agency's setting)
    assert angoff(MAXIMA, two, min_panelists=2).settable


def test_one_panelist_has_no_spread() -> None:
    result = angoff(MAXIMA, {"A": PANEL["Panelis A"]})
    assert result.cuts == (30.0, 50.0, 70.0, 90.0)
    assert all(b.sd is None and b.se is None for b in result.boundaries)
    assert result.too_few


def test_what_cannot_be_computed_is_refused() -> None:
    with pytest.raises(ValueError, match="no panelist"):
        angoff(MAXIMA, {})
    with pytest.raises(ValueError, match="4 items × 4 boundaries"):
        angoff(MAXIMA, {"A": PANEL["Panelis A"][:3]})
    with pytest.raises(ValueError, match="sum to 0"):
        angoff([0.0, 0.0], {"A": [[0, 0, 0, 0], [0, 0, 0, 0]]})
