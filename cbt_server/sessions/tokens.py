"""Session tokens: short codes the proctor reads out in the lab."""

from __future__ import annotations

import secrets
from datetime import timedelta

# No 0/O, 1/I/L, 5/S, 2/Z: tokens are read aloud and typed from a projector.
TOKEN_ALPHABET = "ABCDEFGHJKMNPQRTUVWXY346789"  # noqa: S105 (an alphabet, not a secret)
TOKEN_LENGTH = 6


def new_token() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def normalise_token(given: str) -> str:
    return "".join(given.split()).upper()


def token_matches(session, given: str, at) -> str:  # type: ignore[no-untyped-def]
    """``ok``, ``stale_token`` (the previous token after its overlap) or ``bad_token``."""
    # Bytes: compare_digest refuses str with non-ASCII characters, which a PC can send.
    given_bytes = normalise_token(given).encode("utf-8")
    if not given_bytes:
        return "bad_token"
    if session.token and secrets.compare_digest(given_bytes, session.token.encode("utf-8")):
        return "ok"
    previous = session.previous_token
    if previous and secrets.compare_digest(given_bytes, previous.encode("utf-8")):
        until = session.previous_token_until
        return "ok" if until is not None and at <= until else "stale_token"
    return "bad_token"


#: after a rotation the previous token is still accepted this long (PCs mid-typing)
OVERLAP_MINUTES = 2


def rotate(session, at) -> None:  # type: ignore[no-untyped-def]
    """Replace the token at ``at``; the old one stays valid for the overlap after ``at``."""
    if session.token:
        session.previous_token = session.token
        session.previous_token_until = at + timedelta(minutes=OVERLAP_MINUTES)
    token = new_token()
    while token in (session.previous_token, session.token):
        token = new_token()
    session.token = token
    session.token_rotated_at = at


def rotate_if_due(session, at) -> bool:  # type: ignore[no-untyped-def]
    """Apply the rotation schedule up to ``at``; True when the token changed.

    Rotation is lazy (it happens when someone asks for the token), but it is dated when it fell
    due: the schedule does not drift with the moment of asking, and a token's overlap runs from
    its scheduled end. A token nobody replaced for an hour is not valid for two more minutes
    just because the first person to ask typed it.
    """
    if not rotation_due(session, at):
        return False
    due = next_rotation(session)
    if session.token is None or due is None:
        rotate(session, at)
        return True
    period = timedelta(minutes=session.token_rotate_minutes)
    rotate(session, due)
    # Periods that passed unseen made no token anybody could have read out.
    session.token_rotated_at = due + ((at - due) // period) * period
    return True


def rotation_due(session, at) -> bool:  # type: ignore[no-untyped-def]
    """True when the session's token has lived its configured minutes (or there is none)."""
    if session.token is None:
        return True
    due = next_rotation(session)
    return due is not None and at >= due


def next_rotation(session):  # type: ignore[no-untyped-def]
    """When the token is next replaced on schedule (None: only by the proctor)."""
    if not session.token_rotate_minutes or session.token_rotated_at is None:
        return None
    return session.token_rotated_at + timedelta(minutes=session.token_rotate_minutes)
