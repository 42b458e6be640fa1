"""Provider measurements as ``Metrics`` frames, in one shape every adapter's processor uses.

The metrics exporter (``voiceflow_provider_requests_total{kind,provider}``,
``voiceflow_provider_errors_total{kind,provider,error}``,
``voiceflow_provider_latency_seconds{kind,provider}``) reads these frames; it needs no
knowledge of any provider:

- ``processor`` is ``provider/<kind>/<provider>`` (``provider/llm/anthropic``);
- ``values`` holds ``provider_requests`` (1 per request), ``provider_latency_ms`` (time to
  first token / first result) when measured, and ``provider_error/<error>`` = 1 on failure
  (``<error>`` is the ``LLMError`` / failure class name, e.g. ``LLMRateLimitError``).

An engine behind another (a voice inside the ``TTSRouter``) has no processor of its own:
it calls ``report`` and the processor that drives it, inside ``collecting()``, pushes
what was reported (a context variable: it follows the processor's task, so calls sharing
one engine never see each other's reports).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from voiceflow.frames import Metrics

_reports: ContextVar[list[Metrics] | None] = ContextVar("voiceflow_provider_reports", default=None)

PREFIX = "provider"


def provider_metrics(
    kind: str, provider: str, *, latency_ms: float | None = None, error: str | None = None
) -> Metrics:
    values = {"provider_requests": 1.0}
    if latency_ms is not None:
        values["provider_latency_ms"] = float(latency_ms)
    if error is not None:
        values[f"provider_error/{error}"] = 1.0
    return Metrics(values=values, processor=f"{PREFIX}/{kind}/{provider}")


def parse(frame: Metrics) -> tuple[str, str] | None:
    """(kind, provider) of a provider metrics frame, or None for any other ``Metrics``."""
    parts = frame.processor.split("/")
    if len(parts) == 3 and parts[0] == PREFIX:
        return parts[1], parts[2]
    return None


def report(kind: str, provider: str, *, latency_ms: float | None = None, error: str | None = None) -> None:
    """Measured deep inside an engine: kept for the processor collecting in this task, if any."""
    sink = _reports.get()
    if sink is not None:
        sink.append(provider_metrics(kind, provider, latency_ms=latency_ms, error=error))


@contextmanager
def collecting() -> Iterator[list[Metrics]]:
    """What engines ``report`` while this block runs (the caller pushes and clears the list)."""
    sink: list[Metrics] = []
    token = _reports.set(sink)
    try:
        yield sink
    finally:
        _reports.reset(token)
