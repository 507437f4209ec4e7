"""The save lane: ``POST /api/v1/attempt/answers`` in its common case, in front of Flask.

A save is the request a lab sends most (every click of every participant) and the one whose
latency people feel. Through Flask it costs ~2 ms of CPU per request, most of it the framework
(request and response objects, Flask-Login's user object, Flask-WTF, the ORM session), three
times the database work. This WSGI layer serves the common case itself, with the same checks:

- the Flask session cookie, verified with Flask's own signing serializer;
- the CSRF header, verified as Flask-WTF verifies it (its serializer and salt, the raw token in
  the session), compared in constant time;
- a live login of an active participant (the login record, as the user loader checks it);
- a running attempt of this PC that the timer rules leave as it is
  (:func:`~cbt_server.delivery.answers.common_case`);
- the lab boundary of the attempt's session (:func:`cbt_server.web.lab.refused_in_lane`, from
  memory: no statement);
- then :func:`~cbt_server.delivery.answers.save_answers`, the one save use case.

Over https the referrer must be this host, as Flask-WTF's strict check wants. Anything else (no
or bad cookie or token, a login to stamp or not bound to the attempt, a refusal, a malformed
body, a duplicate, a foreign referrer) falls through, unchanged, to the Flask route, which
answers as it always has. The lane decides before it writes; only in the rare race where the
attempt changed between its check and the write (a proctor's pause, the deadline) can the save use
case have moved the attempt on, as the route itself would, before the route gives the refusal.
"""

from __future__ import annotations

import hmac
import io
import json
import time
from typing import Any

from flask import Flask
from flask_wtf.csrf import same_origin
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.exceptions import SecurityError
from werkzeug.http import parse_cookie
from werkzeug.wsgi import get_host

from cbt_server.accounts import login_sessions
from cbt_server.db import served_work
from cbt_server.delivery import answers, snapshot
from cbt_server.delivery.errors import DeliveryError
from cbt_server.web.auth import DEVICE_COOKIE, LOGIN_SESSION_KEY
from cbt_server.web.errors import RETRYABLE_DATABASE_ERRORS, database_unavailable
from cbt_server.web.lab import refused_in_lane

#: bodies larger than this go to Flask (200 saves of short answers fit easily)
MAX_BODY = 256 * 1024


class SaveLane:
    def __init__(self, app: Flask, wsgi_app: Any, path: str) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.path = path
        self.cookie = app.config["SESSION_COOKIE_NAME"]
        self.sessions = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        self.csrf = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token")
        self.csrf_field = app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        self.csrf_age = app.config.get("WTF_CSRF_TIME_LIMIT")
        self.enabled = bool(app.config.get("WTF_CSRF_ENABLED", True)) and self.sessions is not None

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        if (
            not self.enabled
            or environ.get("PATH_INFO") != self.path
            or environ.get("REQUEST_METHOD") != "POST"
        ):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            return self.wsgi_app(environ, start_response)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)  # Flask reads it again if the lane passes
        try:
            answered = self._serve(environ, body)
        except RETRYABLE_DATABASE_ERRORS as error:
            # Nothing was stored: the same 503 with Retry-After that Flask would answer.
            with self.app.request_context(environ):
                return database_unavailable(error)(environ, start_response)
        if answered is None:
            return self.wsgi_app(environ, start_response)
        payload = json.dumps(answered, separators=(",", ":")).encode()
        elapsed = (time.perf_counter() - started) * 1000
        from cbt_server.web import SECURITY_HEADERS

        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
                ("Vary", "Cookie"),
                ("Server-Timing", f"app;dur={elapsed:.1f}, lane"),
                *SECURITY_HEADERS.items(),
            ],
        )
        return [payload]

    def _serve(self, environ: dict, body: bytes) -> dict | None:
        """The acknowledgement, or None to let Flask answer."""
        if environ.get("wsgi.url_scheme") == "https" and not self._same_origin(environ):
            return None  # Flask-WTF refuses it (docs/tls.md): the route gives the refusal
        cookies = parse_cookie(environ.get("HTTP_COOKIE", ""))
        try:
            session = self.sessions.loads(cookies.get(self.cookie, ""))
            user_id = int(session.get("_user_id"))
        except (BadData, TypeError, ValueError):
            return None
        login, raw = session.get(LOGIN_SESSION_KEY), session.get(self.csrf_field)
        header = environ.get("HTTP_X_CSRFTOKEN") or environ.get("HTTP_X_CSRF_TOKEN")
        if not (login and raw and header) or not self._csrf_ok(header, raw):
            return None
        try:
            payload = json.loads(body)
            saves = answers.parse_saves(payload)
            position = answers.parse_position(payload)
        except (ValueError, DeliveryError):
            return None
        device = cookies.get(DEVICE_COOKIE)
        with self.app.app_context(), served_work():
            found = snapshot.read_with_login(user_id, login)
            if found is None or login_sessions.touch_due(found[1]):
                return None
            attempt, _seen, login_enrolment = found
            if not answers.common_case(attempt, device):
                return None
            if login_enrolment != attempt.enrolment_id:
                # A login whose attempt runs never times out (accounts/lifetime.py); any other
                # login's time limit is the route's to check.
                return None
            if refused_in_lane(environ, cookies, attempt.enrolment_id):
                return None  # outside the session's lab boundary: the route refuses it
            try:
                acks, state = answers.save_answers(
                    user_id, device, saves, position, environ.get("REMOTE_ADDR"), pre=attempt
                )
            except DeliveryError:
                return None  # nothing was written; Flask gives the refusal its words
        return answers.acknowledgement(acks, state)

    def _same_origin(self, environ: dict) -> bool:
        """Flask-WTF's check of a request over https: a referrer of this very host."""
        if not self.app.config.get("WTF_CSRF_SSL_STRICT", True):
            return True
        referrer = environ.get("HTTP_REFERER")
        if not referrer:
            return False
        try:
            host = get_host(environ, self.app.config.get("TRUSTED_HOSTS"))
        except SecurityError:
            return False
        return same_origin(referrer, f"https://{host}/")

    def _csrf_ok(self, header: str, raw: str) -> bool:
        try:
            token = self.csrf.loads(header, max_age=self.csrf_age)
        except BadData:
            return False
        return isinstance(token, str) and hmac.compare_digest(token, raw)
