"""Barge-in: the caller talking over the agent interrupts it, and a false alarm resumes it.

``BargeIn`` sits right after the VAD (before the ``Endpointer``, which swallows
the VAD's intermediate events). It learns whether the agent is audible from
``BotStartedSpeaking`` / ``BotStoppedSpeaking``, which the output transport
sends *upstream* when playout starts and stops. When the caller starts speaking
while the agent is audible and keeps speaking for ``min_speech_secs`` (timed on
the run clock from the VAD's onset report, so a cough that the VAD closes
sooner does not count), it calls ``interrupt()`` exactly once for that onset:
the generation moves on and the agent's stale output is dropped everywhere.

**Fast stop, then resume.** With ``min_speech_secs=0`` the agent stops at the VAD's
onset report (the output sends ``clear`` at once), before anyone can know whether
words follow. With ``resume=True`` the onset is then judged: if the voice lasts less
than ``confirm_secs`` and no more follows within ``resume_after_secs`` of its stop,
and nothing else interrupted meanwhile (the endpointer reopening a turn, a reply to
real words), it was a cough, a "mm-hm" or line noise: a ``ResumeSpeaking`` goes
downstream for each utterance the clear cut, from the position the output reported
the caller had heard (its ``PlayoutReport(mark="clear")``), so the TTS says the rest.
``false_interruptions`` and ``resumes`` count them. The onset frame forwarded for a
barge-in is marked ``VoiceStarted(over_agent=True, agent_audible_secs=...)``, so the
endpointer can tell a backchannel over the agent from a turn, and a caller going on before
the reply was really heard from one interrupting it.

**Stop at the first voiced window.** With ``early_stop_secs`` (and ``resume``), voice coming
back in the agent's first ``early_stop_secs`` of speech (the VAD's
``VoicePaused(resumed=True)``, ~0.16 s before it confirms an onset) stops the agent at once:
the reply has just begun, so the caller is most likely going on with the turn it answers
(the endpointer then reopens it), and should hear as little of it as possible. If no onset
follows within ``resume_after_secs``, it was noise, and the reply resumes where it was cut.
``early_stops`` counts them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from voiceflow.core.processor import Processor, on
from voiceflow.frames.base import evolve
from voiceflow.frames.playout import PlayoutReport, ResumeSpeaking
from voiceflow.frames.speech import (
    BotStartedSpeaking,
    BotStoppedSpeaking,
    VoicePaused,
    VoiceStarted,
    VoiceStopped,
)

__all__ = ["BargeIn"]


@dataclass
class _Barge:
    """One interruption being judged."""

    onset: float  # clock time of the VAD's onset report
    generation: int  # the generation the interrupt started
    cut: dict[int, float] = field(default_factory=dict)  # utterance -> ms the caller had heard


class BargeIn(Processor):
    """Interrupts the agent when the caller speaks over it; resumes after a false alarm (module doc)."""

    produces = (ResumeSpeaking,)

    def __init__(
        self,
        *,
        name: str | None = None,
        min_speech_secs: float = 0.3,
        resume: bool = False,
        confirm_secs: float = 0.6,
        resume_after_secs: float = 0.3,
        early_stop_secs: float = 0.0,
    ) -> None:
        super().__init__(name=name)
        if min_speech_secs < 0:
            raise ValueError(f"min_speech_secs must be >= 0, got {min_speech_secs}")
        self.min_speech_secs = min_speech_secs
        self.resume = resume
        self.confirm_secs = confirm_secs
        self.resume_after_secs = resume_after_secs
        self.early_stop_secs = early_stop_secs
        self.bot_speaking = False
        self._bot_since = 0.0
        self.user_speaking = False
        self.interruptions = 0
        #: interruptions judged false (too short, nothing followed) and resumes sent for them
        self.false_interruptions = 0
        self.resumes = 0
        #: stops at a voiced window early in the agent's speech (module doc)
        self.early_stops = 0
        self._pending: asyncio.Task[None] | None = None
        self._barge: _Barge | None = None
        self._judging: asyncio.Task[None] | None = None

    @on(BotStartedSpeaking, upstream=True)
    async def bot_started(self, frame: BotStartedSpeaking) -> None:
        self.bot_speaking = True
        self._bot_since = self.now()
        await self.push_up(frame)

    @on(BotStoppedSpeaking, upstream=True)
    async def bot_stopped(self, frame: BotStoppedSpeaking) -> None:
        self.bot_speaking = False
        self._cancel()
        await self.push_up(frame)

    @on(PlayoutReport, upstream=True)
    async def played(self, frame: PlayoutReport) -> None:
        barge = self._barge
        if barge is not None and frame.mark == "clear" and not frame.finished:
            barge.cut[frame.utterance_id] = frame.played_ms
        await self.push_up(frame)

    @on(VoiceStarted)
    async def user_started(self, frame: VoiceStarted) -> None:
        self.user_speaking = True
        if self._judging is not None:  # more voice right after: the caller is talking
            self._judging.cancel()
            self._judging = None
            self._barge = None
        if self.bot_speaking and self._pending is None:
            if self.min_speech_secs == 0:
                audible = self.now() - self._bot_since
                await self._interrupt()
                await self.push(evolve(frame, over_agent=True, agent_audible_secs=audible))
                return
            self._pending = self.create_task(self._confirm(), turn=False)
        await self.push(frame)

    @on(VoicePaused)
    async def voice_back(self, frame: VoicePaused) -> None:
        await self.push(frame)
        if not (frame.resumed and self.resume and self.bot_speaking) or self.user_speaking:
            return
        if self._pending is not None or self._barge is not None:
            return  # an onset is already being judged
        if self.now() - self._bot_since > self.early_stop_secs:
            return  # early_stop_secs 0 (off), or the reply has been heard for a while
        self.early_stops += 1
        await self._interrupt()
        if self._barge is not None:  # judged like a short sound: resumed unless an onset follows
            self._judging = self.create_task(self._judge(self._barge), turn=False)

    @on(VoiceStopped)
    async def user_stopped(self, frame: VoiceStopped) -> None:
        self.user_speaking = False
        self._cancel()  # too short to count (a cough, a "mm-hm")
        await self.push(frame)
        barge = self._barge
        if barge is None:
            return
        voiced_until = frame.last_voiced_at if frame.last_voiced_at is not None else frame.ts
        if voiced_until - barge.onset >= self.confirm_secs:
            self._barge = None  # words, most likely: a real interruption
            return
        self._judging = self.create_task(self._judge(barge), turn=False)

    async def _judge(self, barge: _Barge) -> None:
        await self.run.clock.sleep(self.resume_after_secs)
        self._judging = None
        self._barge = None
        if self.generation != barge.generation:
            return  # something else interrupted since (a reopened turn, an answer to words)
        self.false_interruptions += 1
        for utterance_id, heard_ms in sorted(barge.cut.items()):
            self.resumes += 1
            await self.push(ResumeSpeaking(utterance_id=utterance_id, from_ms=heard_ms))

    async def _confirm(self) -> None:
        await self.run.clock.sleep(self.min_speech_secs)
        self._pending = None
        if self.bot_speaking and self.user_speaking:
            await self._interrupt()

    async def _interrupt(self) -> None:
        self.interruptions += 1
        interrupt = await self.interrupt()
        if self.resume:
            self._barge = _Barge(onset=self.now(), generation=interrupt.generation)

    def _cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    async def cleanup(self) -> None:
        self._cancel()
        if self._judging is not None:
            self._judging.cancel()
