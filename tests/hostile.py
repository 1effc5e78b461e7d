"""A small hostile HTTP server for tests: a real socket server on 127.0.0.1 that answers what
the emulator never would (huge and endless bodies, trickles, nested JSON, odd numbers).

    with HostileServer(answer) as server:   # answer(conn, request) writes whatever it likes
        server.base_url, server.requests, server.bytes_sent
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any


@dataclass
class Received:
    """One request as it reached the server."""

    at: float
    head: str
    headers: dict[str, str] = field(default_factory=dict)


class Conn:
    """The server's side of one connection: counts what it sends, stops when the client left."""

    def __init__(self, sock: socket.socket, server: HostileServer) -> None:
        self.sock = sock
        self.server = server

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)
        with self.server.lock:
            self.server.bytes_sent += len(data)


Answer = Callable[[Conn, Received], None]


def response(status: int, body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> bytes:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(raw)}", "Content-Type: application/json"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + raw


def answer_with(status: int, body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> Answer:
    data = response(status, body, headers)
    return lambda conn, request: conn.send(data)


def huge_body(size: int) -> Answer:
    """200 with a Content-Length of ``size`` bytes, sent for as long as the client reads."""

    def answer(conn: Conn, request: Received) -> None:
        conn.send(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
        block = b"x" * 65536
        for _ in range(size // len(block)):
            conn.send(block)

    return answer


def compressed_bomb(size: int) -> Answer:
    """200 with a short gzip body that inflates to ``size`` bytes, its compressed length declared."""
    import gzip

    data = response(200, gzip.compress(b" " * size), {"Content-Encoding": "gzip"})
    return lambda conn, request: conn.send(data)


def endless_chunks(conn: Conn, request: Received) -> None:
    conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b"[" * 65536 + b"\r\n"
    while True:
        conn.send(chunk)


def trickle(data: bytes, every: float) -> Answer:
    """``data`` one byte at a time, ``every`` seconds apart."""

    def answer(conn: Conn, request: Received) -> None:
        for byte in data:
            conn.send(bytes([byte]))
            if conn.server.stopped.wait(every):
                return

    return answer


def silent(conn: Conn, request: Received) -> None:
    """Reads the request and never answers (until the client goes)."""
    conn.sock.recv(1)


class HostileServer:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[Received] = []
        self.bytes_sent = 0
        self.answers_ended = 0
        self.lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        # Set here, not in the accept thread: a test that ends at once closes the listener
        # before that thread runs, and settimeout on a closed socket raises there.
        self._listener.settimeout(0.1)
        self.stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def connection(self, api_key: str = "hostile-test-key", **extra: Any) -> dict[str, Any]:
        return {"conn_type": "octopods", "host": self.base_url, "password": api_key, "extra": extra}

    def __enter__(self) -> HostileServer:
        self._spawn(self._accept)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stopped.set()
        self._listener.close()
        for sock in self._socks:  # wakes an answer blocked in a send or a read
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=10)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._socks.append(sock)
            self._spawn(self._serve, sock)

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(0.2)
        buffer = b""
        with sock:
            while not self.stopped.is_set():
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    head, buffer = buffer.split(b"\r\n\r\n", 1)
                    request = self._received(head.decode("latin-1"))
                    try:
                        sock.settimeout(None)
                        self.answer(Conn(sock, self), request)
                        sock.settimeout(0.2)
                    except OSError:  # the client closed or reset: what a capped read does
                        return
                    finally:
                        with self.lock:
                            self.answers_ended += 1

    def _received(self, head: str) -> Received:
        lines = head.split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        request = Received(at=time.time(), head=lines[0], headers=headers)
        with self.lock:
            self.requests.append(request)
        return request
