"""Grading reads a competency's level off the bank's calibrated scale once there is one
(delivery/calibrated.py; docs/psychometrics.md, "Levels with their error").

The fixture bank UJI: T.UJ.01 is U-SGL, U-MUL, U-TF (all calibratable); T.UJ.02 has a weighted
item, which the Rasch calibration does not cover, so it stays on percentage cuts. BAT-UJI's cuts
are 40/55/70/85 %.
"""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from cbt_server.analytics import precision
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.models import AttemptScore, Calibration, CalibrationItem, db
from tests.builders import RIGHT, finish

DIFFICULTY = {"U-SGL": -1.0, "U-MUL": 0.0, "U-TF": 1.0}
CUTS = (40.0, 55.0, 70.0, 85.0)


def _calibrate(app: Flask, version: int = 1, shift: float = 0.0) -> int:
    """A stored Rasch calibration of UJI (as the assessor's page stores one)."""
    with app.app_context(), write_transaction():
        calibration = Calibration(
            bank_code="UJI",
            version=version,
            model="rasch",
            sessions=[],
            persons=500,
            responses=1500,
            population_mean=0.0,
            population_sd=1.0,
            log_likelihood=-900.0,
            iterations=20,
            converged=True,
            created_at=now(),
        )
        calibration.items = [
            CalibrationItem(
                item_code=code,
                item_type={"U-SGL": "single", "U-MUL": "multiple", "U-TF": "truefalse"}[code],
                status="calibrated",
                n=500,
                correct=250,
                difficulty=b + shift,
                difficulty_se=0.1,
            )
            for code, b in DIFFICULTY.items()
        ]
        db.session.add(calibration)
        db.session.flush()
        return calibration.id


def _scores(app: Flask, attempt_id: int) -> dict[str, AttemptScore]:
    with app.app_context():
        rows = db.session.scalars(
            select(AttemptScore).where(
                AttemptScore.attempt_id == attempt_id, AttemptScore.scope == "competency"
            )
        ).all()
        for row in rows:
            db.session.expunge(row)
        return {row.code: row for row in rows}


def test_without_a_calibration_levels_come_from_percentages(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    scores = _scores(app, finish(app, lab, 0, RIGHT))
    assert scores["T.UJ.01"].calibration_id is None and scores["T.UJ.01"].theta is None
    assert scores["T.UJ.01"].level == 5  # 3 of 3: 100 %


def test_a_calibrated_bank_gives_the_level_of_the_ability_with_its_error(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    calibration_id = _calibrate(app)
    scores = _scores(app, finish(app, lab, 0, RIGHT))
    one = scores["T.UJ.01"]
    expected = precision.theta_level(
        [1, 1, 1], list(DIFFICULTY.values()), list(DIFFICULTY.values()), CUTS
    )
    assert one.calibration_id == calibration_id
    assert one.theta == pytest.approx(expected.theta) and one.theta_se == pytest.approx(expected.se)
    # all three right: Warm's estimate 2.29 ± 1.87 against the cuts carried onto the scale
    # (-0.47, 0.23, 0.98, 1.96) is level 5, as the percentage said, but its band says three
    # items cannot tell it from 3 or 4
    assert one.level == expected.level == 5
    assert (one.level_low, one.level_high) == (3, 5)
    assert (one.level_low, one.level_high) == (expected.band.level_low, expected.band.level_high)
    assert one.quality is None
    # the weighted item is not on the scale: T.UJ.02 stays on percentage cuts
    assert scores["T.UJ.02"].calibration_id is None and scores["T.UJ.02"].level is not None


def test_the_newest_calibration_is_used(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    _calibrate(app, version=1)
    newer = _calibrate(app, version=2, shift=2.0)  # harder items: the same answers, more ability
    scores = _scores(app, finish(app, lab, 0, RIGHT))
    assert scores["T.UJ.01"].calibration_id == newer


def test_the_score_sheet_gives_the_ability_where_the_level_came_from_the_scale(
    app: Flask, lab, assessor
) -> None:  # type: ignore[no-untyped-def]
    from tests.test_downloads import _csv

    _calibrate(app)
    finish(app, lab, 0, RIGHT)
    _header, rows = _csv(assessor, f"/assessor/sessions/{lab.id}/scores.csv?csv=en", ",")
    best = next(row for row in rows.values() if row["T.UJ.01 level"])
    assert float(best["T.UJ.01 θ"]) == pytest.approx(2.29, abs=0.01)
    assert float(best["T.UJ.01 θ galat baku"]) == pytest.approx(1.87, abs=0.01)
    assert (best["T.UJ.01 level"], best["T.UJ.01 rentang"]) == ("5", "3–5")
    assert best["T.UJ.02 θ"] == ""  # a weighted item: percentage cuts, provisional
