"""The load generator's account of a run's slowest requests (benchmarks/load.py)."""

from __future__ import annotations

from benchmarks.load import LoadResult, slow_bursts


def _run(latencies_ms: list[float], every_s: float = 0.005) -> LoadResult:
    result = LoadResult(mode="open 200/s", seconds=len(latencies_ms) * every_s)
    for i, latency in enumerate(latencies_ms):
        result.sent_at.append(100.0 + i * every_s)
        result.latencies.append(latency / 1000)
    return result


def test_slow_requests_close_together_are_one_burst() -> None:
    latencies = [1.0] * 1000
    for i in (100, 101, 102, 103, 104):  # 25 ms of a slow machine
        latencies[i] = 9.0
    for i in (600, 603, 606, 609, 612):
        latencies[i] = 8.0
    assert slow_bursts(_run(latencies)) == (10, 2)


def test_slow_requests_far_apart_are_each_their_own_burst() -> None:
    latencies = [1.0] * 1000
    for i in range(0, 1000, 100):  # one every 0.5 s
        latencies[i] = 5.0
    assert slow_bursts(_run(latencies)) == (10, 10)


def test_nothing_is_slower_than_a_percentile_all_requests_share() -> None:
    assert slow_bursts(_run([2.0] * 50)) == (0, 0)


def test_an_empty_run_has_no_tail() -> None:
    assert slow_bursts(LoadResult(mode="open 200/s", seconds=0)) == (0, 0)
