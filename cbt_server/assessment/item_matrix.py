"""The persons × items matrices an item analysis needs, read from stored responses in one query.

Columns are items by bank and item id (stable across bank versions, so a battery's versions pool);
rows are finished attempts. Scores are the stored item scores (NaN where the item was not
presented); choices count, per item and canonical option, who chose it (several per person for
multiple-response items).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from cbt_server.models import (
    Attempt,
    AttemptItem,
    BankVersion,
    BatteryVersion,
    Item,
    ItemKey,
    Response,
    User,
    db,
)

FINISHED = ("submitted", "expired")


@dataclass
class ItemMatrix:
    attempt_ids: list[int]
    people: list[tuple[str, str]]  # (NIP, name) per row
    item_codes: list[str]
    item_types: list[str]
    competencies: list[str]
    sections: list[str]
    max_points: np.ndarray  # (K,)
    options: list[list[str]]  # canonical option labels per item ([] for short answers)
    scores: np.ndarray  # (N, K) float, NaN = not presented
    chosen: np.ndarray  # (N, K, O) bool: row chose option o of item k (O = most options)
    blank: np.ndarray  # (N, K) bool: presented and left blank

    @property
    def n_people(self) -> int:
        return len(self.attempt_ids)


def item_matrix(battery_code: str, session_id: int | None = None) -> ItemMatrix | None:
    """Finished attempts of a battery (optionally one session) as matrices; None if none."""
    query = (
        select(
            Attempt.id,
            User.nip,
            User.full_name,
            Attempt.battery_version_id,
            AttemptItem.section_index,
            BankVersion.code,
            Item,
            ItemKey.competency_code,
            Response.answer,
            Response.score,
            Response.max_score,
        )
        .join(User, User.id == Attempt.user_id)
        .join(BatteryVersion, BatteryVersion.id == Attempt.battery_version_id)
        .join(AttemptItem, AttemptItem.attempt_id == Attempt.id)
        .join(Item, Item.id == AttemptItem.item_id)
        .join(ItemKey, ItemKey.item_id == Item.id)
        .join(BankVersion, BankVersion.id == Item.bank_version_id)
        .join(
            Response,
            (Response.attempt_id == AttemptItem.attempt_id)
            & (Response.position == AttemptItem.position),
        )
        .where(BatteryVersion.code == battery_code, Attempt.state.in_(FINISHED))
        .order_by(Attempt.id, AttemptItem.position)
    )
    if session_id is not None:
        query = query.where(Attempt.session_id == session_id)
    rows = db.session.execute(query).all()
    if not rows:
        return None
    definitions = {
        v.id: v.definition
        for v in db.session.scalars(
            select(BatteryVersion).where(BatteryVersion.id.in_({r[3] for r in rows}))
        )
    }
    attempts: dict[int, int] = {}
    people: list[tuple[str, str]] = []
    columns: dict[str, int] = {}
    meta: list[tuple[str, str, str, float, list[str]]] = []
    for attempt_id, nip, name, version_id, section_index, bank, item, competency, *_ in rows:
        if attempt_id not in attempts:
            attempts[attempt_id] = len(attempts)
            people.append((nip or "", name))
        code = f"{bank}/{item.item_code}"
        if code not in columns:
            columns[code] = len(columns)
            section = definitions[version_id]["sections"][section_index]["code"]
            labels = [label for label, _ in item.options] if item.item_type != "short" else []
            meta.append((item.item_type, competency, section, float(item.points), labels))
    n, k = len(attempts), len(columns)
    widest = max((len(m[4]) for m in meta), default=0) or 1
    scores = np.full((n, k), np.nan)
    chosen = np.zeros((n, k, widest), dtype=bool)
    blank = np.zeros((n, k), dtype=bool)
    max_points = np.zeros(k)
    for attempt_id, _n, _m, _v, _s, bank, item, _c, answer, score, maximum in rows:
        r, c = attempts[attempt_id], columns[f"{bank}/{item.item_code}"]
        scores[r, c] = np.nan if score is None else score
        # The stored maximum is the item's (weighted: best option; Likert: top of the scale).
        max_points[c] = max(max_points[c], maximum or 0.0)
        if answer is None or answer == "" or answer == []:
            blank[r, c] = True
        elif isinstance(answer, list):
            labels = meta[c][4]
            for label in answer:
                if label in labels:
                    chosen[r, c, labels.index(label)] = True
    return ItemMatrix(
        attempt_ids=list(attempts),
        people=people,
        item_codes=list(columns),
        item_types=[m[0] for m in meta],
        competencies=[m[1] for m in meta],
        sections=[m[2] for m in meta],
        max_points=max_points,
        options=[m[4] for m in meta],
        scores=scores,
        chosen=chosen,
        blank=blank,
    )
