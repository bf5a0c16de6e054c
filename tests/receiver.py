"""A real HTTP/1.1 webhook receiver on loopback, for tests of outbox delivery."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

HANG_LIMIT_SECONDS = 5.0  # a hanging request is released by then at the latest
HTTP_STATUS = {200: "OK", 500: "Internal Server Error"}


@dataclass(frozen=True, slots=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


class Receiver:
    """A minimal HTTP/1.1 server on 127.0.0.1 that records every request.

    ``fail_next`` answers the next N requests with 500; ``hang_next`` holds the next N without
    answering until the receiver stops (or ``HANG_LIMIT_SECONDS`` pass), then drops them.
    """

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.arrived = asyncio.Event()  # set by every request
        self.fail_next = 0
        self.hang_next = 0
        self.url = ""
        self._release = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hooks/orders"

    async def stop(self) -> None:
        assert self._server is not None
        self._release.set()
        self._server.close()
        for writer in list(self._writers):
            writer.close()  # the handler reading the next request sees end of stream
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=HANG_LIMIT_SECONDS)
        await self._server.wait_closed()

    def ids(self) -> list[str]:
        return [request.headers["x-event-id"] for request in self.requests]

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._handlers.discard(task)

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; answers whether to keep the connection open."""
        request_line = await reader.readline()
        if not request_line.strip():
            return False
        method, path, _ = request_line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append(Received(method, path, headers, body))
        self.arrived.set()
        if self.hang_next:
            self.hang_next -= 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), HANG_LIMIT_SECONDS)
            return False
        status = 200
        if self.fail_next:
            self.fail_next -= 1
            status = 500
        writer.write(
            f"HTTP/1.1 {status} {HTTP_STATUS[status]}\r\n"
            "Content-Length: 0\r\nConnection: keep-alive\r\n\r\n".encode()
        )
        await writer.drain()
        return True
