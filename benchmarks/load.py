"""A small HTTP/1.1 load generator in one thread, on non-blocking sockets and a
selector: open loop at a fixed rate (wrk2-style) and closed loop for the maximum rate.

Open loop: request i is due at start + i / rate and is sent then, whatever the
server is doing (a new connection is opened when every open one is busy), and its
latency is counted from that scheduled instant, not from when it was actually
written. A stalled server or a late generator therefore shows up in the
percentiles instead of silently lowering the rate (no coordinated omission).
Closed loop: `concurrency` clients, each sending its next request as soon as it has
the answer to the last.

Not asyncio: what the generator spends on a request lies inside the latency it
measures, and on the cores the server shares with it. Its first version, on asyncio
streams, added about 0.4 ms to the median and up to 1 ms to the 99th percentile of
every server measured, and took twice the CPU (benchmarks/README.md).

Requests are prepared as raw bytes before the clock starts, so signing and
encoding cost nothing during the measurement. Everything is bounded: a request
gives up after `timeout` seconds, a run after its duration plus that timeout.
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from benchmarks.harness import percentile

TIMER_SLACK = 0.0008


def form_post(
    host: str, port: int, path: str, form: dict[str, str], headers: dict[str, str] | None = None
) -> bytes:
    """The bytes of a POST of `form` (application/x-www-form-urlencoded) to `path`."""
    body = urlencode(form).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "User-Agent: cordial-bench",
        "Content-Type: application/x-www-form-urlencoded",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class LoadResult:
    mode: str
    seconds: float  # from the first scheduled send to the last answer
    sent: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, completed requests only
    sent_at: list[float] = field(default_factory=list)  # when each of those was due (perf_counter)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    generator_cpu_seconds: float = 0.0
    connections_opened: int = 0
    bodies: dict[int, bytes] = field(default_factory=dict)  # one body per status, for checks
    send_lags: list[float] = field(default_factory=list)  # actual send - scheduled send

    @property
    def completed(self) -> int:
        return len(self.latencies)

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def failed(self) -> int:
        return self.sent - self.ok

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0


class _Exchange:
    """One request of the open loop, on its connection."""

    __slots__ = ("sock", "raw", "due", "began", "received", "keep", "written")

    def __init__(self, sock: socket.socket, raw: bytes, due: float, began: float) -> None:
        self.sock, self.raw, self.due, self.began = sock, raw, due, began
        self.received = bytearray()
        self.keep = False
        self.written = 0  # bytes of `raw` sent so far

    def answer(self, closed: bool) -> tuple[int, bytes] | None:
        """(status, body) once the whole answer is in (`closed`: the server closed the
        connection, which ends a body of no stated length); None before."""
        end = self.received.find(b"\r\n\r\n")
        if end < 0:
            return None
        status_line, *header_lines = bytes(self.received[:end]).decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        length, keep = None, status_line.startswith("HTTP/1.1")
        for header in header_lines:
            name, _, value = header.partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection":
                keep = value == "keep-alive" or (keep and value != "close")
        if length is None:  # the body runs until the server closes the connection
            if not closed:
                return None
            length, keep = len(self.received) - end - 4, False
        if len(self.received) < end + 4 + length:
            return None
        self.keep = keep and b"\r\nconnection: close" not in self.raw.lower()
        return status, bytes(self.received[end + 4 : end + 4 + length])


def _still_open(sock: socket.socket) -> bool:
    """Whether a kept-alive connection can carry another request (the server did not
    close it while it was idle)."""
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True  # nothing to read: open
    except OSError:
        return False


class _Client:
    """Requests in flight to one server, on non-blocking sockets and one selector."""

    def __init__(self, host: str, port: int, result: LoadResult) -> None:
        self.host, self.port, self.result = host, port, result
        self.selector = selectors.DefaultSelector()
        self.idle: list[socket.socket] = []  # kept-alive connections with nothing in flight
        self.pending: dict[socket.socket, _Exchange] = {}  # in the order they were sent
        self.finished = 0  # exchanges ended, answered or not

    def begin(self, raw: bytes, due: float, now: float) -> None:
        """Send `raw` (due at `due`) on a kept-alive or a new connection."""
        self.result.sent += 1
        sock = self._connection()
        if sock is None:
            self.finished += 1
            return
        exchange = _Exchange(sock, raw, due, now)
        self.pending[sock] = exchange
        self.selector.register(sock, selectors.EVENT_READ, exchange)
        self._send(exchange)

    def poll(self, wait: float) -> None:
        """Handle what the sockets have for up to `wait` seconds."""
        for key, events in self.selector.select(max(0.0, wait)) if self.pending else ():
            exchange = key.data
            if events & selectors.EVENT_WRITE:
                self._send(exchange)
                continue
            try:
                chunk = exchange.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError as error:
                self._finish(exchange, type(error).__name__, None)
                continue
            exchange.received += chunk
            try:
                answer = exchange.answer(closed=not chunk)
            except (ValueError, IndexError) as error:
                self._finish(exchange, type(error).__name__, None)
                continue
            if answer is not None or not chunk:
                self._finish(exchange, None, answer)

    def expire(self, began_before: float) -> None:
        """Give up the requests sent before `began_before`."""
        overdue = []
        for exchange in self.pending.values():  # in the order they were sent
            if exchange.began >= began_before:
                break
            overdue.append(exchange)
        for exchange in overdue:
            self._finish(exchange, "timeout", None)

    def close(self) -> None:
        for exchange in list(self.pending.values()):
            self._finish(exchange, "timeout", None)
        for sock in self.idle:
            sock.close()
        self.idle.clear()
        self.selector.close()

    def _connection(self) -> socket.socket | None:
        """A kept-alive connection still open, else a new one (None: it failed)."""
        while self.idle:
            sock = self.idle.pop()
            if _still_open(sock):
                return sock
            sock.close()
        sock = None
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            self.result.connections_opened += 1
            code = sock.connect_ex((self.host, self.port))
        except OSError as error:  # out of file descriptors, say
            self.result.errors[type(error).__name__] += 1
            if sock is not None:
                sock.close()
            return None
        if code not in (0, errno.EINPROGRESS):
            self.result.errors[errno.errorcode.get(code, str(code))] += 1
            sock.close()
            return None
        return sock

    def _send(self, exchange: _Exchange) -> None:
        try:
            while exchange.written < len(exchange.raw):
                exchange.written += exchange.sock.send(exchange.raw[exchange.written :])
        except BlockingIOError:  # still connecting, or a full buffer: wait until writable
            self.selector.modify(exchange.sock, selectors.EVENT_WRITE, exchange)
            return
        except OSError as error:
            self._finish(exchange, type(error).__name__, None)
            return
        self.selector.modify(exchange.sock, selectors.EVENT_READ, exchange)

    def _finish(
        self, exchange: _Exchange, error: str | None, answer: tuple[int, bytes] | None
    ) -> None:
        self.selector.unregister(exchange.sock)
        del self.pending[exchange.sock]
        self.finished += 1
        result = self.result
        if error is not None or answer is None:
            result.errors[error or "IncompleteRead"] += 1
            exchange.sock.close()
            return
        # From the schedule when sent late (the wait counts); from the send when sent a
        # little early (the selector's timeout is in whole milliseconds), so a latency
        # is never understated.
        sent = min(exchange.due, exchange.began)
        result.latencies.append(time.perf_counter() - sent)
        result.sent_at.append(sent)
        result.statuses[answer[0]] += 1
        result.bodies.setdefault(answer[0], answer[1])
        if exchange.keep:
            self.idle.append(exchange.sock)
        else:
            exchange.sock.close()


def open_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    rate: float,
    seconds: float,
    timeout: float = 5.0,
) -> LoadResult:
    """Send `rate` requests a second for `seconds`, on schedule; latency from the schedule."""
    result = LoadResult(mode=f"open {rate:g}/s", seconds=0.0)
    client = _Client(host, port, result)
    clock = time.perf_counter
    total = max(1, round(rate * seconds))
    cpu = time.process_time()
    start = clock() + 0.05
    give_up = start + seconds + timeout
    sent = 0
    try:
        while (sent < total or client.pending) and clock() < give_up:
            now = clock()
            while sent < total and start + sent / rate - TIMER_SLACK <= now:
                due = start + sent / rate
                result.send_lags.append(now - due)
                client.begin(requests[sent % len(requests)], due, now)
                sent += 1
                now = clock()
            next_due = start + sent / rate - TIMER_SLACK
            if client.pending:
                client.poll(next_due - clock() if sent < total else 0.05)
            elif sent < total:
                time.sleep(max(0.0, next_due - clock()))
            client.expire(clock() - timeout)
    finally:
        client.close()
    return _ended(result, start, cpu)


def slow_bursts(result: LoadResult, share: float = 0.99, gap: float = 0.1) -> tuple[int, int]:
    """The requests slower than the `share` percentile of latency, and how many bursts they
    make: a slow request sent within `gap` seconds of the previous slow one is in its burst.
    A few bursts mean a few moments when everything was slow (the machine); as many bursts
    as requests, a cost that some requests pay on their own."""
    if not result.latencies:
        return 0, 0
    threshold = percentile(result.latencies, share)
    slow = sorted(
        t for t, lat in zip(result.sent_at, result.latencies, strict=True) if lat > threshold
    )
    if not slow:
        return 0, 0
    bursts = 1 + sum(
        1 for before, after in zip(slow, slow[1:], strict=False) if after - before > gap
    )
    return len(slow), bursts


def _ended(result: LoadResult, start: float, cpu: float) -> LoadResult:
    """`result` with the run's duration since `start` and the generator's CPU since `cpu`."""
    result.seconds = time.perf_counter() - start
    result.generator_cpu_seconds = time.process_time() - cpu
    return result


def closed_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    concurrency: int,
    seconds: float,
    timeout: float = 5.0,
) -> LoadResult:
    """`concurrency` clients, each sending its next request as soon as it has the answer."""
    result = LoadResult(mode=f"closed x{concurrency}", seconds=0.0)
    client = _Client(host, port, result)
    clock = time.perf_counter
    cpu = time.process_time()
    start = clock()
    stop = start + seconds
    try:
        while clock() < stop + timeout:
            now = clock()
            # A client whose request ended (answered, failed or timed out) sends the next.
            while now < stop and len(client.pending) < concurrency:
                failed_before = client.finished
                client.begin(requests[result.sent % len(requests)], now, now)
                if client.finished > failed_before:  # it could not even be sent
                    break
            if not client.pending:
                if now >= stop:
                    break
                time.sleep(0.001)  # nothing in flight: do not spin on a refusing port
                continue
            client.poll(0.05)
            client.expire(clock() - timeout)
    finally:
        client.close()
    return _ended(result, start, cpu)
