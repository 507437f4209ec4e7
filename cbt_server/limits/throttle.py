"""A per-host request throttle per client address, shared by every worker of the server.

A participant who floods the server from a lab PC (a script, a stuck key, a browser extension)
must not take the CPU from the room. Before any Flask or database work, each request spends a
token from its address's bucket (``CBT_THROTTLE_RATE`` per second, up to ``CBT_THROTTLE_BURST``);
an empty bucket is a 429 with ``Retry-After`` in a few microseconds.

The buckets live in a small file in the instance folder, mapped into memory by every worker
(``mmap``, ``MAP_SHARED``) and guarded by ``flock``: all workers of this host share one bucket per
address, as the issue of per-worker limits demands. Several hosts behind a proxy each protect
their own CPU, which is what this throttle is for; the security budgets that must hold across
hosts (failed logins, tokens, events) are in the database (:mod:`budgets`).

A lab whose PCs reach the server through one NAT address must raise the rate or exempt that
address (docs/limits.md). Loopback is exempt by default: the server's own tools and a reverse
proxy on the same host come from there.
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import math
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

SLOT = struct.Struct("<Qdd")  # key hash, tokens, last refill (time.monotonic, host-wide)
SLOTS = 8192
PROBE = 4


class Throttle:
    def __init__(self, path: Path, rate: float, burst: float, slots: int = SLOTS) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self.slots = slots
        size = slots * SLOT.size
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(fd).st_size < size:
            os.ftruncate(fd, size)
        self._fd = fd
        self._map = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self._lock = threading.Lock()  # flock does not exclude threads of one process

    def take(self, key: str, now: float | None = None) -> float:
        """Spend one token of ``key``'s bucket: 0 when allowed, else seconds until one is free."""
        now = time.monotonic() if now is None else now
        digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
        digest = digest or 1  # 0 marks an empty slot
        start = digest % self.slots
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                return self._take(digest, start, now)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _take(self, digest: int, start: int, now: float) -> float:
        chosen, oldest = None, math.inf
        for step in range(PROBE):
            index = (start + step) % self.slots
            owner, tokens, last = SLOT.unpack_from(self._map, index * SLOT.size)
            if owner == digest:
                chosen = (index, tokens, last)
                break
            # An empty slot, or one idle long enough to be full again, is free to reuse.
            idle = owner == 0 or (now - last) * self.rate >= self.burst
            age = -math.inf if owner == 0 else last
            if idle and age < oldest:
                chosen, oldest = (index, self.burst, now), age
        if chosen is None:  # every probed slot is busy: share the first one (rare)
            owner, tokens, last = SLOT.unpack_from(self._map, start * SLOT.size)
            chosen = (start, tokens, last)
        index, tokens, last = chosen
        tokens = min(self.burst, tokens + max(0.0, now - last) * self.rate)
        if tokens >= 1:
            SLOT.pack_into(self._map, index * SLOT.size, digest, tokens - 1, now)
            return 0.0
        SLOT.pack_into(self._map, index * SLOT.size, digest, tokens, now)
        return (1 - tokens) / self.rate


def _networks(spec: str | Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    return [ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip()]


class ThrottleMiddleware:
    """WSGI middleware: a 429 for an address over its rate, before the application runs."""

    def __init__(self, app: Callable, throttle: Throttle, exempt: str | Iterable[str]) -> None:
        self.app = app
        self.throttle = throttle
        self.exempt = _networks(exempt)

    def _exempt(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.exempt)

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        address = environ.get("REMOTE_ADDR") or ""
        if address and not self._exempt(address):
            wait = self.throttle.take(address)
            if wait > 0:
                return _too_many(environ, start_response, max(1, math.ceil(wait)))
        return self.app(environ, start_response)


def _too_many(environ, start_response, retry_after: int):  # type: ignore[no-untyped-def]
    # No Flask here (that is the point): the two languages are spelled out.
    english = "lang=en" in (environ.get("HTTP_COOKIE") or "") + (environ.get("QUERY_STRING") or "")
    message = (
        "Too many requests from this computer. Wait a moment; the page tries again."
        if english
        else "Terlalu banyak permintaan dari komputer ini. Tunggu sebentar; halaman mencoba lagi."
    )
    body = json.dumps({"error": "too_many_requests", "message": message}).encode()
    start_response(
        "429 Too Many Requests",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Retry-After", str(retry_after)),
        ],
    )
    return [body]
