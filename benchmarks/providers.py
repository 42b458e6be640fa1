"""Provider adapters: the latency each adds over what its fake injects, and concurrent streams.

Every adapter runs through its official SDK against its local fake (voiceflow/testing/fakes/)
over loopback sockets, in this process. The fakes inject a known latency; what an adapter
*adds* is observed minus injected: the SDK building the request, the socket, parsing the
stream, our event mapping. Target: <= 5 ms added per adapter (p50 and p95).

- STT (Deepgram): audio in → final transcript delivered to the stream's reader, measured
  from the fake's own decision (its recognizer's answer) with ``result_delay_s`` injected.
- LLM (OpenAI, Anthropic, Gemini): time to first token observed vs the fake's injected time
  to first byte; then N concurrent streams (20 tokens, 10 ms apart) at once: streams/s the
  process sustains and the added time to first token under that load.
- TTS (ElevenLabs, Cartesia): time to first audio observed vs the fake's injected 150 ms, direct
  and through the TTS router, and failover to Cartesia's first audio (``tts_providers.py``).

    .venv/bin/python benchmarks/providers.py [--json] [--only stt|llm|tts] [--requests N]
        [--concurrency 1,16,64] [--stt-streams 1,4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceflow.core.clock import MonotonicClock  # noqa: E402
from voiceflow.services.llm.engine import ChatMessage, Done, LLMEngine  # noqa: E402

Measures = dict[str, float]


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Row:
    """One line of the table (and its JSON keys: ``<key>_<measure>``)."""

    kind: str
    provider: str
    measure: str
    key: str
    values: Measures = field(default_factory=dict)


# == STT ======================================================================================
STT_SENTENCES = (
    "i need to reschedule my appointment for next tuesday",
    "please cancel my order",
    "where is my order one zero zero two",
    "what time do you close on saturday",
)
STT_INJECTED_S = 0.020


async def _deepgram_utterance(stream: Any, ulaw: bytes, session: Any, *, realtime: bool) -> float:
    """Send one utterance, finalize, and return ms from the fake's decision to our reader."""
    from voiceflow.services.stt.engine import FinalText

    t0 = time.perf_counter()
    for i, off in enumerate(range(0, len(ulaw), 160)):
        if realtime and (wait := t0 + i * 0.02 - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        await stream.send(ulaw[off : off + 160])
    decided_before = len(session.finals)
    await stream.finalize()
    async for event in stream.events():
        if isinstance(event, FinalText) and event.from_finalize:
            delivered = time.perf_counter()
            break
    assert len(session.finals) > decided_before, "the fake sent no final for this finalize"
    return (delivered - session.finals[-1].decided_at) * 1000.0


async def bench_deepgram(requests: int, streams: list[int]) -> list[Row]:
    from voiceflow.processors.audio.codecs import ulaw_encode
    from voiceflow.processors.audio.resample import StreamResampler
    from voiceflow.services.stt.deepgram import DeepgramEngine
    from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine
    from voiceflow.sim.speech import synthesize
    from voiceflow.testing.fakes.deepgram_server import FakeDeepgramServer

    def phone(text: str) -> bytes:
        pcm = StreamResampler(16000, 8000).process(
            bytes(3200) + synthesize(text, 16000) + bytes(8000), last=True
        )
        return ulaw_encode(pcm)

    audio = [phone(s) for s in STT_SENTENCES]
    rows = []
    recognizer = lambda rate: PocketsphinxEngine(channel="phone", domain_lm=True)  # noqa: E731
    async with FakeDeepgramServer(recognizer=recognizer, result_delay_s=STT_INJECTED_S) as fake:
        engine = DeepgramEngine(api_key="dg-test", url=fake.url)
        await engine.start(MonotonicClock())
        stream = await engine.open_stream(encoding="mulaw", sample_rate=8000)
        session = fake.sessions[-1]
        added = []
        for i in range(requests):
            ms = await _deepgram_utterance(stream, audio[i % len(audio)], session, realtime=False)
            added.append(ms - STT_INJECTED_S * 1000)
        await stream.aclose()
        rows.append(
            Row(
                "stt",
                "deepgram",
                "final delivered after the fake's decision, added (ms)",
                "deepgram_final_added",
                {"p50_ms": _pct(added, 0.5), "p95_ms": _pct(added, 0.95), "n": float(len(added))},
            )
        )
        for count in streams:  # concurrent calls, audio paced at real time as a phone line sends it
            opened = []
            for _ in range(count):  # each stream with its own session (the fake records them in order)
                opened.append(
                    (await engine.open_stream(encoding="mulaw", sample_rate=8000), fake.sessions[-1])
                )
            t0 = time.perf_counter()
            runs = [
                _deepgram_utterance(s, audio[j % len(audio)], rec, realtime=True)
                for j, (s, rec) in enumerate(opened)
            ]
            results = await asyncio.gather(*runs)
            wall = time.perf_counter() - t0
            for s, _ in opened:
                await s.aclose()
            late = [ms - STT_INJECTED_S * 1000 for ms in results]
            rows.append(
                Row("stt", "deepgram", f"{count} real-time streams at once: added p95 (ms), wall (s)",
                    f"deepgram_{count}_streams", {"added_p95_ms": _pct(late, 0.95), "wall_s": wall})
            )  # fmt: skip
        await engine.aclose()
    return rows


# == LLM ======================================================================================
LLM_INJECTED_S = 0.050
PROMPT = [ChatMessage(role="system", content="You are an agent."), ChatMessage(role="user", content="hello")]


@dataclass(frozen=True)
class LLMCase:
    provider: str
    #: opens (fake, engine); ``script(fake, delay_s, pieces, token_delay_s)`` queues one reply
    open: Callable[[], AbstractAsyncContextManager[tuple[Any, LLMEngine]]]
    script: Callable[[Any, float, list[str], float], None]


@asynccontextmanager
async def _openai() -> AsyncIterator[tuple[Any, LLMEngine]]:
    from voiceflow.services.llm.openai import OpenAIEngine
    from voiceflow.testing.fakes.openai_server import FakeOpenAIServer

    async with FakeOpenAIServer(api_key="sk") as fake:
        engine = OpenAIEngine("fake-model", base_url=fake.base_url, api_key="sk")
        yield fake, engine
        await engine.aclose()


def _script_openai(fake: Any, delay_s: float, pieces: list[str], token_delay_s: float) -> None:
    from voiceflow.testing.fakes.openai_server import TextReply

    fake.script(TextReply(chunks=pieces, delay_s=delay_s, chunk_delay_s=token_delay_s))


@asynccontextmanager
async def _anthropic() -> AsyncIterator[tuple[Any, LLMEngine]]:
    from voiceflow.services.llm.anthropic import AnthropicEngine
    from voiceflow.testing.fakes.anthropic_server import FakeAnthropicServer

    async with FakeAnthropicServer(api_key="sk") as fake:
        engine = AnthropicEngine("claude-fake", api_key="sk", base_url=fake.base_url)
        yield fake, engine
        await engine.aclose()


@asynccontextmanager
async def _gemini() -> AsyncIterator[tuple[Any, LLMEngine]]:
    from voiceflow.services.llm.gemini import GeminiEngine
    from voiceflow.testing.fakes.gemini_server import FakeGeminiServer

    async with FakeGeminiServer(api_key="gm") as fake:
        engine = GeminiEngine("gemini-fake", api_key="gm", base_url=fake.base_url)
        yield fake, engine
        await engine.aclose()


def _script_shared(fake: Any, delay_s: float, pieces: list[str], token_delay_s: float) -> None:
    from voiceflow.testing.fakes.llm_server import Say

    fake.script(Say(chunks=pieces, delay_s=delay_s, token_delay_s=token_delay_s))


LLM_CASES = [
    LLMCase("openai", _openai, _script_openai),
    LLMCase("anthropic", _anthropic, _script_shared),
    LLMCase("gemini", _gemini, _script_shared),
]


async def _ttft(engine: LLMEngine) -> float:
    async with contextlib.aclosing(engine.stream(PROMPT)) as stream:
        done = [e async for e in stream][-1]
    assert isinstance(done, Done) and done.ttft_ms is not None
    return done.ttft_ms


async def bench_llm(case: LLMCase, requests: int, concurrency: list[int]) -> list[Row]:
    rows = []
    pieces = [f" word{i}" for i in range(20)]
    async with case.open() as (fake, engine):
        await engine.start(MonotonicClock())
        case.script(fake, 0.0, ["warm", " up"], 0.0)
        await _ttft(engine)  # the connection pool and the SDK's imports
        added = []
        for _ in range(requests):
            case.script(fake, LLM_INJECTED_S, ["Hello", " there."], 0.0)
            added.append(await _ttft(engine) - LLM_INJECTED_S * 1000)
        rows.append(
            Row("llm", case.provider, "time to first token over the injected 50 ms, added (ms)",
                f"{case.provider}_ttft_added", {"p50_ms": _pct(added, 0.5), "p95_ms": _pct(added, 0.95),
                                                "n": float(len(added))})
        )  # fmt: skip
        for count in concurrency:
            for _ in range(count):
                case.script(fake, LLM_INJECTED_S, pieces, 0.010)
            t0 = time.perf_counter()
            ttfts = await asyncio.gather(*(_ttft(engine) for _ in range(count)))
            wall = time.perf_counter() - t0
            late = [t - LLM_INJECTED_S * 1000 for t in ttfts]
            figures = {"per_s": count / wall, "ttft_added_p95_ms": _pct(late, 0.95)}
            measure = f"{count} concurrent streams: streams/s, added TTFT p95 (ms)"
            rows.append(Row("llm", case.provider, measure, f"{case.provider}_{count}_streams", figures))
    return rows


# == TTS ======================================================================================
#: cloud TTS adapters add a case here: (provider, async function(requests) -> list[Row]),
#: measuring time to first audio observed vs the fake's injected latency, like the rows above.
TTS_INJECTED_S = 0.150


async def _cloud_voices(requests: int) -> list[Row]:
    """ElevenLabs and Cartesia (direct and through the router), and failover (``tts_providers.py``)."""
    import tts_providers  # benchmarks/tts_providers.py: the cloud voices' own benchmark

    tts_providers.warm()
    figures = await tts_providers.adapter_overheads(requests, TTS_INJECTED_S)
    figures |= await tts_providers.failover_times(requests, TTS_INJECTED_S)
    rows: list[Row] = []
    for key in dict.fromkeys(k.rsplit("_p", 1)[0] for k in figures):
        provider = "router" if key.startswith("failover") else key.split("_")[0]
        what = "failover to Cartesia's first audio" if key.startswith("failover") else "first audio"
        rows.append(
            Row(
                "tts",
                provider,
                f"{key.removesuffix('_added_ttfa').removesuffix('_added')}: {what}, added (ms)",
                f"tts_{key}",
                {"p50": figures[f"{key}_p50_ms"], "p95": figures[f"{key}_p95_ms"]},
            )
        )
    return rows


TTS_CASES: list[tuple[str, Callable[[int], Awaitable[list[Row]]]]] = [("cloud voices", _cloud_voices)]


async def bench_tts(requests: int) -> list[Row]:
    rows: list[Row] = []
    for _, run in TTS_CASES:
        rows.extend(await run(requests))
    return rows


# == report ===================================================================================
def _fmt(values: Measures) -> str:
    return ", ".join(f"{k} {v:.2f}" if k != "n" else f"n {v:.0f}" for k, v in values.items())


def report(rows: list[Row], as_json: bool) -> None:
    if as_json:
        print(json.dumps({f"{r.key}_{k}": round(v, 3) for r in rows for k, v in r.values.items()}))
        return
    print("| kind | provider | measure | figures |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r.kind} | {r.provider} | {r.measure} | {_fmt(r.values)} |")


async def main(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    kinds = [args.only] if args.only else ["stt", "llm", "tts"]
    if "stt" in kinds:
        rows += await bench_deepgram(args.requests, args.stt_streams)
    if "llm" in kinds:
        for case in LLM_CASES:
            rows += await bench_llm(case, args.requests, args.concurrency)
    if "tts" in kinds:
        rows += await bench_tts(args.requests)
    return rows


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    parser.add_argument("--only", choices=["stt", "llm", "tts"])
    parser.add_argument("--requests", type=int, default=40, help="sequential requests per adapter")
    parser.add_argument("--concurrency", type=_ints, default=[1, 16, 64], help="LLM streams at once")
    parser.add_argument("--stt-streams", type=_ints, default=[1, 4], help="Deepgram streams at once")
    report(asyncio.run(main(parser.parse_args())), parser.parse_args().json)
