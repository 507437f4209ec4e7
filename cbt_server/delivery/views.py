"""What a participant's page and the exam API may show of an attempt.

Built from the participant-visible tables only (``items``, ``attempt_items``, ``responses``):
this module never reads ``item_keys``, so keys, weights, reverse flags and competency/scale
membership cannot reach a lab PC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from cbt_server.delivery import clockwork
from cbt_server.delivery.answers import from_canonical
from cbt_server.delivery.timer import Countdown
from cbt_server.models import Attempt, AttemptItem, Item, Response, db

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
                "remaining_seconds": remaining,
                "first_position": first,
                "count": count,
            }
        )
        first += count
    return views


def attempt_view(attempt: Attempt, definition: dict, at: datetime, media_url) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The whole attempt for the exam page, in one response."""
    rows = db.session.execute(
        select(AttemptItem, Item, Response)
        .join(Item, Item.id == AttemptItem.item_id)
        .join(
            Response,
            (Response.attempt_id == AttemptItem.attempt_id)
            & (Response.position == AttemptItem.position),
        )
        .where(AttemptItem.attempt_id == attempt.id)
        .order_by(AttemptItem.position)
    ).all()
    counts = [0] * len(definition["sections"])
    items = []
    for frozen, item, response in rows:
        counts[frozen.section_index] += 1
        items.append(_item_view(frozen, item, response, media_url))
    return {
        "id": attempt.id,
        **timing(attempt, at),
        "show_score": bool(definition.get("show_score")),
        "current_position": attempt.current_position,
        "sections": sections_view(attempt, definition, at, counts),
        "items": items,
    }


def _item_view(frozen: AttemptItem, item: Item, response: Response, media_url) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    text_by_label = {label: html for label, html in item.options}
    options = []
    for index, label in enumerate(frozen.option_order):
        shown = str(index + 1) if item.item_type == "likert" else chr(ord("A") + index)
        options.append({"index": index, "label": shown, "html": text_by_label[label]})
    return {
        "position": frozen.position,
        "section": frozen.section_index,
        "type": CLIENT_TYPE.get(item.item_type, item.item_type),
        "stem_html": item.stem_html,
        "image_url": media_url(item.image_sha256) if item.image_sha256 else None,
        "options": options,
        "answer": from_canonical(frozen.option_order, response.answer),
        "flagged": response.flagged,
        "seq": response.client_seq,
    }
