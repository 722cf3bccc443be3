"""Shared fixtures: one local Ray session for every test that needs Ray (RLLIB_NOTES trap 7)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """A 2-CPU local Ray started once per test session (Ray start costs 15-30 s here)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
    yield
    ray.shutdown()
