"""Deterministic, vectorised generator of synthetic fixed-line telecom revenue data (Parquet).

The output is a small star schema: fact parts under ``facts/`` plus one Parquet file per
dimension and a ``manifest.json`` written last. Every random draw comes from a NumPy Generator
seeded from ``SeedSequence(seed)`` children, so the bytes depend only on (rows, seed, chunk_rows),
and every chunk has its own independent stream so chunks never need each other's state.
"""

from __future__ import annotations

import json
import operator
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import SupportsIndex

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cube_server.telecom import reference_data as ref

GENERATOR_NAME = "telecom"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
FACTS_DIR = "facts"
STAGING_DIR = ".telecom-staging"
COMPRESSION = "zstd"

FIRST_DAY = np.datetime64("2024-01-01", "D")
END_DAY = np.datetime64("2026-01-01", "D")  # exclusive: the data covers 2024 and 2025 in full

MIN_CUSTOMERS = 1_000
MAX_CUSTOMERS = 400_000
KEY_ACCOUNT_SHARE = 0.02
# Relative activity of a key account vs a public account: yields ~6% of records from 2% of accounts.
KEY_ACCOUNT_ACTIVITY = 3.25
ORPHAN_CUSTOMER_RATE = 0.0005
ORPHAN_PRODUCT_RATE = 0.0002
YEARLY_GROWTH = 1.045

DECIMAL_TYPE = pa.decimal128(12, 2)
MAX_DECIMAL_CENTS = 10**12 - 1  # decimal128(12, 2) holds at most 9,999,999,999.99

# Parquet has no second-resolution timestamp (only ms/us/ns) and pyarrow would silently coerce
# timestamp("s") to ms on write, so the column is declared as what is actually stored: naive
# (Asia/Shanghai local) millisecond timestamps whose values are always whole seconds.
FACT_SCHEMA = pa.schema(
    [
        ("charge_id", pa.int64()),
        ("charged_at", pa.timestamp("ms")),
        ("geography_code", pa.string()),
        ("branch_code", pa.string()),
        ("product_code", pa.string()),
        ("customer_code", pa.string()),
        ("channel_code", pa.string()),
        ("revenue", DECIMAL_TYPE),
        ("call_minutes", DECIMAL_TYPE),
    ]
)


def _readonly(values: object, dtype: type) -> np.ndarray:
    """A constant NumPy array that cannot be mutated (module constants must stay constant)."""
    array: np.ndarray = np.array(values, dtype=dtype)
    array.flags.writeable = False
    return array


# Product kinds as integer codes, so per-kind parameters can be looked up with NumPy fancy indexing;
# _KIND_NAMES maps ref.Product.kind to these codes by position.
LOCAL, LONG_DISTANCE, INTERNATIONAL, MONTHLY = 0, 1, 2, 3
_KIND_NAMES = ("local", "long_distance", "international", "monthly")
# Per kind (local, long distance, international, monthly): median call length in minutes, the
# clamp on a call's charge in cents, and the per-minute rate in cents (international: per country).
_KIND_MEDIAN_MINUTES = _readonly([3.0, 5.0, 6.0, 0.0], np.float64)
_KIND_MIN_CENTS = _readonly([10, 50, 200, 0], np.int64)
_KIND_MAX_CENTS = _readonly([200, 1_000, 8_000, 0], np.int64)
_KIND_RATE_CENTS = _readonly([10, 30, 0, 1], np.int64)  # 1 for fees only avoids dividing by zero
_CALL_LENGTH_SIGMA = 0.9
_KEY_ACCOUNT_CALL_LENGTH = 1.8  # business calls (conference, sales) run longer

# Record mix per product (same order as ref.PRODUCTS) for public and key accounts.
_PRODUCT_MIX_PUBLIC = (0.34, 0.12, 0.015, 0.13, 0.07, 0.02, 0.02, 0.05, 0.14, 0.0015, 0.08)
_PRODUCT_MIX_KEY_ACCOUNT = (0.28, 0.20, 0.05, 0.12, 0.06, 0.03, 0.04, 0.03, 0.13, 0.03, 0.01)

# Monthly price points in cents as (public, key account); repeated entries act as weights.
_MONTHLY_TARIFFS: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("monthly_rental", (1500, 1800, 1800, 2000, 2500), (2000, 2500, 2500)),
    ("caller_id", (500, 600), (600, 1000)),
    ("voicemail", (300, 500), (500, 800)),
    ("call_forwarding", (500,), (500, 1000)),
    ("ring_back_tone", (500, 800, 1000), (1000, 2000)),
    ("broadband", (5900, 8900, 9900, 9900, 12900, 15900, 19900), (19900, 25900, 29900)),
    ("iptv", (1000, 1500, 2000, 3000), (3000,)),
    ("retired_isdn", (4000, 6000), (6000, 8000)),
    ("retired_pstn_dialup", (2000, 3000), (3000,)),
)
_TARIFF_SLOTS = 12
# Leased lines: (median cents, lognormal sigma, floor, cap) for public and key accounts, rounded to 100 CNY.
_LEASED_LINE_PUBLIC = (150_000, 0.3, 100_000, 300_000)
_LEASED_LINE_KEY_ACCOUNT = (450_000, 0.7, 100_000, 2_000_000)

_CHANNEL_MIX_PUBLIC = (0.42, 0.13, 0.40, 0.05)
_CHANNEL_MIX_KEY_ACCOUNT = (0.10, 0.12, 0.08, 0.70)

# Calls by hour of day: public lines have a night trough and peaks at ~10h, ~15h and ~20h;
# key accounts follow office hours with a lunch dip.
_HOURS_PUBLIC = (
    0.6,
    0.35,
    0.2,
    0.15,
    0.15,
    0.2,
    0.4,
    0.9,
    1.6,
    2.4,
    2.9,
    2.6,
    2.0,
    2.1,
    2.6,
    2.8,
    2.5,
    2.2,
    2.2,
    2.6,
    2.9,
    2.5,
    1.8,
    1.1,
)
_HOURS_KEY_ACCOUNT = (
    0.1,
    0.05,
    0.03,
    0.03,
    0.03,
    0.05,
    0.15,
    0.6,
    2.0,
    3.4,
    3.8,
    3.3,
    1.8,
    2.0,
    3.3,
    3.6,
    3.2,
    2.4,
    1.2,
    0.7,
    0.5,
    0.4,
    0.3,
    0.2,
)
# Seasonality by calendar month: a post-holiday lull in Jan/Feb, a year-end peak in December.
_MONTH_SEASON = _readonly([0.96, 0.90, 1.00, 0.99, 1.00, 1.01, 1.02, 1.02, 1.01, 0.97, 1.03, 1.12], np.float64)
# Spring Festival holidays (2024-02-10 and 2025-01-29 New Year) and National Day weeks, inclusive.
_SPRING_FESTIVALS = (("2024-02-08", "2024-02-17"), ("2025-01-27", "2025-02-04"))
_NATIONAL_DAYS = (("2024-10-01", "2024-10-07"), ("2025-10-01", "2025-10-08"))


@dataclass(frozen=True)
class GenerationSummary:
    """What :func:`generate_telecom` wrote; paths are ``out_dir`` joined with the manifest entries."""

    rows: int
    seed: int
    fact_files: tuple[Path, ...]
    dimension_files: dict[str, Path] = field(hash=False)
    customers: int
    orphan_rows: int
    elapsed_s: float


@dataclass(frozen=True)
class _World:
    """Everything a chunk needs that does not change between chunks (read-only after build)."""

    geography_codes: pa.Array  # domestic cities first, then international destinations
    branch_codes: pa.Array  # city codes: branch index == city index
    product_codes: pa.Array  # catalogue products first, then retired (orphan) products
    customer_codes: pa.Array  # key accounts, public accounts, then closed (orphan) accounts
    channel_codes: pa.Array
    n_cities: int
    n_products: int
    n_retired_products: int
    n_customers: int
    n_key_accounts: int
    n_closed: int
    city_cdf: np.ndarray
    destination_cdf: np.ndarray
    destination_rate: np.ndarray
    product_kind: np.ndarray
    leased_line_index: int
    product_cdf: tuple[np.ndarray, np.ndarray]  # indexed by is_key_account (0 public, 1 key)
    channel_cdf: tuple[np.ndarray, np.ndarray]
    day_cdf: tuple[np.ndarray, np.ndarray]
    hour_cdf: tuple[np.ndarray, np.ndarray]
    month_cdf: np.ndarray
    month_first_day: np.ndarray
    tariffs: np.ndarray  # [is_key_account, product, slot] -> cents
    customer_cdf: np.ndarray
    customer_home: np.ndarray  # city index per customer code (including closed accounts)
    customer_table: pa.Table


def _cdf(weights: np.ndarray | Sequence[float]) -> np.ndarray:
    totals = np.cumsum(np.asarray(weights, dtype=np.float64))
    cdf: np.ndarray = totals / totals[-1]
    cdf[-1] = 1.0  # guards against u in [0, 1) ever falling past the last bucket
    cdf.flags.writeable = False
    return cdf


def _draw(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling: the bucket index for each uniform draw in [0, 1)."""
    index: np.ndarray = np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)
    return index


def _draw_by_segment(cdfs: tuple[np.ndarray, np.ndarray], u: np.ndarray, is_key: np.ndarray) -> np.ndarray:
    return np.where(is_key, _draw(cdfs[1], u), _draw(cdfs[0], u))


def cents_to_decimal(cents: np.ndarray) -> pa.Array:
    """Build an exact ``decimal128(12, 2)`` array from integer cents, without any float step.

    A decimal128 value is its unscaled integer as 128-bit two's complement in native byte order,
    so the low word is the int64 itself and the high word its sign extension.
    """
    if sys.byteorder != "little":  # pragma: no cover - Arrow on big-endian hosts is exotic
        raise RuntimeError("cents_to_decimal assumes a little-endian host")
    values = np.ascontiguousarray(cents, dtype=np.int64)
    if values.size and int(np.abs(values).max()) > MAX_DECIMAL_CENTS:
        raise ValueError("amount does not fit decimal128(12, 2)")
    words = np.empty((values.size, 2), dtype=np.int64)
    words[:, 0] = values
    words[:, 1] = values >> 63
    return pa.Array.from_buffers(DECIMAL_TYPE, values.size, [None, pa.py_buffer(words)])


def customer_count(rows: int) -> int:
    """Accounts in the customer dimension: a quarter of the rows, clamped to 1,000..400,000."""
    return min(max(rows // 4, MIN_CUSTOMERS), MAX_CUSTOMERS)


# ---------------------------------------------------------------------------------------------
# Calendar


def _day_ranges_mask(days: np.ndarray, ranges: tuple[tuple[str, str], ...]) -> np.ndarray:
    mask = np.zeros(days.shape, dtype=bool)
    for first, last in ranges:
        mask |= (days >= np.datetime64(first, "D")) & (days <= np.datetime64(last, "D"))
    return mask


def _calendar() -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
    """Day CDFs (public, key account), the monthly billing CDF and each month's first-day offset."""
    days = np.arange(FIRST_DAY, END_DAY, dtype="datetime64[D]")
    months = np.arange(FIRST_DAY.astype("datetime64[M]"), END_DAY.astype("datetime64[M]"))
    calendar_month = days.astype("datetime64[M]").astype(np.int64) % 12
    weekend = (days.astype(np.int64) + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    growth = YEARLY_GROWTH ** (np.arange(days.size) / 365.25)
    base = growth * _MONTH_SEASON[calendar_month]
    festival = _day_ranges_mask(days, _SPRING_FESTIVALS)
    national_day = _day_ranges_mask(days, _NATIONAL_DAYS)
    public = base * np.where(weekend, 0.95, 1.0) * np.where(festival, 0.6, 1.0)
    key = base * np.where(weekend, 0.3, 1.0) * np.where(festival, 0.3, 1.0) * np.where(national_day, 0.4, 1.0)
    # A bill per subscription per month: monthly charges only grow with the subscriber base.
    month_weights = YEARLY_GROWTH ** (np.arange(months.size) / 12.0)
    first_day = (months.astype("datetime64[D]") - FIRST_DAY).astype(np.int64)
    first_day.flags.writeable = False
    return (_cdf(public), _cdf(key)), _cdf(month_weights), first_day


# ---------------------------------------------------------------------------------------------
# Customers


def _person_names() -> tuple[pa.Array, pa.Array]:
    """Every surname x given-name combination (one or two characters), Chinese and pinyin."""
    given = list(ref.GIVEN_NAME_CHARS)
    seconds = [*given, ("", "")]  # the empty second character makes single-character given names
    zh, en = [], []
    for surname_zh, surname_en in ref.SURNAMES:
        for first_zh, first_en in given:
            for second_zh, second_en in seconds:
                zh.append(surname_zh + first_zh + second_zh)
                en.append(f"{surname_en} {first_en.capitalize()}{second_en}")
    return pa.array(zh, pa.string()), pa.array(en, pa.string())


def _customers(
    rng: np.random.Generator, n_customers: int, city_weights: np.ndarray
) -> tuple[pa.Table, np.ndarray, np.ndarray, int, int]:
    """Customer dimension, activity CDF, home city per account (closed ones appended), key-account
    count and closed-account count. Key accounts come first so ``index < n_key`` identifies them."""
    n_key = max(1, round(n_customers * KEY_ACCOUNT_SHARE))
    n_public = n_customers - n_key
    cities = ref.cities()
    # Key accounts cluster in the big commercial cities more than households do.
    key_home = _draw(_cdf(city_weights**1.5), rng.random(n_key))
    public_home = _draw(_cdf(city_weights), rng.random(n_public))
    home = np.concatenate([key_home, public_home])

    key_codes = [f"ka{i:06d}" for i in range(1, n_key + 1)]
    public_codes = [f"pa{i:07d}" for i in range(1, n_public + 1)]
    brands = rng.integers(0, len(ref.COMPANY_BRANDS), n_key)
    industries = rng.integers(0, len(ref.COMPANY_INDUSTRIES), n_key)
    key_zh, key_en = [], []
    owners = zip(key_home.tolist(), brands.tolist(), industries.tolist(), strict=True)
    for city_index, brand, industry in owners:
        city = cities[city_index][1]
        brand_zh, brand_en = ref.COMPANY_BRANDS[brand]
        industry_zh, industry_en = ref.COMPANY_INDUSTRIES[industry]
        key_zh.append(f"{city.name_zh}{brand_zh}{industry_zh}有限公司")
        key_en.append(f"{city.name_en} {brand_en} {industry_en} Co., Ltd.")
    person_zh, person_en = _person_names()
    n_second = len(ref.GIVEN_NAME_CHARS) + 1
    person = rng.integers(0, len(ref.SURNAMES) * len(ref.GIVEN_NAME_CHARS), n_public) * n_second + np.where(
        rng.random(n_public) < 0.15, n_second - 1, rng.integers(0, n_second - 1, n_public)
    )

    segments = pa.array(np.repeat([0, 1], [n_key, n_public]).astype(np.int32))
    seg = [ref.SEGMENT_KEY_ACCOUNT, ref.SEGMENT_PUBLIC]
    codes = pa.array(key_codes + public_codes, pa.string())
    branch_codes = pa.array([ref.city_code(p, c) for p, c in cities], pa.string())
    table = pa.Table.from_arrays(
        [
            codes,
            pc.take(pa.array([s.code for s in seg]), segments),
            pc.take(pa.array([s.name_en for s in seg]), segments),
            pc.take(pa.array([s.name_zh for s in seg]), segments),
            codes,
            pa.concat_arrays([pa.array(key_en, pa.string()), pc.take(person_en, pa.array(person))]),
            pa.concat_arrays([pa.array(key_zh, pa.string()), pc.take(person_zh, pa.array(person))]),
            pc.take(branch_codes, pa.array(home)),
        ],
        names=[
            "customer_code",
            "segment",
            "segment_name_en",
            "segment_name_zh",
            "customer",
            "customer_name_en",
            "customer_name_zh",
            "home_branch_code",
        ],
    )

    activity = rng.lognormal(0.0, 1.0, n_customers)
    activity[:n_key] *= KEY_ACCOUNT_ACTIVITY
    # Accounts closed and purged from CRM whose final charges still arrive: the orphan customers.
    n_closed = max(20, n_customers // 200)
    closed_home = _draw(_cdf(city_weights), rng.random(n_closed))
    all_home = np.concatenate([home, closed_home])
    all_home.flags.writeable = False
    return table, _cdf(activity), all_home, n_key, n_closed


def _tariff_matrix() -> np.ndarray:
    """Monthly price slots per [is_key_account, product]; calls and leased lines stay 0 here."""
    products = [p.code for p in ref.PRODUCTS] + list(ref.RETIRED_PRODUCT_CODES)
    matrix = np.zeros((2, len(products), _TARIFF_SLOTS), dtype=np.int64)
    for code, public, key in _MONTHLY_TARIFFS:
        index = products.index(code)
        for segment, prices in enumerate((public, key)):
            # Cycling the price list over a fixed number of slots keeps repeated entries as weights.
            matrix[segment, index] = np.resize(np.array(prices, dtype=np.int64), _TARIFF_SLOTS)
    matrix.flags.writeable = False
    return matrix


def _build_world(rng: np.random.Generator, n_customers: int) -> _World:
    cities = ref.cities()
    city_weights = ref.city_weights()
    customer_table, customer_cdf, customer_home, n_key, n_closed = _customers(rng, n_customers, city_weights)
    closed_codes = pa.array([f"zz_closed_{i:06d}" for i in range(1, n_closed + 1)], pa.string())
    city_codes = [ref.city_code(p, c) for p, c in cities]
    kinds = [_KIND_NAMES.index(p.kind) for p in ref.PRODUCTS] + [MONTHLY] * len(ref.RETIRED_PRODUCT_CODES)
    day_cdfs, month_cdf, month_first_day = _calendar()
    product_kind = np.array(kinds, dtype=np.int64)
    destination_rate = np.array([d.rate_cents_per_minute for d in ref.DESTINATIONS], dtype=np.int64)
    for array in (product_kind, destination_rate):
        array.flags.writeable = False
    return _World(
        geography_codes=pa.array(city_codes + [f"intl_{d.iso2}" for d in ref.DESTINATIONS], pa.string()),
        branch_codes=pa.array(city_codes, pa.string()),
        product_codes=pa.array([p.code for p in ref.PRODUCTS] + list(ref.RETIRED_PRODUCT_CODES), pa.string()),
        customer_codes=pa.concat_arrays([customer_table.column("customer_code").combine_chunks(), closed_codes]),
        channel_codes=pa.array([c.code for c in ref.CHANNELS], pa.string()),
        n_cities=len(cities),
        n_products=len(ref.PRODUCTS),
        n_retired_products=len(ref.RETIRED_PRODUCT_CODES),
        n_customers=n_customers,
        n_key_accounts=n_key,
        n_closed=n_closed,
        city_cdf=_cdf(city_weights),
        destination_cdf=_cdf([d.weight for d in ref.DESTINATIONS]),
        destination_rate=destination_rate,
        product_kind=product_kind,
        leased_line_index=[p.code for p in ref.PRODUCTS].index("leased_line"),
        product_cdf=(_cdf(_PRODUCT_MIX_PUBLIC), _cdf(_PRODUCT_MIX_KEY_ACCOUNT)),
        channel_cdf=(_cdf(_CHANNEL_MIX_PUBLIC), _cdf(_CHANNEL_MIX_KEY_ACCOUNT)),
        day_cdf=day_cdfs,
        hour_cdf=(_cdf(_HOURS_PUBLIC), _cdf(_HOURS_KEY_ACCOUNT)),
        month_cdf=month_cdf,
        month_first_day=month_first_day,
        tariffs=_tariff_matrix(),
        customer_cdf=customer_cdf,
        customer_home=customer_home,
        customer_table=customer_table,
    )


# ---------------------------------------------------------------------------------------------
# Facts


def _charge_times(
    world: _World, rng: np.random.Generator, n: int, is_key: np.ndarray, monthly: np.ndarray
) -> np.ndarray:
    """Seconds since the epoch (naive local time) for usage events and 1st-of-month billing runs."""
    day = _draw_by_segment(world.day_cdf, rng.random(n), is_key)
    hour = _draw_by_segment(world.hour_cdf, rng.random(n), is_key)
    billing_day = world.month_first_day[_draw(world.month_cdf, rng.random(n))]
    # The monthly billing run starts at midnight on the 1st and takes a few hours.
    day = np.where(monthly, billing_day, day)
    hour = np.where(monthly, rng.integers(0, 4, n), hour)
    minute = rng.integers(0, 60, n)
    second = rng.integers(0, 60, n)
    first = int(FIRST_DAY.astype("datetime64[s]").astype(np.int64))
    seconds: np.ndarray = first + day * 86_400 + hour * 3_600 + minute * 60 + second
    return seconds


def _destinations(
    world: _World, rng: np.random.Generator, n: int, kind: np.ndarray, home: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Geography index per row and the international destination drawn for every row."""
    other_city = _draw(world.city_cdf, rng.random(n))
    # A long-distance call goes to another city: calls drawn to the home city move to the next one.
    other_city = np.where(other_city == home, (other_city + 1) % world.n_cities, other_city)
    destination = _draw(world.destination_cdf, rng.random(n))
    geography = np.where(kind == LONG_DISTANCE, other_city, home)
    geography = np.where(kind == INTERNATIONAL, world.n_cities + destination, geography)
    return geography, destination


def _amounts(
    world: _World,
    rng: np.random.Generator,
    n: int,
    product: np.ndarray,
    kind: np.ndarray,
    is_key: np.ndarray,
    destination: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Revenue in cents and call length in hundredths of a minute (0 for monthly fees)."""
    # Calls: charge = length x per-minute rate, so minutes and revenue are correlated; lengths are
    # clamped so that the charge stays within the product's believable range.
    rate = np.where(kind == INTERNATIONAL, world.destination_rate[destination], _KIND_RATE_CENTS[kind])
    length = (
        _KIND_MEDIAN_MINUTES[kind]
        * rng.lognormal(0.0, _CALL_LENGTH_SIGMA, n)
        * np.where(is_key, _KEY_ACCOUNT_CALL_LENGTH, 1.0)
    )
    centiminutes = np.rint(length * 100.0).astype(np.int64)
    lowest = -((-_KIND_MIN_CENTS[kind] * 100) // rate)  # ceiling division
    highest = _KIND_MAX_CENTS[kind] * 100 // rate
    centiminutes = np.clip(centiminutes, lowest, highest)
    call_cents = (centiminutes * rate + 50) // 100

    segment = is_key.astype(np.int64)
    fee_cents = world.tariffs[segment, product, rng.integers(0, _TARIFF_SLOTS, n)]
    leased = np.where(
        is_key, _leased_line_cents(rng, n, _LEASED_LINE_KEY_ACCOUNT), _leased_line_cents(rng, n, _LEASED_LINE_PUBLIC)
    )
    fee_cents = np.where(product == world.leased_line_index, leased, fee_cents)

    is_call = kind != MONTHLY
    return np.where(is_call, call_cents, fee_cents), np.where(is_call, centiminutes, 0)


def _leased_line_cents(rng: np.random.Generator, n: int, params: tuple[int, float, int, int]) -> np.ndarray:
    median, sigma, floor, cap = params
    cents = np.clip(median * rng.lognormal(0.0, sigma, n), floor, cap)
    return (np.rint(cents / 10_000) * 10_000).astype(np.int64)


def _fact_chunk(world: _World, rng: np.random.Generator, first_id: int, n: int) -> tuple[pa.Table, int]:
    """One chunk of facts (sorted by time, ids first_id..first_id+n-1) and its orphan-row count."""
    customer = _draw(world.customer_cdf, rng.random(n))
    orphan_customer = rng.random(n) < ORPHAN_CUSTOMER_RATE
    customer = np.where(orphan_customer, world.n_customers + rng.integers(0, world.n_closed, n), customer)
    is_key = customer < world.n_key_accounts  # closed accounts bill like public ones
    home = world.customer_home[customer]

    product = _draw_by_segment(world.product_cdf, rng.random(n), is_key)
    orphan_product = rng.random(n) < ORPHAN_PRODUCT_RATE
    retired = world.n_products + rng.integers(0, world.n_retired_products, n)
    product = np.where(orphan_product, retired, product)
    kind = world.product_kind[product]

    seconds = _charge_times(world, rng, n, is_key, kind == MONTHLY)
    geography, destination = _destinations(world, rng, n, kind, home)
    channel = _draw_by_segment(world.channel_cdf, rng.random(n), is_key)
    cents, centiminutes = _amounts(world, rng, n, product, kind, is_key, destination)

    # Time order within a chunk reads like a billing extract and compresses far better.
    order = np.argsort(seconds, kind="stable")
    table = pa.Table.from_arrays(
        [
            pa.array(np.arange(first_id, first_id + n, dtype=np.int64)),
            pa.array((seconds[order] * 1_000).view("datetime64[ms]"), pa.timestamp("ms")),
            pc.take(world.geography_codes, pa.array(geography[order])),
            pc.take(world.branch_codes, pa.array(home[order])),
            pc.take(world.product_codes, pa.array(product[order])),
            pc.take(world.customer_codes, pa.array(customer[order])),
            pc.take(world.channel_codes, pa.array(channel[order])),
            cents_to_decimal(cents[order]),
            cents_to_decimal(centiminutes[order]),
        ],
        schema=FACT_SCHEMA,
    )
    return table, int(np.count_nonzero(orphan_customer | orphan_product))


def _chunk_seed(parent: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """Equivalent to ``parent.spawn(index + 1)[index]`` without materialising earlier siblings."""
    return np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, index), pool_size=parent.pool_size)


# ---------------------------------------------------------------------------------------------
# Files


def _write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression=COMPRESSION)


def _publish(staging: Path, out_dir: Path, names: list[str], manifest: dict[str, object]) -> None:
    """Move staged outputs into ``out_dir``, replacing old ones, then write the manifest last."""
    facts = out_dir / FACTS_DIR
    if facts.exists():
        # Stale parts from a bigger earlier run would otherwise be picked up by a glob.
        os.replace(facts, staging / "stale-facts")
    os.replace(staging / FACTS_DIR, facts)
    for name in names:
        os.replace(staging / name, out_dir / name)
    staged_manifest = staging / MANIFEST_NAME
    staged_manifest.write_text(json.dumps(manifest, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    os.replace(staged_manifest, out_dir / MANIFEST_NAME)
    shutil.rmtree(staging)


def _checked_int(name: str, value: object, *, minimum: int) -> int:
    """Accept Python and NumPy integers (not bools, not floats) of at least ``minimum``."""
    number = None
    if isinstance(value, SupportsIndex) and not isinstance(value, bool):
        number = operator.index(value)
    if number is None or number < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return number


def generate_telecom(
    out_dir: Path,
    rows: int,
    seed: int = 42,
    *,
    chunk_rows: int = 1_000_000,
    progress: Callable[[int, int], None] | None = None,
) -> GenerationSummary:
    """Write ``rows`` synthetic revenue facts plus dimensions and a manifest into ``out_dir``.

    Output is byte-for-byte reproducible for the same (rows, seed, chunk_rows). Files are staged
    in a hidden subdirectory and moved into place at the end; ``manifest.json`` is written last,
    so its presence means the generation is complete. An existing ``facts/`` directory and
    manifest in ``out_dir`` are replaced.
    """
    rows = _checked_int("rows", rows, minimum=1)
    chunk_rows = _checked_int("chunk_rows", chunk_rows, minimum=1)
    seed = _checked_int("seed", seed, minimum=0)
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST_NAME).unlink(missing_ok=True)  # the old output is no longer complete
    staging = out_dir / STAGING_DIR
    shutil.rmtree(staging, ignore_errors=True)
    (staging / FACTS_DIR).mkdir(parents=True)
    try:
        customer_seed, facts_seed = np.random.SeedSequence(seed).spawn(2)
        world = _build_world(np.random.default_rng(customer_seed), customer_count(rows))
        dimensions = {
            "geography": ref.geography_table(),
            "organisation": ref.organisation_table(),
            "product": ref.product_table(),
            "customer": world.customer_table,
            "channel": ref.channel_table(),
        }
        dimension_names = {dim: f"{dim}.parquet" for dim in dimensions}
        for dim, table in dimensions.items():
            _write_parquet(table, staging / dimension_names[dim])

        fact_names: list[str] = []
        orphan_rows = 0
        for index, start in enumerate(range(0, rows, chunk_rows)):
            size = min(chunk_rows, rows - start)
            rng = np.random.default_rng(_chunk_seed(facts_seed, index))
            table, orphans = _fact_chunk(world, rng, start + 1, size)
            name = f"{FACTS_DIR}/part-{index:05d}.parquet"
            _write_parquet(table, staging / name)
            fact_names.append(name)
            orphan_rows += orphans
            if progress is not None:
                progress(start + size, rows)

        manifest: dict[str, object] = {
            "generator": GENERATOR_NAME,
            "version": FORMAT_VERSION,
            "rows": rows,
            "seed": seed,
            "chunk_rows": chunk_rows,
            "customers": world.n_customers,
            "orphan_rows": orphan_rows,
            "fact_files": fact_names,
            "dimension_files": dimension_names,
        }
        _publish(staging, out_dir, list(dimension_names.values()), manifest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return GenerationSummary(
        rows=rows,
        seed=seed,
        fact_files=tuple(out_dir / name for name in fact_names),
        dimension_files={dim: out_dir / name for dim, name in dimension_names.items()},
        customers=world.n_customers,
        orphan_rows=orphan_rows,
        elapsed_s=time.perf_counter() - started,
    )
