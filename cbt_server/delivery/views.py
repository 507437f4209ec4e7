"""What a participant's page and the exam API may show of an attempt.

Built from the participant-visible data only (item content and the frozen layout, cached by
:mod:`frozen`, and ``responses``): this module never reads ``item_keys``, so keys, weights,
reverse flags and competency/scale membership cannot reach a lab PC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from cbt_server.delivery import clockwork, frozen
from cbt_server.delivery.timer import Countdown
from cbt_server.models import Attempt, Response, db

#: The page draws a weighted (situational judgement) item exactly like a single-choice one;
#: saying "weighted" would tell the PC that options carry scores.
CLIENT_TYPE = {"weighted": "single"}


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
        return "locked"
    return "closed" if section.closed_at is not None else "open"


def sections_view(
    attempt: Attempt, definition: dict, at: datetime, counts: list[int]
) -> list[dict]:
    views, first = [], 0
    for section, spec, count in zip(attempt.sections, definition["sections"], counts, strict=True):
        state = _section_state(section)
        remaining = None
        if state == "open" and section.deadline_at is not None:
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


def attempt_view(attempt: Attempt, definition: dict, at: datetime, media_url) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The whole attempt for the exam page, in one response (one query: the answers)."""
    layout = frozen.layout(attempt.id, attempt.seed, len(definition["sections"]))
    contents = frozen.item_contents(slot.item_id for slot in layout.slots)
    answers = {
        position: (answer, flagged, seq)
        for position, answer, flagged, seq in db.session.execute(
            select(Response.position, Response.answer, Response.flagged, Response.client_seq).where(
                Response.attempt_id == attempt.id
            )
        )
    }
    items = [
        _item_view(position, slot, contents[slot.item_id], answers.get(position), media_url)
        for position, slot in enumerate(layout.slots)
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
