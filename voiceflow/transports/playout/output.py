"""Paced agent-audio output with playout tracking, shared by the socket transports.

Bytes written to a socket are not audio heard. ``PacedAudioOutput`` (the sink of
a call's graph) resamples ``TTSAudio`` to the wire rate with one stateful
resampler per utterance, cuts it into 20 ms frames and writes them *at real
time* on the run clock, never more than ``lead_ms`` ahead of the far end's
playout. After each utterance chunk it sends a mark; the far end reports when
a mark has played (Twilio echoes it; for wires without echoes the clock says
so), and that drives:

* ``BotStartedSpeaking`` (upstream) when the first frame goes out while silent;
* ``BotStoppedSpeaking`` when the last mark is played and nothing follows it,
  or at once on an Interrupt (barge-in);
* ``PlayoutReport(utterance_id, played_ms, finished, mark)`` for every played
  mark, and on an Interrupt one per cut utterance with the estimated heard
  position (``mark="clear"``), so memory can keep only what the caller heard;
* ``Metrics({"v2v_ms", "turn"})`` when the first agent frame after a
  ``UserStoppedSpeaking`` goes out (voice-to-voice latency: ``voiceflow.observability.v2v``).

``EncodedTTSAudio`` in the wire's own codec (a Realtime session's mu-law on a Twilio
call) is cut into 20 ms frames of those bytes and written as it came, paced, marked and
cleared like PCM; in any other codec it is decoded to PCM16 first.

On Interrupt the outbound queue is dropped and the wire is told to clear what
it buffered. A wire that never echoes a mark is not waited on forever: a mark
overdue by ``mark_grace_s`` counts as played.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any, cast

from voiceflow.frames import (
    BotStartedSpeaking,
    BotStoppedSpeaking,
    EncodedTTSAudio,
    End,
    Interrupt,
    LLMResponseEnd,
    Mark,
    Metrics,
    PlayoutReport,
    Start,
    TTSAudio,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)
from voiceflow.observability.v2v import VoiceToVoice
from voiceflow.processors import Processor, on
from voiceflow.processors.audio.codecs import alaw_decode, ulaw_decode
from voiceflow.processors.audio.errors import AudioFormatError
from voiceflow.processors.audio.framing import Rechunker
from voiceflow.processors.audio.resample import StreamResampler
from voiceflow.processors.audio.validate import audio_problem
from voiceflow.transports.playout.state import PlayoutState
from voiceflow.transports.playout.wire import (
    AudioWire,
    Chunk,
    EncodedWire,
    MarkItem,
    OutputStats,
    PendingMark,
)

log = logging.getLogger("voiceflow.transports.playout")

__all__ = ["PacedAudioOutput"]

#: G.711 codecs an ``EncodedTTSAudio`` may carry: decoder to PCM16 and the byte of silence
G711 = {"audio/pcmu": (ulaw_decode, 0xFF), "audio/pcma": (alaw_decode, 0xD5)}


@dataclass(slots=True)
class _Reply:
    """An utterance's audio: when its first frame was made, that frame's seq, when it left."""

    made: float
    first_seq: int
    sent_at: float | None = None


class PacedAudioOutput(Processor):
    """Sink of a call's graph: paced, tracked agent audio to an ``AudioWire`` (see module doc)."""

    produces = (BotStartedSpeaking, BotStoppedSpeaking, PlayoutReport, Metrics)

    def __init__(
        self,
        wire: AudioWire,
        *,
        name: str | None = None,
        frame_ms: int = 20,
        lead_ms: float = 100.0,
        mark_every_ms: float = 500.0,
        mark_grace_s: float = 2.0,
        late_tolerance_ms: float = 20.0,
    ) -> None:
        super().__init__(name=name or "output")
        if lead_ms < frame_ms:
            raise ValueError(f"lead_ms ({lead_ms}) must be at least one frame ({frame_ms} ms)")
        self.wire = wire
        self.frame_ms = frame_ms
        self.lead_ms = lead_ms
        self.mark_every_ms = mark_every_ms
        self.mark_grace_s = mark_grace_s if wire.echoes_marks else 0.0
        self.late_tolerance_ms = late_tolerance_ms
        self.stats = OutputStats()
        self.playout = PlayoutState(self.push_up)
        # enqueue side: the utterance being cut into frames
        self._queue: deque[Chunk | MarkItem] = deque()
        self._rechunker = Rechunker(wire.sample_rate, frame_ms)
        self._resampler: StreamResampler | None = None
        #: the wire's own codec (``EncodedWire``): encoded agent audio in it is written as it came
        self._codec: str | None = getattr(wire, "codec", None)
        self._encoded = bytearray()  # encoded bytes short of a whole frame
        self._encoded_frame = wire.sample_rate * frame_ms // 1000  # G.711: one byte a sample
        self._utt: int | None = None
        self._utt_ms = 0.0
        self._since_mark_ms = 0.0
        self._mark_seq = 0
        self._chunk_seq = 0
        self._last_mark: MarkItem | None = None
        # send side
        self._epoch = 0  # bumped by a clear: a frame taken before it is not written
        self._playhead = 0.0  # clock time when everything written will have played
        self._burst = False  # the queue stayed non-empty since the last write
        self._sent_since_mark = False
        self._inflight: deque[tuple[int, float, float]] = deque()  # (utterance, ms at end, play end)
        self._pending: deque[PendingMark] = deque()
        self._echoes: deque[str] = deque(maxlen=256)
        self._send_lock = asyncio.Lock()
        self._wake_sender = asyncio.Event()
        self._wake_acker = asyncio.Event()
        self._progress = asyncio.Event()
        # voice-to-voice
        self.v2v = VoiceToVoice()
        self._reply_from_seq = 0  # the first frame enqueued after the caller's turn ended
        # the end of turn travels behind the reply it caused (the agent forwards it once the reply
        # is complete, the TTS once it is synthesized), so the reply is found by when its audio was
        # made. One record per utterance: [made at, first seq, first sent at]; per frame records
        # would forget a long reply's first frame before a late end of turn reads it
        self._replies: deque[_Reply] = deque(maxlen=64)

    # -- the far end ---------------------------------------------------------------------
    def mark_echoed(self, name: str) -> None:
        """The far end played up to mark ``name`` (called by the socket handler, any task)."""
        self._echoes.append(name)
        self._wake_acker.set()

    def far_end_gone(self) -> None:
        """The socket closed or the caller hung up: nothing more can be played."""
        self._queue.clear()
        self._pending.clear()
        self._wake_sender.set()
        self._wake_acker.set()
        self._progress.set()

    @property
    def idle(self) -> bool:
        """Nothing queued and every written mark played."""
        return not self._queue and not self._pending

    # -- lifecycle -------------------------------------------------------------------------
    async def on_start(self, frame: Start) -> None:
        self._playhead = self.now()
        self.create_task(self._sender(), turn=False)
        self.create_task(self._acker(), turn=False)

    async def on_end(self, frame: End) -> None:
        if self.wire.closed:
            return
        self._finish_utterance()
        queued_s = sum(1 for i in self._queue if isinstance(i, Chunk)) * self.frame_ms / 1000
        timeout = queued_s + self.lead_ms / 1000 + self.mark_grace_s + 1.0
        try:
            await self.run.clock.wait_for(self._drained(), timeout)
        except TimeoutError:
            log.warning("%s: playout not drained after %.1f s at end of call", self.name, timeout)

    async def _drained(self) -> None:
        while not self.idle and not self.wire.closed:
            self._progress.clear()
            await self._progress.wait()

    # -- inputs ------------------------------------------------------------------------------
    @on(TTSAudio)
    async def tts_audio(self, frame: TTSAudio) -> None:
        await self._take_audio(frame)
        await self.push(frame)

    @on(EncodedTTSAudio)
    async def encoded_audio(self, frame: EncodedTTSAudio) -> None:
        if frame.codec == self._codec and frame.sample_rate == self.wire.sample_rate:
            self._take_encoded(frame)
        elif frame.codec in G711:
            pcm = G711[frame.codec][0](frame.audio)
            copy = TTSAudio(audio=pcm, sample_rate=frame.sample_rate, utterance_id=frame.utterance_id)
            await self._take_audio(copy)
        else:
            await self.report_error(f"{self.name}: encoded agent audio in {frame.codec!r}; cannot play it")
        await self.push(frame)

    @on(LLMResponseEnd)
    async def response_end(self, frame: LLMResponseEnd) -> None:
        self._finish_utterance()
        await self.push(frame)

    @on(Mark)
    async def mark(self, frame: Mark) -> None:
        """A pipeline-named mark: reported back (PlayoutReport.mark) once the audio before it played."""
        played = self._utt_ms if frame.utterance_id == self._utt else 0.0
        self._queue.append(MarkItem(frame.label, frame.utterance_id, played, final=False))
        self._wake_sender.set()
        await self.push(frame)

    @on(UserStartedSpeaking)
    async def user_started(self, frame: UserStartedSpeaking) -> None:
        self.v2v.turn_started(frame)
        await self.push(frame)

    @on(UserStoppedSpeaking)
    async def user_stopped(self, frame: UserStoppedSpeaking) -> None:
        self.v2v.turn_ended(frame)
        reply = next((r for r in self._replies if r.made >= frame.ts), None)
        self._reply_from_seq = self._chunk_seq + 1 if reply is None else reply.first_seq
        if reply is not None and reply.sent_at is not None:  # already playing: its first frame left then
            await self._count_v2v(reply.sent_at)
        await self.push(frame)

    async def _take_audio(self, frame: TTSAudio) -> None:
        if self.wire.closed:
            return
        problem = audio_problem(frame)
        if problem is None and frame.channels != 1:
            problem = f"TTSAudio with {frame.channels} channels; the output takes mono"
        if problem is not None:
            await self.report_error(f"{self.name}: {problem}")
            return
        if self._utt is not None and frame.utterance_id != self._utt:
            self._finish_utterance()
        if self._encoded:
            self._flush_partial()  # encoded audio of this utterance came first: its last frame goes out whole
        if self._resampler is not None and self._resampler.in_rate != frame.sample_rate:
            self._flush_partial(pad=False)
        if self._resampler is None:
            self._resampler = StreamResampler(frame.sample_rate, self.wire.sample_rate)
        if frame.utterance_id != self._utt or not self._replies:
            self._replies.append(_Reply(frame.ts, self._chunk_seq + 1))
        self._utt = frame.utterance_id
        try:
            pcm = self._resampler.process(frame.audio)
        except AudioFormatError as exc:
            await self.report_error(f"{self.name}: {exc}", exception=exc)
            return
        self._enqueue_pcm(pcm)
        if self._since_mark_ms >= self.mark_every_ms:
            self._enqueue_mark(final=False)
        self._wake_sender.set()

    def _take_encoded(self, frame: EncodedTTSAudio) -> None:
        if self.wire.closed:
            return
        if self._utt is not None and frame.utterance_id != self._utt:
            self._finish_utterance()
        if self._resampler is not None or self._rechunker.pending:
            self._flush_partial()  # PCM of this utterance came first: its last frame goes out whole
        if frame.utterance_id != self._utt or not self._replies:
            self._replies.append(_Reply(frame.ts, self._chunk_seq + 1))
        self._utt = frame.utterance_id
        self._encoded += frame.audio
        size = self._encoded_frame
        while len(self._encoded) >= size:
            self._enqueue_frame(bytes(self._encoded[:size]), encoded=True)
            del self._encoded[:size]
        if self._since_mark_ms >= self.mark_every_ms:
            self._enqueue_mark(final=False)
        self._wake_sender.set()

    # -- enqueue side ------------------------------------------------------------------------
    def _enqueue_pcm(self, pcm: bytes) -> None:
        assert self._utt is not None
        for chunk in self._rechunker.push(pcm):
            self._enqueue_frame(chunk)

    def _enqueue_frame(self, data: bytes, *, encoded: bool = False) -> None:
        assert self._utt is not None
        self._utt_ms += self.frame_ms
        self._since_mark_ms += self.frame_ms
        self._chunk_seq += 1
        self._queue.append(Chunk(data, self._utt, self._utt_ms, self._chunk_seq, encoded))

    def _flush_partial(self, pad: bool = True) -> None:
        """Push the resampler tail, then (``pad``) the last partial frame zero-padded, into the queue."""
        if self._resampler is not None:
            tail = self._resampler.flush()
            self._resampler = None
            if tail and self._utt is not None:
                self._enqueue_pcm(tail)
        if pad:
            rest = self._rechunker.flush(pad=True)
            if rest and self._utt is not None:
                self._enqueue_pcm(rest)
            if self._encoded and self._utt is not None and self._codec is not None:
                silence = bytes([G711[self._codec][1]]) * (self._encoded_frame - len(self._encoded))
                self._enqueue_frame(bytes(self._encoded) + silence, encoded=True)
            self._encoded.clear()

    def _enqueue_mark(self, final: bool) -> None:
        if self._utt is None:
            return
        if self._since_mark_ms == 0:
            # no audio since the last mark: a final one only upgrades it (queued, pending or played)
            last = self._last_mark
            if final and last is not None and last.utterance_id == self._utt:
                last.final = True
            return
        self._mark_seq += 1
        self._last_mark = MarkItem(f"u{self._utt}-{self._mark_seq}", self._utt, self._utt_ms, final)
        self._queue.append(self._last_mark)
        self._since_mark_ms = 0.0

    def _finish_utterance(self) -> None:
        if self._utt is None:
            return
        self._flush_partial()
        self._enqueue_mark(final=True)
        self._utt = None
        self._utt_ms = 0.0
        self._wake_sender.set()

    def _dry_work(self) -> bool:
        """Audio held back (partial frame, resampler tail) or written without a mark after it."""
        return self._utt is not None and (
            self._since_mark_ms > 0
            or self._rechunker.pending > 0
            or self._resampler is not None
            or bool(self._encoded)
        )

    def _went_dry(self) -> None:
        """The far end is about to run out: send what is held back, then a mark after it."""
        self._flush_partial()
        self._enqueue_mark(final=False)

    # -- send side ---------------------------------------------------------------------------
    async def _sender(self) -> None:
        clock = self.run.clock
        frame_s = self.frame_ms / 1000
        lead_s = self.lead_ms / 1000
        while True:
            if not self._queue:
                # Hold a partial frame back while the far end has audio: the next TTS chunk usually
                # completes it. Flush (and mark) when half the lead is left, before playout runs dry.
                self._burst = False
                self._wake_sender.clear()
                timeout: float | None = None
                if self._dry_work():
                    timeout = self._playhead - lead_s / 2 - clock.now()
                    if timeout <= 0:
                        self._went_dry()
                        continue
                try:
                    await clock.wait_for(self._wake_sender.wait(), timeout)
                except TimeoutError:
                    pass
                continue
            item = self._queue[0]
            if isinstance(item, MarkItem):
                self._queue.popleft()
                await self._write_mark(item)
                continue
            now = clock.now()
            if self._playhead < now:
                late_ms = (now - self._playhead) * 1000
                if self._burst and late_ms > self.late_tolerance_ms:
                    self.stats.late_frames += 1
                    self.stats.max_late_ms = max(self.stats.max_late_ms, late_ms)
                self._playhead = now
            ahead = self._playhead + frame_s - now
            if ahead > lead_s + 1e-6:
                await clock.sleep(ahead - lead_s)
                continue
            self._queue.popleft()
            await self._write_audio(item)
            self._burst = bool(self._queue)

    async def _write_audio(self, chunk: Chunk) -> None:
        epoch = self._epoch
        async with self._send_lock:
            if epoch != self._epoch or self.wire.closed:
                return
            try:
                if chunk.encoded:
                    await cast(EncodedWire, self.wire).send_encoded(chunk.pcm)
                else:
                    await self.wire.send_audio(chunk.pcm)
            except Exception as exc:  # a dead socket ends playout, not the run
                self._wire_failed(exc)
                return
        now = self.now()
        self._playhead += self.frame_ms / 1000
        self._inflight.append((chunk.utterance_id, chunk.utterance_ms, self._playhead))
        while len(self._inflight) > 1 and self._inflight[0][2] <= now:
            utt, ms, _ = self._inflight.popleft()
            self.playout.heard_up_to(utt, ms)
        self._sent_since_mark = True
        self.stats.frames_sent += 1
        self.stats.max_lead_ms = max(self.stats.max_lead_ms, (self._playhead - now) * 1000)
        await self.playout.started()
        for reply in reversed(self._replies):  # the first frame of an utterance: note when it left
            if reply.sent_at is None and chunk.seq >= reply.first_seq:
                reply.sent_at = now
                break
        if chunk.seq >= self._reply_from_seq:
            await self._count_v2v(now)

    async def _count_v2v(self, sent_at: float) -> None:
        if (v2v := self.v2v.audio_out(sent_at)) is not None:
            self.stats.v2v_ms.append(v2v)
            turn = self.v2v.turns
            await self.push_up(Metrics(values={"v2v_ms": v2v, "turn": turn}, processor=self.name))
            await self._event({"type": "latency", "turn": turn, "v2v_ms": v2v})

    async def _write_mark(self, item: MarkItem) -> None:
        epoch = self._epoch
        async with self._send_lock:
            if epoch != self._epoch or self.wire.closed:
                return
            try:
                await self.wire.send_mark(item.name)
            except Exception as exc:
                self._wire_failed(exc)
                return
        self._pending.append(PendingMark(item, max(self._playhead, self.now())))
        self._sent_since_mark = False
        self.stats.marks_sent += 1
        self._wake_acker.set()

    def _wire_failed(self, exc: Exception) -> None:
        log.info("%s: wire write failed (%s: %s); playout stopped", self.name, type(exc).__name__, exc)
        self.far_end_gone()

    async def _event(self, event: dict[str, Any]) -> None:
        if self.wire.closed:
            return
        try:
            await self.wire.send_event(event)
        except Exception as exc:
            self._wire_failed(exc)

    # -- playout tracking ------------------------------------------------------------------
    async def _acker(self) -> None:
        clock = self.run.clock
        while True:
            if self._echoes:
                await self._played(self._echoes.popleft(), echoed=True)
                continue
            wait: float | None = None
            if self._pending:
                wait = self._pending[0].due + self.mark_grace_s - clock.now()
                if wait <= 0:
                    if self.wire.echoes_marks:
                        log.info(
                            "%s: mark %s not echoed in time; counted as played", self.name, self._pending[0]
                        )
                    await self._played(self._pending[0].mark.name, echoed=False)
                    continue
            self._wake_acker.clear()
            try:
                await clock.wait_for(self._wake_acker.wait(), wait)
            except TimeoutError:
                pass

    async def _played(self, name: str, *, echoed: bool) -> None:
        index = next((i for i, p in enumerate(self._pending) if p.mark.name == name), None)
        if index is None:
            return  # a mark dropped by a clear, or not ours
        done = [self._pending.popleft().mark for _ in range(index + 1)]
        if echoed:
            self.stats.marks_echoed += len(done)
        else:
            self.stats.marks_assumed += len(done)
        after = self._next_audio_utterance()
        for i, m in enumerate(done):
            next_utt = done[i + 1].utterance_id if i + 1 < len(done) else after
            finished = m.final or next_utt != m.utterance_id
            await self.playout.played(m.utterance_id, m.played_ms, finished=finished, mark=m.name)
        if after is None and not self._pending:
            await self.playout.stopped()
        self._progress.set()

    def _next_audio_utterance(self) -> int | None:
        """The utterance of the audio after the last played mark (written or queued), if any."""
        if self._pending:
            return self._pending[0].mark.utterance_id
        if self._sent_since_mark and self._inflight:
            return self._inflight[-1][0]
        for item in self._queue:
            if isinstance(item, Chunk):
                return item.utterance_id
        return None

    # -- barge-in -----------------------------------------------------------------------------
    async def on_interrupt(self, frame: Interrupt) -> None:
        now = self.now()
        had_output = self.playout.speaking or bool(self._queue) or self._playhead > now
        due = [p for p in self._pending if p.due <= now]
        if due:  # played already; the echo is on its way
            await self._played(due[-1].mark.name, echoed=False)
        cut = self._cut_utterances(now)
        self._epoch += 1
        self._queue.clear()
        self._pending.clear()
        self._resampler = None
        self._rechunker.flush()
        self._encoded.clear()
        self._utt = None
        self._utt_ms = self._since_mark_ms = 0.0
        self._sent_since_mark = False
        self._inflight.clear()
        self._playhead = now
        if had_output and not self.wire.closed:
            async with self._send_lock:
                try:
                    await self.wire.send_clear()
                except Exception as exc:
                    self._wire_failed(exc)
            self.stats.clears += 1
            self.stats.clear_latency_ms.append(round((self.now() - frame.ts) * 1000, 2))
        for utt, heard_ms in sorted(cut.items()):
            await self.playout.played(utt, heard_ms, finished=False, mark="clear")
        await self.playout.stopped()
        await self._event({"type": "interrupt"})
        self._wake_sender.set()
        self._wake_acker.set()
        self._progress.set()

    def _cut_utterances(self, now: float) -> dict[int, float]:
        """Utterances an interrupt cuts short -> ms the caller heard (marks, else the pacing clock)."""
        cut = {utt for utt, _, end in self._inflight if end > now}
        cut.update(p.mark.utterance_id for p in self._pending)
        cut.update(i.utterance_id for i in self._queue if isinstance(i, Chunk))
        if self._utt is not None:
            cut.add(self._utt)
        heard = {utt: self.playout.heard.get(utt, 0.0) for utt in cut}
        frame_s = self.frame_ms / 1000
        for utt, ms_end, play_end in self._inflight:
            if utt in heard and play_end - frame_s <= now:  # started playing
                heard[utt] = max(heard[utt], ms_end - max(0.0, play_end - now) * 1000)
        return {utt: round(ms, 1) for utt, ms in heard.items()}
