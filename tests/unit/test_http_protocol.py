"""The server's HTTP protocol: a response's writes leave in one piece, and nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import Receive, Scope, Send

from aimall_cart.http_protocol import HttpProtocol, TurnBufferedTransport


class RecordingTransport(asyncio.Transport):
    """Remembers every write and whether it was closed or aborted."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed, "written after close"
        self.written.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def get_write_buffer_size(self) -> int:
        return 0


async def _next_turn() -> None:
    await asyncio.sleep(0)


async def test_writes_of_one_turn_leave_as_one_at_its_end() -> None:
    inner = RecordingTransport()
    transport = TurnBufferedTransport(inner, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"body")
    assert inner.written == []
    assert transport.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\nbody")
    await _next_turn()
    assert inner.written == [b"HTTP/1.1 200 OK\r\n\r\nbody"]


async def test_writes_of_separate_turns_leave_separately_and_in_order() -> None:
    inner = RecordingTransport()
    transport = TurnBufferedTransport(inner, asyncio.get_running_loop())
    for chunk in (b"one", b"two", b"three"):
        transport.write(chunk)
        await _next_turn()
    assert inner.written == [b"one", b"two", b"three"]


async def test_close_sends_what_is_held_first() -> None:
    inner = RecordingTransport()
    transport = TurnBufferedTransport(inner, asyncio.get_running_loop())
    transport.write(b"last words")
    transport.close()
    assert inner.written == [b"last words"]
    assert inner.closed
    await _next_turn()  # the turn's own send finds nothing left to send
    assert inner.written == [b"last words"]


async def test_abort_drops_what_is_held() -> None:
    inner = RecordingTransport()
    transport = TurnBufferedTransport(inner, asyncio.get_running_loop())
    transport.write(b"never sent")
    transport.abort()
    await _next_turn()
    assert inner.written == []
    assert inner.aborted


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    """Head and body as separate messages; ``/stream`` sends its body in parts, a turn apart."""
    assert scope["type"] == "http"
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"a", b"b"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await _next_turn()
        await send({"type": "http.response.body", "body": b"c"})
    else:
        body = scope["path"].encode()
        length = (b"content-length", str(len(body)).encode())
        await send({"type": "http.response.start", "status": 200, "headers": [length]})
        await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def _server() -> AsyncIterator[int]:
    config = uvicorn.Config(_app, host="127.0.0.1", port=0, http=HttpProtocol, log_level="error")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "the server did not start within 5 s"
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


async def _exchange(
    writer: asyncio.StreamWriter, reader: asyncio.StreamReader, request: bytes
) -> bytes:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head:
        return head + await reader.readuntil(b"0\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.startswith(b"content-length")
    )
    return head + await reader.readexactly(length)


async def test_a_real_server_answers_whole_on_kept_and_closed_connections() -> None:
    async with _server() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        first = await asyncio.wait_for(
            _exchange(writer, reader, b"GET /first HTTP/1.1\r\nhost: x\r\n\r\n"), 5
        )
        streamed = await asyncio.wait_for(
            _exchange(writer, reader, b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n"), 5
        )
        writer.write(b"GET /last HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        last = await asyncio.wait_for(reader.read(), 5)  # the server closes after answering
        writer.close()
    assert first.startswith(b"HTTP/1.1 200 OK\r\n")
    assert first.endswith(b"/first")
    assert streamed.endswith(b"1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n")
    assert last.startswith(b"HTTP/1.1 200 OK\r\n")
    assert last.endswith(b"/last")
