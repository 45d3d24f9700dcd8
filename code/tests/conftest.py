"""Shared test settings: hypothesis runs are derandomised (the same examples on every run),
have no per-example deadline and write no example database, so the suite is deterministic.
Random arrays inside a test come from numpy generators seeded by a hypothesis-drawn integer."""

import pytest
import torch
from hypothesis import settings

settings.register_profile("worked", derandomize=True, deadline=None, database=None, max_examples=100)
settings.load_profile("worked")


@pytest.fixture(autouse=True)
def _single_torch_thread():
    """The tests use tiny tensors: one intra-op thread is faster, and does not slow down
    (by thread contention) when the other core is busy."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
