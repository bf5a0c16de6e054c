"""The health report's overall status, and the five-minute window of conflicts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from aimall_cart.conflicts import RecentConflicts
from aimall_cart.monitoring.rules import Findings, overall_status

HEALTHY = Findings(
    database_ok=True,
    schema_current=True,
    freshest_worker_age_seconds=3.0,
    silent_after_seconds=30.0,
    dead_events=0,
)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, "ok"),
        ({"freshest_worker_age_seconds": 30.0}, "ok"),
        ({"freshest_worker_age_seconds": 30.5}, "degraded"),
        ({"freshest_worker_age_seconds": None}, "degraded"),
        ({"dead_events": 1}, "degraded"),
        ({"schema_current": False}, "degraded"),
        ({"database_ok": False, "dead_events": 3}, "failing"),
    ],
)
def test_overall_status(change: dict[str, object], expected: str) -> None:
    found = dataclasses.replace(HEALTHY, **change)  # type: ignore[arg-type]
    assert overall_status(found) == expected


def test_conflicts_leave_the_window_after_five_minutes() -> None:
    recent = RecentConflicts()
    recent.record("version_mismatch", now=1000.0)
    recent.record("version_mismatch", now=1150.0)
    recent.record("cart_locked", now=1290.0)
    recent.record("not_found", now=1290.0)  # not a conflict the report watches
    assert recent.last_window(now=1295.0) == {
        "version_mismatch": 2,
        "idempotency_in_progress": 0,
        "cart_locked": 1,
    }
    assert recent.last_window(now=1310.0)["version_mismatch"] == 1
    assert recent.last_window(now=1600.0) == dict.fromkeys(recent.last_window(now=0), 0)


def test_conflicts_of_every_process_sharing_the_folder_are_summed(tmp_path: Path) -> None:
    other = {"100": {"version_mismatch": 4, "idempotency_in_progress": 1, "cart_locked": 0}}
    (tmp_path / "conflicts-999999.json").write_text(json.dumps(other))
    recent = RecentConflicts()
    recent.share_in(tmp_path)
    recent.record("version_mismatch", now=1001.0)  # no event loop: written at once
    assert recent.last_window(now=1005.0) == {
        "version_mismatch": 5,
        "idempotency_in_progress": 1,
        "cart_locked": 0,
    }
    mine = [p for p in tmp_path.glob("conflicts-*.json") if p.name != "conflicts-999999.json"]
    assert len(mine) == 1
    assert json.loads(mine[0].read_text()) == {
        "100": {"version_mismatch": 1, "idempotency_in_progress": 0, "cart_locked": 0}
    }
