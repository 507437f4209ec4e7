"""The OpenAPI 3.1 description of the exam client API, served at /api/v1/openapi.json.

Built from the code's own definitions, so the two cannot drift: the error codes and their
statuses (:data:`cbt_server.delivery.errors.API_ERRORS`), the attempt states
(:class:`~cbt_server.delivery.lifecycle.AttemptState`), the integrity event kinds and the limits
of a request (:mod:`cbt_server.delivery.answers`), the section states and item types a page is
shown (:mod:`cbt_server.delivery.views`). What is written here is which operation answers which
codes; ``tests/test_api_conformance.py`` checks every route is described and runs schemathesis
against the served document.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import Blueprint, jsonify

from cbt_server.delivery.answers import (
    ACK_STATUSES,
    EVENT_KINDS,
    MAX_EVENTS_PER_REQUEST,
    MAX_INT,
    MAX_SAVES_PER_REQUEST,
    MAX_SHORT_ANSWER,
)
from cbt_server.delivery.errors import API_ERRORS
from cbt_server.delivery.lifecycle import AttemptState
from cbt_server.delivery.views import CLIENT_ITEM_TYPES, SectionState

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

_TIMING = {"$ref": "#/components/schemas/Timing"}
_RETRY_AFTER = {
    "description": "seconds to wait before sending again",
    "schema": {"type": "integer", "minimum": 1},
}

#: Refusals any call may get: no login, a login of another role, the session's lab boundary
#: (cbt_server/delivery/boundary.py), a flooding host or a spent budget, a busy database.
_EVERY_CALL = (
    "not_logged_in",
    "login_ended",
    "login_expired",
    "forbidden",
    "outside_lab_network",
    "seb_required",
    "wrong_seat",
    "no_seat_assigned",
    "too_many_requests",
    "unavailable",
)
#: ... and any POST: a live login's request without a valid CSRF token, a malformed body, a body
#: over the server's size limit.
_EVERY_POST = (*_EVERY_CALL, "csrf", "bad_request", "request_entity_too_large")
#: The attempt must exist and be bound to this PC.
_THE_ATTEMPT = ("no_attempt", "other_device")


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _refusals(codes: tuple[str, ...]) -> dict[str, Any]:
    """The error responses of an operation, one per status, each naming its codes."""
    by_status: dict[int, list[str]] = defaultdict(list)
    for code in dict.fromkeys(codes):
        by_status[API_ERRORS[code]].append(code)
    responses: dict[str, Any] = {}
    for status in sorted(by_status):
        named = by_status[status]
        response: dict[str, Any] = {
            "description": "refused (nothing was changed): " + ", ".join(named),
            **_json(
                {
                    "allOf": [
                        {"$ref": "#/components/schemas/Error"},
                        {"type": "object", "properties": {"error": {"enum": named}}},
                    ]
                }
            ),
        }
        if status in (429, 503):
            response["description"] += "; retry no sooner than the Retry-After header says"
            response["headers"] = {"Retry-After": _RETRY_AFTER}
        responses[str(status)] = response
    return responses


def _saves_body(items: dict[str, Any], **more: Any) -> dict[str, Any]:
    """A request body of 1 to MAX_SAVES_PER_REQUEST saves (answers, or late answers)."""
    saves = {"type": "array", "minItems": 1, "maxItems": MAX_SAVES_PER_REQUEST, "items": items}
    return {"type": "object", "required": ["saves"], "properties": {"saves": saves, **more}}


def _operation(
    summary: str,
    ok: dict[str, Any],
    codes: tuple[str, ...],
    *,
    post: bool = True,
    body: dict[str, Any] | None = None,
    body_required: bool = True,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "security": [{"session": [], "csrf": []}] if post else [{"session": []}],
        "responses": {
            "200": {"description": "done", **_json(ok)},
            **_refusals((*(_EVERY_POST if post else _EVERY_CALL), *codes)),
        },
    }
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": body_required, **_json(body)}
    return {"post" if post else "get": operation}


_INDEX = {"type": "integer", "minimum": 0, "maximum": MAX_INT}
_SEQ = {"type": "integer", "minimum": 1, "maximum": MAX_INT}

ANSWER = {
    "description": "shown-option indexes (list) for option items, text for short answers, or null",
    "oneOf": [
        {"type": "array", "items": {"type": "integer", "minimum": 0}},
        {"type": "string", "maxLength": MAX_SHORT_ANSWER},
        {"type": "null"},
    ],
}

_SAVE = {
    "type": "object",
    "required": ["position", "seq"],
    "properties": {
        "position": _INDEX,
        "seq": _SEQ,
        "answer": ANSWER,
        "flagged": {"type": "boolean"},
        "shown_ms": {
            **_INDEX,
            "description": "how long the item had been on screen when the answer was given (ms, "
            "measured on the PC; kept with the item's first answer for response-time checks)",
        },
    },
}
_LATE_SAVE = {
    "type": "object",
    "required": ["position", "seq"],
    "properties": {
        **_SAVE["properties"],
        "age_ms": {
            **_INDEX,
            "description": "how long ago the answer was given, measured on the PC (a value out "
            "of range is dropped, not the save)",
        },
    },
}
_WHERE = {**_INDEX, "description": "the item on screen as the page sends (a resume opens it)"}
_WHERE_AGE = {
    **_INDEX,
    "description": "how long the page has shown that item (ms, measured on the PC: a duration "
    "that places the start of the item's visit; bounded by the server's own clock)",
}

PATHS: dict[str, Any] = {
    "/api/v1/attempt": _operation(
        "The running attempt: sections, the items of the sections opened so far, stored "
        "answers, timing",
        {
            "type": "object",
            "required": ["attempt", "csrf_token", "save_grace_seconds"],
            "properties": {
                "attempt": {"$ref": "#/components/schemas/Attempt"},
                "csrf_token": {"type": "string"},
                "save_grace_seconds": {"type": "number"},
            },
        },
        _THE_ATTEMPT,
        post=False,
    ),
    "/api/v1/attempt/answers": _operation(
        "Save answers in order (idempotent, ordered by seq per item)",
        {
            "allOf": [
                _TIMING,
                {
                    "type": "object",
                    "required": ["acks"],
                    "properties": {
                        "acks": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["position", "seq", "status"],
                                "properties": {
                                    "position": {"type": "integer"},
                                    "seq": {"type": "integer"},
                                    "status": {"enum": list(ACK_STATUSES)},
                                },
                            },
                        }
                    },
                },
            ]
        },
        (
            *_THE_ATTEMPT,
            "attempt_closed",
            "deadline_passed",
            "section_closed",
            "attempt_paused",
        ),
        body=_saves_body(_SAVE, position=_WHERE, position_age_ms=_WHERE_AGE),
    ),
    "/api/v1/attempt/position": _operation(
        "Report the item on screen (a resume opens there)",
        _TIMING,
        _THE_ATTEMPT,
        body={
            "type": "object",
            "required": ["position"],
            "properties": {"position": _WHERE, "position_age_ms": _WHERE_AGE},
        },
    ),
    "/api/v1/attempt/heartbeat": _operation(
        "Heartbeat (every 15 s): returns state and remaining time",
        _TIMING,
        _THE_ATTEMPT,
        body={
            "type": "object",
            "properties": {"position": _WHERE, "position_age_ms": _WHERE_AGE},
        },
        body_required=False,  # a bare heartbeat keeps the position
    ),
    "/api/v1/attempt/events": _operation(
        "Integrity events (focus lost, reload, copy/paste attempts, fullscreen exit ...)",
        {
            "type": "object",
            "required": ["stored", "dropped"],
            "properties": {
                "stored": {"type": "integer", "minimum": 0},
                "dropped": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "beyond the attempt's cap: not stored",
                },
            },
        },
        (*_THE_ATTEMPT, "attempt_closed"),
        body={
            "type": "object",
            "required": ["events"],
            "properties": {
                "events": {
                    "type": "array",
                    "maxItems": MAX_EVENTS_PER_REQUEST,
                    "items": {
                        "type": "object",
                        "required": ["kind"],
                        "properties": {
                            "kind": {"enum": sorted(EVENT_KINDS)},
                            "detail": {
                                "description": "kept when it is an object of a few hundred "
                                "characters; anything else is dropped, not the event"
                            },
                        },
                    },
                }
            },
        },
    ),
    "/api/v1/attempt/late-answers": _operation(
        "Hand over saves the server refused for good (kept apart for an assessor)",
        {
            "type": "object",
            "required": ["stored", "duplicates", "invalid"],
            "properties": {
                "stored": {"type": "integer", "minimum": 0},
                "duplicates": {"type": "integer", "minimum": 0},
                "invalid": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 0},
                    "description": "indexes of saves that are malformed or do not fit the "
                    "attempt (not stored; resending cannot help)",
                },
            },
        },
        (*_THE_ATTEMPT, "late_answers_full"),
        # A malformed entry is named in `invalid`, not refused with the rest: the valid ones
        # must not wait behind an entry the page cannot repair.
        body=_saves_body(
            {
                "anyOf": [
                    {"$ref": "#/components/schemas/LateSave"},
                    {"description": "anything else: reported in `invalid`"},
                ]
            }
        ),
    ),
    "/api/v1/attempt/sections/{index}/finish": _operation(
        "Close the open section early and open the next one",
        _TIMING,
        (*_THE_ATTEMPT, "attempt_closed", "attempt_paused", "section_closed", "not_found"),
        parameters=[
            {
                "name": "index",
                "in": "path",
                "required": True,
                "description": "the open section's index (a section that is not open: "
                "section_closed; not a non-negative integer: not_found)",
                "schema": {"type": "integer", "minimum": 0},
            }
        ],
    ),
    "/api/v1/attempt/submit": _operation(
        "Submit the attempt (graded at once)",
        {
            "type": "object",
            "required": ["state", "finish_url"],
            "properties": {
                "state": {"enum": [s.value for s in AttemptState]},
                "finish_url": {"type": "string"},
            },
        },
        (*_THE_ATTEMPT, "attempt_closed", "attempt_paused"),
    ),
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {"description": "OpenAPI 3.1", **_json({"type": "object"})},
                **_refusals(("too_many_requests",)),
            },
        }
    },
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"enum": sorted(API_ERRORS)},
            "message": {"type": "string", "description": "for the participant, in their language"},
            "detail": {"type": "string", "description": "what was wrong, for developers"},
            "seat": {"type": "string", "description": "wrong_seat: the participant's own seat"},
        },
    },
    "Timing": {
        "type": "object",
        "required": ["state", "server_time", "remaining_seconds"],
        "properties": {
            "state": {"enum": [s.value for s in AttemptState]},
            "server_time": {"type": "string", "format": "date-time"},
            "remaining_seconds": {"type": "number", "minimum": 0},
        },
    },
    "Option": {
        "type": "object",
        "required": ["index", "label", "html"],
        "properties": {
            "index": {"type": "integer", "minimum": 0},
            "label": {"type": "string"},
            "html": {"type": "string"},
        },
    },
    "Item": {
        "type": "object",
        "required": ["position", "section", "type", "options", "answer", "flagged", "seq"],
        "properties": {
            "position": {"type": "integer", "minimum": 0},
            "section": {"type": "integer", "minimum": 0},
            "type": {"enum": list(CLIENT_ITEM_TYPES)},
            "stem_html": {"type": "string"},
            "image_url": {"type": ["string", "null"]},
            "options": {"type": "array", "items": {"$ref": "#/components/schemas/Option"}},
            "answer": ANSWER,
            "flagged": {"type": "boolean"},
            "seq": {"type": "integer", "minimum": 0},
        },
    },
    "Section": {
        "type": "object",
        "required": ["index", "state", "first_position", "count"],
        "properties": {
            "index": {"type": "integer", "minimum": 0},
            "code": {"type": "string"},
            "title": {"type": "string"},
            "instructions_html": {"type": "string"},
            "state": {"enum": [s.value for s in SectionState]},
            "timed": {"type": "boolean"},
            "minutes": {"type": ["integer", "null"]},
            "remaining_seconds": {"type": ["number", "null"]},
            "first_position": {"type": "integer", "minimum": 0},
            "count": {"type": "integer", "minimum": 0},
        },
    },
    "Attempt": {
        "allOf": [
            _TIMING,
            {
                "type": "object",
                "required": ["id", "sections", "items"],
                "properties": {
                    "id": {"type": "integer"},
                    "show_score": {"type": "boolean"},
                    "extra_seconds": {"type": "integer"},
                    "current_position": {"type": "integer", "minimum": 0},
                    "sections": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/Section"},
                    },
                    "items": {
                        "type": "array",
                        "description": "the items of the sections opened so far (none while "
                        "paused)",
                        "items": {"$ref": "#/components/schemas/Item"},
                    },
                },
            },
        ]
    },
    "LateSave": _LATE_SAVE,
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "cbt-server exam client API",
        "version": "1",
        "description": "The JSON API behind the participant exam page. See docs/exam-api.md.",
    },
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "session": {
                "type": "apiKey",
                "in": "cookie",
                "name": "session",
                "description": "the login's cookie from POST /login; the attempt is also bound "
                "to the PC by the cbt_device cookie set when it starts",
            },
            "csrf": {
                "type": "apiKey",
                "in": "header",
                "name": "X-CSRFToken",
                "description": "csrf_token of GET /api/v1/attempt (or the page's meta tag)",
            },
        },
        "schemas": SCHEMAS,
    },
}


@bp.get("/openapi.json")
def document():  # type: ignore[no-untyped-def]
    return jsonify(DOCUMENT)
