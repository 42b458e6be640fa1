"""PacedAudioOutput, the socket inputs and the browser output's events, on a virtual clock.

The wire here is an in-memory recorder (the real sockets are covered by the
server tests); the clock is virtual, so pacing and playout times are exact.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.transports.transport_helpers import UpstreamTap, tone
from voiceflow.core.processor import Passthrough
from voiceflow.frames import (
    DTMF,
    AudioRaw,
    BotStartedSpeaking,
    BotStoppedSpeaking,
    LLMResponseEnd,
    LLMToken,
    Metrics,
    PlayoutReport,
    TextToSpeak,
    Transcript,
    TTSAudio,
    UserStoppedSpeaking,
)
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors import Processor, on
from voiceflow.processors.audio.codecs import pcm16_to_ulaw_b64
from voiceflow.processors.audio.errors import AudioFormatError
from voiceflow.processors.audio.resample import StreamResampler
from voiceflow.transports.playout import PacedAudioOutput
from voiceflow.transports.twilio import TwilioInput
from voiceflow.transports.websocket import WebSocketOutput, WebSocketWire

TTS_RATE = 22050
INPUTS = [TTSAudio, LLMResponseEnd, LLMToken, TextToSpeak, Transcript, UserStoppedSpeaking]


class RecordingWire:
    """An AudioWire that records what was written and when (virtual clock time)."""

    def __init__(self, clock: VirtualClock, *, sample_rate: int = 8000, echoes_marks: bool = False) -> None:
        self.clock = clock
        self.sample_rate = sample_rate
        self.echoes_marks = echoes_marks
        self.sent: list[tuple[float, str, Any]] = []

    @property
    def closed(self) -> bool:
        return False

    async def send_audio(self, pcm16: bytes) -> None:
        self.sent.append((self.clock.now(), "audio", pcm16))

    async def send_mark(self, name: str) -> None:
        self.sent.append((self.clock.now(), "mark", name))

    async def send_clear(self) -> None:
        self.sent.append((self.clock.now(), "clear", None))

    async def send_event(self, event: dict[str, Any]) -> None:
        self.sent.append((self.clock.now(), "event", event))

    def of(self, kind: str) -> list[tuple[float, Any]]:
        return [(t, x) for t, k, x in self.sent if k == kind]


def speech(seconds: float, utterance_id: int = 1) -> list[dict[str, Any]]:
    """TTS-like chunks (40 ms at 22050 Hz) of a tone, as TTSAudio fields."""
    pcm = StreamResampler(16000, TTS_RATE).process(tone(seconds), last=True)
    step = TTS_RATE * 40 // 1000 * 2
    return [
        {"audio": pcm[i : i + step], "sample_rate": TTS_RATE, "utterance_id": utterance_id}
        for i in range(0, len(pcm), step)
    ]


async def say(run: GraphRun, seconds: float, utterance_id: int = 1) -> None:
    for fields in speech(seconds, utterance_id):
        await run.push(run.make(TTSAudio, **fields))


def setup(
    clock: VirtualClock, **wire_options: Any
) -> tuple[Graph, UpstreamTap, PacedAudioOutput, RecordingWire]:
    wire = RecordingWire(clock, **wire_options)
    tap, out = UpstreamTap(), PacedAudioOutput(wire)
    return Graph("t", inputs=INPUTS).chain(tap, out), tap, out, wire


async def test_audio_is_paced_at_real_time_after_a_bounded_lead_and_playout_is_tracked() -> None:
    clock = VirtualClock()
    graph, tap, out, wire = setup(clock)
    async with GraphRun(graph, clock=clock) as run:
        await say(run, 1.0)
        await clock.advance(1.5)
    writes = [t for t, _ in wire.of("audio")]
    assert len(writes) in (50, 51) and all(len(a) == 320 for _, a in wire.of("audio"))
    assert writes[:5] == [0.0] * 5, "100 ms lead written at once"
    assert writes[5:40] == pytest.approx([0.02 * k for k in range(1, 36)]), "then one frame per 20 ms"
    for i, t in enumerate(writes):  # never more than the lead buffered at the far end
        assert 0.02 * (i + 1) - t <= 0.1 + 1e-9
    assert out.stats.max_lead_ms == pytest.approx(100.0) and out.stats.late_frames == 0

    # marks: after the TTS chunk crossing 500 ms, and when the queue ran dry (half the lead
    # before the end of playout); the end of the run adds none (no audio after the last)
    marks = wire.of("mark")
    assert marks == [(pytest.approx(0.42), "u1-1"), (pytest.approx(0.9), "u1-2")]
    reports = [f for _, f in tap.of(PlayoutReport)]
    assert [r.played_ms for r in reports] == [520, 20 * len(writes)]
    assert [r.finished for r in reports] == [False, True]
    assert [t for t, _ in tap.of(BotStartedSpeaking)] == [0.0]
    stop_times = [t for t, _ in tap.of(BotStoppedSpeaking)]
    assert stop_times == pytest.approx([0.02 * len(writes)]), "stopped when the last audio has played"


async def test_echoed_marks_drive_playout_and_missing_echoes_time_out() -> None:
    clock = VirtualClock()
    graph, tap, out, wire = setup(clock, echoes_marks=True)
    async with GraphRun(graph, clock=clock) as run:
        await say(run, 0.3)
        await clock.advance(0.5)
        (_, name), *_ = wire.of("mark")
        assert not tap.of(PlayoutReport), "no report before the far end says it played"
        out.mark_echoed("somebody-else's")  # ignored
        out.mark_echoed(name)
        await clock.advance(0.01)
        assert [f.mark for _, f in tap.of(PlayoutReport)] == [name]
        assert tap.of(BotStoppedSpeaking)[0][0] == pytest.approx(0.5), "at the echo"

        await say(run, 0.2, utterance_id=2)  # this one's echo never comes
        await clock.advance(out.mark_grace_s + 0.5)
    assert out.stats.marks_echoed == 1 and out.stats.marks_assumed == 1
    assert tap.of(PlayoutReport)[-1][1].utterance_id == 2 and len(tap.of(BotStoppedSpeaking)) == 2


async def test_interrupt_clears_drops_queued_audio_and_reports_what_was_heard() -> None:
    clock = VirtualClock()
    graph, tap, out, wire = setup(clock, echoes_marks=True)
    async with GraphRun(graph, clock=clock) as run:
        await say(run, 2.0)
        await clock.advance(0.3)
        run.spawn(tap.interrupt())  # as a barge-in would, from inside the run
        await clock.advance(0.5)
        assert [t for t, _ in wire.of("clear")] == [pytest.approx(0.3)]
        assert max(t for t, _ in wire.of("audio")) <= 0.3, "nothing written after the clear"
        cut = [f for _, f in tap.of(PlayoutReport) if f.mark == "clear"]
        assert len(cut) == 1 and cut[0].utterance_id == 1 and not cut[0].finished
        assert cut[0].played_ms == pytest.approx(300, abs=20)
        assert [t for t, _ in tap.of(BotStoppedSpeaking)] == [pytest.approx(0.3)]
        assert out.stats.clear_latency_ms == [0.0]

        for _, name in wire.of("mark"):  # the phone echoes the cleared marks: they are not "played"
            out.mark_echoed(name)
        await say(run, 0.2, utterance_id=2)
        await clock.advance(0.4)
        out.mark_echoed(wire.of("mark")[-1][1])
        await clock.advance(0.01)
    assert [f.utterance_id for _, f in tap.of(PlayoutReport) if f.mark != "clear"] == [2]


async def test_back_to_back_utterances_and_response_end() -> None:
    clock = VirtualClock()
    graph, tap, _out, wire = setup(clock)
    async with GraphRun(graph, clock=clock) as run:
        await say(run, 0.3, utterance_id=1)
        await say(run, 0.3, utterance_id=2)
        await run.push(run.make(LLMResponseEnd))
        await clock.advance(1.0)
    reports = [(f.utterance_id, f.finished) for _, f in tap.of(PlayoutReport)]
    assert reports == [(1, True), (2, True)]
    assert len(tap.of(BotStartedSpeaking)) == 1 and len(tap.of(BotStoppedSpeaking)) == 1
    gaps = [b - a for (a, _), (b, _) in zip(wire.of("audio"), wire.of("audio")[1:], strict=False)]
    assert max(gaps) == pytest.approx(0.02), "no gap between the utterances"


async def test_voice_to_voice_counts_from_the_callers_last_voiced_audio() -> None:
    clock = VirtualClock()
    graph, tap, out, _wire = setup(clock)
    async with GraphRun(graph, clock=clock) as run:
        await clock.advance(1.0)
        await run.push(run.make(UserStoppedSpeaking, last_voiced_at=0.7))
        await clock.advance(0.25)
        await say(run, 0.2)
        await clock.advance(0.5)
    values = [f.values for _, f in tap.of(Metrics)]
    assert values == [{"v2v_ms": 550.0, "turn": 1}] and out.stats.v2v_ms == [550.0]


async def test_voice_to_voice_when_the_end_of_turn_arrives_behind_its_reply() -> None:
    # in a pipeline the TTS forwards the end of turn only once the reply is synthesized: the
    # reply's audio reaches the output first, and is still the reply to that turn
    clock = VirtualClock()
    graph, tap, out, _wire = setup(clock)
    async with GraphRun(graph, clock=clock) as run:
        await clock.advance(1.0)
        end = run.make(UserStoppedSpeaking, last_voiced_at=0.7)  # decided at 1.0
        await clock.advance(0.25)
        await say(run, 0.2)  # made at 1.25, sent at once
        await clock.advance(0.3)
        await run.push(end)
        await clock.advance(0.5)
    values = [f.values for _, f in tap.of(Metrics)]
    assert values == [{"v2v_ms": 550.0, "turn": 1}] and out.stats.v2v_ms == [550.0]


async def test_voice_to_voice_when_the_end_of_turn_arrives_behind_a_long_reply() -> None:
    # the agent forwards the end of turn once its whole reply is out (a streamed reply, a tool
    # round): here 12 s of it were sent first, more frames than any per-frame record keeps
    clock = VirtualClock()
    graph, tap, out, _wire = setup(clock)
    async with GraphRun(graph, clock=clock) as run:
        await clock.advance(1.0)
        end = run.make(UserStoppedSpeaking, last_voiced_at=0.7)  # decided at 1.0
        await clock.advance(0.25)
        for _ in range(30):  # made at 1.25, then played at real time
            await say(run, 0.4)
            await clock.advance(0.4)
        await run.push(end)
        await clock.advance(0.5)
    values = [f.values for _, f in tap.of(Metrics)]
    assert values == [{"v2v_ms": 550.0, "turn": 1}] and out.stats.v2v_ms == [550.0]


async def test_bad_agent_audio_is_reported_not_raised() -> None:
    clock = VirtualClock()
    graph, _tap, _out, wire = setup(clock)
    async with GraphRun(graph, clock=clock) as run:
        await run.push(run.make(TTSAudio, audio=b"\x01\x02\x03", sample_rate=TTS_RATE))
        await run.push(run.make(TTSAudio, audio=bytes(400), sample_rate=TTS_RATE, channels=2))
        await run.push(run.make(TTSAudio, audio=bytes(400), sample_rate=1))
        await say(run, 0.1)
        await clock.advance(0.5)
    messages = " | ".join(e.message for e in run.errors)
    assert "whole number" in messages and "2 channels" in messages and "sample rate 1 Hz" in messages
    assert len(wire.of("audio")) >= 5


class SwallowingTTS(Processor):
    """Consumes agent text as a TTS does, so it never reaches the sink."""

    produces = (TTSAudio,)

    @on(TextToSpeak, LLMToken)
    async def text(self, frame: TextToSpeak | LLMToken) -> None:
        await self.push(TTSAudio(audio=bytes(640), sample_rate=16000, utterance_id=7))


class FakeSocket:
    def __init__(self) -> None:
        self.texts: list[dict[str, Any]] = []
        self.binary: list[bytes] = []

    async def send_text(self, data: str) -> None:
        self.texts.append(json.loads(data))

    async def send_bytes(self, data: bytes) -> None:
        self.binary.append(data)


async def test_browser_output_relays_transcripts_and_agent_text_once() -> None:
    clock = VirtualClock()
    socket = FakeSocket()
    out = WebSocketOutput(WebSocketWire(socket))
    graph = Graph("t", inputs=INPUTS).chain(Passthrough(name="dialogue"), SwallowingTTS(name="tts"), out)
    async with GraphRun(graph, clock=clock) as run:
        await clock.advance(0.01)  # Start reaches the output, which then watches the run
        await run.push(run.make(Transcript, text="where is my", final=False))
        await run.push(run.make(Transcript, text="where is my order", final=True))
        await run.push(run.make(TextToSpeak, text="Let me check."))
        for token in ("It ", "shipped."):
            await run.push(run.make(LLMToken, text=token))
        await run.push(run.make(LLMResponseEnd))
        await clock.advance(0.5)
    said = [(e["role"], e["text"], e["final"]) for e in socket.texts if e["type"] == "transcript"]
    assert [s for s in said if s[0] == "user"] == [
        ("user", "where is my", False),
        ("user", "where is my order", True),
    ]
    assert [s for s in said if s[0] == "agent"] == [  # the TTS swallowed these: seen in the run, once
        ("agent", "Let me check.", True),
        ("agent", "It", False),
        ("agent", "It shipped.", False),
        ("agent", "It shipped.", True),
    ]
    assert socket.binary and all(len(b) == 640 for b in socket.binary)


async def test_twilio_input_reframes_mulaw_to_20ms_16k_and_validates() -> None:
    clock = VirtualClock()
    sink = Collector(name="sink")
    twilio_in = TwilioInput()
    async with GraphRun(Graph("t").chain(twilio_in, sink), clock=clock):
        pcm8k = StreamResampler(16000, 8000).process(tone(0.3), last=True)
        for off in range(0, len(pcm8k), 222):  # odd-sized payloads, as a peer may send
            await twilio_in.feed_media(pcm16_to_ulaw_b64(pcm8k[off : off + 222]))
        with pytest.raises(AudioFormatError):
            await twilio_in.feed_media("%%% not base64")
        with pytest.raises(ValueError, match="DTMF"):
            await twilio_in.feed_dtmf("X")
        await twilio_in.feed_dtmf("5")
        await clock.advance(0.1)
    audio = sink.of(AudioRaw)
    assert len(audio) == 14 and all(len(f.audio) == 640 and f.sample_rate == 16000 for f in audio)
    assert [f.digit for f in sink.of(DTMF)] == ["5"]
