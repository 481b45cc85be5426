"""The PostgreSQL wire protocol over asyncio, with pygwire's codec: startup, password, simple and extended query.

Authentication: the password is an API key (or a bearer JWT), checked by the server's
``AccessControl`` exactly as the HTTP API checks a key; the user name is free. When anonymous access
is on, the user ``anonymous`` connects without a password. The password is asked in clear text (the
only way to learn the key itself): keep the listener on loopback, or behind a TLS-terminating proxy.

Each connection is one asyncio task; statements run in worker threads, so a long query does not
hold up other connections.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
from pygwire import BackendConnection
from pygwire import messages as pg
from pygwire.constants import TransactionStatus
from pygwire.exceptions import PygwireError

from api.sql.catalog import PG_TYPES, pg_type_of, type_modifier
from api.sql.session import CatalogCache, SessionError, SqlSession, StatementResult
from api.sql.sqlstate import NOT_READY, sqlstate_of
from api.sql.values import parameter_value, text_of
from cube_models.errors import CubeError, InternalError
from cube_server.access import AccessControl
from cube_server.access.rate_limit import RateLimiter
from cube_server.access.roles import Principal
from cube_server.audit import AuditLog
from cube_server.engine import CubeEngine
from cube_server.errors import SqlUnsupportedError, UnauthenticatedError

log = logging.getLogger("cube_server.sql")
ANONYMOUS_USER = "anonymous"
READ_SIZE = 65_536
DUCKDB_SQLSTATES = {"BinderException": "42703", "CatalogException": "42P01", "ParserException": "42601",
                    "ConversionException": "22P02", "InvalidInputException": "22023"}  # fmt: skip
STATUS = {"I": TransactionStatus.IDLE, "T": TransactionStatus.IN_TRANSACTION, "E": TransactionStatus.ERROR_TRANSACTION}


class NotReadyError(CubeError):
    code = "not_ready"


@dataclass(slots=True)
class Prepared:
    sql: str
    parameter_types: list[int]


@dataclass(slots=True)
class Portal:
    prepared: Prepared
    parameters: list[Any]
    result: StatementResult | None = None
    sent: int = 0  # rows already sent by Execute with a row limit


@dataclass(slots=True)
class ClientState:
    session: SqlSession | None = None
    statements: dict[str, Prepared] = field(default_factory=dict)
    portals: dict[str, Portal] = field(default_factory=dict)
    skipping: bool = False  # after an error in an extended-query batch, until Sync
    startup: dict[str, str] | None = None  # the startup message's parameters, until authenticated
    address: str | None = None  # the client's host (anonymous callers' rate limit is by address)


class SqlListener:
    """Serves the cube tables over the PostgreSQL protocol on ``host:port`` (``port`` 0: any free port)."""

    def __init__(
        self,
        engine: Callable[[], CubeEngine | None],
        access: AccessControl,
        host: str,
        port: int,
        database: str,
        rate_limiter: RateLimiter | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self._engine = engine
        self._access = access
        self._rate_limiter = rate_limiter  # the HTTP API's: a principal's SQL and HTTP requests share its limit
        self._audit = audit  # who read which cube, beside the HTTP API's reads
        self.host = host
        self.port = port
        self.database = database
        self._catalogs = CatalogCache()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None

    # ---- running in a thread of its own ---------------------------------------------------------
    def start(self) -> None:
        """Listen in a daemon thread; returns once the port is bound (raises if it cannot be)."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(asyncio.start_server(self._client, self.host, self.port))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # the caller reports it
                failure.append(exc)
                loop.close()
                ready.set()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                for task in asyncio.all_tasks(loop):
                    task.cancel()
                loop.run_until_complete(asyncio.sleep(0))
                loop.close()

        self._thread = threading.Thread(target=run, name="sql-listener", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]

    def stop(self) -> None:
        """Stop listening and close the connections (for tests; a server process just exits)."""
        loop, server = self._loop, self._server
        if loop is None or server is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)

    # ---- one client ----------------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = BackendConnection(strict=False)
        peer = writer.get_extra_info("peername")
        state = ClientState(address=peer[0] if isinstance(peer, tuple) else None)
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    return
                for message in connection.receive(data):
                    if isinstance(message, pg.Terminate):
                        return
                    keep_going = await self._handle(message, connection, state, writer)
                    if not keep_going:
                        return
                await writer.drain()
        except (ConnectionError, PygwireError) as exc:
            log.info("SQL client disconnected: %s", exc)
        finally:
            writer.close()

    def _send(self, connection: BackendConnection, writer: asyncio.StreamWriter, *messages: pg.PGMessage) -> None:
        for message in messages:
            writer.write(connection.send(message))

    async def _handle(
        self, message: pg.PGMessage, connection: BackendConnection, state: ClientState, writer: asyncio.StreamWriter
    ) -> bool:
        send = lambda *messages: self._send(connection, writer, *messages)  # noqa: E731
        if isinstance(message, pg.SSLRequest):
            send(pg.SSLResponse(accepted=False))
            return True
        if isinstance(message, pg.GSSEncRequest):
            send(pg.GSSResponse(accepted=False))
            return True
        if isinstance(message, pg.CancelRequest):
            return False  # queries are bounded by the query timeout; a cancel closes its own connection only
        if isinstance(message, pg.StartupMessage):
            return self._start(message, state, send)
        if isinstance(message, pg.PasswordMessage):
            return self._password(message, state, send)
        session = state.session
        if session is None:
            send(_error("08P01", "authentication first", fatal=True))
            return False
        if isinstance(message, pg.Query):
            await self._simple_query(message.query_string, session, send)
            send(pg.ReadyForQuery(status=STATUS[session.status]))
            return True
        if isinstance(message, pg.Sync):
            state.skipping = False
            state.portals.pop("", None)
            send(pg.ReadyForQuery(status=STATUS[session.status]))
            return True
        if isinstance(message, pg.Flush):
            return True
        if state.skipping:
            return True
        try:
            await self._extended(message, session, state, send)
        except Exception as exc:  # every error is the client's answer; the batch is skipped to Sync
            state.skipping = True
            send(self._error_of(exc))
        return True

    # ---- startup and authentication -------------------------------------------------------------
    def _start(self, message: pg.StartupMessage, state: ClientState, send: Callable[..., None]) -> bool:
        parameters = dict(message.params)
        state.startup = parameters
        user = parameters.get("user", "")
        if self._access.open_access or (user == ANONYMOUS_USER and self._access.anonymous_roles is not None):
            return self._authenticated(self._access.authenticate(None), parameters, state, send)
        send(pg.AuthenticationCleartextPassword())
        return True

    def _password(self, message: pg.PasswordMessage, state: ClientState, send: Callable[..., None]) -> bool:
        parameters = state.startup
        if parameters is None:
            send(_error("08P01", "a password before the startup message", fatal=True))
            return False
        password = message.password.decode() if isinstance(message.password, bytes) else message.password
        try:
            principal = self._access.authenticate(password.rstrip("\x00") or None)
        except UnauthenticatedError as exc:
            send(_error("28P01", f'password authentication failed for user "{parameters.get("user", "")}": '
                        f"{exc.message}", fatal=True))  # fmt: skip
            return False
        return self._authenticated(principal, parameters, state, send)

    def _authenticated(
        self, principal: Principal, parameters: dict[str, str], state: ClientState, send: Callable[..., None]
    ) -> bool:
        user = parameters.get("user", principal.name)
        limiter, address, audit = self._rate_limiter, state.address, self._audit

        def charge(cubes: list[str]) -> None:
            if limiter is not None:
                limiter.charge(principal, address)
            if audit is not None:
                for cube in cubes:
                    audit.record("read", via="sql", principal=principal.name, principal_kind=principal.kind,
                                 user=user, client=address, cube=cube)  # fmt: skip

        state.session = SqlSession(
            self._engine_or_error, principal, self._catalogs, user=user,
            database=parameters.get("database") or self.database, parameters=parameters, charge=charge,
        )  # fmt: skip
        send(pg.AuthenticationOk())
        for name, value in state.session.reported_settings().items():
            send(pg.ParameterStatus(name=name, value=value))
        send(pg.BackendKeyData(process_id=os.getpid() & 0x7FFFFFFF, secret_key=secrets.token_bytes(4)))
        send(pg.ReadyForQuery(status=TransactionStatus.IDLE))
        log.info("SQL session for %s (user %s)", principal.name, user)
        return True

    def _engine_or_error(self) -> CubeEngine:
        engine = self._engine()
        if engine is None:
            raise NotReadyError("the cube server is still loading its cubes; connect again shortly")
        return engine

    # ---- queries -------------------------------------------------------------------------------
    async def _simple_query(self, sql: str, session: SqlSession, send: Callable[..., None]) -> None:
        try:
            statements = SqlSession.split(sql)
        except Exception as exc:
            send(self._error_of(exc))
            return
        for statement in statements:
            try:
                result = await asyncio.to_thread(session.execute, statement)
            except Exception as exc:
                send(self._error_of(exc))
                return
            if result.empty:
                send(pg.EmptyQueryResponse())
                continue
            if result.columns is not None:
                send(_row_description(result.columns))
                for row in result.rows:
                    send(pg.DataRow(columns=[text_of(value) for value in row]))
            send(pg.CommandComplete(tag=result.tag))

    async def _extended(
        self, message: pg.PGMessage, session: SqlSession, state: ClientState, send: Callable[..., None]
    ) -> None:
        if isinstance(message, pg.Parse):
            if len(SqlSession.split(message.query)) > 1:
                raise SessionError("42601", "cannot insert multiple commands into a prepared statement")
            count = _parameter_count(message.query)
            types = list(message.param_types) + [0] * max(0, count - len(message.param_types))
            state.statements[message.statement] = Prepared(message.query, types)
            send(pg.ParseComplete())
        elif isinstance(message, pg.Bind):
            prepared = self._statement(state, message.statement)
            formats = message.param_formats or [0]
            values = [
                parameter_value(raw, prepared.parameter_types[i] if i < len(prepared.parameter_types) else 0,
                                (formats[i] if len(formats) > 1 else formats[0]) == 1)
                for i, raw in enumerate(message.param_values)
            ]  # fmt: skip
            if any(code == 1 for code in message.result_formats):
                raise SqlUnsupportedError("binary result columns are not supported; ask for text results")
            state.portals[message.portal] = Portal(prepared, values)
            send(pg.BindComplete())
        elif isinstance(message, pg.Describe):
            if message.kind == "S":
                prepared = self._statement(state, message.name)
                send(pg.ParameterDescription(type_oids=[t or PG_TYPES["text"][0] for t in prepared.parameter_types]))
                columns = await asyncio.to_thread(session.describe, prepared.sql, len(prepared.parameter_types))
                send(_row_description(columns) if columns else pg.NoData())
            elif message.name not in state.portals and message.name in session.cursors:  # a DECLAREd cursor
                send(_row_description(session.cursors[message.name].result.columns))
            else:
                portal = self._portal(state, message.name)
                result = await self._run_portal(portal, session)
                send(_row_description(result.columns) if result.columns is not None else pg.NoData())
        elif isinstance(message, pg.Execute):
            portal = self._portal(state, message.portal)
            result = await self._run_portal(portal, session)
            if result.empty:
                send(pg.EmptyQueryResponse())
                return
            rows = result.rows[portal.sent :]
            if message.max_rows and len(rows) > message.max_rows:
                rows = rows[: message.max_rows]
                portal.sent += len(rows)
                for row in rows:
                    send(pg.DataRow(columns=[text_of(value) for value in row]))
                send(pg.PortalSuspended())
                return
            for row in rows:
                send(pg.DataRow(columns=[text_of(value) for value in row]))
            portal.sent += len(rows)
            send(pg.CommandComplete(tag=result.tag))
        elif isinstance(message, pg.Close):
            (state.statements if message.kind == "S" else state.portals).pop(message.name, None)
            send(pg.CloseComplete())
        else:
            raise SessionError("08P01", f"unexpected message {type(message).__name__}")

    async def _run_portal(self, portal: Portal, session: SqlSession) -> StatementResult:
        if portal.result is None:
            portal.result = await asyncio.to_thread(session.execute, portal.prepared.sql, portal.parameters)
        return portal.result

    @staticmethod
    def _statement(state: ClientState, name: str) -> Prepared:
        if name not in state.statements:
            raise SessionError("26000", f'prepared statement "{name}" does not exist')
        return state.statements[name]

    @staticmethod
    def _portal(state: ClientState, name: str) -> Portal:
        if name not in state.portals:
            raise SessionError("34000", f'portal "{name}" does not exist')
        return state.portals[name]

    @staticmethod
    def _error_of(error: BaseException) -> pg.ErrorResponse:
        if isinstance(error, SessionError):
            return _error(error.sqlstate, error.message)
        if isinstance(error, NotReadyError):
            return _error(NOT_READY, error.message)
        if isinstance(error, CubeError) and not isinstance(error, InternalError):
            return _error(sqlstate_of(error), error.message)  # the caller's to fix, or an answer (a timeout)
        if isinstance(error, duckdb.Error):
            # a catalog query, or the statement around cube SELECTs, that DuckDB could not run: say why
            log.info("SQL statement failed in DuckDB: %s", error)
            return _error(DUCKDB_SQLSTATES.get(type(error).__name__, "0A000"), f"cannot run this: {_first_line(error)}")
        log.exception("SQL statement failed", exc_info=error)
        return _error("XX000", "internal error; the server log has the details")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _error(sqlstate: str, message: str, *, fatal: bool = False) -> pg.ErrorResponse:
    severity = "FATAL" if fatal else "ERROR"
    return pg.ErrorResponse(fields={"S": severity, "V": severity, "C": sqlstate, "M": message})


def _row_description(columns: list[tuple[str, str]] | None) -> pg.RowDescription:
    fields = []
    for name, sql_type in columns or []:
        type_name = pg_type_of(sql_type) if sql_type.lower() not in PG_TYPES else sql_type.lower()
        oid, _, length, _, _ = PG_TYPES[type_name]
        fields.append(
            pg.FieldDescription(
                name=name, type_oid=oid, type_size=length, type_modifier=type_modifier(sql_type), format_code=0
            )
        )
    return pg.RowDescription(fields=fields)


def _parameter_count(sql: str) -> int:
    """The highest ``$n`` in a statement (its number of parameters when the client declares none)."""
    numbers = [int(n) for n in re.findall(r"\$(\d+)", sql)]
    return max(numbers, default=0)
