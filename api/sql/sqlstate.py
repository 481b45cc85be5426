"""The one place where error classes become SQLSTATEs (the SQL surface's STATUS_BY_ERROR)."""

from __future__ import annotations

from cube_models.errors import (
    AttributeNotFoundError,
    CubeError,
    CubeNotFoundError,
    DimensionNotFoundError,
    ForbiddenError,
    InternalError,
    LevelNotFoundError,
    MeasureNotFoundError,
    NotFoundError,
    UserError,
)
from cube_server.errors import (
    HighCardinalityError,
    QueryTimeoutError,
    RateLimitedError,
    ResultTooLargeError,
    SqlAggregationError,
    SqlSyntaxError,
    SqlUnknownColumnError,
    SqlUnknownTableError,
    SqlUnsupportedError,
    SqlValueError,
    UnauthenticatedError,
)

SQLSTATE_BY_ERROR: dict[type[BaseException], str] = {
    CubeError: "XX000",  # internal_error
    InternalError: "XX000",
    UserError: "22023",  # invalid_parameter_value
    SqlSyntaxError: "42601",  # syntax_error
    SqlUnsupportedError: "0A000",  # feature_not_supported
    SqlUnknownColumnError: "42703",  # undefined_column
    SqlUnknownTableError: "42P01",  # undefined_table
    SqlAggregationError: "42803",  # grouping_error
    SqlValueError: "22P02",  # invalid_text_representation
    NotFoundError: "42P01",
    CubeNotFoundError: "42P01",
    DimensionNotFoundError: "42703",
    LevelNotFoundError: "42703",
    AttributeNotFoundError: "42703",
    MeasureNotFoundError: "42703",
    ForbiddenError: "42501",  # insufficient_privilege
    UnauthenticatedError: "28P01",  # invalid_password
    ResultTooLargeError: "54000",  # program_limit_exceeded
    HighCardinalityError: "54000",
    RateLimitedError: "53400",  # configuration_limit_exceeded
    QueryTimeoutError: "57014",  # query_canceled
}
NOT_READY = "57P03"  # cannot_connect_now
IN_FAILED_TRANSACTION = "25P02"


def sqlstate_of(error: BaseException) -> str:
    for kind in type(error).__mro__:
        if kind in SQLSTATE_BY_ERROR:
            return SQLSTATE_BY_ERROR[kind]
    return "XX000"
