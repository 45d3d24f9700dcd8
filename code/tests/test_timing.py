"""Tests of worked.timing."""

import time

from worked.timing import best_of


def test_best_of_calls_repeat_times_and_returns_the_result():
    calls = []
    seconds, result = best_of(lambda: calls.append(1) or len(calls), repeat=4)
    assert calls == [1, 1, 1, 1] and result == 4
    assert 0 <= seconds < 1


def test_best_of_is_the_fastest_run():
    delays = iter([0.05, 0.01, 0.05])
    seconds, _ = best_of(lambda: time.sleep(next(delays)), repeat=3)
    assert 0.01 <= seconds < 0.05
