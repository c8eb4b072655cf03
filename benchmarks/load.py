"""A small HTTP/1.1 load generator on one asyncio thread: open loop at a fixed rate
(wrk2-style) and closed loop for the maximum rate.

Open loop: request i is due at start + i / rate and is sent then, whatever the
server is doing (a new connection is opened when every open one is busy), and its
latency is counted from that scheduled instant, not from when it was actually
written. A stalled server or a late generator therefore shows up in the
percentiles instead of silently lowering the rate (no coordinated omission).

Requests are prepared as raw bytes before the clock starts, so signing and
encoding cost nothing during the measurement. Everything is bounded: a request
gives up after `timeout` seconds, a run after its duration plus that timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

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


class _Connections:
    """Idle keep-alive connections to one server; a new one when none is idle."""

    def __init__(self, host: str, port: int, result: LoadResult) -> None:
        self.host, self.port, self.result = host, port, result
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self.idle:
            reader, writer = self.idle.pop()
            if not writer.is_closing() and not reader.at_eof():
                return reader, writer
            writer.close()
        self.result.connections_opened += 1
        return await asyncio.open_connection(self.host, self.port)

    def give_back(
        self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], keep: bool
    ) -> None:
        if keep:
            self.idle.append(conn)
        else:
            conn[1].close()

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def _exchange(conns: _Connections, raw: bytes) -> tuple[int, bytes]:
    conn = await conns.take()
    reader, writer = conn
    keep = False
    try:
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        length, keep = 0, status_line.startswith("HTTP/1.1")
        for header in header_lines:
            name, _, value = header.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection":
                keep = value.strip().lower() == "keep-alive" or (
                    keep and value.strip().lower() != "close"
                )
        body = await reader.readexactly(length) if length else b""
        return status, body
    except BaseException:
        keep = False
        raise
    finally:
        conns.give_back(conn, keep)


async def _one(
    conns: _Connections, raw: bytes, due: float, timeout: float, result: LoadResult
) -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    result.send_lags.append(began - due)
    # From the schedule when sent late (the wait counts); from the send when the timer
    # fired a little early, so a latency is never understated.
    reference = min(due, began)
    try:
        status, body = await asyncio.wait_for(_exchange(conns, raw), timeout)
    except TimeoutError:
        result.errors["timeout"] += 1
        return
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
        result.errors[type(exc).__name__] += 1
        return
    result.latencies.append(loop.time() - reference)
    result.statuses[status] += 1
    result.bodies.setdefault(status, body)


async def _open_loop(
    host: str, port: int, requests: Sequence[bytes], rate: float, seconds: float, timeout: float
) -> LoadResult:
    loop = asyncio.get_running_loop()
    result = LoadResult(mode=f"open {rate:g}/s", seconds=0.0)
    conns = _Connections(host, port, result)
    total = max(1, round(rate * seconds))
    tasks = []
    cpu = time.process_time()
    start = loop.time() + 0.05
    for i in range(total):
        due = start + i / rate
        # The event loop's timers fire up to a millisecond late (epoll rounds up): aim
        # early so that sends straddle the schedule instead of trailing it.
        delay = due - loop.time() - TIMER_SLACK
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(
            asyncio.ensure_future(_one(conns, requests[i % len(requests)], due, timeout, result))
        )
        result.sent += 1
    await asyncio.gather(*tasks)
    result.seconds = loop.time() - start
    result.generator_cpu_seconds = time.process_time() - cpu
    conns.close()
    return result


async def _closed_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    concurrency: int,
    seconds: float,
    timeout: float,
) -> LoadResult:
    loop = asyncio.get_running_loop()
    result = LoadResult(mode=f"closed x{concurrency}", seconds=0.0)
    conns = _Connections(host, port, result)
    counter = iter(range(10**9))
    cpu = time.process_time()
    start = loop.time()
    stop = start + seconds

    async def client() -> None:
        while loop.time() < stop:
            i = next(counter)
            result.sent += 1
            await _one(conns, requests[i % len(requests)], loop.time(), timeout, result)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    result.send_lags.clear()  # a closed loop has no schedule
    result.seconds = loop.time() - start
    result.generator_cpu_seconds = time.process_time() - cpu
    conns.close()
    return result


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
    return asyncio.run(_open_loop(host, port, requests, rate, seconds, timeout))


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
    return asyncio.run(_closed_loop(host, port, requests, concurrency, seconds, timeout))
