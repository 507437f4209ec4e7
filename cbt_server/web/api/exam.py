"""Exam client endpoints (see docs/exam-api.md and ``/api/v1/openapi.json``)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from cbt_server.clock import now
from cbt_server.delivery import answers, late
from cbt_server.delivery import service as delivery
from cbt_server.delivery.errors import DeliveryError, refuse
from cbt_server.delivery.timer import SAVE_GRACE_SECONDS
from cbt_server.delivery.views import attempt_view
from cbt_server.extensions import csrf
from cbt_server.web.auth import DEVICE_COOKIE
from cbt_server.web.guards import require_roles
from cbt_server.web.lab import enforce_boundary
from cbt_server.web.messages import refusal_message

bp = Blueprint("api", __name__, url_prefix="/api/v1")
require_roles(bp, "participant", json=True)
enforce_boundary(bp, json=True)  # the session's lab boundary, after the role guard
# The CSRF check comes after the login and the boundary guards: a call without a login is
# answered 401 (docs/exam-api.md) whatever its token, as the save lane (save_lane.py), which
# answers only a save that passes every check, leaves every refusal to these guards.
csrf.exempt(bp)


@bp.before_request
def _csrf():  # type: ignore[no-untyped-def]
    if current_app.config["WTF_CSRF_ENABLED"] and request.method in current_app.config.get(
        "WTF_CSRF_METHODS", ()
    ):
        csrf.protect()  # CSRFError: 400 csrf (cbt_server/web/errors.py)


@bp.errorhandler(DeliveryError)
def _refused(error: DeliveryError):  # type: ignore[no-untyped-def]
    body = {"error": error.code, "message": refusal_message(error)}
    if error.detail:
        body["detail"] = error.detail
    response = jsonify(body)
    response.status_code = error.status
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _device() -> str | None:
    return request.cookies.get(DEVICE_COOKIE)


def _body() -> dict:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise refuse("bad_request", "the body must be a JSON object")
    return payload


@bp.get("/attempt")
def attempt():  # type: ignore[no-untyped-def]
    found, definition = delivery.refresh(current_user.id, _device())
    view = attempt_view(found, definition, now(), lambda sha: url_for("media.file", sha256=sha))
    return jsonify(attempt=view, csrf_token=generate_csrf(), save_grace_seconds=SAVE_GRACE_SECONDS)


@bp.post("/attempt/answers")
def save():  # type: ignore[no-untyped-def]
    payload = request.get_json(silent=True)
    saves = answers.parse_saves(payload)
    where = answers.parse_position(payload)
    acks, state = answers.save_answers(
        current_user.id, _device(), saves, where, ip=request.remote_addr
    )
    return jsonify(answers.acknowledgement(acks, state))


@bp.post("/attempt/position")
def position():  # type: ignore[no-untyped-def]
    where = answers.parse_position(_body())
    if where is None:
        raise refuse("bad_request", "position is required")
    state = answers.touch(current_user.id, _device(), position=where, ip=request.remote_addr)
    return jsonify(**state)


@bp.post("/attempt/heartbeat")
def heartbeat():  # type: ignore[no-untyped-def]
    # The body is optional (a bare heartbeat keeps the position); one that is sent is an object.
    where = answers.parse_position(_body()) if request.get_data() else None
    state = answers.touch(
        current_user.id, _device(), position=where, heartbeat=True, ip=request.remote_addr
    )
    return jsonify(**state)


@bp.post("/attempt/events")
def events():  # type: ignore[no-untyped-def]
    stored, dropped = answers.record_events(current_user.id, _device(), _body())
    return jsonify(stored=stored, dropped=dropped)


@bp.post("/attempt/late-answers")
def late_answers():  # type: ignore[no-untyped-def]
    stored, duplicates, invalid = late.store_from_page(
        current_user.id, _device(), request.get_json(silent=True)
    )
    return jsonify(stored=stored, duplicates=duplicates, invalid=invalid)


@bp.post("/attempt/sections/<int:index>/finish")
def finish_section(index: int):  # type: ignore[no-untyped-def]
    state = answers.finish_section(current_user.id, _device(), index)
    return jsonify(**state)


@bp.post("/attempt/submit")
def submit():  # type: ignore[no-untyped-def]
    state = delivery.submit(current_user.id, _device())
    return jsonify(state=state, finish_url=url_for("exam.finish"))
