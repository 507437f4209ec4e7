"""Error pages for people, JSON errors for the API.

A database that cannot take the request right now (locked past the busy timeout, read-only, full,
unreachable, a serialisation conflict, an exhausted connection pool) is a *retryable* failure:
the client gets 503 with ``Retry-After`` and keeps what it was sending, never a 500 and never a
2xx for something that was not committed.
"""

from __future__ import annotations

import logging
from contextlib import suppress

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

#: seconds a client should wait before retrying after a retryable database failure
RETRY_AFTER_SECONDS = 3
RETRYABLE_DATABASE_ERRORS = (
    sa_exc.OperationalError,  # locked, busy, read-only, disk full, I/O error, connection lost
    sa_exc.InternalError,  # PostgreSQL: read-only transaction, and the like
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # no pooled connection free in time
)


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):  # type: ignore[no-untyped-def]
        return csrf_refused()

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):  # type: ignore[no-untyped-def]
        response = _render(
            error.code or 500,
            (error.name or "error").lower().replace(" ", "_"),
            error.description or "",
        )
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            response[0].headers["Retry-After"] = str(retry_after)
        # The exception's own headers too: a 405 must say which methods are allowed (Allow).
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response[0].headers.setdefault(name, value)
        return response

    for kind in RETRYABLE_DATABASE_ERRORS:
        app.register_error_handler(kind, database_unavailable)


def csrf_refused():  # type: ignore[no-untyped-def]
    """A request without a valid CSRF token, answered for the person who sent it.

    Without a live login (most often a login a proctor's reset ended: its cookie session was
    emptied, CSRF token and all) the CSRF token is not the problem: the API answers 401
    ``not_logged_in`` / ``login_ended`` like any request without a login, and a page sends the
    browser to the login page with the reason. With a live login (a stale page's token) the API
    answers 400 ``csrf``, on which the exam page fetches a fresh token.
    """
    from flask import flash, redirect, url_for
    from flask_login import current_user

    from cbt_server.web.ended_login import not_logged_in_code
    from cbt_server.web.messages import delivery_message

    if not current_user.is_authenticated:
        code = not_logged_in_code()
        if _wants_json():
            return jsonify(error=code, message=delivery_message(code)), 401
        if code == "login_ended":
            flash(delivery_message(code), "error")
            return redirect(url_for("auth.login"))
    return _render(
        400, "csrf", _("Halaman ini sudah kedaluwarsa. Muat ulang halaman, lalu coba lagi.")
    )


def database_unavailable(error: Exception):  # type: ignore[no-untyped-def]
    from cbt_server.models import db

    log.warning("database unavailable, answered 503: %s", str(error).splitlines()[0][:300])
    # The connection itself may be gone; the pool recovers it on the next request.
    with suppress(sa_exc.SQLAlchemyError):
        db.session.rollback()
    message = _("Server sedang sibuk atau basis data tidak dapat ditulis. Coba lagi sebentar lagi.")
    if _wants_json():
        body = jsonify(error="unavailable", message=message)
    else:
        body = make_response(
            render_template(
                "errors/unavailable.html", message=message, retry_after=RETRY_AFTER_SECONDS
            )
        )
    body.status_code = 503
    body.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return body


def _render(status: int, code: str, message: str):  # type: ignore[no-untyped-def]
    if _wants_json():
        return jsonify(error=code, message=message), status
    return make_response(render_template("errors/error.html", status=status, message=message)), (
        status
    )
