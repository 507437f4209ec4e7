"""Grading a frozen attempt: item scores, section and competency/scale totals, levels.

This is the only delivery module that reads ``item_keys``; it runs on the server when an attempt
is submitted or expires, and never feeds anything to a participant's page except the totals the
battery allows to be shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, select

from cbt_server import audit
from cbt_server.analytics.precision import Judged, ThetaLevel, judge
from cbt_server.delivery import calibrated
from cbt_server.delivery.cuts import CutsInForce, cuts_in_force
from cbt_server.models import (
    Attempt,
    AttemptItem,
    AttemptScore,
    Competency,
    Item,
    ItemKey,
    KeyOverride,
    Response,
    db,
)
from cbt_server.scoring import (
    ItemTable,
    KeyedItem,
    aggregate,
    encode_responses,
    grade,
    max_scores,
    percent_of,
    to_group_levels,
)


@dataclass(frozen=True)
class KeyFix:
    """A corrected key for an item version (from an override or a newer bank version)."""

    key: list
    weights: dict | None
    accept: list


def keyed_item(item: Item, key: ItemKey, fix: KeyFix | None = None) -> KeyedItem:
    """The scoring view of an item version, options in canonical order."""
    labels = [label for label, _ in item.options]
    chosen_key = fix.key if fix is not None else key.key
    chosen_weights = fix.weights if fix is not None else key.weights
    chosen_accept = fix.accept if fix is not None else key.accept
    weights = None
    if item.item_type == "weighted" and chosen_weights is not None:
        weights = tuple(float(chosen_weights[label]) for label in labels)
    return KeyedItem(
        type=item.item_type,
        points=float(item.points),
        n_options=len(labels),
        key=tuple(labels.index(label) for label in chosen_key),
        weights=weights,
        reverse=bool(key.reverse),
        likert_points=item.likert_points,
        accept=tuple(chosen_accept or ()),
    )


def key_overrides(item_ids: Sequence[int]) -> dict[int, KeyFix]:
    """The newest key override of each item that has one."""
    fixes: dict[int, KeyFix] = {}
    rows = db.session.scalars(
        select(KeyOverride)
        .where(KeyOverride.item_id.in_(set(item_ids)))
        .order_by(KeyOverride.item_id, KeyOverride.id)
    )
    for row in rows:  # ascending ids: the newest wins
        fixes[row.item_id] = KeyFix(list(row.key), row.weights, list(row.accept or ()))
    return fixes


def engine_response(item: Item, stored: Any) -> Any:
    """A stored canonical answer in the engine's terms."""
    if stored is None:
        return None
    if item.item_type == "short":
        return stored
    labels = [label for label, _ in item.options]
    if item.item_type == "likert":
        return int(stored[0])
    return frozenset(labels.index(label) for label in stored)


def grade_attempt(
    attempt: Attempt,
    definition: dict,
    fixes: Mapping[int, KeyFix] | None = None,
    *,
    reason: str = "graded",
    cuts: CutsInForce | None = None,
    scale: calibrated.Scale | None = None,
) -> None:
    """Score every position of the attempt and store the totals. Inside a write transaction.

    Keys are the item's stored key, replaced by the newest key override, replaced in turn by
    ``fixes`` (item id -> corrected key) when a regrade passes them. Levels use the cuts in
    force for the attempt's battery version (``cuts``, read when not given: set by a method,
    else the bank's percentages) and the calibrated scale of its banks (``scale``, likewise: a
    regrade passes both, read once per battery version). The stored scores are sealed at commit
    with ``reason`` (graded | regrade | late_answer).
    """
    rows = db.session.execute(
        select(AttemptItem, Item, ItemKey, Response)
        .join(Item, Item.id == AttemptItem.item_id)
        .join(ItemKey, ItemKey.item_id == Item.id)
        .join(
            Response,
            (Response.attempt_id == AttemptItem.attempt_id)
            & (Response.position == AttemptItem.position),
        )
        .where(AttemptItem.attempt_id == attempt.id)
        .order_by(AttemptItem.position)
    ).all()
    chosen = key_overrides([item.id for _f, item, _k, _r in rows])
    chosen.update(fixes or {})
    items = [keyed_item(item, key, chosen.get(item.id)) for _f, item, key, _r in rows]
    table = ItemTable.build(items)
    codes = encode_responses(items, [[engine_response(item, r.answer) for _f, item, _k, r in rows]])
    scores = grade(table, codes)
    maxes = max_scores(table, codes)
    for n, (_frozen, _item, _key, response) in enumerate(rows):
        response.score = float(scores[0, n])
        response.max_score = float(maxes[0, n])

    db.session.execute(delete(AttemptScore).where(AttemptScore.attempt_id == attempt.id))
    audit.scores_changed(attempt.id, reason)
    section_codes = [s["code"] for s in definition["sections"]]
    section_index = np.array([f.section_index for f, *_ in rows], dtype=np.int64)
    _store_group_scores(attempt, "section", section_codes, section_index, scores, maxes)

    competency_codes = sorted({key.competency_code for _f, _i, key, _r in rows})
    lookup = {code: n for n, code in enumerate(competency_codes)}
    competency_index = np.array(
        [lookup[key.competency_code] for _f, _i, key, _r in rows], dtype=np.int64
    )
    if cuts is None or cuts.battery_version_id != attempt.battery_version_id:
        cuts = cuts_in_force(attempt.battery_version_id, definition["levels"])
    answered = [r.answer is not None for _f, _i, _k, r in rows]
    judged = [
        _judge(items, scores[0], answered, competency_index == n, cuts.cuts(code))
        for n, code in enumerate(competency_codes)
    ]
    if scale is None or scale.battery_version_id != attempt.battery_version_id:
        scale = calibrated.scale_for(attempt.battery_version_id, definition)
    on_scale = [
        _on_scale(scale, code, rows, scores[0], maxes[0], competency_index == n, cuts.cuts(code))
        for n, code in enumerate(competency_codes)
    ]
    _store_group_scores(
        attempt,
        "competency",
        competency_codes,
        competency_index,
        scores,
        maxes,
        definition,
        cuts,
        judged,
        on_scale,
    )
    total, total_max = float(np.nansum(scores)), float(np.nansum(maxes))
    attempt.total_score, attempt.total_max = total, total_max
    whole = _judge(items, scores[0], answered, np.ones(len(items), dtype=bool), None)
    db.session.add(
        AttemptScore(
            attempt_id=attempt.id,
            scope="total",
            code="TOTAL",
            score=total,
            max_score=total_max,
            percent=percent_of(total, total_max),
            level=None,
            quality=whole.quality,
            chance_p=whole.chance_p,
        )
    )


def _on_scale(
    scale: calibrated.Scale,
    code: str,
    rows: Sequence[Any],
    scores: np.ndarray,
    maxes: np.ndarray,
    mask: np.ndarray,
    cuts: Sequence[float],
) -> tuple[int, ThetaLevel] | None:
    """The competency's level on its bank's calibrated scale, when there is one."""
    chosen = np.flatnonzero(mask)
    items = [rows[i][1] for i in chosen]
    presented = [
        (scale.bank_codes.get(item.bank_version_id, ""), item.item_code, item.item_type)
        for item in items
    ]
    return scale.level(code, presented, scores[chosen], maxes[chosen], cuts)


def _judge(
    items: list[KeyedItem],
    scores: np.ndarray,
    answered: list[bool],
    mask: np.ndarray,
    cuts: Sequence[float] | None,
) -> Judged:
    """The band and the chance check of the items ``mask`` selects (analytics/precision.py)."""
    chosen = np.flatnonzero(mask)
    return judge([items[i] for i in chosen], scores[chosen], [answered[i] for i in chosen], cuts)


def _store_group_scores(
    attempt: Attempt,
    scope: str,
    codes: list[str],
    index: np.ndarray,
    scores: np.ndarray,
    maxes: np.ndarray,
    definition: dict | None = None,
    cuts: CutsInForce | None = None,
    judged: list[Judged] | None = None,
    on_scale: list[tuple[int, ThetaLevel] | None] | None = None,
) -> None:
    """One row per group; with ``definition`` and ``cuts`` (competencies and scales) also the
    level by the cuts in force, the set cuts it came from, and the validity flag; with
    ``judged``, each level's band and whether the score measures anything; with ``on_scale``,
    the level, band and ability read off a calibrated scale where there is one."""
    if not codes:
        return
    sums, max_sums = aggregate(scores, maxes, index, len(codes))
    percents = [percent_of(float(sums[0, n]), float(max_sums[0, n])) for n in range(len(codes))]
    levels = None
    if definition is not None and cuts is not None:
        measured = np.array([[np.nan if p is None else p for p in percents]])
        levels = to_group_levels(measured, [cuts.cuts(code) for code in codes])[0]
    validity = set()
    if definition is not None:
        validity = set(
            db.session.scalars(
                select(Competency.code).where(Competency.code.in_(codes), Competency.validity)
            )
        )
    for n, code in enumerate(codes):
        score, maximum = float(sums[0, n]), float(max_sums[0, n])
        percent = percents[n]
        level = cut_score_id = None
        flagged = False
        if definition is not None and levels is not None and percent is not None:
            level = int(levels[n])
            cut_score_id = cuts.cut_score_id(code)  # type: ignore[union-attr]
            flag_at = definition.get("validity_flag_percent")
            flagged = code in validity and flag_at is not None and percent >= float(flag_at)
        columns = {
            "level": level,
            **_judged_columns(judged[n] if judged is not None else None),
            **_scale_columns(on_scale[n] if on_scale is not None and level else None),
        }
        db.session.add(
            AttemptScore(
                attempt_id=attempt.id,
                scope=scope,
                code=code,
                score=score,
                max_score=maximum,
                percent=percent,
                flagged=flagged,
                cut_score_id=cut_score_id,
                **columns,
            )
        )


def _scale_columns(found: tuple[int, ThetaLevel] | None) -> dict:
    """A calibrated level replaces the percentage's level and band (docs/psychometrics.md)."""
    if found is None:
        return {}
    calibration_id, measured = found
    return {
        "level": measured.level,
        "level_low": measured.band.level_low,
        "level_high": measured.band.level_high,
        "theta": measured.theta,
        "theta_se": measured.se,
        "calibration_id": calibration_id,
    }


def _judged_columns(judged: Judged | None) -> dict:
    if judged is None:
        return {}
    band = judged.band
    return {
        "level_low": band.level_low if band is not None else None,
        "level_high": band.level_high if band is not None else None,
        "quality": judged.quality,
        "chance_p": judged.chance_p,
    }
