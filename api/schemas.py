"""Request parameters and documented response shapes of the HTTP API (the public contract)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Format = Literal["json", "csv", "arrow"]
TEXT = 20_000
# A JSON body may give a parameter as one string or as a list of strings: the limits bound each string's
# length and the list's number of items separately.
Text = Annotated[str, Field(max_length=TEXT)]
OneOrMany16 = Text | Annotated[list[Text], Field(max_length=16)]
OneOrMany64 = Text | Annotated[list[Text], Field(max_length=64)]
OneOrMany256 = Text | Annotated[list[Text], Field(max_length=256)]


class ErrorBody(BaseModel):
    code: str = Field(description="stable machine code, e.g. invalid_cut")
    message: str
    details: dict[str, Any] = {}
    request_id: str


class ErrorEnvelope(BaseModel):
    error: ErrorBody


class _Params(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    format: Format | None = Field(
        None, description="json (default), csv or arrow; or send Accept: application/vnd.apache.arrow.stream"
    )
    version: str | None = Field(
        None,
        max_length=100,
        description="read this store version (meta.version of an earlier answer), so a drill sequence never "
        "mixes two versions; kept for CUBE_VERSION_GRACE_S after a switch (then 410 version_unavailable)",
    )


class CellParams(_Params):
    cut: list[str] = Field([], max_length=64, description="cut string(s), e.g. time:2025,3|geography:domestic")
    drilldown: list[str] = Field(
        [], max_length=64, description="levels to group by, e.g. time:month|geography:province"
    )
    measures: list[str] = Field([], max_length=64, description="comma-separated measure names (default: all)")
    order: list[str] = Field(
        [], max_length=64, description="comma-separated ref[:asc|desc]; ref = measure, dim.level or dim.level.label"
    )
    limit: int | None = Field(None, ge=0, description="page size of cells (default: all cells, up to max_cells)")
    offset: int = Field(0, ge=0)
    calc: list[str] = Field(
        [],
        max_length=32,
        description="analyst calculations, |-separated or repeated, e.g. growth(revenue, previous)|rank(revenue);"
        " each adds a column such as revenue__growth_previous (README: Analyst calculations)",
    )


class DrilldownParams(CellParams):
    dimension: str = Field(max_length=200, description="the dimension to drill into")
    depth: int = Field(1, ge=1, le=32, description="how many levels below the cut")


class RollupParams(CellParams):
    dimension: str = Field(max_length=200, description="the dimension to roll up")
    steps: int = Field(1, ge=1, le=32, description="how many levels coarser")


class PivotParams(_Params):
    rows: list[str] = Field([], max_length=16, description="comma-separated level references, e.g. geography:province")
    columns: list[str] = Field([], max_length=16, description="comma-separated level references, e.g. time:year")
    measures: list[str] = Field([], max_length=64)
    cut: list[str] = Field([], max_length=64)
    totals: bool = True


class MembersParams(_Params):
    level: str | None = Field(None, max_length=200, description="default: the hierarchy's top level")
    hierarchy: str | None = Field(None, max_length=200)
    cut: list[str] = Field([], max_length=64)
    search: str | None = Field(None, max_length=200, description="case-insensitive substring of key or label")
    limit: int | None = Field(None, ge=0)
    offset: int = Field(0, ge=0)


class FactsParams(_Params):
    cut: list[str] = Field([], max_length=64)
    fields: list[str] = Field([], max_length=256, description="comma-separated field refs (default: all)")
    order: list[str] = Field([], max_length=64)
    limit: int | None = Field(None, ge=0)
    offset: int = Field(0, ge=0)


Operation = Literal["aggregate", "drilldown", "rollup", "slice", "pivot", "members", "facts"]


class QueryBody(BaseModel):
    """Any operation's parameters as JSON, for queries too long for a URL (``POST .../query``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    operation: Operation = "aggregate"
    explain: bool = False
    cut: OneOrMany64 = []
    drilldown: OneOrMany64 = []
    measures: OneOrMany64 = []
    order: OneOrMany64 = []
    limit: int | None = Field(None, ge=0)
    offset: int = Field(0, ge=0)
    dimension: str | None = Field(None, max_length=200)
    depth: int = Field(1, ge=1, le=32)
    steps: int = Field(1, ge=1, le=32)
    rows: OneOrMany16 = []
    columns: OneOrMany16 = []
    totals: bool = True
    level: str | None = Field(None, max_length=200)
    hierarchy: str | None = Field(None, max_length=200)
    search: str | None = Field(None, max_length=200)
    fields: OneOrMany256 = []
    format: Format | None = None
    version: str | None = Field(None, max_length=100)
    calculations: OneOrMany64 = Field([], description="aggregate, slice, drilldown, rollup: as GET's calc=")


class Meta(BaseModel):
    source: str = Field(description="facts, or cuboid:<name> when a cuboid of the store answered")
    elapsed_ms: float
    cube: str
    version: str


class CellsResponse(BaseModel):
    summary: dict[str, Any]
    cells: list[dict[str, Any]]
    total_cell_count: int | None
    levels: dict[str, list[str]]
    measures: list[str]
    meta: Meta


class PivotResponse(BaseModel):
    row_levels: list[str]
    column_levels: list[str]
    row_headers: list[list[Any]]
    row_header_labels: list[list[Any]]
    column_headers: list[list[Any]]
    column_header_labels: list[list[Any]]
    measures: list[str]
    values: list[list[list[Any] | None]]
    row_totals: list[list[Any]] | None
    column_totals: list[list[Any]] | None
    grand_total: list[Any] | None
    meta: Meta


class RowsResponse(BaseModel):
    columns: list[str]
    rows: list[dict[str, Any]]
    total_count: int
    meta: Meta


class Statement(BaseModel):
    name: str
    sql: str
    parameters: list[Any]


class ExplainResponse(BaseModel):
    operation: str
    cube: str
    source: str
    grain: list[str]
    measures: list[str]
    statements: list[Statement]
    version: str
    candidates: list[dict[str, Any]] = Field(description="every cuboid considered: usable?, why, estimated rows")


class ExplainParams(_Params):
    operation: Operation = "aggregate"
    calc: list[str] = Field([], max_length=32, description="analyst calculations, as for aggregate")
    cut: list[str] = Field([], max_length=64)
    drilldown: list[str] = Field([], max_length=64)
    measures: list[str] = Field([], max_length=64)
    order: list[str] = Field([], max_length=64)
    limit: int | None = Field(None, ge=0)
    offset: int = Field(0, ge=0)
    dimension: str | None = Field(None, max_length=200)
    depth: int = Field(1, ge=1, le=32)
    steps: int = Field(1, ge=1, le=32)
    rows: list[str] = Field([], max_length=16)
    columns: list[str] = Field([], max_length=16)
    totals: bool = True
    level: str | None = Field(None, max_length=200)
    hierarchy: str | None = Field(None, max_length=200)
    search: str | None = Field(None, max_length=200)
    fields: list[str] = Field([], max_length=256)


class CubeSummary(BaseModel):
    name: str
    label: str
    category: str | None
    description: str | None
