"""Wall-clock timing for the book's figures and benchmark (never for assertions: the build checks
counted operations, not seconds)."""

import time


def best_of(f, repeat=3):
    """Run f() `repeat` times; return (the fastest run's seconds, the last result). The fastest run
    is the one least disturbed by other processes on a shared machine."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = f()
        best = min(best, time.perf_counter() - start)
    return best, result
