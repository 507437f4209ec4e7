"""Generated data for the item-analysis benchmark: answers from a simple response model.

Person ability θ ~ N(0, 1); item difficulty b and discrimination a at random (a few items with
a < 0, so some items come out flagged). Dichotomous items are right with probability
logistic(a (θ − b)); weighted and Likert items take the category nearest a θ + noise. About 3 %
of presented items are left blank and 5 % are not presented (items drawn from a larger pool).

``matrices`` gives the pure inputs (scores, max points, sections, chosen options, keys);
``seed_database`` bulk-inserts the same kind of answers for the generated battery
(``generated_bank.write_bank_folder(items=100)``) as finished attempts with graded responses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import insert, select

from cbt_server.models import (
    Attempt,
    AttemptItem,
    BatteryVersion,
    Enrolment,
    ExamSession,
    Item,
    ItemKey,
    Response,
    User,
    db,
)

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NOT_PRESENTED = 0.05
BLANK = 0.03
#: item types cycled through by the pure matrices: mixed dichotomous and polytomous
PURE_TYPES = ("single", "single", "multiple", "truefalse", "weighted", "likert")


@dataclass(frozen=True)
class ItemSpec:
    """What the generator needs of an item: type, option labels, key or weights, maximum."""

    item_id: int
    item_type: str
    labels: list[str]
    key: list[str]
    weights: dict[str, float]
    reverse: bool
    maximum: float
    section: int


def _model(rng: np.random.Generator, people: int, items: int):  # type: ignore[no-untyped-def]
    theta = rng.normal(size=(people, 1))
    b = rng.uniform(-1.5, 1.5, size=items)
    a = rng.uniform(0.5, 2.0, size=items)
    a[rng.choice(items, size=max(1, items // 25), replace=False)] *= -0.5
    return theta, a, b


def _categories(rng: np.random.Generator, theta, a, levels: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """0..levels−1 per person, rising with a θ."""
    raw = (levels - 1) / 2 + a * theta[:, 0] + rng.normal(scale=0.8, size=theta.shape[0])
    return np.clip(np.rint(raw), 0, levels - 1).astype(int)


def matrices(people: int, items: int, seed: int = 5):  # type: ignore[no-untyped-def]
    """Scores (N, K) with NaN, max points (K,), section per item, chosen (N, K, 5), keyed (K, 5)."""
    rng = np.random.default_rng(seed)
    theta, a, b = _model(rng, people, items)
    scores = np.zeros((people, items))
    chosen = np.zeros((people, items, 5), dtype=bool)
    keyed = np.zeros((items, 5), dtype=bool)
    max_points = np.ones(items)
    rows = np.arange(people)
    for k in range(items):
        kind = PURE_TYPES[k % len(PURE_TYPES)]
        if kind in ("single", "multiple", "truefalse"):
            right = rng.random(people) < 1 / (1 + np.exp(-a[k] * (theta[:, 0] - b[k])))
            n = 2 if kind == "truefalse" else 4
            wrong = rng.integers(1, n, size=people)
            pick = np.where(right, 0, wrong)
            scores[:, k] = right
            keyed[k, 0] = True
        else:
            levels = 4 if kind == "weighted" else 5
            pick = _categories(rng, theta, a[k : k + 1], levels)
            scores[:, k] = pick + 1
            max_points[k] = levels
        chosen[rows, k, pick] = True
    blank = rng.random((people, items)) < BLANK
    scores[blank], chosen[blank] = 0.0, False
    scores[rng.random((people, items)) < NOT_PRESENTED] = np.nan
    sections = np.where(np.arange(items) < items // 2, 0, 1)
    return scores, max_points, sections, chosen, keyed


def item_specs() -> list[ItemSpec]:
    """The imported generated battery's items (in an app context)."""
    specs = []
    for item, key in db.session.execute(
        select(Item, ItemKey).join(ItemKey, ItemKey.item_id == Item.id).order_by(Item.id)
    ):
        labels = [label for label, _text in item.options]
        weights = {k: float(v) for k, v in (key.weights or {}).items()}
        maximum = {
            "weighted": max(weights.values(), default=0.0),
            "likert": float(item.likert_points or 0),
        }.get(item.item_type, float(item.points))
        section = 0 if key.competency_code.endswith(".01") else 1
        specs.append(
            ItemSpec(
                item.id, item.item_type, labels, list(key.key or []), weights, key.reverse,
                maximum, section,
            )
        )  # fmt: skip
    return specs


def _answers(rng: np.random.Generator, spec: ItemSpec, theta, a: float, b: float):  # type: ignore[no-untyped-def]
    """(answer, score) per person for one item."""
    n = theta.shape[0]
    if spec.item_type == "likert":
        x = _categories(rng, theta, np.array([a]), 5) + 1
        score = 6 - x if spec.reverse else x
        return [[str(v)] for v in x], score.astype(float)
    if spec.item_type == "weighted":
        ranked = sorted(spec.labels, key=spec.weights.__getitem__)
        level = _categories(rng, theta, np.array([a]), len(ranked))
        return [[ranked[v]] for v in level], np.array([spec.weights[ranked[v]] for v in level])
    right = rng.random(n) < 1 / (1 + np.exp(-a * (theta[:, 0] - b)))
    others = [label for label in spec.labels if label not in spec.key]
    answers = [sorted(spec.key) if ok else [others[int(rng.integers(len(others)))]] for ok in right]
    return answers, right * spec.maximum


def seed_database(people: int, sessions: int, seed: int = 5) -> int:
    """Bulk-insert ``people`` finished attempts in ``sessions`` sessions; return the rows made."""
    rng = np.random.default_rng(seed)
    battery = db.session.scalar(select(BatteryVersion))
    specs = item_specs()
    theta, a, b = _model(rng, people, len(specs))
    answers = [_answers(rng, s, theta, a[k], b[k]) for k, s in enumerate(specs)]
    presented = rng.random((people, len(specs))) >= NOT_PRESENTED
    blank = rng.random((people, len(specs))) < BLANK
    per_session = -(-people // sessions)
    rows = 0
    for s in range(sessions):
        session = ExamSession(
            code=f"IA-{s:03d}", name=f"Sesi analisis {s}", battery_version_id=battery.id,
            room="Lab 1", starts_at=AT - timedelta(days=s, hours=2),
            ends_at=AT - timedelta(days=s), token="BENCH7", created_at=AT - timedelta(days=30),
        )  # fmt: skip
        db.session.add(session)
        db.session.flush()
        persons = range(s * per_session, min(people, (s + 1) * per_session))
        rows += _seed_session(session.id, battery.id, persons, specs, answers, presented, blank)
        db.session.commit()
    return rows


def _ids(model, values: list[dict]) -> list[int]:  # type: ignore[no-untyped-def]
    statement = insert(model).returning(model.id, sort_by_parameter_order=True)
    return list(db.session.scalars(statement, values))


def _seed_session(session_id, battery_id, persons, specs, answers, presented, blank) -> int:  # type: ignore[no-untyped-def]
    users = _ids(
        User,
        [
            {"username": f"ia-{p:05d}", "password_hash": "x", "role": "participant"}
            | {"full_name": f"Peserta {p:05d}", "nip": f"1990{p:014d}", "created_at": AT}
            for p in persons
        ],
    )
    enrolments = _ids(Enrolment, [{"session_id": session_id, "user_id": u} for u in users])
    attempts = _ids(
        Attempt,
        [
            {"enrolment_id": e, "user_id": u, "session_id": session_id}
            | {"battery_version_id": battery_id, "state": "submitted", "seed": 1}
            | {"started_at": AT - timedelta(hours=2), "deadline_at": AT, "finished_at": AT}
            for u, e in zip(users, enrolments, strict=True)
        ],
    )
    frozen, responses = [], []
    for attempt_id, p in zip(attempts, persons, strict=True):
        position = 0
        for k, spec in enumerate(specs):
            if not presented[p, k]:
                continue
            frozen.append(
                {"attempt_id": attempt_id, "position": position, "section_index": spec.section}
                | {"item_id": spec.item_id, "option_order": spec.labels}
            )
            empty = bool(blank[p, k])
            responses.append(
                {"attempt_id": attempt_id, "position": position, "client_seq": 1}
                | {"answer": None if empty else answers[k][0][p]}
                | {"score": 0.0 if empty else float(answers[k][1][p]), "max_score": spec.maximum}
            )
            position += 1
    db.session.execute(insert(AttemptItem), frozen)
    db.session.execute(insert(Response), responses)
    return len(responses)
