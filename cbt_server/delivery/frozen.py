"""Immutable delivery data, read once per process and kept in memory.

A battery version, an item version and an attempt's frozen layout never change once written
(versions are keyed by content hash; an attempt's items and option orders are frozen at start).
So a save or a heartbeat never needs to read them from the database again: they are cached here,
per application (tests build many apps on many databases in one process, so the cache lives in
``app.extensions``, never in a module global), in bounded LRU maps.

Nothing here reads ``item_keys``: keys cannot leak through this cache to a participant.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import select

from cbt_server.delivery.assembly import Candidate
from cbt_server.models import AttemptItem, BatteryVersion, Item, ItemKey, db

V = TypeVar("V")


class _Lru:
    """A small thread-safe LRU map (several request threads per worker share it)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_load(self, key: Hashable, load: Callable[[], V]) -> V:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = load()  # outside the lock: a database read must not serialise the worker
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value

    def get_many(self, keys: Iterable[Hashable], load: Callable[[list], dict]) -> dict:
        found, missing = {}, []
        with self._lock:
            for key in keys:
                if key in self._data:
                    self._data.move_to_end(key)
                    found[key] = self._data[key]
                else:
                    missing.append(key)
        if missing:
            loaded = load(missing)
            with self._lock:
                for key, value in loaded.items():
                    self._data[key] = value
                while len(self._data) > self.size:
                    self._data.popitem(last=False)
            found.update(loaded)
        return found


class FrozenCache:
    def __init__(self) -> None:
        self.definitions = _Lru(64)
        self.candidates = _Lru(64)
        self.layouts = _Lru(8192)
        self.items = _Lru(20000)


def _cache() -> FrozenCache:
    return current_app.extensions.setdefault("cbt_frozen", FrozenCache())


@dataclass(frozen=True)
class Slot:
    """One position of an attempt as frozen at start."""

    section_index: int
    item_id: int
    item_type: str
    option_order: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    slots: tuple[Slot, ...]  # index = position
    section_counts: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.slots)

    def section_of(self, position: int) -> int | None:
        if 0 <= position < len(self.slots):
            return self.slots[position].section_index
        return None


@dataclass(frozen=True)
class ItemContent:
    """What the participant's page shows of an item version."""

    item_type: str
    stem_html: str
    options_html: dict[str, str]
    image_sha256: str | None


def definition(battery_version_id: int) -> dict:
    """The battery version's definition (sections, rules, limits). Treat it as read-only."""
    return _cache().definitions.get_or_load(
        battery_version_id,
        lambda: db.session.scalar(
            select(BatteryVersion.definition).where(BatteryVersion.id == battery_version_id)
        ),
    )


def layout(attempt_id: int, seed: int, sections: int) -> Layout:
    """The attempt's frozen positions. ``seed`` is part of the key so a reused id never
    returns another attempt's layout."""

    def load() -> Layout:
        rows = db.session.execute(
            select(
                AttemptItem.position,
                AttemptItem.section_index,
                AttemptItem.item_id,
                Item.item_type,
                AttemptItem.option_order,
            )
            .join(Item, Item.id == AttemptItem.item_id)
            .where(AttemptItem.attempt_id == attempt_id)
            .order_by(AttemptItem.position)
        ).all()
        slots = tuple(Slot(s, i, t, tuple(order)) for _p, s, i, t, order in rows)
        counts = [0] * sections
        for slot in slots:
            counts[slot.section_index] += 1
        return Layout(slots, tuple(counts))

    return _cache().layouts.get_or_load((attempt_id, seed), load)


def item_contents(item_ids: Iterable[int]) -> dict[int, ItemContent]:
    def load(missing: list[int]) -> dict[int, ItemContent]:
        rows = db.session.execute(
            select(Item.id, Item.item_type, Item.stem_html, Item.options, Item.image_sha256).where(
                Item.id.in_(missing)
            )
        )
        return {
            item_id: ItemContent(kind, stem, {label: html for label, html in options}, image)
            for item_id, kind, stem, options, image in rows
        }

    return _cache().items.get_many(set(item_ids), load)


def candidates(battery_version_id: int, battery: dict) -> dict[tuple[int, int], list[Candidate]]:
    """The items each selection rule may draw from. The key table is read here for the
    competency of each item only, on the server; nothing of it is sent anywhere."""

    def load() -> dict[tuple[int, int], list[Candidate]]:
        found: dict[tuple[int, int], list[Candidate]] = {}
        for s_index, section in enumerate(battery["sections"]):
            for r_index, rule in enumerate(section["rules"]):
                query = (
                    select(Item.id, Item.item_code, Item.item_type, Item.options)
                    .join(ItemKey, ItemKey.item_id == Item.id)
                    .where(
                        Item.bank_version_id == rule["bank_version_id"],
                        ItemKey.competency_code == rule["competency"],
                    )
                    .order_by(Item.id)
                )
                if rule.get("difficulty"):
                    query = query.where(Item.difficulty == rule["difficulty"])
                found[(s_index, r_index)] = [
                    Candidate(item_id, code, item_type, tuple(label for label, _ in options))
                    for item_id, code, item_type, options in db.session.execute(query)
                ]
        return found

    return _cache().candidates.get_or_load(battery_version_id, load)
