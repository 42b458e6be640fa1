"""Admission bounds shared by the workers of one server: one SQLite file, check-and-take atomic,
a dead worker's slots swept by pid. (``test_workers`` runs the same with two real worker processes.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from voiceflow.guard.admission import Admission, Full, SharedSlots


def _worker(path: Path, pid: int | None = None, **bounds: int) -> Admission:
    return Admission(**bounds, shared=SharedSlots(path, pid=pid))


def test_the_bounds_count_every_worker_s_slots(tmp_path: Path) -> None:
    path = tmp_path / "slots.sqlite"
    a = _worker(path, max_calls=4, max_per_address=2, max_pending=1)
    b = _worker(path, pid=1, max_calls=4, max_per_address=2, max_pending=1)  # pid 1 is always alive
    first = a.acquire("10.0.0.1")
    b.acquire("10.0.0.1")
    with pytest.raises(Full, match="your address holds its limit of 2 calls"):
        a.acquire("10.0.0.1")
    offer = b.acquire("10.0.0.2", pending=True)
    with pytest.raises(Full, match="1 offers are waiting to connect"):
        a.acquire("10.0.0.3", pending=True)
    a.acquire(None, per_address=False)
    with pytest.raises(Full, match="this server holds its limit of 4 calls"):
        b.acquire(None, per_address=False)
    assert (a.held, b.held, a.refused, b.refused) == (2, 2, 2, 1)
    offer.connected()
    first.release()
    first.release()  # once only
    a.acquire("10.0.0.3", pending=True)  # room again, and no offer waits any more
    assert a.shared is not None and a.shared.held() == 4


def test_a_dead_worker_s_slots_are_swept(tmp_path: Path) -> None:
    path = tmp_path / "slots.sqlite"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)  # fmt: skip
    dead = _worker(path, pid=int(gone.stdout), max_calls=2)
    dead.acquire("10.0.0.1")
    dead.acquire("10.0.0.1")
    live = _worker(path, max_calls=2)
    live.acquire("10.0.0.9")  # the dead process's two slots no longer count
    assert live.shared is not None and live.shared.held() == 1


def test_a_restarted_worker_drops_rows_left_under_its_own_pid(tmp_path: Path) -> None:
    path = tmp_path / "slots.sqlite"
    _worker(path, pid=1, max_calls=1).acquire("10.0.0.1")
    again = _worker(path, pid=1, max_calls=1)  # the same pid starting again holds nothing yet
    again.acquire("10.0.0.1")
