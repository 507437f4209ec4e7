"""Session tokens: short codes the proctor reads out in the lab."""

from __future__ import annotations

import secrets

# No 0/O, 1/I/L, 5/S, 2/Z: tokens are read aloud and typed from a projector.
TOKEN_ALPHABET = "ABCDEFGHJKMNPQRTUVWXY346789"  # noqa: S105 (an alphabet, not a secret)
TOKEN_LENGTH = 6


def new_token() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def normalise_token(given: str) -> str:
    return "".join(given.split()).upper()


def token_matches(session, given: str, at) -> str:  # type: ignore[no-untyped-def]
    """``ok``, ``stale_token`` (the previous token after its overlap) or ``bad_token``."""
    given = normalise_token(given)
    if not given:
        return "bad_token"
    if session.token and secrets.compare_digest(given, session.token):
        return "ok"
    if session.previous_token and secrets.compare_digest(given, session.previous_token):
        until = session.previous_token_until
        return "ok" if until is not None and at <= until else "stale_token"
    return "bad_token"


#: after a rotation the previous token is still accepted this long (PCs mid-typing)
OVERLAP_MINUTES = 2


def rotate(session, at) -> None:  # type: ignore[no-untyped-def]
    """Replace the token; the old one stays valid for the overlap."""
    from datetime import timedelta

    if session.token:
        session.previous_token = session.token
        session.previous_token_until = at + timedelta(minutes=OVERLAP_MINUTES)
    token = new_token()
    while token == session.previous_token:
        token = new_token()
    session.token = token
    session.token_rotated_at = at


def rotation_due(session, at) -> bool:  # type: ignore[no-untyped-def]
    """True when the session's token has lived its configured minutes."""
    from datetime import timedelta

    if not session.token_rotate_minutes or session.token_rotated_at is None:
        return session.token is None
    return at >= session.token_rotated_at + timedelta(minutes=session.token_rotate_minutes)


def next_rotation(session):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    if not session.token_rotate_minutes or session.token_rotated_at is None:
        return None
    return session.token_rotated_at + timedelta(minutes=session.token_rotate_minutes)
