"""One client's SQL session: statements in, results out, with no knowledge of the wire.

A SELECT that reads a cube table is translated into a cube query and answered by the engine as the
session's principal sees it (``RestrictedEngine``); a SELECT on ``pg_catalog`` or
``information_schema`` (or on no table: ``SELECT 1``, ``SELECT version()``) reads the emulated
catalog. SET, SHOW, BEGIN/COMMIT/ROLLBACK and DISCARD are answered here; everything else that would
change data is refused: cube tables are read-only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from api.sql.catalog import SERVER_VERSION, CatalogContext, CatalogDatabase, is_catalog_table
from api.sql.catalog import Result as CatalogResult
from api.sql.sqlstate import IN_FAILED_TRANSACTION
from cube_models.errors import CubeError
from cube_server.access.restricted import RestrictedEngine
from cube_server.access.roles import Principal
from cube_server.engine import CubeEngine
from cube_server.errors import SqlSyntaxError, SqlUnknownTableError, SqlUnsupportedError
from cube_server.sql.answer import answer_select, cube_tables, explain_select, plan_select
from cube_server.sql.tables import CubeTable

DEFAULT_SETTINGS = {
    "server_version": SERVER_VERSION,
    "server_version_num": "150000",
    "server_encoding": "UTF8",
    "client_encoding": "UTF8",
    "datestyle": "ISO, MDY",
    "timezone": "UTC",
    "intervalstyle": "postgres",
    "integer_datetimes": "on",
    "standard_conforming_strings": "on",
    "search_path": '"$user", public',
    "transaction_isolation": "read committed",
    "default_transaction_isolation": "read committed",
    "transaction_read_only": "on",
    "default_transaction_read_only": "on",
    "is_superuser": "off",
    "max_identifier_length": "63",
    "lc_collate": "C.UTF-8",
    "lc_ctype": "C.UTF-8",
    "extra_float_digits": "1",
    "statement_timeout": "0",
    "max_index_keys": "32",
    "block_size": "8192",
    "default_table_access_method": "heap",
}
# Reported to the client at startup (ParameterStatus), with the names' usual capitals.
REPORTED = ("server_version", "server_encoding", "client_encoding", "DateStyle", "TimeZone", "IntervalStyle",
            "integer_datetimes", "standard_conforming_strings", "is_superuser", "application_name",
            "session_authorization", "default_transaction_read_only", "in_hot_standby")  # fmt: skip
_COMMENTS = re.compile(r"^\s*(?:(?:--[^\n]*\n)|(?:/\*.*?\*/)|\s)*", re.DOTALL)
_SET = re.compile(
    r"^SET\s+(?:SESSION\s+|LOCAL\s+)?(?:(TIME\s+ZONE)\s+(.+)|([\w.]+)\s*(?:=|\s+TO\s+|\s+)\s*(.+))$",
    re.IGNORECASE | re.DOTALL,
)
OTHER_COMMANDS = ("LISTEN", "NOTIFY", "UNLISTEN", "PREPARE", "EXECUTE",
                  "CHECKPOINT", "LOAD", "REINDEX", "CLUSTER", "SECURITY", "IMPORT", "REASSIGN", "PREPARE")  # fmt: skip
_DECLARE = re.compile(r"^DECLARE\s+(\"(?:[^\"]|\"\")+\"|\S+)\s+(.*?\bCURSOR\b.*?)\bFOR\s+(.*)$",
                      re.IGNORECASE | re.DOTALL)  # fmt: skip
_FETCH = re.compile(r"^(?:FETCH|MOVE)\s+(?:(?:FORWARD|NEXT)\s+)?(\d+|ALL)?\s*(?:FROM|IN)?\s*(\"(?:[^\"]|\"\")+\"|\S+)$",
                    re.IGNORECASE | re.DOTALL)  # fmt: skip
READ_ONLY_WORDS = ("INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE", "COPY", "GRANT",
                   "REVOKE", "VACUUM", "ANALYZE", "CALL", "DO", "LOCK", "COMMENT", "REFRESH")  # fmt: skip


@dataclass(slots=True)
class StatementResult:
    tag: str
    columns: list[tuple[str, str]] | None = None  # (name, SQL type); None: the statement returns no rows
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    empty: bool = False  # an empty query string


@dataclass(slots=True)
class SqlCursor:
    result: StatementResult
    hold: bool = False  # WITH HOLD: kept past the end of its transaction
    position: int = 0


class SessionError(CubeError):
    """An error with a SQLSTATE of its own (not one of the engine's)."""

    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class CatalogCache:
    """Catalog databases by the set of cube tables they show (principals that read the same cubes share one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._databases: dict[tuple[str, tuple[str, ...]], CatalogDatabase] = {}

    def database(self, tables: dict[str, CubeTable], name: str) -> CatalogDatabase:
        key = (name, tuple(sorted(tables)))
        with self._lock:
            if key not in self._databases:
                self._databases[key] = CatalogDatabase(tables.values(), name)
            return self._databases[key]


class SqlSession:
    def __init__(
        self,
        engine: Callable[[], CubeEngine],
        principal: Principal,
        catalogs: CatalogCache,
        *,
        user: str,
        database: str,
        parameters: dict[str, str] | None = None,
        charge: Callable[[list[str]], None] = lambda cubes: None,
    ) -> None:
        self._engine = engine
        # counts one query of these cubes against the principal's rate limit (or refuses it) and audits the read
        self._charge = charge
        self.principal = principal
        self._catalogs = catalogs
        self.user = user
        self.database = database
        self.settings = dict(DEFAULT_SETTINGS)
        self.settings["application_name"] = (parameters or {}).get("application_name", "")
        self.settings["session_authorization"] = user
        self.in_transaction = False
        self.failed = False
        self.cursors: dict[str, SqlCursor] = {}  # DECLAREd cursors (psycopg's named cursors, pandas' chunks)

    @property
    def status(self) -> str:
        """ReadyForQuery's transaction status: idle, in a transaction, or in a failed one."""
        if self.failed:
            return "E"
        return "T" if self.in_transaction else "I"

    def reported_settings(self) -> dict[str, str]:
        values = {**self.settings, "in_hot_standby": "off"}
        return {name: values.get(name.lower(), "") for name in REPORTED}

    # ---- statements ----------------------------------------------------------------------------
    @staticmethod
    def split(sql: str) -> list[str]:
        """The statements of a simple query string (sqlglot's tokenizer finds the semicolons)."""
        try:
            tokens = sqlglot.tokenize(sql, read="postgres")
        except (TokenError, ValueError) as exc:
            raise SqlSyntaxError(f"syntax error: {exc}") from exc
        statements, start = [], 0
        for token in tokens:
            if token.token_type == sqlglot.TokenType.SEMICOLON:
                statements.append(sql[start : token.start])
                start = token.end + 1
        statements.append(sql[start:])
        kept = [s for s in statements if _COMMENTS.sub("", s).strip()]
        return kept or [""]

    def execute(self, sql: str, parameters: list[Any] | None = None) -> StatementResult:
        """Run one statement with its bound parameters (``$1`` ...)."""
        text = _COMMENTS.sub("", sql).strip().rstrip(";").strip()
        if not text:
            return StatementResult("", empty=True)
        word = text.split(None, 1)[0].upper()
        if self.failed and word not in ("ROLLBACK", "ABORT", "COMMIT", "END"):
            raise SessionError(
                IN_FAILED_TRANSACTION, "current transaction is aborted, commands ignored until end of transaction block"
            )
        try:
            return self._execute(text, word, parameters or [])
        except BaseException:
            if self.in_transaction:
                self.failed = True
            raise

    def _execute(self, text: str, word: str, parameters: list[Any]) -> StatementResult:
        if word in ("BEGIN", "START"):
            self.in_transaction = True
            return StatementResult("BEGIN")
        if word in ("COMMIT", "END", "ROLLBACK", "ABORT"):
            tag = "ROLLBACK" if self.failed or word in ("ROLLBACK", "ABORT") else "COMMIT"
            self.in_transaction = self.failed = False
            self.cursors = {name: cursor for name, cursor in self.cursors.items() if cursor.hold}
            return StatementResult(tag)
        if word == "DECLARE":
            return self._declare(text, parameters)
        if word in ("FETCH", "MOVE"):
            return self._fetch(text, word)
        if word == "CLOSE":
            name = _cursor_name(text.split(None, 1)[1] if len(text.split()) > 1 else "")
            if name.lower() == "all":
                self.cursors.clear()
            elif self.cursors.pop(name, None) is None:
                raise SessionError("34000", f'cursor "{name}" does not exist')
            return StatementResult("CLOSE CURSOR")
        if word in ("SAVEPOINT", "RELEASE"):
            return StatementResult(word)
        if word == "SET":
            return self._set(text)
        if word == "RESET":
            name = text.split(None, 1)[1].strip().lower() if len(text.split()) > 1 else "all"
            if name == "all":
                self.settings.update(DEFAULT_SETTINGS)
            elif name in DEFAULT_SETTINGS:
                self.settings[name] = DEFAULT_SETTINGS[name]
            return StatementResult("RESET")
        if word == "DISCARD":
            return StatementResult("DISCARD ALL")
        if word == "DEALLOCATE":
            return StatementResult("DEALLOCATE")
        if word == "SHOW":
            return self._show(text[4:].strip())
        if word == "EXPLAIN":
            return self._explain(text, parameters)
        if word in ("SELECT", "WITH", "VALUES", "TABLE", "("):
            return self._select(text, parameters)
        if word in READ_ONLY_WORDS:
            raise SessionError("25006", f"{word} is not allowed: cube tables are read-only (ask them with SELECT)")
        if word in OTHER_COMMANDS:
            raise SqlUnsupportedError(f"{word} is not supported here: ask the cube tables with SELECT")
        raise SqlSyntaxError(f'syntax error at or near "{text.split(None, 1)[0]}"')

    def describe(self, sql: str, parameter_count: int) -> list[tuple[str, str]] | None:
        """The columns a statement would return (for Describe of a prepared statement), without its parameters."""
        text = _COMMENTS.sub("", sql).strip().rstrip(";").strip()
        word = text.split(None, 1)[0].upper() if text else ""
        if word not in ("SELECT", "WITH", "VALUES", "TABLE", "(", "SHOW", "EXPLAIN"):
            return None
        if word == "SHOW":
            return [(text[4:].strip().split()[0].lower() if text[4:].strip() else "setting", "text")]
        if word == "EXPLAIN":
            return [("QUERY PLAN", "text")]
        try:
            return self._select(text, [None] * parameter_count, describe_only=True).columns
        except CubeError:
            return None

    # ---- cursors -------------------------------------------------------------------------------
    def _declare(self, text: str, parameters: list[Any]) -> StatementResult:
        match = _DECLARE.match(text)
        if match is None:
            raise SqlSyntaxError("cannot read this DECLARE: DECLARE name [NO SCROLL] CURSOR [WITH HOLD] FOR query")
        name, options, query = _cursor_name(match.group(1)), match.group(2).upper(), match.group(3)
        if "BINARY" in options.split():
            raise SqlUnsupportedError("binary cursors are not supported; declare a text cursor")
        word = query.lstrip("( \n\t").split(None, 1)[0].upper() if query.strip() else ""
        result = self._execute(query, word, parameters)
        if result.columns is None:
            raise SqlSyntaxError("a cursor is declared FOR a query that returns rows")
        self.cursors[name] = SqlCursor(result, hold="WITH HOLD" in " ".join(options.split()))
        return StatementResult("DECLARE CURSOR")

    def _fetch(self, text: str, word: str) -> StatementResult:
        match = _FETCH.match(text)
        if match is None:
            raise SqlSyntaxError(f"cannot read this {word}: {word} [FORWARD] [count | ALL] [FROM] cursor")
        count_text, name = match.group(1), _cursor_name(match.group(2))
        cursor = self.cursors.get(name)
        if cursor is None:
            raise SessionError("34000", f'cursor "{name}" does not exist')
        rows = cursor.result.rows
        count = len(rows) if count_text is None or count_text.upper() == "ALL" else int(count_text)
        taken = rows[cursor.position : cursor.position + count]
        cursor.position += len(taken)
        if word == "MOVE":
            return StatementResult(f"MOVE {len(taken)}")
        return StatementResult(f"FETCH {len(taken)}", cursor.result.columns, taken)

    # ---- SET / SHOW ----------------------------------------------------------------------------
    def _set(self, text: str) -> StatementResult:
        match = _SET.match(text)
        if match is None:
            raise SqlSyntaxError(f"cannot read {text!r} as SET name = value")
        if match.group(1):
            name, value = "timezone", match.group(2)
        else:
            name, value = match.group(3).lower(), match.group(4)
        value = value.strip().strip("'\"")
        if name in ("transaction", "session"):
            return StatementResult("SET")
        self.settings[name] = value
        return StatementResult("SET")

    def _show(self, name: str) -> StatementResult:
        key = " ".join(name.lower().split()).rstrip(";")
        key = {"transaction isolation level": "transaction_isolation", "time zone": "timezone"}.get(key, key)
        if key == "all":
            rows = [(k, v, "") for k, v in sorted(self.settings.items())]
            return StatementResult("SHOW", [("name", "text"), ("setting", "text"), ("description", "text")], rows)
        if key not in self.settings:
            raise SessionError("42704", f'unrecognized configuration parameter "{name}"')
        return StatementResult("SHOW", [(key, "text")], [(self.settings[key],)])

    # ---- SELECT --------------------------------------------------------------------------------
    def _restricted(self) -> RestrictedEngine:
        return RestrictedEngine(self._engine(), self.principal)

    def _parse(self, text: str) -> exp.Expression:
        try:
            statements = sqlglot.parse(text, read="postgres")
        except (ParseError, TokenError) as exc:
            raise SqlSyntaxError(f"syntax error: {_first_line(exc)}") from exc
        if len(statements) != 1 or statements[0] is None:
            raise SqlSyntaxError("one statement at a time, please")
        return statements[0]

    def _select(self, text: str, parameters: list[Any], describe_only: bool = False) -> StatementResult:
        engine = self._restricted()
        tables = cube_tables(engine)
        try:
            statement = _bind(self._parse(text), parameters)
        except SqlSyntaxError:
            if parameters or not _names_catalog(text) or any(name in text for name in tables):
                raise
            # a catalog query beyond sqlglot (DuckDB's parser is PostgreSQL's, so it may still run)
            catalog = self._catalogs.database(tables, self.database)
            result = catalog.execute(text, CatalogContext(self.database, self.user, self.settings), [])
            return StatementResult(f"SELECT {len(result.rows)}", result.columns, result.rows)
        references = _cube_references(statement, tables)
        if not references:
            catalog = self._catalogs.database(tables, self.database)
            context = CatalogContext(self.database, self.user, self.settings)
            if describe_only:
                statement = statement.copy()
                if isinstance(statement, exp.Select):
                    statement.set("limit", exp.Limit(expression=exp.Literal.number(0)))
            result = catalog.execute(statement, context, [])
            return StatementResult(f"SELECT {len(result.rows)}", result.columns, result.rows)
        if not describe_only:
            self._charge(sorted({cube.name for _, cube in references}))
        if len(references) == 1 and references[0][0].parent_select is statement:
            cube = references[0][1]
            assert isinstance(statement, exp.Select)
            plan = plan_select(engine, statement, cube)
            if describe_only:
                return StatementResult("SELECT 0", [(o.name, o.sql_type) for o in plan.outputs])
            answer = answer_select(engine, plan)
            return StatementResult(f"SELECT {len(answer.rows)}", answer.columns, answer.rows)
        result = _composite(engine, statement, tables)
        return StatementResult(f"SELECT {len(result.rows)}", result.columns, result.rows)

    def _explain(self, text: str, parameters: list[Any]) -> StatementResult:
        body = re.sub(r"^EXPLAIN\s+(?:\([^)]*\)\s*)?(?:(?:ANALYZE|VERBOSE)\s+)*", "", text, flags=re.IGNORECASE)
        statement = _bind(self._parse(body), parameters)
        engine = self._restricted()
        references = _cube_references(statement, cube_tables(engine))
        if not references:
            lines = ["Catalog query (pg_catalog / information_schema), answered by the SQL listener"]
        else:
            lines = []
            for table, cube in references:
                inner = table.parent_select
                assert isinstance(inner, exp.Select)
                lines += explain_select(engine, plan_select(engine, inner, cube))
            if len(references) > 1 or references[0][0].parent_select is not statement:
                lines.append("Then the rest of the statement runs over those answers (DuckDB, in the listener)")
        return StatementResult("EXPLAIN", [("QUERY PLAN", "text")], [(line,) for line in lines])


def _cube_references(statement: exp.Expression, tables: dict[str, CubeTable]) -> list[tuple[exp.Table, CubeTable]]:
    """The cube tables a statement reads, each with its FROM; refuses unknown tables, and cubes beside catalogs."""
    ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
    references, catalog = [], False
    for table in statement.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier) or is_catalog_table(table):  # a table function, or catalog
            catalog = True
            continue
        schema = table.db.lower() if table.db else ""
        name = table.name
        if not schema and name.lower() in ctes:
            continue
        match = tables.get(name) or next((t for n, t in tables.items() if n.lower() == name.lower()), None)
        if match is None or schema not in ("", "public"):
            raise SqlUnknownTableError(f'relation "{table.sql(dialect="postgres")}" does not exist', table=name)
        references.append((table, match))
    if references and catalog:
        raise SqlUnsupportedError("a query may not read cube tables and catalog tables together")
    for table, _ in references:
        inner = table.parent_select
        if not isinstance(inner, exp.Select) or len(list(inner.find_all(exp.Table))) != 1 or inner.args.get("joins"):
            raise SqlUnsupportedError(
                "each cube table is read by a SELECT of its own (FROM the cube alone); join or wrap those SELECTs"
            )
    return references


def _composite(engine: Any, statement: exp.Expression, tables: dict[str, CubeTable]) -> CatalogResult:
    """A statement over cube SELECTs (wrapped in a subquery, joined, in a CTE): each cube SELECT is answered by
    the engine, then the rest of the statement runs over those answers in a DuckDB of its own."""
    statement = statement.copy()
    references = _cube_references(statement, tables)
    database = duckdb.connect(":memory:", config={"threads": 1})
    try:
        for index, (table, cube) in enumerate(references):
            inner = table.parent_select
            assert isinstance(inner, exp.Select)
            answer = answer_select(engine, plan_select(engine, inner, cube))
            name = f"cube_answer_{index}"
            columns = ", ".join(f'"{n}" {_duckdb_type(t)}' for n, t in answer.columns)
            database.execute(f"CREATE TABLE {name} ({columns})")
            if answer.rows:
                marks = ", ".join("?" for _ in answer.columns)
                database.executemany(f"INSERT INTO {name} VALUES ({marks})", [list(row) for row in answer.rows])
            inner.replace(exp.select("*").from_(name))
        cursor = database.execute(statement.sql(dialect="duckdb"))
        description = cursor.description or []
        rows = [tuple(row) for row in cursor.fetchall()]
    finally:
        database.close()
    return CatalogResult([(column[0], str(column[1])) for column in description], rows)


def _duckdb_type(sql_type: str) -> str:
    return "DOUBLE" if sql_type.upper() == "DECIMAL" else sql_type


def _bind(statement: exp.Expression, parameters: list[Any]) -> exp.Expression:
    """``$n`` replaced by the n-th bound value, as a literal of its type."""
    if not parameters and not statement.find(exp.Parameter, exp.Placeholder):
        return statement

    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Parameter | exp.Placeholder):
            index_text = node.name if isinstance(node, exp.Placeholder) else node.this.name
            if not str(index_text).isdigit():
                return node
            index = int(index_text) - 1
            if not 0 <= index < len(parameters):
                raise SessionError("08P01", f"there is no parameter ${index + 1}")
            return _literal(parameters[index])
        return node

    return statement.transform(replace)


def _literal(value: Any) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    if hasattr(value, "is_finite"):  # Decimal
        return exp.Literal.number(str(value))
    if hasattr(value, "isoformat"):
        return exp.Literal.string(value.isoformat())
    return exp.Literal.string(str(value))


def _cursor_name(text: str) -> str:
    text = text.strip()
    return text[1:-1].replace('""', '"') if len(text) > 1 and text[0] == text[-1] == '"' else text.lower()


def _names_catalog(text: str) -> bool:
    lowered = text.lower()
    return "pg_catalog." in lowered or "information_schema." in lowered


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
