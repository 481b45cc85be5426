"""The Spark SQL dialect the Spark build compiles the DuckDB build's statements with (no Spark needed here)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from cube_server.errors import SparkBuildError
from cube_server.spark_build.session import parse_conf
from cube_server.spark_build.spark_sql import spark_sql, spark_type

facts = sa.table("charges", sa.column("charged_at"), sa.column("revenue"), sa.column("order"))


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("year", "year(`charges`.`charged_at`)"),
        ("day", "dayofmonth(`charges`.`charged_at`)"),
        ("week", "weekofyear(`charges`.`charged_at`)"),  # DuckDB's week is the ISO week
        ("isoyear", "extract(YEAROFWEEK FROM `charges`.`charged_at`)"),
        ("dow", "(dayofweek(`charges`.`charged_at`) - 1)"),  # DuckDB counts from Sunday = 0, Spark from 1
        ("isodow", "extract(DAYOFWEEK_ISO FROM `charges`.`charged_at`)"),
        ("second", "second(`charges`.`charged_at`)"),  # whole seconds, as DuckDB's
    ],
)
def test_date_parts_are_extracted_as_duckdb_extracts_them(field: str, expected: str) -> None:
    assert (
        spark_sql(sa.select(sa.extract(field, facts.c.charged_at).label("x")))
        == f"SELECT {expected} AS `x` \nFROM `charges`"
    )


def test_every_name_is_quoted_and_strings_escaped_for_spark() -> None:
    select = sa.select(facts.c.order, sa.literal("it's a \\ path").label("label"))
    assert spark_sql(select) == "SELECT `charges`.`order`, 'it\\'s a \\\\ path' AS `label` \nFROM `charges`"


def test_grouping_of_several_columns_is_grouping_id_and_sets_are_kept() -> None:
    revenue = facts.c.revenue
    select = sa.select(sa.func.grouping(facts.c.order, revenue).label("mask"), sa.func.sum(revenue)).group_by(
        sa.func.grouping_sets(sa.tuple_(facts.c.order, revenue), sa.tuple_(facts.c.order))
    )
    sql = spark_sql(select)
    assert "grouping_id(`charges`.`order`, `charges`.`revenue`) AS `mask`" in sql
    assert "GROUP BY GROUPING SETS((`charges`.`order`, `charges`.`revenue`), (`charges`.`order`))" in sql


def test_casts_use_spark_type_names() -> None:
    select = sa.select(
        sa.cast(facts.c.revenue, sa.Numeric(38, 0)).label("total"), sa.cast(facts.c.revenue, sa.BigInteger).label("n")
    )
    assert spark_sql(select) == (
        "SELECT CAST(`charges`.`revenue` AS DECIMAL(38, 0)) AS `total`, CAST(`charges`.`revenue` AS BIGINT) AS `n` "
        "\nFROM `charges`"
    )


def test_duckdb_types_map_to_spark_types_parquet_stores_alike() -> None:
    assert [spark_type(t) for t in ("BIGINT", "DECIMAL(38,2)", "VARCHAR", "HUGEINT", "INTEGER", "DOUBLE")] == [
        "BIGINT",
        "DECIMAL(38,2)",
        "STRING",
        "DECIMAL(38,0)",
        "INT",
        "DOUBLE",
    ]
    with pytest.raises(ValueError, match="INTERVAL"):
        spark_type("INTERVAL")


def test_spark_options_are_key_value_pairs() -> None:
    assert parse_conf(["spark.executor.memory=4g", "spark.sql.shuffle.partitions = 8"]) == {
        "spark.executor.memory": "4g",
        "spark.sql.shuffle.partitions": "8",
    }
    with pytest.raises(SparkBuildError, match="KEY=VALUE"):
        parse_conf(["spark.executor.memory"])
