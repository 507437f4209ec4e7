"""The OpenAPI 3.1 description of the exam client API, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

_ERROR = {"$ref": "#/components/schemas/Error"}
_TIMING = {"$ref": "#/components/schemas/Timing"}
_RETRY_AFTER = {"schema": {"type": "integer", "minimum": 1}, "description": "seconds"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _post(summary: str, body: dict[str, Any] | None, ok: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "security": [{"session": [], "csrf": []}],
        "responses": {
            "200": {"description": "done", **_json(ok)},
            "400": {"description": "malformed request or CSRF token missing", **_json(_ERROR)},
            "401": {"description": "not logged in", **_json(_ERROR)},
            "404": {"description": "no attempt", **_json(_ERROR)},
            "409": {
                "description": "closed, expired, other device, section closed",
                **_json(_ERROR),
            },
            "423": {"description": "paused by the proctor", **_json(_ERROR)},
            "429": {
                "description": "over a limit: retry after the Retry-After header's seconds",
                "headers": {"Retry-After": _RETRY_AFTER},
                **_json(_ERROR),
            },
            "503": {
                "description": "the database cannot take the request now (nothing was stored): "
                "retry after the Retry-After header's seconds",
                "headers": {"Retry-After": _RETRY_AFTER},
                **_json(_ERROR),
            },
        },
    }
    if body is not None:
        operation["requestBody"] = {"required": True, **_json(body)}
    return {"post": operation}


ANSWER = {
    "description": "shown-option indexes (list) for option items, text for short answers, or null",
    "oneOf": [
        {"type": "array", "items": {"type": "integer", "minimum": 0}},
        {"type": "string", "maxLength": 500},
        {"type": "null"},
    ],
}
INT32 = 2**31 - 1


def _saves(late: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "object",
        "required": ["position", "seq"],
        "properties": {
            "position": {"type": "integer", "minimum": 0, "maximum": INT32},
            "seq": {"type": "integer", "minimum": 1, "maximum": INT32},
            "answer": ANSWER,
            "flagged": {"type": "boolean"},
        },
    }
    if late:
        item["properties"]["age_ms"] = {
            "type": "integer",
            "minimum": 0,
            "maximum": INT32,
            "description": "how long ago the answer was given, measured on the PC",
        }
    return {"type": "array", "minItems": 1, "maxItems": 200, "items": item}


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "cbt-server exam client API",
        "version": "1",
        "description": "The JSON API behind the participant exam page. See docs/exam-api.md.",
    },
    "paths": {
        "/api/v1/attempt": {
            "get": {
                "summary": "The whole running attempt: sections, items, stored answers, timing",
                "security": [{"session": []}],
                "responses": {
                    "200": {
                        "description": "the attempt",
                        **_json(
                            {
                                "type": "object",
                                "required": ["attempt", "csrf_token", "save_grace_seconds"],
                                "properties": {
                                    "attempt": {"$ref": "#/components/schemas/Attempt"},
                                    "csrf_token": {"type": "string"},
                                    "save_grace_seconds": {"type": "number"},
                                },
                            }
                        ),
                    },
                    "401": {"description": "not logged in", **_json(_ERROR)},
                    "404": {"description": "no attempt", **_json(_ERROR)},
                    "409": {"description": "bound to another device", **_json(_ERROR)},
                },
            }
        },
        "/api/v1/attempt/answers": _post(
            "Save answers in order (idempotent, ordered by seq per item)",
            {
                "type": "object",
                "required": ["saves"],
                "properties": {
                    "saves": _saves(late=False),
                    "position": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": INT32,
                        "description": "the item on screen as the page sends (a resume opens it)",
                    },
                },
            },
            {
                "allOf": [
                    _TIMING,
                    {
                        "type": "object",
                        "properties": {
                            "acks": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "position": {"type": "integer"},
                                        "seq": {"type": "integer"},
                                        "status": {"enum": ["saved", "duplicate", "stale"]},
                                    },
                                },
                            }
                        },
                    },
                ]
            },
        ),
        "/api/v1/attempt/position": _post(
            "Report the item on screen (a resume opens there)",
            {
                "type": "object",
                "required": ["position"],
                "properties": {"position": {"type": "integer", "minimum": 0}},
            },
            _TIMING,
        ),
        "/api/v1/attempt/heartbeat": _post(
            "Heartbeat (every 15 s): returns state and remaining time",
            {"type": "object", "properties": {"position": {"type": "integer", "minimum": 0}}},
            _TIMING,
        ),
        "/api/v1/attempt/events": _post(
            "Integrity events (focus lost, reload, copy/paste attempts, fullscreen exit ...)",
            {
                "type": "object",
                "required": ["events"],
                "properties": {
                    "events": {
                        "type": "array",
                        "maxItems": 100,
                        "items": {
                            "type": "object",
                            "required": ["kind"],
                            "properties": {
                                "kind": {
                                    "enum": [
                                        "focus_lost",
                                        "focus_regained",
                                        "reload",
                                        "fullscreen_exit",
                                        "copy_attempt",
                                        "paste_attempt",
                                        "offline",
                                        "online",
                                        "heartbeat",
                                    ]
                                },
                                "detail": {"type": "object"},
                            },
                        },
                    }
                },
            },
            {
                "type": "object",
                "properties": {
                    "stored": {"type": "integer"},
                    "dropped": {
                        "type": "integer",
                        "description": "beyond the attempt's cap: not stored",
                    },
                },
            },
        ),
        "/api/v1/attempt/late-answers": _post(
            "Hand over saves the server refused for good (kept apart for an assessor)",
            {"type": "object", "required": ["saves"], "properties": {"saves": _saves(late=True)}},
            {
                "type": "object",
                "properties": {
                    "stored": {"type": "integer"},
                    "duplicates": {"type": "integer"},
                    "invalid": {
                        "type": "array",
                        "items": {"type": "integer"},
                        "description": "indexes of saves that are malformed or do not fit the "
                        "attempt (not stored; resending cannot help)",
                    },
                },
            },
        ),
        "/api/v1/attempt/sections/{index}/finish": {
            **_post("Close the open section early and open the next one", None, _TIMING),
        },
        "/api/v1/attempt/submit": _post(
            "Submit the attempt (graded at once)",
            None,
            {
                "type": "object",
                "properties": {"state": {"type": "string"}, "finish_url": {"type": "string"}},
            },
        ),
        "/api/v1/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI"}}}
        },
    },
    "components": {
        "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken"},
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {
                    "error": {"type": "string"},
                    "message": {"type": "string"},
                    "detail": {"type": "string"},
                },
            },
            "Timing": {
                "type": "object",
                "required": ["state", "server_time", "remaining_seconds"],
                "properties": {
                    "state": {"enum": ["in_progress", "paused", "submitted", "expired", "voided"]},
                    "server_time": {"type": "string", "format": "date-time"},
                    "remaining_seconds": {"type": "number", "minimum": 0},
                },
            },
            "Option": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "label": {"type": "string"},
                    "html": {"type": "string"},
                },
            },
            "Item": {
                "type": "object",
                "properties": {
                    "position": {"type": "integer"},
                    "section": {"type": "integer"},
                    "type": {"enum": ["single", "multiple", "truefalse", "likert", "short"]},
                    "stem_html": {"type": "string"},
                    "image_url": {"type": ["string", "null"]},
                    "options": {"type": "array", "items": {"$ref": "#/components/schemas/Option"}},
                    "answer": ANSWER,
                    "flagged": {"type": "boolean"},
                    "seq": {"type": "integer"},
                },
            },
            "Section": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "code": {"type": "string"},
                    "title": {"type": "string"},
                    "instructions_html": {"type": "string"},
                    "state": {"enum": ["open", "closed", "locked"]},
                    "timed": {"type": "boolean"},
                    "minutes": {"type": ["integer", "null"]},
                    "remaining_seconds": {"type": ["number", "null"]},
                    "first_position": {"type": "integer"},
                    "count": {"type": "integer"},
                },
            },
            "Attempt": {
                "allOf": [
                    _TIMING,
                    {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "show_score": {"type": "boolean"},
                            "extra_seconds": {"type": "integer"},
                            "current_position": {"type": "integer"},
                            "sections": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/Section"},
                            },
                            "items": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/Item"},
                            },
                        },
                    },
                ]
            },
        },
    },
}


@bp.get("/openapi.json")
def document():  # type: ignore[no-untyped-def]
    return jsonify(DOCUMENT)
