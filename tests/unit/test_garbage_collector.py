"""A server process keeps start-up's objects out of collections and collects the young less
often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from aimall_cart import serving


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_start_up_objects_are_frozen_and_the_young_collected_in_bigger_batches() -> None:
    gc.unfreeze()
    built_at_start_up = [object() for _ in range(10)]
    serving.tune_garbage_collector()
    assert gc.get_freeze_count() >= len(built_at_start_up)
    assert gc.get_threshold()[0] == serving.GC_FIRST_THRESHOLD
