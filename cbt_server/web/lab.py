"""The lab boundary at the door: every participant request about a limited session's exam is
checked (cbt_server/sessions/lab.py, cbt_server/delivery/boundary.py; docs/lab-boundary.md).

Installed per blueprint (the exam pages, the exam API) after the role guard; the login with an
exam card calls :func:`login_refusal`; the save lane calls :func:`refused_in_lane` and leaves a
refused save to the Flask route, which answers it here.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request, session
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wsgi import get_current_url

from cbt_server.delivery.boundary import Facts, Refusal, SettingError
from cbt_server.delivery.errors import STATUS
from cbt_server.sessions import lab
from cbt_server.web.messages import boundary_message

#: the PC's seat secret (set once by a proctor; only its SHA-256 is stored)
SEAT_COOKIE = "cbt_seat"
SEAT_COOKIE_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie
#: endpoints outside the boundary: the service worker script is fetched by the browser itself
EXEMPT = frozenset({"exam.service_worker"})


def facts(environ: dict, cookies) -> Facts:  # type: ignore[no-untyped-def]
    """What the request shows; the same for Flask and the save lane. The address and the URL
    are as WSGI gives them (after ProxyFix, so behind a proxy the URL is the browser's)."""
    return Facts(
        address=environ.get("REMOTE_ADDR"),
        url=get_current_url(environ),
        config_key_hash=environ.get("HTTP_X_SAFEEXAMBROWSER_CONFIGKEYHASH"),
        request_hash=environ.get("HTTP_X_SAFEEXAMBROWSER_REQUESTHASH"),
        seat_device_hash=lab.device_hash(cookies.get(SEAT_COOKIE)),
    )


def _refusal(enrolment_id: int | None) -> Refusal | None:
    return lab.check(enrolment_id, facts(request.environ, request.cookies))


def login_refusal(enrolment_id: int | None) -> tuple[str, int] | None:
    """The message and status refusing a login with an exam card from outside the boundary."""
    refused = _refusal(enrolment_id)
    if refused is None:
        return None
    return boundary_message(refused), STATUS[refused.code]


def enforce_boundary(bp: Blueprint, *, json: bool = False) -> None:
    """Check every request of the blueprint's participant against their session's boundary."""

    def _guard():  # type: ignore[no-untyped-def]
        if request.endpoint in EXEMPT or not current_user.is_authenticated:
            return None
        if current_user.role != "participant":
            return None
        if not lab.view().sessions:
            return None  # nothing limited anywhere: no statement
        refused = _refusal(_enrolment_of_request())
        if refused is None:
            return None
        message, status = boundary_message(refused), STATUS[refused.code]
        if json:
            body = {"error": refused.code, "message": message}
            if refused.seat:
                body["seat"] = refused.seat
            return jsonify(body), status
        page = render_template("errors/error.html", status=status, message=message)
        return page, status

    bp.before_request(_guard)


def _enrolment_of_request() -> int | None:
    """The enrolment the request is about: the login's, or the one whose token was accepted,
    or (a login not tied to one, of a person enrolled in a limited session) the one the exam
    pages choose (:func:`cbt_server.delivery.service.current_enrolment`: one read)."""
    from cbt_server.web.auth import login_enrolment_id
    from cbt_server.web.exam import TOKEN_OK

    found = login_enrolment_id() or _token_enrolment(session.get(TOKEN_OK))
    if found is not None or not lab.concerns(current_user.id):
        return found
    from cbt_server.delivery.service import current_enrolment

    entry = current_enrolment(current_user.id)
    return entry.enrolment.id if entry.enrolment is not None else None


def _token_enrolment(held: object) -> int | None:
    """The enrolment of an accepted token as the exam pages keep it (an id, or a mapping with
    its ``enrolment``); whether the acceptance still holds is for those pages to say."""
    if isinstance(held, dict):
        held = held.get("enrolment")
    return held if isinstance(held, int) and not isinstance(held, bool) else None


def refused_in_lane(environ: dict, cookies, enrolment_id: int) -> bool:  # type: ignore[no-untyped-def]
    """In the save lane (inside the app context): is this save outside its session's boundary?
    The lane then leaves it to the Flask route, whose guard answers the refusal."""
    if not lab.view().sessions:
        return False
    return lab.check(enrolment_id, facts(environ, cookies)) is not None


def set_seat_cookie(response, secret: str) -> None:  # type: ignore[no-untyped-def]
    response.set_cookie(
        SEAT_COOKIE,
        secret,
        max_age=SEAT_COOKIE_AGE,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE", False)),
    )


def setting_message(error: SettingError) -> str:
    """The proctor's text for a refused boundary setting, naming the line."""
    value = error.value if len(error.value) <= 60 else error.value[:57] + "..."
    if error.kind == "host_bits":
        return _(
            "Rentang alamat baris %(line)d: “%(value)s” memuat bit host. Maksud Anda "
            "%(hint)s? Tidak ada yang disimpan.",
            line=error.line,
            value=value,
            hint=error.hint,
        )
    if error.kind == "not_a_network":
        return _(
            "Rentang alamat baris %(line)d: “%(value)s” bukan alamat atau rentang CIDR yang "
            "sah (contoh: 10.10.1.0/24 atau fd00:10::/64). Tidak ada yang disimpan.",
            line=error.line,
            value=value,
        )
    if error.kind == "not_a_key":
        return _(
            "Kunci SEB baris %(line)d: “%(value)s” bukan kunci SEB (64 digit heksadesimal). "
            "Tidak ada yang disimpan.",
            line=error.line,
            value=value,
        )
    return _("Safe Exam Browser diwajibkan: isi minimal satu kunci SEB. Tidak ada yang disimpan.")
