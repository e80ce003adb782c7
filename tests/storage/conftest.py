"""Storage test fixtures: one fake-gcs-server for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_gcs import FakeGcs, run_fake_gcs


@pytest.fixture(scope="session")
def fake_gcs() -> Iterator[FakeGcs]:
    """A running fake-gcs-server with an empty bucket; give each test its own prefix in it."""
    with run_fake_gcs() as gcs:
        yield gcs
