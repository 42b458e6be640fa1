"""The session store's Prometheus counter, shared with ``voiceflow.observability.metrics`` by name.

The metrics module of the observability layer may register the same name; whichever
registers first wins and the other reuses it, so importing both never fails.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter

__all__ = ["FALLBACK_METRIC", "count_fallback"]

FALLBACK_METRIC = "voiceflow_session_store_fallback_total"


def _counter() -> Counter:
    try:
        return Counter(
            FALLBACK_METRIC.removesuffix("_total"),
            "Times the session store switched to memory because Redis was unreachable",
        )
    except ValueError:  # already registered (by the observability layer): use that one
        existing = REGISTRY._names_to_collectors[FALLBACK_METRIC]
        assert isinstance(existing, Counter)
        return existing


_FALLBACKS = _counter()


def count_fallback() -> None:
    _FALLBACKS.inc()
