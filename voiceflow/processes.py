"""Process liveness, for the bookkeeping several worker processes share (admission slots,
Prometheus' live gauges): what a dead worker left behind is recognised by its pid."""

from __future__ import annotations

import os

__all__ = ["pid_alive"]


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one of another user counts as alive: not ours to judge)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: how much nicer than the event loop the inference threads run (``voiceflow serve`` sets it): on a
#: busy machine the kernel then runs the thread that paces every call's audio first
INFERENCE_NICE = 0


def lower_this_thread() -> None:
    """A thread-pool initializer: this thread runs ``INFERENCE_NICE`` nicer (Linux: per thread)."""
    if INFERENCE_NICE <= 0 or not hasattr(os, "setpriority"):
        return
    import threading

    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + INFERENCE_NICE))
    except OSError:  # not allowed here: the thread keeps its priority
        pass
