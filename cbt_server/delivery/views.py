"""What a participant's page and the exam API may show of an attempt.

Built from the participant-visible data only (item content and the frozen layout, cached by
:mod:`frozen`, and ``responses``): this module never reads ``item_keys``, so keys, weights,
reverse flags and competency/scale membership cannot reach a lab PC.

Nor can an item before its time: the items of a section are sent once the section has opened
(open or closed since), never those of a section still locked, and no item at all while the
attempt is paused (:func:`delivered_sections`; docs/delivery.md, "What the page is sent when").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from cbt_server.delivery import clockwork, frozen
from cbt_server.delivery.lifecycle import AttemptState
from cbt_server.delivery.timer import Countdown
from cbt_server.models import Attempt, Response, db
from cbt_server.models.banks import ITEM_TYPES

#: The page draws a weighted (situational judgement) item exactly like a single-choice one;
#: saying "weighted" would tell the PC that options carry scores.
CLIENT_TYPE = {"weighted": "single"}
#: the item types a page is told of (the API document lists them)
CLIENT_ITEM_TYPES = tuple(kind for kind in ITEM_TYPES if kind not in CLIENT_TYPE)


class SectionState(StrEnum):
    """A section as the page is told of it (docs/exam-api.md)."""

    LOCKED = "locked"  # not yet reached
    OPEN = "open"  # answers accepted
    CLOSED = "closed"  # its time ended or it was finished: read-only


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def timing(attempt: Attempt, at: datetime) -> dict[str, Any]:
    return {
        "state": attempt.state,
        "server_time": iso(at),
        "remaining_seconds": round(clockwork.countdown(attempt).remaining(at), 3),
    }


def _section_state(section) -> str:  # type: ignore[no-untyped-def]
    if section.started_at is None:
        return SectionState.LOCKED
    return SectionState.CLOSED if section.closed_at is not None else SectionState.OPEN


def sections_view(
    attempt: Attempt, definition: dict, at: datetime, counts: list[int]
) -> list[dict]:
    views, first = [], 0
    for section, spec, count in zip(attempt.sections, definition["sections"], counts, strict=True):
        state = _section_state(section)
        remaining = None
        if state == SectionState.OPEN and section.deadline_at is not None:
            remaining = round(Countdown(section.deadline_at, attempt.paused_at).remaining(at), 3)
        views.append(
            {
                "index": section.section_index,
                "code": spec["code"],
                "title": spec["title"],
                "instructions_html": spec["instructions_html"],
                "state": state,
                "timed": spec.get("time_limit_minutes") is not None,
                "minutes": spec.get("time_limit_minutes"),
                "remaining_seconds": remaining,
                "first_position": first,
                "count": count,
            }
        )
        first += count
    return views


def from_canonical(option_order: Sequence[str], stored: Any) -> Any:
    """Stored canonical labels → shown-option indices (for the participant's page)."""
    if stored is None or isinstance(stored, str):
        return stored
    return sorted(option_order.index(label) for label in stored)


def delivered_sections(attempt: Attempt) -> frozenset[int]:
    """The sections whose items the PC may be sent: every section opened so far (the open one
    and the closed ones, which it was sent before); none while the attempt is paused, when the
    page keeps what it already holds and nothing more leaves the server."""
    if attempt.state == AttemptState.PAUSED:
        return frozenset()
    return frozenset(s.section_index for s in attempt.sections if s.started_at is not None)


def attempt_view(attempt: Attempt, definition: dict, at: datetime, media_url) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The attempt for the exam page, in one response (one query: the answers): every section
    described, and the items of :func:`delivered_sections` only."""
    layout = frozen.layout(attempt.id, attempt.seed, len(definition["sections"]))
    sent = delivered_sections(attempt)
    slots = [(p, slot) for p, slot in enumerate(layout.slots) if slot.section_index in sent]
    items: list[dict[str, Any]] = []
    if slots:
        contents = frozen.item_contents(slot.item_id for _p, slot in slots)
        answers = {
            position: (answer, flagged, seq)
            for position, answer, flagged, seq in db.session.execute(
                select(
                    Response.position, Response.answer, Response.flagged, Response.client_seq
                ).where(Response.attempt_id == attempt.id)
            )
        }
        items = [
            _item_view(position, slot, contents[slot.item_id], answers.get(position), media_url)
            for position, slot in slots
        ]
    return {
        "id": attempt.id,
        **timing(attempt, at),
        "show_score": bool(definition.get("show_score")),
        # time the proctor added so far: the page says "Waktu ditambah N menit" when it grows
        "extra_seconds": attempt.extra_seconds,
        "current_position": attempt.current_position,
        "sections": sections_view(attempt, definition, at, list(layout.section_counts)),
        "items": items,
    }


def _item_view(position, slot, content, stored, media_url) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    answer, flagged, seq = stored or (None, False, 0)
    options = []
    for index, label in enumerate(slot.option_order):
        shown = str(index + 1) if content.item_type == "likert" else chr(ord("A") + index)
        options.append({"index": index, "label": shown, "html": content.options_html[label]})
    return {
        "position": position,
        "section": slot.section_index,
        "type": CLIENT_TYPE.get(content.item_type, content.item_type),
        "stem_html": content.stem_html,
        "image_url": media_url(content.image_sha256) if content.image_sha256 else None,
        "options": options,
        "answer": from_canonical(slot.option_order, answer),
        "flagged": bool(flagged),
        "seq": int(seq or 0),
    }
