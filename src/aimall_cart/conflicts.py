"""Conflicts answered lately, for the health report: counted in memory by each server process in
ten-second buckets, and, when the processes share a folder, written there (at most once a
second, never on the request's own path) so that any process can sum them all.

Counted in wall-clock time: they describe the running system, not the shop's (test) clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from pathlib import Path

WATCHED = ("version_mismatch", "idempotency_in_progress", "cart_locked")
BUCKET_SECONDS = 10
WINDOW_SECONDS = 300
FLUSH_DELAY_SECONDS = 1.0
_FILE_PREFIX = "conflicts-"

Buckets = dict[int, dict[str, int]]


class RecentConflicts:
    def __init__(self) -> None:
        self.buckets: Buckets = {}
        self.folder: Path | None = None
        self._flush_pending = False

    def share_in(self, folder: Path | None) -> None:
        self.folder = folder

    def record(self, code: str, *, now: float | None = None) -> None:
        if code not in WATCHED:
            return
        bucket = int((time.time() if now is None else now) // BUCKET_SECONDS)
        counts = self.buckets.setdefault(bucket, dict.fromkeys(WATCHED, 0))
        counts[code] += 1
        oldest = bucket - WINDOW_SECONDS // BUCKET_SECONDS
        for stale in [b for b in self.buckets if b < oldest]:
            del self.buckets[stale]
        if self.folder is not None:
            self._schedule_flush()

    def last_window(self, *, now: float | None = None) -> dict[str, int]:
        """Each watched code's count over the last five minutes, in every sharing process."""
        current = int((time.time() if now is None else now) // BUCKET_SECONDS)
        first = current - WINDOW_SECONDS // BUCKET_SECONDS + 1
        totals = dict.fromkeys(WATCHED, 0)
        for buckets in (self.buckets, *self._other_processes()):
            for bucket, counts in buckets.items():
                if first <= bucket <= current:
                    for code in WATCHED:
                        totals[code] += counts.get(code, 0)
        return totals

    def _schedule_flush(self) -> None:
        if self._flush_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write()
            return
        self._flush_pending = True
        loop.call_later(FLUSH_DELAY_SECONDS, self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        self._write()

    def _write(self) -> None:
        if self.folder is None:
            return
        path = self.folder / f"{_FILE_PREFIX}{os.getpid()}.json"
        draft = path.with_suffix(".tmp")
        draft.write_text(json.dumps({str(b): c for b, c in self.buckets.items()}))
        draft.replace(path)  # readers see the old file or the new one, never half of one

    def _other_processes(self) -> list[Buckets]:
        if self.folder is None:
            return []
        mine = f"{_FILE_PREFIX}{os.getpid()}.json"
        found: list[Buckets] = []
        for path in self.folder.glob(f"{_FILE_PREFIX}*.json"):
            if path.name == mine:
                continue
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(path.read_text())
                found.append({int(b): dict(c) for b, c in data.items()})
        return found


recent = RecentConflicts()


def record(code: str) -> None:
    recent.record(code)
