"""Errors raised by the query engine (all rooted in :mod:`cube_models.errors`)."""

from __future__ import annotations

from cube_models.errors import ConflictError, CubeError, GoneError, InternalError, NotFoundError, UserError


class CutSyntaxError(UserError):
    code = "invalid_cut"


class PathTooLongError(CutSyntaxError):
    """A cut's path has more elements than its hierarchy has levels."""


class HighCardinalityError(UserError):
    """A drilldown through a high-cardinality level that is neither paged nor cut at that level."""

    code = "high_cardinality"


class FactNotFoundError(NotFoundError):
    code = "fact_not_found"


class DrilldownError(UserError):
    code = "invalid_drilldown"


class DrilldownSyntaxError(DrilldownError):
    """A drilldown string that does not read as ``dimension[@hierarchy][:level]`` items."""


class InvalidParameterError(UserError):
    code = "invalid_parameter"


class CalculationError(UserError):
    """An analyst calculation that cannot be parsed, or does not fit the query it is asked of."""

    code = "invalid_calculation"


class ResultTooLargeError(UserError):
    code = "result_too_large"


class RateLimitedError(UserError):
    """The principal made more requests than its rate limit allows; ``retry_after_s`` says when to try again."""

    code = "rate_limited"


class QueryTimeoutError(CubeError):
    """The query ran longer than the configured timeout and was interrupted: an answer, not a crash."""

    code = "query_timeout"


class BackendError(InternalError):
    code = "backend_error"


class EngineUnavailableError(CubeError):
    """The database holding the facts cannot be reached (down, or refusing connections): an answer, not a bug."""

    code = "engine_unavailable"


class ProjectError(InternalError):
    """A project directory or its configuration cannot be used."""

    code = "invalid_project"


class ReportError(ProjectError):
    """A report definition (``reports/*.json`` of a project) is malformed or does not fit its cube."""

    code = "invalid_report"


class RefreshError(UserError):
    """A refresh cannot be done with what it was given (a file that does not fit, an empty range)."""

    code = "invalid_refresh"


class StoreNotCurrentError(ConflictError):
    """A refresh needs a store built from the current model and facts."""

    code = "store_not_current"


class VersionUnavailableError(GoneError):
    """A pinned store version is no longer kept, or its answer would need facts that have changed since."""

    code = "version_unavailable"


class UnauthenticatedError(UserError):
    """The request carries no credential, or one that is unknown, malformed or revoked."""

    code = "unauthenticated"


class AccessConfigError(InternalError):
    """The key file (keys and roles) cannot be read or does not make sense."""

    code = "invalid_access_config"


class SqlError(UserError):
    """A SQL statement the cube tables cannot answer (the SQL listener gives each code its SQLSTATE)."""

    code = "invalid_sql"


class SqlSyntaxError(SqlError):
    code = "sql_syntax"


class SqlUnsupportedError(SqlError):
    """Valid SQL that a cube table does not answer (an expression, a join, OR across dimensions...)."""

    code = "sql_unsupported"


class SqlUnknownColumnError(SqlError):
    code = "sql_unknown_column"


class SqlUnknownTableError(SqlError):
    code = "sql_unknown_table"


class SqlAggregationError(SqlError):
    """A measure asked with a function it is not merged by (SUM of a distinct count), or a level outside GROUP BY."""

    code = "sql_aggregation"


class SqlValueError(SqlError):
    """A literal that does not fit the column it is compared with."""

    code = "sql_invalid_value"


class SparkBuildError(ProjectError):
    """The store cannot be built or refreshed with Spark: pyspark missing, no session, or a table Spark cannot read."""

    code = "spark_build_failed"
