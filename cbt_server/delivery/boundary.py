"""The lab boundary of a session (pure): from where, on which PC and in which browser its exam
may be taken (docs/lab-boundary.md).

Three settings per session, each off by default:

- allowed address ranges (CIDR, IPv4 or IPv6, one per line): the client's address must be in one;
- seat binding: a participant with a seat may only use the PC registered for that seat in the
  session's room (the PC proves it with a secret cookie whose SHA-256 is stored); a participant
  without a seat is refused until the proctor assigns one;
- Safe Exam Browser: each request carries ``X-SafeExamBrowser-ConfigKeyHash`` or
  ``X-SafeExamBrowser-RequestHash`` equal to :func:`seb_hash` of the request's absolute URL and one
  of the configured keys (Config Keys or Browser Exam Keys).

Nothing here reads the database or the request: the service (``cbt_server/sessions/lab.py``)
loads a :class:`Boundary`, the web layer gathers :class:`Facts`, and :func:`check` decides.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Refusal codes (statuses in cbt_server/delivery/errors.py, words in cbt_server/web/messages.py).
OUTSIDE_NETWORK = "outside_lab_network"
SEB_REQUIRED = "seb_required"
WRONG_SEAT = "wrong_seat"
NO_SEAT = "no_seat_assigned"

_HEX64 = re.compile(r"[0-9a-f]{64}")


class SettingError(ValueError):
    """A line of a boundary setting that cannot be accepted (``line`` counts from 1)."""

    def __init__(self, field: str, line: int, value: str, kind: str, hint: str = "") -> None:
        super().__init__(f"{field} line {line}: {kind} ({value!r})")
        self.field = field  # networks | seb_keys
        self.line = line
        self.value = value
        #: not_a_network | host_bits | not_a_key | no_keys
        self.kind = kind
        #: for host_bits: the network the line probably meant
        self.hint = hint


def _lines(text: str | None) -> list[tuple[int, str]]:
    return [
        (number, line.strip())
        for number, line in enumerate((text or "").splitlines(), 1)
        if line.strip()
    ]


def parse_networks(text: str | None) -> tuple[Network, ...]:
    """The address ranges of a setting, one per line (blank lines ignored). A bare address is
    its own range (/32, /128). A range with host bits set (``10.0.0.5/24``) is refused rather
    than silently widened: it is usually a typo."""
    networks = []
    for number, line in _lines(text):
        try:
            networks.append(ipaddress.ip_network(line, strict=True))
        except ValueError:
            try:
                loose = ipaddress.ip_network(line, strict=False)
            except ValueError:
                raise SettingError("networks", number, line, "not_a_network") from None
            raise SettingError("networks", number, line, "host_bits", str(loose)) from None
    return tuple(networks)


def parse_seb_keys(text: str | None) -> tuple[str, ...]:
    """SEB Config Keys / Browser Exam Keys, 64 hex digits each, one per line (lower-cased)."""
    keys = []
    for number, line in _lines(text):
        key = line.lower()
        if not _HEX64.fullmatch(key):
            raise SettingError("seb_keys", number, line, "not_a_key")
        keys.append(key)
    return tuple(dict.fromkeys(keys))


def networks_text(networks: tuple[Network, ...]) -> str | None:
    """The stored form of a setting: one normalised range per line, None when empty."""
    return "\n".join(str(n) for n in networks) or None


def seb_hash(url: str, key: str) -> str:
    """What Safe Exam Browser sends for ``url`` with ``key``: the SHA-256 of the absolute URL of
    the request (without its fragment) immediately followed by the key (the Config Key for
    ``X-SafeExamBrowser-ConfigKeyHash``, the Browser Exam Key for
    ``X-SafeExamBrowser-RequestHash``), as lower-case hex."""
    return hashlib.sha256((url.split("#", 1)[0] + key).encode("utf-8")).hexdigest()


def seb_ok(url: str, sent: tuple[str | None, ...], keys: tuple[str, ...]) -> bool:
    """Does one of the hashes the browser sent match ``url`` with one of ``keys``?"""
    given = [s.strip().lower() for s in sent if s]
    if not given or not keys:
        return False
    expected = [seb_hash(url, key) for key in keys]
    # Every comparison is made (constant time each): the answer does not hint at which key.
    matched = False
    for value in given:
        for wanted in expected:
            matched |= hmac.compare_digest(value, wanted)
    return matched


def address_in(address: str | None, networks: tuple[Network, ...]) -> bool:
    """Is the client's address in one of the ranges? An address that cannot be read is not."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket shows IPv4 clients as ::ffff:a.b.c.d
    return any(ip.version == n.version and ip in n for n in networks)


@dataclass(frozen=True)
class Boundary:
    """A session's boundary settings, parsed."""

    session_id: int
    room: str
    #: None: any address; a tuple (possibly empty after a bad stored value: nobody) limits it
    networks: tuple[Network, ...] | None = None
    bind_seats: bool = False
    seb_required: bool = False
    seb_keys: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.networks is not None or self.bind_seats or self.seb_required


@dataclass(frozen=True)
class Facts:
    """What one request shows of where it comes from."""

    address: str | None
    #: the absolute URL the browser asked for (scheme and host as the browser used them)
    url: str
    config_key_hash: str | None = None
    request_hash: str | None = None
    #: SHA-256 of the PC's seat cookie (None: the PC has none)
    seat_device_hash: str | None = None


@dataclass(frozen=True)
class Refusal:
    code: str
    #: the participant's seat (where to go), for ``wrong_seat``
    seat: str | None = None
    #: the seat this PC is registered as, when it is one
    this_seat: str | None = None


@dataclass(frozen=True)
class Seats:
    """The PCs registered in rooms: (room, seat) -> device hash, and back."""

    by_seat: dict[tuple[str, str], str]
    by_device: dict[str, tuple[str, str]]


NO_SEATS = Seats({}, {})


def check(boundary: Boundary, facts: Facts, seat: str | None, seats: Seats) -> Refusal | None:
    """None when the request may proceed, else why not. Address first (the cheapest, and the
    one the proctor can do least about on the spot), then the browser, then the seat."""
    if boundary.networks is not None and not address_in(facts.address, boundary.networks):
        return Refusal(OUTSIDE_NETWORK)
    if boundary.seb_required and not seb_ok(
        facts.url, (facts.config_key_hash, facts.request_hash), boundary.seb_keys
    ):
        return Refusal(SEB_REQUIRED)
    if boundary.bind_seats:
        if not seat:
            return Refusal(NO_SEAT)
        registered = seats.by_seat.get((boundary.room, seat))
        if (
            registered is None
            or facts.seat_device_hash is None
            or not hmac.compare_digest(registered, facts.seat_device_hash)
        ):
            here = seats.by_device.get(facts.seat_device_hash or "")
            this_seat = here[1] if here is not None and here[0] == boundary.room else None
            return Refusal(WRONG_SEAT, seat=seat, this_seat=this_seat)
    return None
