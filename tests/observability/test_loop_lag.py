"""The event-loop lag monitor sees a blocked loop, and workers reap a dead worker's live gauges."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Histogram

from voiceflow.observability.loop_lag import LoopLagMonitor
from voiceflow.observability.metrics import reap_dead_workers


async def test_a_blocked_loop_shows_as_lag() -> None:
    histogram = Histogram("lag_seconds", "test", buckets=(0.01, 0.05, 1.0), registry=CollectorRegistry())
    monitor = LoopLagMonitor(interval_s=0.01, histogram=histogram)
    monitor.start()
    await asyncio.sleep(0.05)
    time.sleep(0.12)  # noqa: ASYNC251 - a blocking call on the loop: what the monitor exists to catch
    await asyncio.sleep(0.05)
    await monitor.stop()
    assert monitor.worst_s >= 0.09
    counts = {s.labels["le"]: s.value for s in histogram.collect()[0].samples if s.name.endswith("_bucket")}
    assert counts["1.0"] - counts["0.05"] >= 1, "the stall is in the histogram"


def test_a_dead_worker_s_live_gauges_are_reaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    worker = (
        "from voiceflow.observability.metrics import CALLS_ACTIVE\n"
        "import os\nCALLS_ACTIVE.labels('twilio').inc(3)\nprint(os.getpid())\n"
    )
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": os.getcwd()}
    done = subprocess.run([sys.executable, "-c", worker], env=env, capture_output=True, text=True, check=True)
    pid = int(done.stdout.split()[-1])
    assert (tmp_path / f"gauge_livesum_{pid}.db").exists()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert reap_dead_workers() == [pid]
    assert not (tmp_path / f"gauge_livesum_{pid}.db").exists()
    assert reap_dead_workers() == []
