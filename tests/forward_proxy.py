"""A real forward proxy on loopback for the proxy tests: CONNECT tunnels (https) and absolute-form
requests (http), optional Basic auth, and a record of what it was asked and what it carried."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_HOP_BY_HOP = {"proxy-authorization", "proxy-connection", "connection", "keep-alive"}


@dataclass
class Seen:
    """One request the proxy received: ``CONNECT host:port`` or ``GET http://...``."""

    method: str
    target: str
    headers: dict[str, str]
    # What went from the client to the server through a tunnel (TLS bytes for https).
    tunnelled: bytearray = field(default_factory=bytearray)


class ForwardProxy:
    def __init__(self, *, auth: tuple[str, str] | None = None) -> None:
        self.auth = auth
        self.seen: list[Seen] = []
        self.refused = 0  # 407s: requests without the right credentials
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None

    def url(self, *, credentials: bool = True) -> str:
        user = f"{self.auth[0]}:{self.auth[1]}@" if self.auth and credentials else ""
        return f"http://{user}127.0.0.1:{self.port}"

    def targets(self) -> list[str]:
        return [f"{s.method} {s.target}" for s in self.seen]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _ = line.split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines if h)}
        seen = Seen(method, target, headers)
        self.seen.append(seen)
        if self.auth is not None:
            token = base64.b64encode(":".join(self.auth).encode()).decode()
            if headers.get("proxy-authorization") != f"Basic {token}":
                self.refused += 1
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return True
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await asyncio.gather(
                _pipe(reader, up_writer, seen.tunnelled), _pipe(up_reader, writer, bytearray())
            )
            return False
        url = urlsplit(target)
        up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port or 80)
        kept = [h for h in header_lines if h and h.split(":", 1)[0].strip().lower() not in _HOP_BY_HOP]
        path = url.path + (f"?{url.query}" if url.query else "")
        up_writer.write(
            "\r\n".join([f"{method} {path} HTTP/1.1", *kept, "Connection: close", "", ""]).encode()
        )
        await up_writer.drain()
        await _pipe(up_reader, writer, bytearray())
        return False

    @contextmanager
    def running(self) -> Iterator[ForwardProxy]:
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
            self.port = self._server.sockets[0].getsockname()[1]
            started.set()
            self._loop.run_forever()

        thread = threading.Thread(target=run, name="forward-proxy", daemon=True)
        thread.start()
        started.wait(10)
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            thread.join(10)
            self._loop.close()

    async def _shutdown(self) -> None:
        """Close the server and end the connections still open (kept-alive ones, tunnels)."""
        assert self._server is not None
        self._server.close()
        handlers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: bytearray) -> None:
    try:
        while chunk := await reader.read(65536):
            record.extend(chunk)
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
