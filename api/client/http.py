"""The blocking and the asyncio client: send each :class:`~api.client.calls.Call` over httpx.

Table answers are requested as Arrow IPC streams. The blocking client reads the stream while it
arrives (the server streams members and facts batch by batch), so a large page is never held twice.
"""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import httpx
import pyarrow as pa

from api.client.calls import ARROW_MEDIA_TYPE, Call, CubeOperations
from api.client.errors import CubeClientError, TransportError, error_from_response
from api.client.result import CubeResult, result_from_arrow

USER_AGENT = "cube-server-client/0.1"
# The Arrow stream's end marker (continuation token, zero length). The server writes it only after the last
# batch: a stream cut short midway lacks it, even where the HTTP body itself ended cleanly.
END_OF_STREAM = b"\xff\xff\xff\xff\x00\x00\x00\x00"


class CubeClient(CubeOperations[CubeResult, Any]):
    """A blocking client for a cube server's ``/v1`` API::

        with CubeClient("http://127.0.0.1:8000") as cubes:
            result = cubes.drilldown("fixed_line_revenue", "time", cut={"time": [2025]}, measures=["revenue"])
            frame = result.to_pandas()

    ``transport`` or ``http`` (an ``httpx.Client`` of your own, e.g. with authentication) are passed
    to httpx; ``timeout`` is in seconds (``None``: wait for as long as the server takes).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float | None = 60.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self._owns_http = http is None
        self._http = http or httpx.Client(
            base_url=base_url,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            transport=transport,
        )

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> CubeClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _json(self, call: Call) -> Any:
        method, path, params, body = call.as_request()
        try:
            response = self._http.request(method, path, params=params, json=body)
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc
        if not response.is_success:
            raise error_from_response(response.status_code, response.content, response.headers)
        return json.loads(response.content, parse_float=Decimal)

    def _table(self, call: Call) -> CubeResult:
        method, path, params, body = call.as_request()
        headers = {"Accept": ARROW_MEDIA_TYPE}
        try:
            with self._http.stream(method, path, params=params, json=body, headers=headers) as response:
                if not response.is_success:
                    raise error_from_response(response.status_code, response.read(), response.headers)
                check_arrow(response)
                chunks = ByteChunks(response.iter_bytes())
                table = read_arrow(io.BufferedReader(chunks), chunks.tail, response.headers, chunks.broken)
                return result_from_arrow(table, response.headers)
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc


class AsyncCubeClient(CubeOperations[Awaitable[CubeResult], Awaitable[Any]]):
    """The same operations as :class:`CubeClient`, awaitable (``async with AsyncCubeClient(url) as c:``)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float | None = 60.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            transport=transport,
        )

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncCubeClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    def _json(self, call: Call) -> Awaitable[Any]:
        return self._send_json(call)

    def _table(self, call: Call) -> Awaitable[CubeResult]:
        return self._send_table(call)

    async def _send_json(self, call: Call) -> Any:
        method, path, params, body = call.as_request()
        try:
            response = await self._http.request(method, path, params=params, json=body)
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc
        if not response.is_success:
            raise error_from_response(response.status_code, response.content, response.headers)
        return json.loads(response.content, parse_float=Decimal)

    async def _send_table(self, call: Call) -> CubeResult:
        method, path, params, body = call.as_request()
        headers = {"Accept": ARROW_MEDIA_TYPE}
        try:
            async with self._http.stream(method, path, params=params, json=body, headers=headers) as response:
                received = bytearray()
                broken: httpx.TransportError | None = None
                try:
                    async for chunk in response.aiter_bytes():
                        received += chunk
                except httpx.TransportError as exc:  # after the status: the rows so far tell how far it got
                    broken = exc
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc
        content = bytes(received)
        if not response.is_success:
            raise error_from_response(response.status_code, content, response.headers)
        check_arrow(response)
        table = read_arrow(io.BytesIO(content), lambda: content[-8:], response.headers, lambda: broken)
        return result_from_arrow(table, response.headers)


class ByteChunks(io.RawIOBase):
    """A readable file over an iterator of byte chunks (an HTTP body as it arrives), for pyarrow."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")
        self._tail = b""
        self._broken: httpx.TransportError | None = None

    def broken(self) -> httpx.TransportError | None:
        """The transport error that ended the body early (the server aborted it), if one did."""
        return self._broken

    def tail(self) -> bytes:
        """The last 8 bytes received so far."""
        return self._tail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                chunk = next(self._chunks, None)
            except httpx.TransportError as exc:  # the reader sees the end; read_arrow reports it cut short
                self._broken = exc
                chunk = None
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
            self._tail = (self._tail + chunk[-8:])[-8:]
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def check_arrow(response: httpx.Response) -> None:
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if media_type != ARROW_MEDIA_TYPE:
        raise CubeClientError(
            f"expected an Arrow stream, got {media_type or 'no content type'}",
            code="invalid_response",
            status=response.status_code,
            request_id=response.headers.get("x-request-id"),
        )


def read_arrow(
    source: Any,
    tail: Callable[[], bytes],
    headers: Mapping[str, str],
    broken: Callable[[], BaseException | None] = lambda: None,
) -> pa.Table:
    """The whole table, or :class:`TransportError` (``incomplete_answer``) when the stream stopped before its
    end marker: the server aborted it midway (``broken``), or its body ended without the marker."""
    request_id = headers.get("x-request-id")
    batches: list[pa.RecordBatch] = []
    try:
        reader = pa.ipc.open_stream(source)
        batches.extend(reader)
    except pa.ArrowInvalid as exc:
        if broken() is None and not batches:
            raise TransportError(
                f"the Arrow stream is unreadable: {exc}", code="incomplete_answer", status=200, request_id=request_id
            ) from exc
        cut_short = True
    else:
        cut_short = broken() is not None or tail() != END_OF_STREAM
    if cut_short:
        rows = sum(batch.num_rows for batch in batches)
        raise TransportError(
            f"the answer stopped after {rows} rows, before the end of its Arrow stream; the server's log "
            f"says why (request id {request_id})",
            code="incomplete_answer",
            status=200,
            request_id=request_id,
        )
    return reader.read_all() if not batches else pa.Table.from_batches(batches, schema=reader.schema)


def transport_error(exc: httpx.TransportError) -> TransportError:
    if isinstance(exc, httpx.TimeoutException):
        code = "client_timeout"
    elif isinstance(exc, httpx.ConnectError):
        code = "connection_failed"
    else:
        code = "transport_error"  # e.g. the connection closed before the answer was complete
    return TransportError(f"{type(exc).__name__}: {exc}", code=code, status=None)
