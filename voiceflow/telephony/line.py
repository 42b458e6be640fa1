"""The two line processors a Twilio call's graph gets when telephony is on.

``AnswerGate`` (outbound calls only) sits right after the transport's input. Until
the call is known to be answered by a person, the agent hears nothing; the AMD
answer comes from Twilio's callback or from ``LocalAmd`` on this audio:

- ``human`` / ``unknown``: the agent hears the caller from now on and speaks the
  campaign's opening line;
- machine: once the greeting has ended (``machine_end_*``, or the local detector's
  beep / silence) the voicemail message is spoken, then the line is hung up;
- ``fax``: hung up at once, the outcome recorded.

A callee saying "don't call me again" (watched on the final transcripts) is put
on the Do-Not-Call list, hears a polite goodbye, and the call ends.

``LineControl`` sits right before the transport's output (every Twilio call). It
keeps the agent's audio off the line until the answer is known, and after a
``transfer_to_human`` result has been *heard* it moves the call to the
department's number through the REST API (``Telephony.transfer``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

from voiceflow.core.observers import PushEvent
from voiceflow.core.processor import Processor, on
from voiceflow.frames import (
    AudioRaw,
    BotStartedSpeaking,
    BotStoppedSpeaking,
    EncodedTTSAudio,
    End,
    TextToSpeak,
    ToolCall,
    ToolResult,
    Transcript,
    TTSAudio,
)
from voiceflow.telephony.amd import LocalAmd, is_machine
from voiceflow.telephony.dnc import DoNotCall
from voiceflow.telephony.live import LiveCall
from voiceflow.telephony.rest import TwilioCallError
from voiceflow.telephony.service import Telephony
from voiceflow.telephony.transfer import TransferError

__all__ = ["OPT_OUT", "AnswerGate", "LineControl", "LineState", "is_opt_out"]

log = logging.getLogger("voiceflow.telephony.line")

OPT_OUT = re.compile(
    r"\b(do not|don't|dont|never) (call|ring|phone|contact)\b|\bstop (calling|ringing)\b|"
    r"\bremove (me|my number)\b|\btake (me|my number) off\b|\bdo not call list\b",
)
GOODBYE_OPT_OUT = (
    "I'm sorry to have bothered you. I've taken your number off our list, and we won't call again. Goodbye."
)
#: after the last audio of the voicemail or the goodbye has played, wait this long for more
END_GRACE_S = 1.0
#: how long a stream that opened before its ``calls.create`` returned waits for the call to be known
EARLY_STREAM_WAIT_S = 5.0
#: a transfer waits at most this long for its announcement to be played
TRANSFER_MAX_WAIT_S = 15.0


def is_opt_out(text: str) -> bool:
    return OPT_OUT.search(text.lower()) is not None


@dataclass
class LineState:
    """One call's line, shared by its ``AnswerGate`` and ``LineControl``."""

    telephony: Telephony
    call_sid: str
    caller: str | None
    live: LiveCall | None = None  # our outbound call (None: inbound, or not registered yet)
    outbound: bool = False
    #: detecting | conversation | awaiting_beep | voicemail | ending | done
    phase: str = "conversation"

    def __post_init__(self) -> None:
        self.outbound = self.outbound or self.live is not None
        if self.outbound:
            self.phase = "detecting"


class AnswerGate(Processor):
    produces = (TextToSpeak, End)

    def __init__(
        self, line: LineState, *, local_amd: LocalAmd | None = None, name: str = "answer_gate"
    ) -> None:
        super().__init__(name=name)
        assert line.outbound, "AnswerGate is for the calls we place"
        self.line = line
        self.detector = local_amd
        self.decision_at: float | None = None
        self._first_audio: float | None = None
        self._end_timer: asyncio.Task[None] | None = None

    @property
    def live(self) -> LiveCall:
        assert self.line.live is not None
        return self.line.live

    async def on_start(self, frame: Any) -> None:
        if self.line.live is None:  # the stream opened before ``calls.create`` answered us
            self.line.live = await self.line.telephony.live.wait_for(self.line.call_sid, EARLY_STREAM_WAIT_S)
        if self.line.live is None or self.line.live.script is None:
            log.warning("call %s says it is outbound but is not ours: treated as inbound", self.line.call_sid)
            self.line.phase = "conversation"
            return
        self.create_task(self._await_callback(), turn=False)
        self.run.add_observer(_OptOutWatch(self))

    # -- the caller's audio ------------------------------------------------------------------
    @on(AudioRaw)
    async def audio(self, frame: AudioRaw) -> None:
        phase = self.line.phase
        if phase == "conversation":
            await self.push(frame)
            return
        if self.detector is None or phase not in ("detecting", "awaiting_beep"):
            return  # nobody is listening yet (or any more)
        if self._first_audio is None:
            self._first_audio = self.now()
        result = self.detector.feed(frame.audio)
        if result is None:
            return
        if phase == "detecting" and self.detector.decided is not None:
            if self.live.decide(result.answered_by, "local"):
                await self.line.telephony.record_amd(
                    self.line.call_sid, result.answered_by, "local", int(result.after_s * 1000)
                )
                await self._act(result.answered_by)
        elif phase == "awaiting_beep" and self.detector.message_end is not None:
            await self._leave_voicemail()

    async def _await_callback(self) -> None:
        await self.live.decided.wait()
        if self.live.amd_source != "local" and self.line.phase == "detecting":
            await self._act(self.live.answered_by or "unknown")

    async def _act(self, answered_by: str) -> None:
        self.decision_at = self.now()
        if answered_by in ("human", "unknown"):
            self.line.phase = "conversation"
            await self.line.telephony.set_outcome(self.line.call_sid, "conversation")
            await self._say(self.live.script.render(self.live.script.opening))  # type: ignore[union-attr]
        elif answered_by == "fax":
            self.line.phase = "done"
            await self.line.telephony.set_outcome(self.line.call_sid, "fax")
            await self._hang_up("fax answered")
        elif is_machine(answered_by) and (answered_by != "machine_start" or self.detector is None):
            await self._leave_voicemail()
        else:  # machine_start with the local detector: wait for the beep (or the silence after it)
            self.line.phase = "awaiting_beep"
            if self.detector is not None and self.detector.message_end is not None:
                await self._leave_voicemail()

    async def _leave_voicemail(self) -> None:
        self.line.phase = "voicemail"
        await self.line.telephony.set_outcome(self.line.call_sid, "voicemail")
        await self._say(self.live.script.render(self.live.script.voicemail))  # type: ignore[union-attr]

    async def opt_out(self) -> None:
        """The callee asked not to be called again."""
        if self.line.phase not in ("conversation", "detecting"):
            return
        self.line.phase = "ending"
        await DoNotCall(self.line.telephony.db).add(
            self.live.to, source="voice", reason="asked during a call"
        )
        await self.line.telephony.set_outcome(self.line.call_sid, "opted_out")
        await self._say(GOODBYE_OPT_OUT)

    async def _say(self, text: str) -> None:
        await self.interrupt()  # whatever the agent was about to say is dropped
        await self.push(TextToSpeak(text=text, generation=self.generation))

    # -- playout: end the call once the last words have been heard --------------------------
    @on(BotStartedSpeaking, upstream=True)
    async def speaking(self, frame: BotStartedSpeaking) -> None:
        await self.push_up(frame)
        if self._end_timer is not None:
            self._end_timer.cancel()
            self._end_timer = None

    @on(BotStoppedSpeaking, upstream=True)
    async def stopped(self, frame: BotStoppedSpeaking) -> None:
        await self.push_up(frame)
        if self.line.phase in ("voicemail", "ending") and self._end_timer is None:
            self._end_timer = self.create_task(self._end_after_grace(), turn=False)

    async def _end_after_grace(self) -> None:
        await self.run.clock.sleep(END_GRACE_S)
        reason = "voicemail left" if self.line.phase == "voicemail" else "callee opted out"
        self.line.phase = "done"
        await self._hang_up(reason)

    async def _hang_up(self, reason: str) -> None:
        await self.line.telephony.hang_up(self.line.call_sid)
        await self.push(End(reason=f"line: {reason}"))


class _OptOutWatch:
    """Reads final transcripts as they pass (an observer: it never delays the agent)."""

    def __init__(self, gate: AnswerGate) -> None:
        self.gate = gate

    async def on_push(self, event: PushEvent) -> None:
        frame = event.frame
        if isinstance(frame, Transcript) and frame.final and not event.upstream and is_opt_out(frame.text):
            await self.gate.opt_out()


class LineControl(Processor):
    """Before the output: the agent stays silent until the answer is known; transfers happen here."""

    produces = ()

    def __init__(self, line: LineState, *, name: str = "line") -> None:
        super().__init__(name=name)
        self.line = line
        self.pending_transfer: dict[str, Any] | None = None
        self.announcing = False  # the transfer's announcement has started playing
        self.transfer_reasons: dict[str, str] = {}  # tool call id -> the reason it was given
        self.transfers: list[int] = []
        self._timer: asyncio.Task[None] | None = None

    @on(TTSAudio, EncodedTTSAudio)
    async def audio(self, frame: TTSAudio | EncodedTTSAudio) -> None:
        if self.line.phase not in ("detecting", "done"):
            await self.push(frame)

    @on(ToolCall)
    async def call(self, frame: ToolCall) -> None:
        await self.push(frame)
        if frame.tool == "transfer_to_human":
            self.transfer_reasons[frame.call_id] = str(frame.arguments.get("reason", ""))

    @on(ToolResult)
    async def result(self, frame: ToolResult) -> None:
        await self.push(frame)
        if frame.status != "done" or not isinstance(frame.result, dict):
            return
        if frame.tool == "transfer_to_human" and self.pending_transfer is None:
            reason = self.transfer_reasons.pop(frame.call_id, "")
            self.pending_transfer = {"reason": reason, **frame.result}
            self.announcing = False
            self._timer = self.create_task(self._transfer_deadline(), turn=False)
        elif frame.tool == "book_appointment" and self.line.live is not None:
            await self.line.telephony.set_outcome(self.line.call_sid, "appointment_booked")

    @on(BotStartedSpeaking, upstream=True)
    async def playing(self, frame: BotStartedSpeaking) -> None:
        await self.push_up(frame)
        if self.pending_transfer is not None:
            self.announcing = True

    @on(BotStoppedSpeaking, upstream=True)
    async def played(self, frame: BotStoppedSpeaking) -> None:
        await self.push_up(frame)
        if self.pending_transfer is not None and self.announcing:
            await self._transfer()

    async def _transfer_deadline(self) -> None:
        await self.run.clock.sleep(TRANSFER_MAX_WAIT_S)
        await self._transfer()

    async def _transfer(self) -> None:
        result, self.pending_transfer = self.pending_transfer, None
        if result is None:
            return
        timer, self._timer = self._timer, None
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        try:
            transfer_id = await self.line.telephony.transfer(
                self.line.call_sid,
                str(result.get("department", "customer_service")),
                reason=str(result.get("reason", "")),
                caller=self.line.caller or (self.line.live.to if self.line.live else None),
                queue_position=result.get("queue_position"),
            )
        except (TransferError, TwilioCallError) as exc:
            await self.report_error(f"transfer failed: {exc}", exception=exc)
            return
        self.transfers.append(transfer_id)
        self.line.phase = "done"
