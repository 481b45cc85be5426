"""Per-principal rate limits: a token bucket for each API key, JWT subject or anonymous client address.

A bucket holds up to ``burst`` requests and refills at ``per_minute / 60`` requests a second; a request
finding it empty is refused with :class:`RateLimitedError`, which says how long until one is back.
A bucket left alone until it is full again is the same as a new one, so idle buckets are forgotten; memory
grows with the principals active in the last refill period only (and never past ``MAX_BUCKETS``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from cube_server.access.roles import Principal
from cube_server.errors import RateLimitedError
from cube_server.settings import Settings

# Beyond this many buckets (a flood of distinct anonymous addresses) the least recently used is forgotten
# early, so the limiter's memory stays bounded whatever callers do.
MAX_BUCKETS = 100_000
UNKNOWN_ADDRESS = "unknown"
BucketKey = tuple[str, str]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Thread-safe token buckets by principal; ``per_minute=0`` accepts every request."""

    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        if per_minute < 0 or burst < 1:
            raise ValueError("a rate limit needs per_minute >= 0 and burst >= 1")
        self.per_minute = per_minute
        self.burst = burst
        self._per_second = per_minute / 60
        self._clock = clock
        self._max_buckets = max_buckets
        self._buckets: OrderedDict[BucketKey, _Bucket] = OrderedDict()  # least recently charged first
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        return cls(settings.rate_limit_per_minute, settings.rate_limit_burst)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def charge(self, principal: Principal, client_address: str | None) -> None:
        """Count one request of ``principal`` (anonymous callers by ``client_address``), or refuse it."""
        key = bucket_key(principal, client_address)
        if not self.enabled or key is None:
            return
        with self._lock:
            now = self._clock()
            self._forget_idle(now)
            bucket = self._buckets.pop(key, None) or _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self._per_second)
            bucket.updated = now
            self._buckets[key] = bucket
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return
            wait_s = max(1, math.ceil((1 - bucket.tokens) / self._per_second))
        raise RateLimitedError(
            f"too many requests: at most {self.per_minute} a minute (bursts of {self.burst}); retry in {wait_s} s",
            retry_after_s=wait_s,
        )

    def bucket_count(self) -> int:
        with self._lock:
            return len(self._buckets)

    def _forget_idle(self, now: float) -> None:
        refill_s = self.burst / self._per_second
        while self._buckets:
            key, oldest = next(iter(self._buckets.items()))
            if now - oldest.updated < refill_s and len(self._buckets) < self._max_buckets:
                return
            del self._buckets[key]


def bucket_key(principal: Principal, client_address: str | None) -> BucketKey | None:
    """Whose bucket a request is charged to; None for an app embedded without access control ("open"),
    whose program limits its own callers (every caller there is the one open principal)."""
    if principal.kind == "open":
        return None
    if principal.kind == "anonymous":
        return ("anonymous", client_address or UNKNOWN_ADDRESS)
    return (principal.kind, principal.name)
