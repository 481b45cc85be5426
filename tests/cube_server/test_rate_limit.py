"""The token buckets of the rate limiter, on a clock the tests move by hand."""

from __future__ import annotations

import threading

import pytest

from cube_server.access.rate_limit import RateLimiter, bucket_key
from cube_server.access.roles import Principal, open_principal
from cube_server.errors import RateLimitedError
from cube_server.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def principal(name: str, kind: str = "key") -> Principal:
    return Principal(name, kind, ("reader",), frozenset({"*"}), False)


ALICE = principal("alice")
BOB = principal("bob")
ANONYMOUS = principal("anonymous", "anonymous")


def refused(limiter: RateLimiter, caller: Principal, address: str | None = None) -> RateLimitedError:
    with pytest.raises(RateLimitedError) as raised:
        limiter.charge(caller, address)
    return raised.value


def test_a_burst_is_served_then_refused_with_the_wait_until_the_next_request() -> None:
    clock = Clock()
    limiter = RateLimiter(60, 3, clock=clock)  # one request a second once the burst is spent
    for _ in range(3):
        limiter.charge(ALICE, None)
    error = refused(limiter, ALICE)
    assert error.code == "rate_limited" and error.details == {"retry_after_s": 1}
    clock.now += 0.5
    assert refused(limiter, ALICE).details == {"retry_after_s": 1}, "half a token back: still refused"
    clock.now += 0.5
    limiter.charge(ALICE, None)
    refused(limiter, ALICE)


def test_the_wait_is_whole_seconds_rounded_up() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 1, clock=clock)  # one request a minute
    limiter.charge(ALICE, None)
    assert refused(limiter, ALICE).details == {"retry_after_s": 60}
    clock.now += 59.5
    assert refused(limiter, ALICE).details == {"retry_after_s": 1}
    clock.now += 0.5
    limiter.charge(ALICE, None)


def test_a_quiet_while_refills_the_bucket_up_to_the_burst_only() -> None:
    clock = Clock()
    limiter = RateLimiter(600, 5, clock=clock)
    for _ in range(5):
        limiter.charge(ALICE, None)
    clock.now += 3600
    for _ in range(5):
        limiter.charge(ALICE, None)
    refused(limiter, ALICE)


def test_principals_have_separate_buckets_and_anonymous_callers_one_per_address() -> None:
    limiter = RateLimiter(1, 2, clock=Clock())
    for caller, address in [(ALICE, "10.0.0.1"), (ALICE, "10.0.0.2"), (BOB, "10.0.0.1")]:
        limiter.charge(caller, address)
    refused(limiter, ALICE, "10.0.0.3")  # a key's bucket follows the key, wherever it calls from
    limiter.charge(BOB, "10.0.0.9")
    for address in ("10.0.0.1", "10.0.0.2"):
        limiter.charge(ANONYMOUS, address)
        limiter.charge(ANONYMOUS, address)
        refused(limiter, ANONYMOUS, address)
    limiter.charge(ANONYMOUS, None)


def test_a_key_and_a_token_subject_of_the_same_name_are_different_principals() -> None:
    assert bucket_key(principal("alice", "key"), None) != bucket_key(principal("alice", "token"), None)
    assert bucket_key(ANONYMOUS, "10.0.0.1") == ("anonymous", "10.0.0.1")


def test_an_open_app_and_a_rate_of_zero_are_not_limited() -> None:
    limiter = RateLimiter(1, 1, clock=Clock())
    for _ in range(100):
        limiter.charge(open_principal(), "10.0.0.1")
    assert limiter.bucket_count() == 0
    off = RateLimiter.from_settings(Settings(rate_limit_per_minute=0))
    assert not off.enabled
    for _ in range(100):
        off.charge(ALICE, None)


def test_idle_buckets_are_forgotten_once_they_would_be_full_again() -> None:
    clock = Clock()
    limiter = RateLimiter(60, 10, clock=clock)  # a bucket refills in 10 s
    for number in range(1000):
        limiter.charge(principal(f"key-{number}"), None)
    assert limiter.bucket_count() == 1000
    clock.now += 5
    limiter.charge(ALICE, None)
    assert limiter.bucket_count() == 1001, "half refilled buckets are kept: forgetting them would add requests"
    clock.now += 5
    limiter.charge(BOB, None)
    assert limiter.bucket_count() == 2, "only the buckets charged in the last 10 s remain"


def test_the_number_of_buckets_is_capped() -> None:
    limiter = RateLimiter(1, 1, clock=Clock(), max_buckets=50)
    for number in range(500):
        limiter.charge(principal("anonymous", "anonymous"), f"10.0.{number // 256}.{number % 256}")
    assert limiter.bucket_count() == 50


def test_concurrent_charges_never_exceed_the_burst() -> None:
    limiter = RateLimiter(1, 100, clock=Clock())
    served: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        for _ in range(50):
            try:
                limiter.charge(ALICE, None)
            except RateLimitedError:
                continue
            with lock:
                served.append(1)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(served) == 100


@pytest.mark.parametrize(
    "settings",
    [{"rate_limit_per_minute": -1}, {"rate_limit_burst": 0}, {"max_body_bytes": 0}, {"max_url_length": 0}],
)
def test_limits_must_be_positive(settings: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be"):
        Settings(**settings)
