"""Rate limits per client, keyed by a salted hash of the client's network prefix.

The key of a client is HMAC-SHA256(daily salt, IPv4 address or IPv6 /64), truncated. The salt
lives for one UTC day:
- with the in-memory storage it is random and lives only in this process's memory (the counters do
  too);
- with a shared storage (Redis, memcached, the SQLite file in RAM shared by the processes of
  one `serve --processes N`: sqlite_storage.py) it is derived from a secret and the date (the
  server secret; for the processes of one `serve`, a random secret of that run), so every
  replica computes the same salt without asking the storage: a replica started while Redis
  is down, or a Redis that lost its data, keys clients like the others. (Old salts can be
  recomputed by whoever holds the secret; the storage alone cannot.)
Neither the address nor its hash ever reaches the catalog or the logs; the hashes live in the
rate-limit storage only, and stop meaning anything once their day's salt is gone.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from backend.abuse.addresses import IPAddress, network_prefix
from backend.abuse.sqlite_storage import SQLiteStorage  # registers sqlite:// with `limits`
from backend.outages import OutageLog

log = logging.getLogger(__name__)

UNLIMITED = ("", "off", "none", "unlimited")


def parse_rate(value: str, what: str = "rate limit") -> tuple[RateLimitItem, ...]:
    """'30/minute;500/day' -> limits; '' (or 'off') -> no limit. Raises ValueError naming `what`."""
    if value.strip().lower() in UNLIMITED:
        return ()
    try:
        return tuple(parse_many(value))
    except ValueError:
        raise ValueError(
            f"{what}: {value!r} is not a rate limit such as '30/minute' or '10/hour;100/day'"
        ) from None


def utc_day(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d")


class Salts:
    """Today's salt. Subclasses decide where it comes from."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._day_number: int | None = None
        self._salt = b""

    def current(self) -> bytes:
        # Asked on every request: compare day numbers, format and lock only when the day turns.
        day_number = int(self.clock() // 86400)
        if day_number == self._day_number:
            return self._salt
        with self._lock:
            if day_number != self._day_number:
                self._salt = self._fetch(utc_day(day_number * 86400))  # the old salt is dropped
                self._day_number = day_number
            return self._salt

    def _fetch(self, day: str) -> bytes:
        raise NotImplementedError


class MemorySalts(Salts):
    def _fetch(self, day: str) -> bytes:
        return secrets.token_bytes(32)


class DerivedSalts(Salts):
    def __init__(self, secret: Callable[[], bytes], clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.secret = secret

    def _fetch(self, day: str) -> bytes:
        message = f"picdrop-ratelimit-salt:{day}".encode()
        return hmac.new(self.secret(), message, "sha256").digest()


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds, when not allowed


ALLOWED = Verdict(True)


class RateLimits:
    """The server's limits (uploads, reports, not-found answers) over one `limits` storage."""

    def __init__(
        self,
        *,
        url: str,
        upload: str,
        report: str,
        notfound: str,
        secret: Callable[[], bytes],
        timeout: float = 2,
        clock: Callable[[], float] = time.time,
        outages: OutageLog | None = None,
    ) -> None:
        """`timeout`: seconds to connect to or hear from a Redis storage before failing open."""
        options = {}
        if url.startswith("redis"):  # redis://, rediss://, redis+sentinel://...
            options = {"socket_connect_timeout": timeout, "socket_timeout": timeout}
        elif url.startswith("sqlite:"):
            options = {"busy_timeout": timeout}
        self.storage: Storage = storage_from_string(url, **options)
        self.outages = outages or OutageLog(log)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.in_memory = isinstance(self.storage, MemoryStorage)
        # Memory, or a SQLite file of this machine: reads take microseconds and never wait for a
        # writer, so they are asked inline, without a thread hop (the not-found test runs on
        # every GET).
        self.local = self.in_memory or isinstance(self.storage, SQLiteStorage)
        self.salts: Salts = MemorySalts(clock) if self.in_memory else DerivedSalts(secret, clock)
        self.upload = parse_rate(upload)
        self.report = parse_rate(report)
        self.notfound = parse_rate(notfound)
        # A client may report one image once a day; more reports of it are accepted, not stored.
        self.report_repeat = parse_rate("1/day")

    def client_key(self, address: IPAddress | None) -> str:
        """The only name a client has here: a keyed hash that changes every day."""
        if address is None:
            return "no-address"
        return hmac.digest(self.salts.current(), network_prefix(address), "sha256").hex()[:32]

    # -- synchronous (memory storage: microseconds; Redis: a round trip) ------------------------
    def test(self, items: Sequence[RateLimitItem], *identifiers: str) -> Verdict:
        """Would one more hit be allowed? Consumes nothing."""
        try:
            blocked = [item for item in items if not self.limiter.test(item, *identifiers)]
        except Exception as exc:  # storage down: fail open, keep serving, say so in the log
            self.outages.failed("rate-limit storage", exc, "requests let through")
            return ALLOWED
        return self._verdict(blocked, identifiers)

    def hit(self, items: Sequence[RateLimitItem], *identifiers: str) -> Verdict:
        """Consume one from every limit, unless one of them is already used up."""
        verdict = self.test(items, *identifiers)
        if not verdict.allowed:
            return verdict
        try:
            blocked = [item for item in items if not self.limiter.hit(item, *identifiers)]
        except Exception as exc:
            self.outages.failed("rate-limit storage", exc, "requests let through")
            return ALLOWED
        return self._verdict(blocked, identifiers)

    def _verdict(self, blocked: list[RateLimitItem], identifiers: tuple[str, ...]) -> Verdict:
        if not blocked:
            return ALLOWED
        now = time.time()
        wait = 1
        for item in blocked:
            try:
                reset = self.limiter.get_window_stats(item, *identifiers).reset_time
            except Exception:
                reset = now + item.get_expiry()
            wait = max(wait, math.ceil(reset - now))
        return Verdict(False, wait)

    # -- from async code -------------------------------------------------------------------------
    async def atest(self, items: Sequence[RateLimitItem], *identifiers: str) -> Verdict:
        if not items:
            return ALLOWED
        if self.local:
            return self.test(items, *identifiers)
        return await anyio.to_thread.run_sync(self.test, items, *identifiers)

    async def ahit(self, items: Sequence[RateLimitItem], *identifiers: str) -> Verdict:
        if not items:
            return ALLOWED
        if self.in_memory:
            return self.hit(items, *identifiers)
        return await anyio.to_thread.run_sync(self.hit, items, *identifiers)

    def healthy(self) -> bool:
        """Does the storage answer? (The health check; a failing one only loosens the limits.)"""
        try:
            return bool(self.storage.check())
        except Exception:
            return False

    def close(self) -> None:
        timer = getattr(self.storage, "timer", None)  # MemoryStorage's expiry thread
        if timer is not None:
            timer.cancel()
        if isinstance(self.storage, SQLiteStorage):
            self.storage.close()
