"""Provider ``Metrics`` frames (``services.provider_metrics``) become provider counters, once each."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from voiceflow.calls import CallContext, CallSession
from voiceflow.frames import Transcript
from voiceflow.graphs import Collector, Graph, GraphRun
from voiceflow.observability.metrics import CallMetrics, render
from voiceflow.processors import Passthrough, Processor, on
from voiceflow.services.provider_metrics import provider_metrics


def counters() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(render().decode())
        for s in f.samples
    }


class Provider(Processor):
    """Reports one provider request per transcript the way the STT and LLM processors do."""

    @on(Transcript)
    async def text(self, frame: Transcript) -> None:
        await self.push(frame)
        if frame.text == "fail":
            await self.push(provider_metrics("llm", "anthropic-test", error="LLMRateLimitError"))
        else:
            await self.push(provider_metrics("llm", "anthropic-test", latency_ms=250.0))


async def test_provider_frames_are_counted_once_through_every_hop() -> None:
    key = (("kind", "llm"), ("provider", "anthropic-test"))
    before = counters()
    sink = Collector(name="sink")
    graph = Graph("g", inputs=[Transcript]).chain(
        Provider(name="agent"), Passthrough(name="a"), Passthrough(name="b"), sink
    )
    run = GraphRun(graph)
    watcher = CallMetrics(CallSession(CallContext("CA-provider", "local"), run))
    run.add_observer(watcher)
    async with run:
        for text in ("hello", "fail", "again"):
            await run.push(run.make(Transcript, text=text, final=True))
    after = counters()

    def delta(name: str, labels: tuple[tuple[str, str], ...]) -> float:
        return after.get((name, labels), 0.0) - before.get((name, labels), 0.0)

    assert delta("voiceflow_provider_requests_total", key) == 3
    assert delta("voiceflow_provider_latency_seconds_count", key) == 2
    assert abs(delta("voiceflow_provider_latency_seconds_sum", key) - 0.5) < 1e-9
    error = (("error", "LLMRateLimitError"), ("kind", "llm"), ("provider", "anthropic-test"))
    assert delta("voiceflow_provider_errors_total", error) == 1
