"""Refusals of the delivery use cases. The web layer turns each code into a participant message."""

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
    "other_device": 409,
    "attempt_closed": 409,
    "attempt_paused": 423,
    "deadline_passed": 409,
    "section_closed": 409,
    "bad_request": 400,
    "too_many_requests": 429,
    "late_answers_full": 409,
}
