"""Smart endpointing: deciding when the caller's turn is over.

The VAD reports every pause (``VoiceStopped``; its stop window is short); the
``Endpointer`` decides which pause ends the turn. After a pause it waits a silence window,
measured from the caller's last voiced audio:

* the base window (``silence_secs``, default 0.8 s, configurable down to ~0.2 s);
* shorter, down to ``complete_secs``, as the transcript so far reads complete
  (``completeness(text)`` in [0, 1]: terminal punctuation, a short answer, a
  complete-looking sentence);
* longer (``hold_secs``) after a trailing filler or conjunction ("um", "and", "so").

A transcript arriving during the wait re-times it. If speech resumes before the
window ends, the turn simply continues (debounce).

**The sound of it.** With ``audio_turn=True`` an ``AudioTurnDetector`` upstream scores each
pause (``EndOfTurnScore``: P(finished) from the audio alone) and the window combines both
opinions: when the words read complete (completeness ≥ ``complete_text``) *and* the audio
says finished (P ≥ ``audio_threshold``) the turn ends after ``complete_secs``; when the
audio says not finished the wait grows towards ``hold_secs`` as P falls; otherwise the
words decide as above. Until the pause's score arrives the window is the base one, or,
when the words already read complete, ``complete_secs`` plus ``audio_grace_secs``: a slow
or failed model costs a little time; it can only end a turn early together with the words.

**Over the agent.** A turn opened by an onset that interrupted the agent
(``VoiceStarted(over_agent=True)``, from ``BargeIn``) that turns out to hold no words, or only
a backchannel ("mm-hm", "okay", "right"), is not a request: it ends with no transcript
(``backchannels`` counts them) and ``BargeIn`` resumes the agent. One with real words
interrupts again at its first pause, as soon as its words are known ("no", "wait", "stop"):
``BargeIn`` sees the new generation and does not resume, so the agent stops for good and
the words are answered.

**Continuation.** If the caller goes on within ``continuation_secs`` after a turn was
judged over (about the time a reply takes to start and be recognised as one), and has not
heard more than ``continuation_heard_secs`` of the reply, the end was wrong: the
Endpointer interrupts (the reply is cancelled and cleared from the line) and reopens
the turn with what was already said, announcing it with
``UserStartedSpeaking(continues=True)``; the turn's final transcript then carries both
parts, so the request is answered once, whole. ``continuations`` counts them. With a
``Speculation``, a turn's side effects (database writes) wait until its continuation window
has passed (``Speculation.settle``): what was said can be cleared, a write cannot.

**Speculation.** With a ``Speculation`` (``voiceflow.processors.speculation``), at a pause
whose words may end the request (completeness ≥ ``speculate_min``, not over the agent)
the turn is ended at once *provisionally*: the final ``Transcript`` and
``UserStoppedSpeaking(provisional=True)`` go out, so the reply is prepared while the window
runs; what has effects is held downstream. When the window runs out the speculation is
confirmed (no further frame: the held reply is released); if the caller goes on first it is
discarded, the prepared reply interrupted, and ``UserStartedSpeaking(continues=True)``
reopens the turn, whose final transcript will carry all of it. A ``VoicePaused`` hint from
the VAD (a shorter quiet than its stop window) starts the speculation sooner, on the text
so far (the latest interim included); if the pause's final then reads otherwise, that
speculation is discarded and a new one starts on the final. A voiced window right after
an end of turn that may still be continued (``VoicePaused(resumed=True)`` outside a turn)
holds the reply at the gate for ``onset_secs``: the onset it may be is confirmed only later,
and the reply should not start over a caller who is going on.

**End-of-turn contract.** Downstream of the Endpointer, each turn is exactly:
``UserStartedSpeaking`` (once, when the turn starts), interim ``Transcript``s
carrying the whole turn's text so far, then at the end of the turn one final
``Transcript`` with the whole turn's text (utterance buffering: the STT's
per-pause finals are joined) immediately followed by ``UserStoppedSpeaking``
whose ``last_voiced_at`` is the caller's last voiced audio. The VAD's
``VoiceStarted`` / ``VoiceStopped`` frames end here. ``UserStoppedSpeaking`` after the
Endpointer *is* the end-of-turn signal. If the STT is still finalizing (an
interim arrived after the last final) the end waits up to ``final_timeout`` for
that final; if it still has not come, the latest interim stands in for it and
the final that arrives later for that segment (before the next turn) is
dropped as a duplicate. Transcripts outside any turn (text input) pass through. A final that carries the
recognizer's reading of itself together with the turn's previous final
(``Transcript.joined_text``, Whisper's) replaces both: a request split by a pause is heard
better whole ("Hi, where is my order one zero zero two?" read in two halves lost a digit).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from voiceflow.core.processor import Processor, on
from voiceflow.frames.base import Frame, evolve
from voiceflow.frames.control import End
from voiceflow.frames.speech import (
    EndOfTurnScore,
    UserStartedSpeaking,
    UserStoppedSpeaking,
    VoicePaused,
    VoiceStarted,
    VoiceStopped,
)
from voiceflow.frames.text import Transcript
from voiceflow.processors.speculation import Speculation

__all__ = [
    "BACKCHANNEL_WORDS",
    "HOLD_WORDS",
    "Endpointer",
    "default_completeness",
    "is_backchannel",
    "trailing_hold",
]

#: fillers and conjunctions after which the caller is likely to go on
HOLD_WORDS = frozenset(
    "um umm uh uhh er erm hmm mm ah and so but because cause or then also plus well like".split()
)
#: words a sentence does not end on (articles, prepositions, possessives, auxiliaries)
_DANGLING = frozenset(
    "the a an to of for in on at with from by about into my your our his her their its this that "
    "is are was were am be been i i'm want need would could can will should if when".split()
)
_SHORT_ANSWERS = frozenset(
    "yes yeah yep yup no nope nah okay ok sure thanks thank you correct right exactly bye goodbye "
    "great perfect fine please".split()
)
_WORD = re.compile(r"[a-z0-9']+")
#: what a listener says over a speaker without taking the turn
BACKCHANNEL_WORDS = frozenset(
    "mm mmm hmm mhm mm-hmm uh-huh uh huh um ah oh okay ok yeah yep yes right sure alright i see got "
    "it cool great".split()
)


def is_backchannel(text: str) -> bool:
    """True when ``text`` is empty or only listener noises ("mm-hm", "okay, right")."""
    return all(w in BACKCHANNEL_WORDS for w in _WORD.findall(text.lower().replace("-", " ")))


def trailing_hold(text: str) -> bool:
    """True when ``text`` ends on a filler or conjunction ("so I was thinking, um")."""
    words = _WORD.findall(text.lower())
    return bool(words) and words[-1] in HOLD_WORDS


def default_completeness(text: str) -> float:
    """How complete ``text`` reads, 0 (surely unfinished) .. 1 (surely finished)."""
    stripped = text.strip()
    words = _WORD.findall(stripped.lower())
    if not words or words[-1] in HOLD_WORDS or words[-1] in _DANGLING:
        return 0.0
    if stripped[-1] in ".?!":
        return 1.0
    if len(words) <= 3 and all(w in _SHORT_ANSWERS for w in words):
        return 0.9
    return 0.6 if len(words) >= 4 else 0.3


class Endpointer(Processor):
    """Turns VAD pauses and transcripts into one end-of-turn per caller turn (see module doc)."""

    produces = (UserStartedSpeaking, UserStoppedSpeaking, Transcript)

    def __init__(
        self,
        *,
        name: str | None = None,
        silence_secs: float = 0.8,
        complete_secs: float = 0.3,
        hold_secs: float = 1.6,
        final_timeout: float = 0.6,
        completeness: Callable[[str], float] = default_completeness,
        hold: Callable[[str], bool] = trailing_hold,
        merge_transcripts: bool = True,
        continuation_secs: float = 0.0,
        continuation_heard_secs: float = 0.8,
        backchannel: Callable[[str], bool] = is_backchannel,
        audio_turn: bool = False,
        audio_threshold: float = 0.5,
        complete_text: float = 0.8,
        audio_grace_secs: float = 0.15,
        onset_secs: float = 0.3,
        speculation: Speculation | None = None,
        speculate_min: float = 0.5,
    ) -> None:
        super().__init__(name=name)
        if silence_secs <= 0 or complete_secs <= 0:
            raise ValueError("silence windows must be positive")
        self.silence_secs = silence_secs
        self.complete_secs = min(complete_secs, silence_secs)
        self.hold_secs = max(hold_secs, silence_secs)
        self.final_timeout = final_timeout
        self.completeness = completeness
        self.hold = hold
        self.merge_transcripts = merge_transcripts
        self.continuation_secs = continuation_secs
        self.continuation_heard_secs = continuation_heard_secs
        self.backchannel = backchannel
        self.audio_turn = audio_turn
        self.audio_threshold = audio_threshold
        self.complete_text = complete_text
        self.audio_grace_secs = audio_grace_secs
        self.onset_secs = onset_secs
        self.speculation = speculation
        #: how complete the words must read for a reply to be prepared at a pause
        self.speculate_min = speculate_min
        #: the audio model's P(finished) for the current pause (None: none yet)
        self.audio_p: float | None = None
        self.turns_ended = 0
        #: turns reopened because the caller went on after their end was judged (see module doc)
        self.continuations = 0
        #: turns over the agent that held no words or only a backchannel (see module doc)
        self.backchannels = 0
        #: finals replaced by the recognizer's joined reading of them and the one before
        self.joined_finals = 0
        self._over_agent = False
        #: the last ended turn while it may still be continued: (ended at, its final transcripts)
        self._ended: tuple[float, list[Transcript]] | None = None
        #: the silence window chosen for the latest end of turn (seconds)
        self.last_window: float | None = None
        self._late_final_due = False  # an interim stood in for a final that may still come
        self._lock = asyncio.Lock()  # keeps our own frames in order (handler vs timer task)
        self._timer: asyncio.Task[None] | None = None
        #: settles the last ended turn once its continuation window has passed
        self._settle_timer: asyncio.Task[None] | None = None
        #: releases a reply held for voice heard just after its turn ended (no onset came)
        self._onset_hold: asyncio.Task[None] | None = None
        self._reset()

    def _reset(self) -> None:
        self.in_turn = False
        self._speaking = False
        self._finals: list[Transcript] = []
        self._interim = ""
        self._awaiting_final = False
        self._last_voiced_at = 0.0
        #: no end of turn before this clock time (voice may be starting again)
        self._not_before = 0.0
        #: the provisional end of turn sent at this pause (its final transcript), if any
        self._speculated: Transcript | None = None

    # -- window -----------------------------------------------------------------------
    @property
    def text(self) -> str:
        """The turn's text so far (finals, then the latest interim)."""
        return " ".join([f.text for f in self._finals if f.text] + ([self._interim] if self._interim else []))

    def window_for(self, text: str, audio_p: float | None = None) -> float:
        """The silence window after the caller stops with ``text`` said so far (module doc)."""
        if text and self.hold(text):
            return self.hold_secs
        c = min(1.0, max(0.0, self.completeness(text))) if text else 0.0
        by_words = self.silence_secs - c * (self.silence_secs - self.complete_secs)
        if not self.audio_turn:
            return by_words
        if audio_p is None:  # the pause's score is still on its way: words that read complete
            # wait only a grace for it (it may still ask for more), others the base window
            if c >= self.complete_text:
                return min(self.silence_secs, self.complete_secs + self.audio_grace_secs)
            return max(by_words, self.silence_secs)
        if audio_p >= self.audio_threshold:
            return self.complete_secs if c >= self.complete_text else by_words
        unsure = (self.audio_threshold - audio_p) / self.audio_threshold
        return max(by_words, self.silence_secs + unsure * (self.hold_secs - self.silence_secs))

    # -- handlers --------------------------------------------------------------------
    @on(VoiceStarted)
    async def started(self, frame: VoiceStarted) -> None:
        self._cancel_timer()
        self._speaking = True
        self.audio_p = None
        if self.in_turn:
            await self._discard_speculation()  # the caller goes on: the prepared reply goes
            return
        self.in_turn = True
        previous = self._continued(frame)
        self._settle(previous is None)  # the last turn is over for good, or it goes on
        held, self._onset_hold = self._onset_hold, None
        if held is not None and self.speculation is not None:  # the reply waited for this onset
            held.cancel()
            if previous is None:
                self.speculation.release()
            else:
                self.speculation.discard()
        if previous is None:
            self._over_agent = frame.over_agent
            self._late_final_due = False
            await self._emit(UserStartedSpeaking())
            return
        # the caller goes on: the end was premature; cancel the reply and reopen the turn
        self.continuations += 1
        self._finals = previous
        await self.interrupt()
        await self._emit(UserStartedSpeaking(continues=True))

    async def _discard_speculation(self) -> None:
        if self._speculated is None:
            return
        self._speculated = None
        if self.speculation is not None:
            self.speculation.discard()
        await self.interrupt()
        await self._emit(UserStartedSpeaking(continues=True))

    @on(VoicePaused)
    async def paused(self, frame: VoicePaused) -> None:
        if not self.in_turn:
            if frame.resumed:
                self._hold_for_onset()
            return
        if not self._speaking and frame.resumed:
            # a voiced window in the wait: the VAD may be about to confirm an onset (it takes
            # ~0.2 s); the turn does not end before it can say
            self._not_before = self.now() + self.onset_secs
            return
        if not self.in_turn or not self._speaking:
            return
        if frame.resumed:  # voice is back: whatever was prepared is for half a request
            await self._discard_speculation()
            return
        if frame.last_voiced_at is not None:
            self._last_voiced_at = frame.last_voiced_at
        await self._speculate(early=True)

    def _hold_for_onset(self) -> None:
        """Voice right after an end of turn that may still be continued: hold the reply (module doc)."""
        if self.speculation is None or self._ended is None or self.speculation.pending:
            return
        if self.now() - self._ended[0] > min(self.continuation_secs, self.continuation_heard_secs):
            return  # the reply may have been heard for longer: an onset now is a barge-in
        self.speculation.hold()
        self._cancel_onset_hold()
        self._onset_hold = self.create_task(self._release_after_onset_window(), turn=False)

    async def _release_after_onset_window(self) -> None:
        await self.run.clock.sleep(self.onset_secs)
        self._onset_hold = None
        if self.speculation is not None:
            self.speculation.release()  # no onset came of it: the reply plays on

    def _cancel_onset_hold(self) -> None:
        timer, self._onset_hold = self._onset_hold, None
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()

    def _continued(self, onset: VoiceStarted) -> list[Transcript] | None:
        """The finals of the turn that speech starting now continues, if any (see module doc)."""
        ended, self._ended = self._ended, None
        if ended is None or not self.merge_transcripts:
            return None
        if onset.over_agent and onset.agent_audible_secs > self.continuation_heard_secs:
            return None  # the caller heard the reply and talks over it: a new turn (barge-in)
        at, finals = ended
        return finals if self.now() - at <= self.continuation_secs else None

    @on(VoiceStopped)
    async def stopped(self, frame: VoiceStopped) -> None:
        if not self.in_turn or not self._speaking:
            return  # a stray stop (no turn open): nothing to end
        self._speaking = False
        self._last_voiced_at = frame.last_voiced_at if frame.last_voiced_at is not None else frame.ts
        if self._over_agent and self.merge_transcripts and not self._awaiting_final:
            if not self.backchannel(self.text):  # words over the agent: it must not resume
                self._over_agent = False
                await self.interrupt()
        if self._speculated is not None and self._speculated.text != self.text:
            await self._discard_speculation()  # made on an interim the final reads otherwise
        await self._speculate()
        self._start_timer()

    async def _speculate(self, *, early: bool = False) -> None:
        """End the turn provisionally when its words may be the whole request (module doc)."""
        text = self.text
        if (
            self.speculation is None
            or self._over_agent
            or (self._awaiting_final and not early)
            or not self.merge_transcripts
            or self._speculated is not None
            or not text
            or self.hold(text)
            or self.completeness(text) < self.speculate_min
        ):
            return
        base = self._finals[-1] if self._finals else Transcript(text=text, final=True)
        final = evolve(base, text=text, final=True, generation=self.generation)  # of this turn, now
        self._speculated = final
        self.speculation.begin()
        await self._emit(final, UserStoppedSpeaking(last_voiced_at=self._last_voiced_at, provisional=True))

    @on(EndOfTurnScore)
    async def scored(self, frame: EndOfTurnScore) -> None:
        if self.in_turn and not self._speaking and frame.last_voiced_at == self._last_voiced_at:
            self.audio_p = frame.probability
            self._start_timer()  # the window may now be shorter (or longer)

    @on(Transcript)
    async def transcript(self, frame: Transcript) -> None:
        if frame.final and self._late_final_due:
            # its text already went out with the end of turn (or sits in the continued turn)
            self._late_final_due = False
            return
        if not self.in_turn or not self.merge_transcripts:
            await self._emit(frame)
            return
        if frame.final:
            self._add_final(frame)
            self._interim = ""
            self._awaiting_final = False
        else:
            self._interim = frame.text
            self._awaiting_final = True
            await self._emit(evolve(frame, text=self.text))
        if not self._speaking:
            self._start_timer()  # new text during the wait: re-time it

    def _add_final(self, frame: Transcript) -> None:
        """Append a pause's final; one the recognizer also decoded together with the turn's last
        final (``Transcript.joined_text``) replaces that final's words with the joined reading."""
        last = self._finals[-1] if self._finals else None
        text = frame.joined_to(last.text) if last is not None else None
        if last is None or text is None:
            self._finals.append(frame)
            return
        self._finals[-1] = evolve(frame, text=text, joins=None, joined_text=None)
        self.joined_finals += 1

    async def on_end(self, frame: End) -> None:
        self._cancel_timer()
        if self.in_turn:
            await self._end_turn()
        self._settle(True)  # the call is over: nothing can continue the last turn

    async def cleanup(self) -> None:
        self._cancel_timer()
        self._cancel_settle()
        self._cancel_onset_hold()

    # -- the wait ------------------------------------------------------------------------
    def _start_timer(self) -> None:
        self._cancel_timer()
        self._timer = self.create_task(self._wait_then_end(), turn=False)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _wait_then_end(self) -> None:
        clock = self.run.clock
        window = self.window_for(self.text, self.audio_p)
        deadline = self._last_voiced_at + window
        if (wait := deadline - clock.now()) > 0:
            await clock.sleep(wait)
        while (wait := self._not_before - clock.now()) > 0:  # voice may be starting again
            await clock.sleep(wait)
        if self._awaiting_final:  # the STT has an unfinished segment: give it a moment
            await clock.sleep(self.final_timeout)
        self._timer = None  # from here on, nothing cancels the end of this turn
        self.last_window = window
        await self._end_turn()

    async def _end_turn(self) -> None:
        finals, last_voiced = self._finals, self._last_voiced_at
        text = self.text
        speculated = self._speculated
        if speculated is not None and self.speculation is not None:
            if speculated.text == text:  # the provisional end stands: release the reply
                self._reset()
                self.turns_ended += 1
                self.speculation.confirm()
                self._open_continuation([speculated])
                return
            self.speculation.discard()  # words came after it: the whole turn ends below
            await self.interrupt()
            await self._emit(UserStartedSpeaking(continues=True))
        late_final_due = self._awaiting_final
        self._reset()
        self._late_final_due = late_final_due and self.merge_transcripts
        self.turns_ended += 1
        over_agent, self._over_agent = self._over_agent, False
        if over_agent and self.merge_transcripts and self.backchannel(text):
            self.backchannels += 1  # not a request: the agent resumes (BargeIn)
            await self._emit(UserStoppedSpeaking(last_voiced_at=last_voiced))
            return
        if over_agent:
            await self.interrupt()  # whatever resumed meanwhile must not play over the answer
        frames: list[Frame] = []
        if self.merge_transcripts and text:
            base = finals[-1] if finals else Transcript(text=text, final=True)
            frames.append(evolve(base, text=text, final=True, generation=self.generation))
        if self.speculation is not None:
            self.speculation.ended()  # its side effects wait until it cannot be continued
        self._open_continuation([f for f in frames if isinstance(f, Transcript)])
        frames.append(UserStoppedSpeaking(last_voiced_at=last_voiced))
        await self._emit(*frames)

    def _open_continuation(self, finals: list[Transcript]) -> None:
        """The turn just ended may be continued for ``continuation_secs``; then it is settled."""
        if self.continuation_secs <= 0:
            self._settle(True)
            return
        self._ended = (self.now(), finals)
        if self.speculation is not None:
            self._cancel_settle()
            self._settle_timer = self.create_task(self._settle_later(self.continuation_secs), turn=False)

    async def _settle_later(self, secs: float) -> None:
        await self.run.clock.sleep(secs)
        self._settle_timer = None
        self._settle(True)

    def _settle(self, value: bool) -> None:
        """The last ended turn can no longer be continued (True) or is being continued (False)."""
        self._cancel_settle()
        if self.speculation is not None:
            self.speculation.settle(value)

    def _cancel_settle(self) -> None:
        timer, self._settle_timer = self._settle_timer, None
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()

    async def _emit(self, *frames: Frame) -> None:
        async with self._lock:
            for f in frames:
                await self.push(f)
