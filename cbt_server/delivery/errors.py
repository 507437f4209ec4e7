"""Refusals of the delivery use cases. The web layer turns each code into a participant message.

The error codes of the exam API and their HTTP statuses are listed here once: :data:`STATUS` for
the refusals of the use cases, :data:`WEB_STATUS` for what the web layer answers itself, and
:data:`API_ERRORS` for both; the API document (``cbt_server/web/api/openapi.py``) is built from
them.
"""

from __future__ import annotations


class DeliveryError(Exception):
    """A refused request; nothing it asked for was changed."""

    status = 409

    def __init__(
        self, code: str, status: int | None = None, detail: str = "", retry_after: int | None = None
    ) -> None:
        super().__init__(detail or code)
        self.code = code
        self.detail = detail
        #: seconds to wait before trying again (429: a spent budget)
        self.retry_after = retry_after
        if status is not None:
            self.status = status


def refuse(code: str, detail: str = "") -> DeliveryError:
    return DeliveryError(code, STATUS.get(code, 409), detail)


def too_many(retry_after: int) -> DeliveryError:
    return DeliveryError("too_many_requests", 429, retry_after=retry_after)


STATUS = {
    "not_enrolled": 403,
    "no_attempt": 404,
    "bad_token": 403,
    "stale_token": 403,
    "session_not_open": 403,
    "session_closed": 403,
    "token_expired": 403,
    "other_device": 409,
    "attempt_closed": 409,
    "attempt_paused": 423,
    "deadline_passed": 409,
    "section_closed": 409,
    "bad_request": 400,
    "too_many_requests": 429,
    "late_answers_full": 409,
    # The lab boundary of a session (cbt_server/delivery/boundary.py, docs/lab-boundary.md):
    # the request comes from outside the session's address ranges, not from Safe Exam Browser
    # with an accepted key, from a PC that is not the participant's seat, or from a participant
    # who has no seat while seats are bound. Pages and the API answer 403 with these codes.
    "outside_lab_network": 403,
    "seb_required": 403,
    "wrong_seat": 403,
    "no_seat_assigned": 403,
}

#: Codes the web layer answers itself, before or around the use cases (cbt_server/web/).
WEB_STATUS = {
    "not_logged_in": 401,  # no login (web/guards.py)
    "login_ended": 401,  # this PC's login was ended elsewhere (web/ended_login.py)
    "login_expired": 401,  # the login's time was up (web/ended_login.py)
    "forbidden": 403,  # a login of another role
    "csrf": 400,  # a live login's request without a valid CSRF token (web/errors.py)
    "unavailable": 503,  # the database cannot take the request now (web/errors.py)
    # HTTP errors, named after werkzeug's exception (web/errors.py)
    "not_found": 404,
    "method_not_allowed": 405,
    "request_entity_too_large": 413,
}

#: Every error code of the exam API with its status (the document lists them per operation).
API_ERRORS = {**STATUS, **WEB_STATUS}
