"""Behaviour of the synthetic telecom data generator (small row counts so the suite stays fast)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from cube_server.telecom import GenerationSummary, cents_to_decimal, customer_count, generate_telecom

ROWS = 30_000
CHUNK_ROWS = 12_000
SEED = 7

# Parquet cannot store second-resolution timestamps, so charged_at is naive milliseconds holding
# whole seconds (checked below).
EXPECTED_FACT_SCHEMA = pa.schema(
    [
        ("charge_id", pa.int64()),
        ("charged_at", pa.timestamp("ms")),
        ("geography_code", pa.string()),
        ("branch_code", pa.string()),
        ("product_code", pa.string()),
        ("customer_code", pa.string()),
        ("channel_code", pa.string()),
        ("revenue", pa.decimal128(12, 2)),
        ("call_minutes", pa.decimal128(12, 2)),
    ]
)

EXPECTED_DIMENSION_COLUMNS = {
    "geography": ["geography_code"]
    + [
        f"{level}{suffix}"
        for level in ("scope", "continent", "country", "region", "province", "city")
        for suffix in ("", "_name_en", "_name_zh")
    ],
    "organisation": [
        "branch_code",
        "head_office",
        "head_office_name_en",
        "head_office_name_zh",
        "province_branch",
        "province_branch_name_en",
        "province_branch_name_zh",
        "city_branch",
        "city_branch_name_en",
        "city_branch_name_zh",
    ],
    "product": [
        "product_code",
        "line",
        "line_name_en",
        "line_name_zh",
        "product",
        "product_name_en",
        "product_name_zh",
    ],
    "customer": [
        "customer_code",
        "segment",
        "segment_name_en",
        "segment_name_zh",
        "customer",
        "customer_name_en",
        "customer_name_zh",
        "home_branch_code",
    ],
    "channel": ["channel_code", "channel_name_en", "channel_name_zh"],
}

CALL_PRODUCTS = ("local_call", "domestic_long_distance", "international_call")


@dataclass(frozen=True)
class Dataset:
    out_dir: Path
    summary: GenerationSummary
    progress: list[tuple[int, int]]
    facts: pa.Table

    def dimension(self, name: str) -> pa.Table:
        return pq.read_table(self.out_dir / f"{name}.parquet")

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        """Run ``query`` with views ``facts`` and one per dimension over the written Parquet files."""
        con = duckdb.connect()
        try:
            fact_paths = [str(path) for path in self.summary.fact_files]
            con.execute(f"CREATE VIEW facts AS SELECT * FROM read_parquet({fact_paths!r})")
            for name, path in self.summary.dimension_files.items():
                con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
            return con.execute(query).fetchall()
        finally:
            con.close()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    out_dir = tmp_path_factory.mktemp("telecom")
    calls: list[tuple[int, int]] = []
    summary = generate_telecom(
        out_dir, ROWS, SEED, chunk_rows=CHUNK_ROWS, progress=lambda done, total: calls.append((done, total))
    )
    facts = pa.concat_tables([pq.read_table(path) for path in summary.fact_files])
    return Dataset(out_dir, summary, calls, facts)


def _file_bytes(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    first = generate_telecom(tmp_path / "a", 6_000, 11, chunk_rows=4_000)
    generate_telecom(tmp_path / "b", 6_000, 11, chunk_rows=4_000)
    other = generate_telecom(tmp_path / "c", 6_000, 12, chunk_rows=4_000)

    a, b, c = (_file_bytes(tmp_path / name) for name in ("a", "b", "c"))
    assert a == b
    assert len(first.fact_files) == 2
    assert a["facts/part-00000.parquet"] != c["facts/part-00000.parquet"]
    revenue_a = pq.read_table(first.fact_files[0]).column("revenue")
    revenue_c = pq.read_table(other.fact_files[0]).column("revenue")
    assert not revenue_a.equals(revenue_c)
    # Customers depend on the seed, the static dimensions do not.
    assert a["customer.parquet"] != c["customer.parquet"]
    assert a["geography.parquet"] == c["geography.parquet"]


@pytest.mark.parametrize(("rows", "chunk_rows"), [(0, 10), (-5, 10), (10, 0), (10, -1), (10.0, 10), (True, 10)])
def test_rejects_non_positive_sizes(tmp_path: Path, rows: Any, chunk_rows: int) -> None:
    with pytest.raises(ValueError):
        generate_telecom(tmp_path / "out", rows, chunk_rows=chunk_rows)
    assert not (tmp_path / "out").exists()


def test_row_count_and_unique_charge_ids(dataset: Dataset) -> None:
    assert dataset.facts.num_rows == ROWS == dataset.summary.rows
    ids = np.sort(dataset.facts.column("charge_id").to_numpy())
    assert np.array_equal(ids, np.arange(1, ROWS + 1))


def test_fact_schema_is_exact_and_has_no_nulls(dataset: Dataset) -> None:
    for path in dataset.summary.fact_files:
        assert pq.read_schema(path).remove_metadata() == EXPECTED_FACT_SCHEMA
        metadata = pq.ParquetFile(path).metadata
        assert metadata.row_group(0).column(0).compression == "ZSTD"
    for column in dataset.facts.columns:
        assert column.null_count == 0
    millis = pc.cast(dataset.facts.column("charged_at"), pa.int64()).to_numpy()
    assert np.all(millis % 1_000 == 0)  # whole seconds


def test_dimension_schemas(dataset: Dataset) -> None:
    for name, columns in EXPECTED_DIMENSION_COLUMNS.items():
        table = dataset.dimension(name)
        assert table.column_names == columns
        assert all(field.type == pa.string() for field in table.schema)
        key = table.column(0)
        assert key.null_count == 0
        assert pc.count_distinct(key).as_py() == table.num_rows


def test_timestamps_cover_two_years_and_bill_monthly_fees_on_the_first(dataset: Dataset) -> None:
    charged = dataset.facts.column("charged_at")
    assert pc.min(charged).as_py() >= datetime(2024, 1, 1)
    assert pc.max(charged).as_py() <= datetime(2025, 12, 31, 23, 59, 59)
    years = set(pc.unique(pc.year(charged)).to_pylist())
    assert years == {2024, 2025}
    [(bad_fees, fees)] = dataset.sql("""
        SELECT count(*) FILTER (WHERE day(charged_at) <> 1 OR hour(charged_at) > 3), count(*)
        FROM facts WHERE product_code NOT IN ('local_call', 'domestic_long_distance', 'international_call')
    """)
    assert fees > 0 and bad_fees == 0
    # Calls happen all month long and rarely in the small hours.
    [(call_days, night_share)] = dataset.sql("""
        SELECT count(DISTINCT day(charged_at)),
               avg(CASE WHEN hour(charged_at) BETWEEN 1 AND 5 THEN 1 ELSE 0 END)
        FROM facts WHERE product_code = 'local_call'
    """)
    assert call_days == 31
    assert night_share < 0.05


def test_usage_follows_the_calendar(dataset: Dataset) -> None:
    per_day = {
        day: count
        for day, count in dataset.sql("""
        SELECT CAST(charged_at AS DATE), count(*) FROM facts
        WHERE product_code IN ('local_call', 'domestic_long_distance', 'international_call')
        GROUP BY 1
    """)
    }
    overall = sum(per_day.values()) / len(per_day)
    festival = [
        count
        for day, count in per_day.items()
        if datetime(2024, 2, 9).date() <= day <= datetime(2024, 2, 16).date()
        or datetime(2025, 1, 28).date() <= day <= datetime(2025, 2, 3).date()
    ]
    december = [count for day, count in per_day.items() if day.month == 12]
    assert sum(festival) / len(festival) < 0.8 * overall  # Spring Festival dip
    assert sum(december) / len(december) > overall  # year-end peak
    by_year = {year: count for year, count in dataset.sql("SELECT year(charged_at), count(*) FROM facts GROUP BY 1")}
    assert by_year[2025] > by_year[2024]  # a growing business


def test_every_non_orphan_key_exists_and_orphans_are_counted(dataset: Dataset) -> None:
    [(geo, branch, channel)] = dataset.sql("""
        SELECT count(*) FILTER (WHERE geography_code NOT IN (SELECT geography_code FROM geography)),
               count(*) FILTER (WHERE branch_code NOT IN (SELECT branch_code FROM organisation)),
               count(*) FILTER (WHERE channel_code NOT IN (SELECT channel_code FROM channel))
        FROM facts
    """)
    assert (geo, branch, channel) == (0, 0, 0)
    orphan_customers = dataset.sql("""
        SELECT DISTINCT customer_code FROM facts
        WHERE customer_code NOT IN (SELECT customer_code FROM customer)
    """)
    orphan_products = dataset.sql("""
        SELECT DISTINCT product_code FROM facts
        WHERE product_code NOT IN (SELECT product_code FROM product)
    """)
    assert orphan_customers and all(code.startswith("zz_closed_") for (code,) in orphan_customers)
    assert orphan_products and all(code.startswith("retired_") for (code,) in orphan_products)
    [(orphan_rows,)] = dataset.sql("""
        SELECT count(*) FROM facts
        WHERE customer_code NOT IN (SELECT customer_code FROM customer)
           OR product_code NOT IN (SELECT product_code FROM product)
    """)
    manifest = json.loads((dataset.out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert orphan_rows == dataset.summary.orphan_rows == manifest["orphan_rows"]
    # About 0.05% + 0.02% of rows: rare, but present.
    assert 0 < orphan_rows < ROWS * 0.002


def test_international_destinations_are_ragged(dataset: Dataset) -> None:
    geography = dataset.dimension("geography").to_pylist()
    international = [row for row in geography if row["scope"] == "international"]
    domestic = [row for row in geography if row["scope"] == "domestic"]
    assert len(international) >= 25
    assert {row["continent"] for row in international} == {
        "asia",
        "europe",
        "north_america",
        "south_america",
        "africa",
        "oceania",
    }
    for row in international:
        assert row["geography_code"] == f"intl_{row['country']}"
        assert row["scope_name_zh"] == "国际"
        for level in ("region", "province", "city"):
            assert row[level] is None and row[f"{level}_name_en"] is None and row[f"{level}_name_zh"] is None
    for row in domestic:
        assert all(value is not None for value in row.values())
        assert (row["continent"], row["country"], row["country_name_zh"]) == ("asia", "cn", "中国")
        assert row["city"] == row["geography_code"]
        assert row["city"].startswith(row["province"] + "_")
    assert len({row["province"] for row in domestic}) == 31
    assert len({row["region"] for row in domestic}) == 7
    region_of = {row["province"]: row["region"] for row in domestic}
    assert len(region_of) == len({(row["province"], row["region"]) for row in domestic})
    assert (region_of["gd"], region_of["bj"], region_of["xj"], region_of["ha"]) == (
        "south_china",
        "north_china",
        "northwest_china",
        "central_china",
    )
    by_code = {row["geography_code"]: row for row in domestic}
    assert by_code["gd_sz"]["city_name_zh"] == "深圳"
    assert by_code["bj_bj"]["city_name_en"] == "Beijing"


def test_organisation_mirrors_domestic_cities(dataset: Dataset) -> None:
    organisation = {row["branch_code"]: row for row in dataset.dimension("organisation").to_pylist()}
    domestic = [row for row in dataset.dimension("geography").to_pylist() if row["scope"] == "domestic"]
    assert set(organisation) == {row["geography_code"] for row in domestic}
    for row in domestic:
        branch = organisation[row["geography_code"]]
        assert branch["city_branch"] == branch["branch_code"]
        assert branch["province_branch"] == row["province"]
        assert branch["head_office"] == "hq"
    assert organisation["gd_sz"]["city_branch_name_zh"] == "深圳市分公司"
    assert organisation["gd_sz"]["province_branch_name_zh"] == "广东省分公司"
    assert organisation["gd_sz"]["province_branch_name_en"] == "Guangdong Branch"


def test_cents_to_decimal_is_exact() -> None:
    cents = np.array([0, 1, 5, 99, 100, 123_456_789, -250, 10**12 - 1], dtype=np.int64)
    array = cents_to_decimal(cents)
    assert array.type == pa.decimal128(12, 2)
    assert array.to_pylist() == [Decimal(int(c)).scaleb(-2) for c in cents]
    assert str(array[5].as_py()) == "1234567.89"
    with pytest.raises(ValueError):
        cents_to_decimal(np.array([10**12], dtype=np.int64))


def test_revenue_is_exact_and_non_negative(dataset: Dataset) -> None:
    revenue = dataset.facts.column("revenue")
    values = revenue.to_pylist()
    python_total = sum(values, Decimal(0))
    assert all(value >= 0 and value.as_tuple().exponent == -2 for value in values)
    [(duckdb_total, duckdb_min)] = dataset.sql("SELECT sum(revenue), min(revenue) FROM facts")
    assert duckdb_total == python_total
    assert pc.sum(revenue).as_py() == python_total
    assert duckdb_min > 0
    ranges = dict(
        (code, (low, high))
        for code, low, high in dataset.sql("SELECT product_code, min(revenue), max(revenue) FROM facts GROUP BY 1")
    )
    assert Decimal("0.10") <= ranges["local_call"][0] and ranges["local_call"][1] <= Decimal("2.00")
    assert Decimal("2.00") <= ranges["international_call"][0] and ranges["international_call"][1] <= 80
    assert Decimal("1000") <= ranges["leased_line"][0] and ranges["leased_line"][1] <= 20_000


def test_call_minutes_only_for_calls_and_track_revenue(dataset: Dataset) -> None:
    facts = dataset.facts
    is_call = pc.is_in(facts.column("product_code"), value_set=pa.array(CALL_PRODUCTS))
    minutes = facts.column("call_minutes")
    assert pc.all(pc.equal(pc.filter(minutes, pc.invert(is_call)), Decimal(0))).as_py()
    assert pc.all(pc.greater(pc.filter(minutes, is_call), Decimal(0))).as_py()
    for product in CALL_PRODUCTS:
        mask = pc.equal(facts.column("product_code"), product)
        x = np.array(pc.filter(minutes, mask).to_pylist(), dtype=float)
        y = np.array(pc.filter(facts.column("revenue"), mask).to_pylist(), dtype=float)
        assert np.corrcoef(x, y)[0, 1] > 0.8, product


def test_geography_follows_product_and_branch_is_home(dataset: Dataset) -> None:
    [(local_mismatch, long_distance_bad, international_bad)] = dataset.sql("""
        SELECT count(*) FILTER (WHERE product_code NOT IN ('domestic_long_distance', 'international_call')
                                  AND geography_code <> branch_code),
               count(*) FILTER (WHERE product_code = 'domestic_long_distance'
                                  AND (geography_code = branch_code OR geography_code LIKE 'intl_%')),
               count(*) FILTER (WHERE product_code = 'international_call'
                                  AND geography_code NOT LIKE 'intl_%')
        FROM facts
    """)
    assert (local_mismatch, long_distance_bad, international_bad) == (0, 0, 0)
    [(wrong_branch, joined)] = dataset.sql("""
        SELECT count(*) FILTER (WHERE f.branch_code <> c.home_branch_code), count(*)
        FROM facts f JOIN customer c USING (customer_code)
    """)
    assert wrong_branch == 0 and joined > ROWS * 0.99


def test_chunking_writes_one_file_per_chunk(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    summary = generate_telecom(
        tmp_path, 25_000, 3, chunk_rows=10_000, progress=lambda done, total: calls.append((done, total))
    )
    assert [path.name for path in summary.fact_files] == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert sorted(p.name for p in (tmp_path / "facts").iterdir()) == [p.name for p in summary.fact_files]
    parts = [pq.read_table(path) for path in summary.fact_files]
    assert [part.num_rows for part in parts] == [10_000, 10_000, 5_000]
    for index, part in enumerate(parts):
        ids = part.column("charge_id").to_numpy()
        assert np.array_equal(np.sort(ids), np.arange(index * 10_000 + 1, index * 10_000 + part.num_rows + 1))
    assert pa.concat_tables(parts).num_rows == 25_000
    assert calls == [(10_000, 25_000), (20_000, 25_000), (25_000, 25_000)]


def test_key_accounts_are_few_but_earn_a_large_share(dataset: Dataset) -> None:
    assert dataset.summary.customers == customer_count(ROWS) == ROWS // 4
    [(accounts, key_accounts)] = dataset.sql(
        "SELECT count(*), count(*) FILTER (WHERE segment = 'key_account') FROM customer"
    )
    assert accounts == dataset.summary.customers
    assert 0.015 <= key_accounts / accounts <= 0.025
    [(key_revenue, total_revenue, key_rows)] = dataset.sql("""
        SELECT sum(revenue) FILTER (WHERE c.segment = 'key_account'), sum(revenue),
               count(*) FILTER (WHERE c.segment = 'key_account')
        FROM facts f LEFT JOIN customer c USING (customer_code)
    """)
    assert Decimal("0.2") <= key_revenue / total_revenue <= Decimal("0.6")
    assert key_rows / ROWS > 2 * key_accounts / accounts  # key accounts are busier per account
    codes = dataset.dimension("customer").column("customer_code").to_pylist()
    assert all(
        (len(code) == 9 and code.startswith("pa")) or (len(code) == 8 and code.startswith("ka")) for code in codes
    )


def test_customer_count_is_clamped() -> None:
    assert customer_count(1) == 1_000
    assert customer_count(1_000_000) == 250_000
    assert customer_count(100_000_000) == 400_000


def test_channels_and_weekly_rhythm_differ_by_segment(dataset: Dataset) -> None:
    shares = {
        (segment, channel): share
        for segment, channel, share in dataset.sql("""
        SELECT c.segment, f.channel_code,
               count(*) / sum(count(*)) OVER (PARTITION BY c.segment)
        FROM facts f JOIN customer c USING (customer_code) GROUP BY c.segment, f.channel_code
    """)
    }
    assert shares[("key_account", "account_manager")] > 0.5
    assert shares[("public", "business_hall")] + shares[("public", "web_portal")] > 0.7
    [(weekday_rate, weekend_rate)] = dataset.sql("""
        SELECT count(*) FILTER (WHERE isodow(charged_at) <= 5) / 5.0,
               count(*) FILTER (WHERE isodow(charged_at) >= 6) / 2.0
        FROM facts f JOIN customer c USING (customer_code)
        WHERE c.segment = 'key_account' AND f.product_code IN ('local_call', 'domestic_long_distance')
    """)
    assert weekday_rate > 2 * weekend_rate


def test_manifest_is_complete_and_lists_existing_files(dataset: Dataset) -> None:
    text = (dataset.out_dir / "manifest.json").read_text(encoding="utf-8")
    manifest = json.loads(text)
    assert text == json.dumps(manifest, sort_keys=True, indent=2) + "\n"
    assert manifest == {
        "generator": "telecom",
        "version": 1,
        "rows": ROWS,
        "seed": SEED,
        "chunk_rows": CHUNK_ROWS,
        "customers": ROWS // 4,
        "orphan_rows": dataset.summary.orphan_rows,
        "fact_files": ["facts/part-00000.parquet", "facts/part-00001.parquet", "facts/part-00002.parquet"],
        "dimension_files": {name: f"{name}.parquet" for name in EXPECTED_DIMENSION_COLUMNS},
    }
    listed = [*manifest["fact_files"], *manifest["dimension_files"].values()]
    assert all((dataset.out_dir / name).is_file() for name in listed)
    written = sorted(str(p.relative_to(dataset.out_dir)) for p in dataset.out_dir.rglob("*") if p.is_file())
    assert written == sorted([*listed, "manifest.json"])  # no staging leftovers
    assert list(dataset.summary.fact_files) == [dataset.out_dir / name for name in manifest["fact_files"]]
    assert dataset.progress == [(12_000, ROWS), (24_000, ROWS), (ROWS, ROWS)]
    hash(dataset.summary)  # frozen and usable as a key despite the dimension_files mapping


def test_rerun_replaces_previous_output(tmp_path: Path) -> None:
    generate_telecom(tmp_path, 25_000, 1, chunk_rows=10_000)
    summary = generate_telecom(tmp_path, 3_000, 1, chunk_rows=10_000)
    assert sorted(p.name for p in (tmp_path / "facts").iterdir()) == ["part-00000.parquet"]
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows"] == 3_000 and summary.customers == 1_000
    assert pq.read_table(tmp_path / "customer.parquet").num_rows == 1_000
