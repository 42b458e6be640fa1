"""WebRTCOutput: agent audio onto the peer's outbound track, text and latency onto its data channel (sink).

``TTSAudio`` at any rate is resampled to 48 kHz (one soxr stream per
utterance, its tail flushed when the next utterance starts) and buffered in the
``OutboundAudioTrack``, which paces it out. The track's playout events become
upstream frames: ``BotStartedSpeaking`` / ``BotStoppedSpeaking`` and
``PlayoutReport(utterance_id, played_ms, finished)`` — all measured at what
the track handed the peer. An ``Interrupt`` empties the buffer at once.

Text frames reaching the sink (``Transcript``, ``TextToSpeak``, ``LLMToken``,
``Metrics``) are forwarded to the page as JSON events (see ``events``); the
voice-to-voice latency of a turn (``voiceflow.observability.v2v``: the caller's
last voiced audio → the first agent audio frame handed to the peer) is sent both
to the page and upstream as ``Metrics``.
"""

from __future__ import annotations

import numpy as np

from voiceflow.frames import (
    BotStartedSpeaking,
    BotStoppedSpeaking,
    End,
    Interrupt,
    LLMToken,
    Metrics,
    PlayoutReport,
    Start,
    TextToSpeak,
    Transcript,
    TTSAudio,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)
from voiceflow.observability.v2v import VoiceToVoice
from voiceflow.processors import Processor, on
from voiceflow.processors.audio.codecs import pcm16_to_float32
from voiceflow.processors.audio.resample import StreamResampler
from voiceflow.processors.audio.validate import audio_problem
from voiceflow.transports.playout.state import PlayoutState
from voiceflow.transports.webrtc import events
from voiceflow.transports.webrtc.peer import WebRTCPeer
from voiceflow.transports.webrtc.track import PlayoutEvent

__all__ = ["WebRTCOutput"]


class WebRTCOutput(Processor):
    """Sink of a WebRTC call's graph; ``drain_playout_s`` bounds the wait for buffered audio at End."""

    produces = (BotStartedSpeaking, BotStoppedSpeaking, PlayoutReport, Metrics)

    def __init__(self, peer: WebRTCPeer, *, name: str = "webrtc_out", drain_playout_s: float = 30.0) -> None:
        super().__init__(name=name)
        self.peer = peer
        self.track = peer.output_track
        self.drain_playout_s = drain_playout_s
        self.v2v = VoiceToVoice()
        self.playout = PlayoutState(self.push_up)
        self._resampler: StreamResampler | None = None
        self._stream_key: tuple[int, int] | None = None  # (utterance id, input rate)
        self.track.on_underrun = self._flush_stream

    async def on_start(self, frame: Start) -> None:
        self.create_task(self._relay_playout(), turn=False)

    # -- agent audio ------------------------------------------------------------------------------
    @on(TTSAudio)
    async def audio(self, frame: TTSAudio) -> None:
        problem = audio_problem(frame)
        if problem is not None:
            await self.report_error(problem)
            return
        samples = pcm16_to_float32(frame.audio, frame.channels)
        if frame.channels > 1:
            samples = samples.mean(axis=1).astype(np.float32)
        key = (frame.utterance_id, frame.sample_rate)
        if key != self._stream_key:
            self._flush_stream()
            self._stream_key = key
            self._resampler = StreamResampler(frame.sample_rate, self.track.sample_rate)
        assert self._resampler is not None
        pcm48 = self._resampler.process_float32(samples)
        await self.track.wait_room()
        if frame.generation < self.generation:
            return  # an interrupt came while waiting for room: this audio is stale
        self.track.enqueue(pcm48, frame.utterance_id)

    def _flush_stream(self) -> None:
        """Hand the resampler's held tail to the track (at utterance change, underrun and End)."""
        if self._resampler is not None and self._stream_key is not None:
            tail = self._resampler.flush()
            self.track.enqueue(tail, self._stream_key[0])
        self._resampler = None
        self._stream_key = None

    async def on_interrupt(self, frame: Interrupt) -> None:
        self._resampler = None
        self._stream_key = None
        self.track.clear()
        self.peer.send_event(events.interrupt())

    async def on_end(self, frame: End) -> None:
        self._flush_stream()
        if self.peer.gone.is_set() or not self.peer.connected.is_set():
            return
        clock = self.run.clock
        deadline = clock.now() + self.drain_playout_s
        while (self.track.buffered_ms > 0 or self.track.speaking) and clock.now() < deadline:
            if self.peer.gone.is_set():
                return
            await clock.sleep(self.track.frame_ms / 1000.0)

    # -- text and measurements for the page ------------------------------------------------------------
    @on(Transcript)
    async def transcript(self, frame: Transcript) -> None:
        self.peer.send_event(events.transcript("user", frame.text, frame.final))
        await self.push(frame)

    @on(TextToSpeak)
    async def text_to_speak(self, frame: TextToSpeak) -> None:
        self.peer.send_event(events.transcript("agent", frame.text, True))
        await self.push(frame)

    @on(LLMToken)
    async def token(self, frame: LLMToken) -> None:
        self.peer.send_event(events.transcript("agent", frame.text, False, delta=True))
        await self.push(frame)

    @on(Metrics)
    async def metrics(self, frame: Metrics) -> None:
        values = frame.values
        v2v = values.get("v2v_ms")
        if isinstance(v2v, int | float):
            turn = values.get("turn")
            stages = {k: float(v) for k, v in values.items() if k.endswith("_ms") and k != "v2v_ms"}
            number = int(turn) if isinstance(turn, int | float) else self.v2v.turns
            self.peer.send_event(events.latency(number, float(v2v), **stages))
        else:
            self.peer.send_event(events.metrics(frame.processor, values))
        await self.push(frame)

    @on(UserStartedSpeaking)
    async def user_started(self, frame: UserStartedSpeaking) -> None:
        self.v2v.turn_started(frame)
        await self.push(frame)

    @on(UserStoppedSpeaking)
    async def user_stopped(self, frame: UserStoppedSpeaking) -> None:
        self.v2v.turn_ended(frame)
        await self.push(frame)

    # -- playout, as handed to the peer ---------------------------------------------------------------------
    async def _relay_playout(self) -> None:
        while True:
            for event in await self.track.next_events():
                await self._playout(event)

    async def _playout(self, event: PlayoutEvent) -> None:
        kind = event.kind
        if kind == "started":
            await self.playout.started()
            self.peer.send_event(events.speaking(True))
        elif kind == "began":
            v2v = self.v2v.audio_out(event.at)  # the first agent audio after the caller's turn
            if v2v is not None:
                turn = self.v2v.turns
                self.peer.send_event(events.latency(turn, v2v))
                await self.push_up(Metrics(values={"v2v_ms": v2v, "turn": turn}, processor=self.name))
        elif kind == "stopped":
            await self.playout.stopped()
            self.peer.send_event(events.speaking(False))
        else:  # played / finished / interrupted (a barge-in's cut: reported as the paced output does)
            mark = "clear" if kind == "interrupted" else ""
            await self.playout.played(
                event.utterance_id, event.played_ms, finished=kind == "finished", mark=mark
            )

    async def cleanup(self) -> None:
        await self.peer.close()
