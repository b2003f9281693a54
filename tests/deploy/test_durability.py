"""Durability: SIGKILL the server mid-stream, restart it; every acked event stored once, none lost."""

from __future__ import annotations

from pathlib import Path

from tether.deploy.durability import crash_drill


def test_sigkill_mid_run_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    res = crash_drill(tmp_path, n_events=2000, kills=1)
    assert res.kills == 1 and res.failed_requests >= 1  # the crash really hit the client
    assert res.acked_missing == []  # a 2xx means committed
    assert res.missing == []  # the SDK retried / spooled everything else
    assert res.stored_rows == res.distinct_ids == res.sent == 2000  # exactly once
