"""The persons × items matrices an item analysis or a calibration needs, from stored responses.

Columns are items by bank and item id (stable across bank versions, so a battery's versions pool);
rows are finished attempts: of a battery (``item_matrix``: the item analysis), or of chosen
sessions on the items of one bank, whatever battery drew them (``bank_matrix``: a
calibration). Scores are the stored item scores (NaN where the item was not presented); choices
count, per item and canonical option, who chose it (several per person for multiple-response
items). ``keys`` are the keyed options grading applies now (a key override
replaces the imported key), for the item analysis's distractor table.

The responses come in one narrow query (ids, the answer as text, the scores, the position shown
and the times on screen: response-quality checks); people and items
in two small ones. The matrices are then filled with numpy: a battery's stored answers take only
a few distinct values, so each is parsed once.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Select, Text, cast, select

from cbt_server.accounts import reach
from cbt_server.delivery.grading import key_overrides
from cbt_server.delivery.lifecycle import GRADED
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

KEYED_TYPES = ("single", "multiple", "truefalse")


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
    keys: list[list[str]]  # keyed option labels (single, multiple, truefalse; else [])
    scores: np.ndarray  # (N, K) float, NaN = not presented
    chosen: np.ndarray  # (N, K, O) bool: row chose option o of item k (O = most options)
    blank: np.ndarray  # (N, K) bool: presented and left blank
    #: (N, K) the position each item was shown at; its milliseconds on screen in all, and on
    #: screen in the visit of its first answer (the page's measure; delivery/item_time.py).
    #: NaN where not presented, or nothing stored (``answer_ms``: never answered)
    positions: np.ndarray | None = None
    screen_ms: np.ndarray | None = None
    answer_ms: np.ndarray | None = None
    #: reverse-keyed (Likert items) per item
    reverse: list[bool] | None = None

    @property
    def n_people(self) -> int:
        return len(self.attempt_ids)


@dataclass(frozen=True)
class _Scope:
    """Which finished attempts (within the request's reach) and which of their items."""

    battery_code: str | None = None
    session_ids: tuple[int, ...] | None = None
    bank_code: str | None = None
    #: every finished attempt, whoever the request may see: for norms and reference groups,
    #: which must not change with who looks (response quality)
    everyone: bool = False

    def attempts(self, query: Select) -> Select:
        query = query.where(Attempt.state.in_(GRADED))
        if not self.everyone:
            query = query.where(reach.current().rows(Attempt.session_id, Attempt.user_id))
        if self.battery_code is not None:
            query = query.join(
                BatteryVersion, BatteryVersion.id == Attempt.battery_version_id
            ).where(BatteryVersion.code == self.battery_code)
        if self.session_ids is not None:
            query = query.where(Attempt.session_id.in_(self.session_ids))
        return query

    def items(self, query: Select) -> Select:
        """``query`` joins ``AttemptItem``: keep the items of the bank (every version)."""
        if self.bank_code is None:
            return query
        return (
            query.join(Item, Item.id == AttemptItem.item_id)
            .join(BankVersion, BankVersion.id == Item.bank_version_id)
            .where(BankVersion.code == self.bank_code)
        )


def item_matrix(
    battery_code: str, session_id: int | None = None, *, everyone: bool = False
) -> ItemMatrix | None:
    """Finished attempts of a battery (optionally one session) as matrices; None if none.
    ``everyone``: not limited to the participants the request's assessor may see."""
    sessions = None if session_id is None else (session_id,)
    return _read(_Scope(battery_code=battery_code, session_ids=sessions, everyone=everyone))


def bank_matrix(bank_code: str, session_ids: Collection[int]) -> ItemMatrix | None:
    """Finished attempts of the sessions, on the items of the bank they were presented (any
    battery, any version of the bank; items pooled by their id in the bank), as matrices; an
    attempt without an item of the bank is not a row. None if there is no such attempt."""
    return _read(_Scope(session_ids=tuple(sorted(set(session_ids))), bank_code=bank_code))


def _read(scope: _Scope) -> ItemMatrix | None:
    rows = db.session.execute(
        scope.items(
            scope.attempts(
                select(
                    Attempt.id,
                    Attempt.battery_version_id,
                    AttemptItem.section_index,
                    AttemptItem.item_id,
                    cast(Response.answer, Text),
                    Response.score,
                    Response.max_score,
                    AttemptItem.position,
                    Response.time_on_screen_ms,
                    Response.first_answer_ms,
                )
                .join(AttemptItem, AttemptItem.attempt_id == Attempt.id)
                .join(
                    Response,
                    (Response.attempt_id == AttemptItem.attempt_id)
                    & (Response.position == AttemptItem.position),
                )
            )
        ).order_by(Attempt.id, AttemptItem.position)
    ).all()
    if not rows:
        return None
    (
        attempt_col,
        version_col,
        section_col,
        item_col,
        answers,
        score_col,
        max_col,
        position_col,
        screen_col,
        answer_ms_col,
    ) = zip(*rows, strict=True)
    attempt_ids, row = np.unique(np.asarray(attempt_col), return_inverse=True)
    names = dict(
        (a, (nip or "", name))
        for a, nip, name in db.session.execute(
            scope.attempts(
                select(Attempt.id, User.nip, User.full_name).join(User, User.id == Attempt.user_id)
            )
        )
    )
    items = _items(np.asarray(item_col), version_col, section_col)
    column = items.column_of[np.asarray(item_col)]
    n, k = len(attempt_ids), len(items.codes)
    widest = max((len(labels) for labels in items.options), default=0) or 1
    scores = np.full((n, k), np.nan)
    scores[row, column] = np.asarray(score_col, dtype=float)  # None → NaN
    max_points = np.zeros(k)
    # The stored maximum is the item's (weighted: best option; Likert: top of the scale).
    np.fmax.at(max_points, column, np.nan_to_num(np.asarray(max_col, dtype=float)))
    chosen = np.zeros((n, k, widest), dtype=bool)
    blank = np.zeros((n, k), dtype=bool)
    _fill_answers(answers, row, column, items.options, chosen, blank)
    timing = {}
    for name, values in (
        ("positions", position_col),
        ("screen_ms", screen_col),
        ("answer_ms", answer_ms_col),
    ):
        timing[name] = np.full((n, k), np.nan)
        timing[name][row, column] = np.asarray(values, dtype=float)  # None → NaN
    return ItemMatrix(
        attempt_ids=[int(a) for a in attempt_ids],
        people=[names[int(a)] for a in attempt_ids],
        item_codes=items.codes,
        item_types=items.types,
        competencies=items.competencies,
        sections=items.sections,
        max_points=max_points,
        options=items.options,
        keys=items.keys,
        scores=scores,
        chosen=chosen,
        blank=blank,
        reverse=items.reverse,
        **timing,
    )


@dataclass
class _Columns:
    column_of: np.ndarray  # item id → column
    codes: list[str]
    types: list[str]
    competencies: list[str]
    sections: list[str]
    options: list[list[str]]
    keys: list[list[str]]
    reverse: list[bool]


def _items(item_col: np.ndarray, version_col: tuple, section_col: tuple) -> _Columns:
    """One column per bank/item code, in order of first appearance in the rows."""
    ids, first = np.unique(item_col, return_index=True)
    by_id = {
        item_id: (bank, code, kind, options, competency, key, reverse)
        for item_id, bank, code, kind, options, competency, key, reverse in db.session.execute(
            select(
                Item.id,
                BankVersion.code,
                Item.item_code,
                Item.item_type,
                Item.options,
                ItemKey.competency_code,
                ItemKey.key,
                ItemKey.reverse,
            )
            .join(ItemKey, ItemKey.item_id == Item.id)
            .join(BankVersion, BankVersion.id == Item.bank_version_id)
            .where(Item.id.in_([int(i) for i in ids]))
        )
    }
    definitions = dict(
        db.session.execute(
            select(BatteryVersion.id, BatteryVersion.definition).where(
                BatteryVersion.id.in_(set(version_col))
            )
        ).all()
    )
    fixes = key_overrides([int(i) for i in ids])
    result = _Columns(np.zeros(int(ids.max()) + 1, dtype=np.int64), [], [], [], [], [], [], [])
    columns: dict[str, int] = {}
    for item_id, at in sorted(zip(ids.tolist(), first.tolist(), strict=True), key=lambda p: p[1]):
        bank, code, kind, options, competency, key, reverse = by_id[item_id]
        name = f"{bank}/{code}"
        if name not in columns:
            columns[name] = len(columns)
            sections = definitions[version_col[at]]["sections"]
            fix = fixes.get(item_id)
            result.codes.append(name)
            result.types.append(kind)
            result.competencies.append(competency)
            result.sections.append(sections[section_col[at]]["code"])
            result.options.append([label for label, _ in options] if kind != "short" else [])
            result.keys.append(list(fix.key if fix else key or []) if kind in KEYED_TYPES else [])
            result.reverse.append(bool(reverse))
        result.column_of[item_id] = columns[name]
    return result


def _fill_answers(
    answers: tuple,
    row: np.ndarray,
    column: np.ndarray,
    options: list[list[str]],
    chosen: np.ndarray,
    blank: np.ndarray,
) -> None:
    """Mark blanks and chosen options; each distinct (answer, item) pair is decoded once."""
    texts: dict[Any, int] = {}
    code = np.fromiter((texts.setdefault(t, len(texts)) for t in answers), np.int64, len(answers))
    pairs, pair_of = np.unique(code * chosen.shape[1] + column, return_inverse=True)
    decoded = [None if t is None else json.loads(t) for t in texts]
    table = np.zeros((len(pairs), chosen.shape[2]), dtype=bool)
    empty = np.zeros(len(pairs), dtype=bool)
    for p, pair in enumerate(pairs.tolist()):
        answer, labels = decoded[pair // chosen.shape[1]], options[pair % chosen.shape[1]]
        if answer is None or answer == "" or answer == []:
            empty[p] = True
        elif isinstance(answer, list):
            for label in answer:
                if label in labels:
                    table[p, labels.index(label)] = True
    chosen[row, column] = table[pair_of]
    blank[row, column] = empty[pair_of]
