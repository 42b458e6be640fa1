"""Prometheus metrics: the names every dashboard and alert uses, and what feeds them.

The metrics are fed from what already flows, not from calls sprinkled through the
processors: ``install_call_metrics(registry)`` hooks the call registry, and each
call gets a ``CallMetrics`` observer (its own queue, so it never slows the graph)
that wraps a ``LatencyTracker`` and turns its per-turn marks, the output
transport's voice-to-voice ``Metrics`` frame, the processors' provider ``Metrics``
frames (``voiceflow.services.provider_metrics``: requests, latency, errors),
``Interrupt`` and ``ToolResult`` into histograms and counters; a provider whose
processor sends no provider frames (a custom one) is timed from its turn stage. When the call
ends, its queues' high-water marks and the circuit breakers' states are sampled.

Several worker processes: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
before the workers start (prometheus-client's multiprocess mode, read when this
module is first imported). Each process then writes its values to mmap files there
and ``render()`` merges every process's files (gauges say how: live calls are
summed over live workers, high-water marks and breaker states take the maximum).
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

from voiceflow.calls import CallRegistry, CallSession
from voiceflow.core.observers import PushEvent
from voiceflow.frames import (
    EncodedTTSAudio,
    Intent,
    Interrupt,
    LLMToken,
    Metrics,
    TextToSpeak,
    ToolCall,
    ToolResult,
    Transcript,
    TTSAudio,
    UserStoppedSpeaking,
    VoicePaused,
    VoiceStopped,
)
from voiceflow.observability.latency import LatencyTracker, TurnLatency
from voiceflow.processes import pid_alive
from voiceflow.services.breaker import STATE_VALUES, live_breakers
from voiceflow.services.provider_metrics import parse as provider_frame

__all__ = [
    "CONTENT_TYPE",
    "STAGES",
    "CallMetrics",
    "install_call_metrics",
    "multiprocess_dir",
    "reap_dead_workers",
    "render",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST

#: the per-turn stages of ``voiceflow_stage_seconds`` (each: time spent since the previous one)
STAGES = (
    "vad_stop",
    "stt_final",
    "endpoint",
    "intent",
    "llm_ttft",
    "tool",
    "tts_first_audio",
    "first_frame_sent",
)
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
CALLS_ACTIVE = Gauge("voiceflow_calls_active", "Live calls", ["transport"], multiprocess_mode="livesum")
CALLS_TOTAL = Counter("voiceflow_calls_total", "Calls ended, by outcome", ["transport", "outcome"])
STAGE_SECONDS = Histogram(
    "voiceflow_stage_seconds", "Time spent in each stage of a turn", ["stage"], buckets=LATENCY_BUCKETS
)
INTENT_SECONDS = Histogram(
    "voiceflow_intent_seconds",
    "End of turn to intent decided, by deciding tier",
    ["tier"],
    buckets=LATENCY_BUCKETS,
)
V2V_SECONDS = Histogram(
    "voiceflow_v2v_seconds", "Caller's last voiced audio in to first agent audio out", buckets=LATENCY_BUCKETS
)
BARGEINS = Counter("voiceflow_bargeins_total", "Times the caller interrupted the agent")
PROVIDER_REQUESTS = Counter(
    "voiceflow_provider_requests_total", "Requests to a speech or language provider", ["kind", "provider"]
)
PROVIDER_ERRORS = Counter(
    "voiceflow_provider_errors_total",
    "Provider failures reported by their processor",
    ["kind", "provider", "error"],
)
PROVIDER_LATENCY = Histogram(
    "voiceflow_provider_latency_seconds",
    "Provider time to first result (STT final, LLM token, TTS audio)",
    ["kind", "provider"],
    buckets=LATENCY_BUCKETS,
)
BREAKER_STATE = Gauge(
    "voiceflow_breaker_state",
    "Circuit breaker: 0 closed, 1 half-open, 2 open",
    ["breaker"],
    multiprocess_mode="livemax",
)
QUEUE_HIGH_WATER = Gauge(
    "voiceflow_queue_high_water",
    "Deepest a processor's input queue has been",
    ["processor"],
    multiprocess_mode="max",
)
PROVIDER_RATE_LIMIT_REMAINING = Gauge(
    "voiceflow_provider_rate_limit_remaining",
    "What is left of a provider's rate limit (OpenAI Realtime rate_limits.updated)",
    ["kind", "provider", "limit"],
    multiprocess_mode="livemin",
)
PROVIDER_RATE_LIMIT = Gauge(
    "voiceflow_provider_rate_limit",
    "A provider's rate limit per window (OpenAI Realtime rate_limits.updated)",
    ["kind", "provider", "limit"],
    multiprocess_mode="livemax",
)
TOOL_CALLS = Counter("voiceflow_tool_calls_total", "Tool calls by outcome", ["tool", "outcome"])
CAMPAIGN_CALLS = Counter("voiceflow_campaign_calls_total", "Campaign calls by status", ["campaign", "status"])


def _shared_counter(name: str, doc: str) -> Counter:
    """A counter another module may have registered already (``voiceflow.sessions.metrics``): reuse it."""
    try:
        return Counter(name, doc)
    except ValueError:
        existing = REGISTRY._names_to_collectors[f"{name}_total"]
        assert isinstance(existing, Counter)
        return existing


SESSION_STORE_FALLBACK = _shared_counter(
    "voiceflow_session_store_fallback", "Times the session store fell back to process memory"
)
INPUT_AUDIO_DROPPED = Counter(
    "voiceflow_input_audio_dropped_total", "Caller audio frames dropped on input", ["transport"]
)


def multiprocess_dir() -> str | None:
    """The multiprocess directory when multiprocess mode is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render() -> bytes:
    """The exposition text: this process's registry, or every worker's merged in multiprocess mode."""
    sample_breakers()
    if multiprocess_dir() is None:
        return generate_latest(REGISTRY)
    reap_dead_workers()
    registry = CollectorRegistry()
    _multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


def mark_process_dead(pid: int) -> None:
    """A worker exited: its live gauges stop counting (call from the process manager)."""
    if multiprocess_dir() is not None:
        _multiprocess.mark_process_dead(pid)


_LIVE_FILE = re.compile(r"gauge_live\w*_(\d+)\.db")


def reap_dead_workers() -> list[int]:
    """``mark_process_dead`` for every worker whose live-gauge files remain but whose process is gone.

    uvicorn's supervisor replaces a dead worker without telling anyone, so the
    workers do it themselves: at startup (the replacement clears its predecessor)
    and on every ``/metrics`` render (a dead worker that is not replaced).
    """
    directory = multiprocess_dir()
    if directory is None:
        return []
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    pids = {int(m[1]) for name in names if (m := _LIVE_FILE.fullmatch(name))}
    dead = sorted(pid for pid in pids if pid != os.getpid() and not pid_alive(pid))
    for pid in dead:
        _multiprocess.mark_process_dead(pid, directory)
    return dead


def sample_breakers() -> None:
    """Each breaker name's worst state among the live breakers of this process."""
    worst: dict[str, int] = {}
    for breaker in live_breakers():
        worst[breaker.name] = max(worst.get(breaker.name, 0), STATE_VALUES[breaker.state])
    for name, code in worst.items():
        BREAKER_STATE.labels(name).set(code)


# -- what feeds them ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Provider:
    kind: str  # stt | tts | llm
    name: str


def providers_of(nodes: Iterable[object]) -> dict[str, Provider]:
    """Processor name → the provider its engine talks to (processors holding an ``engine``)."""
    out: dict[str, Provider] = {}
    for node in nodes:
        engine = getattr(node, "engine", None)
        module = type(node).__module__
        kind = next((k for k in ("stt", "tts", "llm", "realtime") if f".{k}." in module), None)
        if engine is not None and kind is not None:
            provider = str(getattr(engine, "name", type(engine).__name__))
            out[str(getattr(node, "name", ""))] = Provider(kind, provider)
    return out


def _first_producer(nodes: Iterable[object], kind: type) -> str | None:
    for node in nodes:
        if kind in getattr(node, "produces", ()):
            return str(getattr(node, "name", ""))
    return None


class CallMetrics:
    """One call's observer: per-turn stage histograms, barge-ins, tools, provider figures.

    It asks only for the frames it reads (``frame_types``), so audio frames, the bulk of
    every call's pushes, cost the graph one ``isinstance`` check each.
    """

    frame_types = (
        VoiceStopped,
        VoicePaused,
        UserStoppedSpeaking,
        Transcript,
        Intent,
        TextToSpeak,
        LLMToken,
        TTSAudio,
        EncodedTTSAudio,
        ToolCall,
        ToolResult,
        Metrics,
        Interrupt,
    )

    def __init__(self, session: CallSession) -> None:
        nodes = list(session.run.graph.nodes)
        endpointer = _first_producer(nodes, UserStoppedSpeaking) or "endpointer"
        stt = _first_producer(nodes, Transcript) or "stt"
        self.vad = _first_producer(nodes, VoiceStopped) or "vad"
        self.transport = session.ctx.transport
        self.providers = providers_of(nodes)
        self.tracker = LatencyTracker(endpointer=endpointer, stt=stt, on_turn=self.turn_done)
        self._vad_stop: float | None = None
        self._turn_vad_stop: float | None = None
        self._llm_ttft_s: float | None = None
        self._generation = 0
        self._tool_results: set[str] = set()
        self._seen: deque[int] = deque(maxlen=64)  # provider frames counted (they pass through every hop)
        self._framed_kinds: set[str] = set()  # kinds whose processors report with provider frames

    async def on_push(self, event: PushEvent) -> None:
        self.observe(event)

    def observe(self, event: PushEvent) -> None:
        frame = event.frame
        if isinstance(frame, VoiceStopped | VoicePaused) and event.source == self.vad and not event.upstream:
            # the VAD's pause hint counts as its stop: a speculative end of turn follows the hint
            resumed = isinstance(frame, VoicePaused) and frame.resumed
            self._vad_stop = None if resumed else event.at
        elif isinstance(frame, Interrupt):
            if frame.generation > self._generation:
                self._generation = frame.generation
                BARGEINS.inc()
        elif isinstance(frame, ToolResult):
            if frame.call_id not in self._tool_results:
                self._tool_results.add(frame.call_id)
                TOOL_CALLS.labels(frame.tool, frame.status).inc()
        elif isinstance(frame, Metrics):
            self._metrics(frame)
        elif isinstance(frame, UserStoppedSpeaking) and event.source in self.tracker.endpointers:
            self._turn_vad_stop = self._vad_stop
            self._vad_stop = None
            self._llm_ttft_s = None
        self.tracker.observe(event)

    def turn_done(self, turn: TurnLatency) -> None:
        """A turn's first agent audio went out: every stage it went through is observed once."""
        spent = turn.breakdown()
        vad_stop = self._turn_vad_stop
        stages: dict[str, float] = {}
        if vad_stop is not None and vad_stop >= turn.speech_end:
            stages["vad_stop"] = vad_stop - turn.speech_end
            final = turn.marks.get("stt_final")
            if final is not None:
                stages["stt_final"] = max(0.0, final - vad_stop)
        elif "stt_final" in spent:
            stages["stt_final"] = spent["stt_final"] / 1000.0
        for ours, theirs in (
            ("endpoint", "endpoint"),
            ("intent", "intent"),
            ("tool", "tool"),
            ("tts_first_audio", "tts_audio"),
            ("first_frame_sent", "sent"),
        ):
            if theirs in spent:
                stages[ours] = spent[theirs] / 1000.0
        if self._llm_ttft_s is not None:
            stages["llm_ttft"] = self._llm_ttft_s
        for stage, seconds in stages.items():
            STAGE_SECONDS.labels(stage).observe(seconds)
        if "intent" in stages:
            INTENT_SECONDS.labels(turn.tier or "unknown").observe(stages["intent"])
        if turn.v2v_ms is not None:
            V2V_SECONDS.observe(turn.v2v_ms / 1000.0)
        self._observe_providers(stages)

    def _metrics(self, frame: Metrics) -> None:
        if "llm_ttft_ms" in frame.values:
            self._llm_ttft_s = frame.values["llm_ttft_ms"] / 1000.0
        if frame.id not in self._seen and any(k.startswith("rate_limit_") for k in frame.values):
            self._seen.append(frame.id)
            self._rate_limits(frame)
            return
        named = provider_frame(frame)
        if named is None or frame.id in self._seen:  # a pass-through push of a frame already counted
            return
        self._seen.append(frame.id)
        kind, provider = named
        self._framed_kinds.add(kind)
        values = frame.values
        if values.get("provider_requests"):
            PROVIDER_REQUESTS.labels(kind, provider).inc(values["provider_requests"])
        if "provider_latency_ms" in values:
            PROVIDER_LATENCY.labels(kind, provider).observe(values["provider_latency_ms"] / 1000.0)
        for key, count in values.items():
            if key.startswith("provider_error/") and count:
                PROVIDER_ERRORS.labels(kind, provider, key.removeprefix("provider_error/")).inc(count)

    def _rate_limits(self, frame: Metrics) -> None:
        """``rate_limit_remaining/<name>`` and ``rate_limit_limit/<name>`` values → the two gauges."""
        provider = self.providers.get(frame.processor) or Provider("realtime", frame.processor or "unknown")
        for key, value in frame.values.items():
            field_name, _, limit = key.partition("/")
            if field_name == "rate_limit_remaining":
                PROVIDER_RATE_LIMIT_REMAINING.labels(provider.kind, provider.name, limit).set(value)
            elif field_name == "rate_limit_limit":
                PROVIDER_RATE_LIMIT.labels(provider.kind, provider.name, limit).set(value)

    def _observe_providers(self, stages: dict[str, float]) -> None:
        """Providers whose processor sends no provider frames (a custom processor): timed from the turn."""
        for provider in self.providers.values():
            if provider.kind in self._framed_kinds:
                continue
            stage = {"stt": "stt_final", "llm": "llm_ttft", "tts": "tts_first_audio"}.get(provider.kind)
            if stage in stages:
                PROVIDER_REQUESTS.labels(provider.kind, provider.name).inc()
                PROVIDER_LATENCY.labels(provider.kind, provider.name).observe(stages[stage])

    def call_ended(self, session: CallSession) -> None:
        run = session.run
        outcome = "cancelled" if run.cancel_reason else ("errors" if run.errors else "completed")
        CALLS_TOTAL.labels(self.transport, outcome).inc()
        CALLS_ACTIVE.labels(self.transport).dec()
        for name, stats in run.stats().items():
            if stats["high_water"] > _HIGH_WATER.get(name, -1):
                _HIGH_WATER[name] = stats["high_water"]
                QUEUE_HIGH_WATER.labels(name).set(stats["high_water"])
        sample_breakers()


#: this process's deepest queue per processor name (the gauge only ever rises)
_HIGH_WATER: dict[str, int] = {}


def install_call_metrics(registry: CallRegistry) -> dict[str, CallMetrics]:
    """Hook ``registry`` so every call it opens is measured; returns the live calls' observers."""
    live: dict[str, CallMetrics] = {}

    def opened(session: CallSession) -> None:
        watcher = CallMetrics(session)
        live[session.ctx.call_id] = watcher
        CALLS_ACTIVE.labels(session.ctx.transport).inc()
        session.run.add_observer(watcher)

    def closed(session: CallSession) -> None:
        watcher = live.pop(session.ctx.call_id, None)
        if watcher is not None:
            watcher.call_ended(session)

    registry.on_open.append(opened)
    registry.on_close.append(closed)
    return live
