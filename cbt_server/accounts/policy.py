"""Staff passwords (pure): what a chosen password must be, and the ones the server makes.

A chosen password (``/account/password``, the first admin) must be at least
:data:`MIN_LENGTH` characters, differ from the user name and not be one of the passwords every
guessing list starts with. A password the server makes (an admin's reset, a new account) is
random, typed once from the screen and replaced at the next login (docs/accounts.md).
"""

from __future__ import annotations

import secrets

MIN_LENGTH = 10

#: what a chosen password may not be (compared without case): the top of the leaked-password
#: lists, and what an Indonesian office picks first
COMMON = frozenset(
    {
        "1234567890",
        "12345678910",
        "0123456789",
        "1111111111",
        "0000000000",
        "1q2w3e4r5t",
        "qwertyuiop",
        "asdfghjkl;",
        "password12",
        "password123",
        "password1234",
        "passw0rd123",
        "iloveyou12",
        "admin12345",
        "admin123456",
        "administrator",
        "rahasia123",
        "rahasia1234",
        "katasandi1",
        "katasandi123",
        "sandi12345",
        "indonesia1",
        "indonesia123",
        "bismillah1",
        "bismillah123",
        "pengawas123",
        "asesor12345",
        "cbtasn2026",
        "welcome123",
        "selamatdatang",
    }
)

# Short, too common, the user name: each a code the pages turn into a sentence.
TOO_SHORT = "too_short"
IS_USERNAME = "is_username"
TOO_COMMON = "too_common"

#: the characters of a made password: no 0/O, 1/l/I to misread from a screen
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_GROUPS = 4
_GROUP_LENGTH = 4


def problem(password: str, username: str) -> str | None:
    """Why ``password`` may not be chosen by ``username``, as a code above; None when it may."""
    if len(password) < MIN_LENGTH:
        return TOO_SHORT
    if password.strip().casefold() == username.strip().casefold():
        return IS_USERNAME
    if password.casefold() in COMMON:
        return TOO_COMMON
    return None


def one_time_password() -> str:
    """A random password to read from the screen once: four groups of four (~79 bits)."""
    return "-".join(
        "".join(secrets.choice(_ALPHABET) for _ in range(_GROUP_LENGTH)) for _ in range(_GROUPS)
    )
