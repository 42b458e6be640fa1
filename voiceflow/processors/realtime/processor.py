"""RealtimeProcessor: a speech-to-speech session as one node between the transport's two ends.

It takes the caller's wire bytes when the transport taps them in the session's input
format (``tap_wire``: Twilio mu-law → ``audio/pcmu``, passed through untouched), else
``AudioRaw`` downstream (re-encoded to the input format); it emits the agent's
``TTSAudio`` (one utterance id per assistant item),
the caller's final ``Transcript``, ``UserStartedSpeaking`` / ``UserStoppedSpeaking``
(server VAD; the latter carries the clock time of the caller's last voiced audio, so
the output measures voice-to-voice), ``ToolCall`` / ``ToolResult`` and, once the caller
has heard it (or the part they heard), the assistant's words as ``TextToSpeak`` for
memory. Upstream it reads the output's ``BotStartedSpeaking`` / ``BotStoppedSpeaking``
and ``PlayoutReport``s.

Barge-in: ``speech_started`` while the agent is audible (or its reply is still being
generated) cancels the response, interrupts the graph (the output drops its queue and
sends ``clear``) and, when the output reports the heard position of each cut utterance
(``PlayoutReport(mark="clear")``), truncates that item on the server at exactly that
``audio_end_ms`` and cuts the remembered reply to the same proportion of its words.

Tools run through the shared ``ToolCallTracker`` (idempotent by call id); results go
back as ``function_call_output`` items and, once the response that asked for them is
done, one ``response.create``. A call whose response was cancelled is recorded
cancelled and never runs.

Sessions: a dropped socket or an expired session reconnects (``max_reconnects`` times)
and restores the conversation (instructions via ``session.update``, then the turns);
if the session cannot be opened or reopened, the ``ModeRouter`` switches the call to
the cascaded graph with a bridge line, and this node goes quiet. The processor is not
interruptible by the core (its socket sends must not be cut halfway); it stops its own
output by response id.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from voiceflow.core.processor import Processor, on
from voiceflow.frames import (
    DTMF,
    AudioRaw,
    BotStartedSpeaking,
    BotStoppedSpeaking,
    EncodedTTSAudio,
    Metrics,
    PlayoutReport,
    Start,
    TextToSpeak,
    ToolCall,
    ToolResult,
    Transcript,
    TTSAudio,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)
from voiceflow.processors.audio.validate import audio_problem
from voiceflow.processors.memory.conversation import ConversationMemory
from voiceflow.processors.realtime.audio import InputEncoder, decode_output
from voiceflow.processors.realtime.items import Item as _Item
from voiceflow.processors.realtime.items import Response as _Response
from voiceflow.processors.realtime.items import args_for_frame as _args_for_frame
from voiceflow.processors.realtime.keypad import KEYS, OPERATOR_CALL, KeypadAction, KeypadEntry, entry_text
from voiceflow.processors.realtime.mode import ModeRouter
from voiceflow.processors.realtime.restore import restore_conversation
from voiceflow.processors.tools.calls import ToolCallTracker
from voiceflow.processors.tools.executor import result_frame
from voiceflow.services.llm.engine import ToolCallRequest
from voiceflow.services.realtime.engine import (
    FORMAT_RATES,
    AudioDelta,
    FunctionCall,
    RateLimits,
    RealtimeEngine,
    RealtimeError,
    RealtimeEvent,
    RealtimeSession,
    ResponseCreated,
    ResponseDone,
    ServerError,
    SessionConfig,
    SpeechStarted,
    SpeechStopped,
    TranscriptDelta,
    UserTranscript,
)

log = logging.getLogger("voiceflow.realtime")

__all__ = ["BRIDGE_LINE", "RealtimeProcessor"]

BRIDGE_LINE = "Sorry, the line dropped for a moment. I'm still here. What would you like to do?"
GREETING_LINE = "Hi! Thanks for calling. How can I help you today?"


class RealtimeProcessor(Processor):
    produces = (
        TTSAudio,
        EncodedTTSAudio,
        Transcript,
        TextToSpeak,
        ToolCall,
        ToolResult,
        UserStartedSpeaking,
        UserStoppedSpeaking,
        Metrics,
    )

    def __init__(
        self,
        engine: RealtimeEngine,
        config: SessionConfig,
        *,
        tracker: ToolCallTracker,
        memory: ConversationMemory,
        mode: ModeRouter | None = None,
        max_reconnects: int = 2,
        reconnect_delay_s: float = 0.2,
        greet: bool = True,
        encoded_output: bool = False,
        keypad_pause_s: float = 1.5,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name or "realtime")
        self.interruptible = False  # see the module doc: output is stopped by response id
        self.engine = engine
        self.config = config
        self.tracker = tracker
        self.memory = memory
        self.mode = mode
        self.max_reconnects = max_reconnects
        self.reconnect_delay_s = reconnect_delay_s
        self.greet = greet
        #: the output's wire carries the session's output format (Twilio and ``audio/pcmu``): the
        #: model's bytes leave as ``EncodedTTSAudio``, never decoded and re-encoded
        self.encoded_output = encoded_output and config.output_format == "audio/pcmu"
        self.session: RealtimeSession | None = None
        self.reconnects = 0
        self.errors: list[ServerError] = []
        self.rate_limits: dict[str, dict[str, Any]] = {}
        self.usage: list[dict[str, Any]] = []
        #: ms our path added: caller frame stamped → sent on the socket; delta read → TTSAudio pushed
        self.inbound_ms: deque[float] = deque(maxlen=20000)
        self.outbound_ms: deque[float] = deque(maxlen=20000)
        #: barge-ins: (speech_started read → interrupt done) ms
        self.bargein_ms: deque[float] = deque(maxlen=1000)
        self.truncations: deque[tuple[str, int]] = deque(maxlen=1000)
        #: reconnects: socket lost → new session restored (ms); answers finished after a drop
        self.reconnect_ms: deque[float] = deque(maxlen=100)
        self.resumed = 0
        self._encoder = InputEncoder(config.input_format)
        self._sent_ms = 0.0  # caller audio sent in this session
        self._sent_at: deque[tuple[float, float]] = deque(maxlen=1500)  # (ms at end of chunk, frame ts)
        self._items: dict[str, _Item] = {}
        self._by_utterance: dict[int, _Item] = {}
        self._responses: dict[str, _Response] = {}
        self._active: str | None = None  # the response being generated
        self._next_utterance = 1
        self._audible = False
        self._closing = False
        self._reader: asyncio.Task[None] | None = None
        self._failed = False
        self._passthrough = False
        self.keypad_pause_s = keypad_pause_s
        self._keypad = KeypadEntry()
        self._keypad_timer: asyncio.Task[None] | None = None
        self._keypad_calls = 0
        self._respond_when_done = False  # a keypad turn waits for the active response to end

    @property
    def responding(self) -> bool:
        """A response is being generated (created, not yet done)."""
        return self._active is not None

    # -- lifecycle ---------------------------------------------------------------------------
    async def setup(self) -> None:
        await self.engine.start(self.run.clock)

    async def on_start(self, frame: Start) -> None:
        try:
            self.session = await self.engine.connect(self.config)
        except RealtimeError as exc:
            await self._fall_back(f"Realtime session could not be opened: {exc}")
            return
        self._reader = self.create_task(self._read(), turn=False)
        if self.greet:
            await self._send(lambda s: s.create_response())

    async def cleanup(self) -> None:
        self._closing = True
        session, self.session = self.session, None
        if session is not None:
            await session.aclose()
        for call in self.tracker.unfinished():
            self.tracker.cancel(call.call_id)

    # -- caller audio --------------------------------------------------------------------------
    async def tap_wire(self, audio: bytes) -> None:
        """The caller's wire bytes in the session's input format (a ``TwilioInput.wire_taps`` entry):
        sent as they came, no decoding or resampling; the ``AudioRaw`` copy is then skipped."""
        if self.session is None or self._failed or self._run is None:
            return
        self._passthrough = True
        await self._send_audio(audio, self.now())

    @on(AudioRaw)
    async def audio(self, frame: AudioRaw) -> None:
        if self.session is None or self._failed:
            return  # queued before a fall-back: the cascaded branch has the call now
        problem = audio_problem(frame)
        if problem is None and frame.channels != 1:
            problem = f"AudioRaw with {frame.channels} channels; the Realtime session takes mono"
        if problem is not None:
            await self.report_error(f"{self.name}: {problem}")
            return
        if self._passthrough:
            return  # the same audio went to the socket as the caller's wire bytes
        data = self._encoder.encode(frame.audio, frame.sample_rate)
        if data:
            await self._send_audio(data, frame.ts)

    async def _send_audio(self, data: bytes, stamped: float) -> None:
        if await self._send(lambda s: s.send_audio(data)):
            self._sent_ms += self._encoder.ms(data)
            self._sent_at.append((self._sent_ms, stamped))
            self.inbound_ms.append((self.now() - stamped) * 1000)

    # -- keypad ------------------------------------------------------------------------------------
    @on(DTMF)
    async def keypad(self, frame: DTMF) -> None:
        await self.push(frame)
        if self.session is None or self._failed:
            return
        if self._keypad_timer is not None:
            self._keypad_timer.cancel()
            self._keypad_timer = None
        for key in frame.digit:
            if key not in KEYS:
                await self.report_error(f"{self.name}: ignored keypad key {key!r}")
                continue
            action = self._keypad.press(key)
            if action is not None:
                await self._keypad_action(action)
        if self._keypad.buffer:  # an entry without '#' ends with a pause
            self._keypad_timer = self.create_task(self._keypad_pause(), turn=False)

    async def _keypad_pause(self) -> None:
        await self.run.clock.sleep(self.keypad_pause_s)
        self._keypad_timer = None
        action = self._keypad.submit()
        if action is not None:
            await self._keypad_action(action)

    async def _keypad_action(self, action: KeypadAction) -> None:
        if action.kind == "operator":
            await self._barge_in()
            await self._operator()
            return
        text = entry_text(action.digits)
        self.memory.add_user(text)
        await self.push(Transcript(text=text, final=True))
        await self._send(lambda s: s.add_message("user", text))
        if self._active is None:
            await self._send(lambda s: s.create_response())
        else:
            self._respond_when_done = True

    async def _operator(self) -> None:
        """Keypad 0: ``transfer_to_human`` through the tracker, then the model hears call and output."""
        self._keypad_calls += 1
        call_id = f"{self.name}-keypad-{self._keypad_calls}"
        tool, args = OPERATOR_CALL
        raw = json.dumps(args)
        self.tracker.request(call_id, tool, raw, generation=self.generation)
        await self.push(ToolCall(call_id=call_id, tool=tool, arguments=dict(args)))
        outcome = await self.tracker.execute(call_id, tool, raw, generation=self.generation)
        await self.push(result_frame(call_id, tool, outcome))
        content = outcome.to_content()
        self.memory.add_tool_calls([ToolCallRequest(call_id, tool, dict(args), raw)])
        self.memory.add_tool_result(call_id, tool, content)
        await self._send(lambda s: s.add_function_call(call_id, tool, raw))
        await self._send(lambda s: s.send_function_output(call_id, content))
        await self._send(lambda s: s.create_response())

    # -- playout feedback (upstream) -----------------------------------------------------------
    @on(BotStartedSpeaking, upstream=True)
    async def bot_started(self, frame: BotStartedSpeaking) -> None:
        self._audible = True
        await self.push_up(frame)

    @on(BotStoppedSpeaking, upstream=True)
    async def bot_stopped(self, frame: BotStoppedSpeaking) -> None:
        self._audible = False
        await self.push_up(frame)

    @on(PlayoutReport, upstream=True)
    async def played(self, frame: PlayoutReport) -> None:
        await self.push_up(frame)
        item = self._by_utterance.get(frame.utterance_id)
        if item is None or item.recorded:
            return
        if frame.mark == "clear" or (frame.finished and item.cut):  # cut, or all played before the cut
            await self._truncate(item, frame.played_ms)
        elif frame.finished and item.done and not item.cut:
            await self._record(item, item.transcript)

    # -- server events -------------------------------------------------------------------------
    async def _read(self) -> None:
        while not self._closing:
            session = self.session
            if session is None:
                return
            async for event in session.events():
                try:
                    await self._on_event(event)
                except RealtimeError as exc:
                    await self.report_error(f"{self.name}: {exc}", exception=exc)
                    break
            if self._closing or self.session is not session:
                return
            await self._reconnect(session.closed_reason or "socket closed")

    async def _on_event(self, event: RealtimeEvent) -> None:
        if isinstance(event, AudioDelta):
            await self._audio_delta(event)
        elif isinstance(event, TranscriptDelta):
            item = self._items.get(event.item_id)
            if item is not None:
                item.text.append(event.text)
        elif isinstance(event, SpeechStarted):
            await self._speech_started(event)
        elif isinstance(event, SpeechStopped):
            await self.push(UserStoppedSpeaking(last_voiced_at=self._voiced_at(event.audio_end_ms)))
        elif isinstance(event, UserTranscript):
            text = event.text.strip()
            if text:
                self.memory.add_user(text)
                await self.push(Transcript(text=text, final=True))
        elif isinstance(event, FunctionCall):
            await self._function_call(event)
        elif isinstance(event, ResponseCreated):
            self._active = event.response_id
            self._responses.setdefault(event.response_id, _Response())
        elif isinstance(event, ResponseDone):
            await self._response_done(event)
        elif isinstance(event, RateLimits):
            await self._rate_limits(event)
        elif isinstance(event, ServerError):
            await self._server_error(event)

    async def _audio_delta(self, event: AudioDelta) -> None:
        received = self.now()
        self._active = self._active or event.response_id
        response = self._responses.setdefault(event.response_id, _Response())
        if response.cancelled:
            return  # late audio of a cancelled response
        item = self._items.get(event.item_id)
        if item is None:
            item = _Item(event.item_id, event.response_id, self._next_utterance)
            self._next_utterance += 1
            self._items[event.item_id] = item
            self._by_utterance[item.utterance_id] = item
            self._forget_old_items()
        if self.encoded_output:
            if not event.audio:
                return
            rate = FORMAT_RATES[self.config.output_format]
            item.audio_ms += len(event.audio) / rate * 1000
            await self.push(
                EncodedTTSAudio(
                    audio=event.audio,
                    codec=self.config.output_format,
                    sample_rate=rate,
                    utterance_id=item.utterance_id,
                )
            )
            self.outbound_ms.append((self.now() - received) * 1000)
            return
        pcm, rate = decode_output(self.config.output_format, event.audio)
        if not pcm:
            return
        item.audio_ms += len(pcm) / 2 / rate * 1000
        await self.push(TTSAudio(audio=pcm, sample_rate=rate, utterance_id=item.utterance_id))
        self.outbound_ms.append((self.now() - received) * 1000)

    async def _speech_started(self, event: SpeechStarted) -> None:
        await self.push(UserStartedSpeaking())
        await self._barge_in()

    async def _barge_in(self) -> None:
        """The caller cut in (speech, or the operator key): stop the reply, keep what was heard."""
        began = self.now()
        playing = [i for i in self._items.values() if not i.recorded]
        active = self._active
        if not (self._audible or active is not None or playing):
            return
        if active is not None:
            self._responses.setdefault(active, _Response()).cancelled = True
            self._active = None
            await self._send(lambda s: s.cancel_response())
            for call_id in list(self._responses[active].calls):
                self.tracker.cancel(call_id)
        await self.interrupt()  # the output drops its queue, sends clear, reports what was heard
        self.bargein_ms.append((self.now() - began) * 1000)
        for item in playing:
            item.cut = True  # nothing more of it will be played; the clear report says how much was

    async def _function_call(self, event: FunctionCall) -> None:
        response = self._responses.setdefault(event.response_id, _Response())
        self.tracker.request(event.call_id, event.name, event.arguments, generation=self.generation)
        await self.push(
            ToolCall(call_id=event.call_id, tool=event.name, arguments=_args_for_frame(event.arguments))
        )
        if response.cancelled:
            self.tracker.cancel(event.call_id)
            outcome = self.tracker.get(event.call_id)
            assert outcome is not None and outcome.outcome is not None
            await self.push(result_frame(event.call_id, event.name, outcome.outcome))
            return
        response.calls.add(event.call_id)
        self.create_task(self._run_tool(event, response), turn=False)

    async def _run_tool(self, event: FunctionCall, response: _Response) -> None:
        outcome = await self.tracker.execute(
            event.call_id, event.name, event.arguments, generation=self.generation
        )
        response.calls.discard(event.call_id)
        await self.push(result_frame(event.call_id, event.name, outcome))
        if outcome.cancelled or response.cancelled:
            return
        content = outcome.to_content()
        request = ToolCallRequest(
            event.call_id, event.name, _args_for_frame(event.arguments), event.arguments
        )
        self.memory.add_tool_calls([request])
        self.memory.add_tool_result(event.call_id, event.name, content)
        if await self._send(lambda s: s.send_function_output(event.call_id, content)):
            response.outputs += 1
        await self._continue_after_tools(response)

    async def _continue_after_tools(self, response: _Response) -> None:
        if response.done and not response.calls and response.outputs and not response.cancelled:
            response.outputs = 0
            await self._send(lambda s: s.create_response())

    async def _response_done(self, event: ResponseDone) -> None:
        if self._active == event.response_id:
            self._active = None
        response = self._responses.setdefault(event.response_id, _Response())
        response.done = True
        if event.status == "cancelled":
            response.cancelled = True
        if event.usage:
            self.usage.append(event.usage)
        for item in self._items.values():
            if item.response_id == event.response_id and not item.done:
                item.done = True
                if item.transcript and not item.cut and not item.remembered:
                    item.remembered = True
                    self.memory.add_assistant(item.transcript)
        await self._continue_after_tools(response)
        if self._respond_when_done and self._active is None:
            self._respond_when_done = False
            await self._send(lambda s: s.create_response())
        while len(self._responses) > 64:
            self._responses.pop(next(iter(self._responses)))

    async def _rate_limits(self, event: RateLimits) -> None:
        """Kept for the call and sent upstream as ``Metrics`` (``rate_limit_remaining/<name>``,
        ``rate_limit_limit/<name>``): the metrics observer turns them into gauges."""
        self.rate_limits.update(event.limits)
        values: dict[str, float] = {}
        for name, limit in event.limits.items():
            for field_name in ("remaining", "limit"):
                value = limit.get(field_name)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    values[f"rate_limit_{field_name}/{name}"] = float(value)
        if values:
            await self.push_up(Metrics(values=values, processor=self.name))

    async def _server_error(self, event: ServerError) -> None:
        self.errors.append(event)
        if len(self.errors) > 100:
            del self.errors[0]
        if event.kind == "session_expired":
            log.info("%s: %s; reconnecting", self.name, event.message)
            return  # the server closes the socket next; the reader reconnects
        await self.report_error(f"{self.name}: Realtime {event.kind} error ({event.code}): {event.message}")

    # -- barge-in truncation and memory --------------------------------------------------------
    async def _truncate(self, item: _Item, played_ms: float) -> None:
        end = int(min(max(0.0, played_ms), item.audio_ms))
        if end < item.audio_ms:
            self.truncations.append((item.item_id, end))
            await self._send(lambda s: s.truncate(item.item_id, end))
        words = item.transcript.split()
        heard = " ".join(words[: round(len(words) * end / item.audio_ms)]) if item.audio_ms else ""
        if item.remembered:
            if heard != item.transcript:
                self.memory.truncate_last_assistant(heard)
        elif heard:
            self.memory.add_assistant(heard)
        item.remembered = item.cut = True
        await self._record(item, heard)

    async def _record(self, item: _Item, text: str) -> None:
        item.recorded = True
        if text:
            await self.push(TextToSpeak(text=text, utterance_id=item.utterance_id))

    def _forget_old_items(self) -> None:
        while len(self._items) > 64:
            old = self._items.pop(next(iter(self._items)))
            self._by_utterance.pop(old.utterance_id, None)

    def _voiced_at(self, audio_end_ms: int) -> float | None:
        """Clock time the caller's audio up to ``audio_end_ms`` (session time) reached us."""
        for end_ms, ts in self._sent_at:
            if end_ms >= audio_end_ms:
                return ts
        return self._sent_at[-1][1] if self._sent_at else None

    # -- the socket ------------------------------------------------------------------------------
    async def _send(self, action: Callable[[RealtimeSession], Any]) -> bool:
        session = self.session
        if session is None:
            return False
        try:
            await action(session)
        except RealtimeError as exc:
            log.info("%s: %s", self.name, exc)
            return False  # the reader sees the socket close and reconnects
        return True

    async def _reconnect(self, reason: str) -> None:
        old, self.session = self.session, None
        if old is not None:
            await old.aclose()
        self._active = None
        dropped_at = self.now()
        for response in self._responses.values():
            response.cancelled = response.cancelled or not response.done
        cut_off = self._keep_cut_off_answers()
        for attempt in range(self.max_reconnects):
            await self.run.clock.sleep(self.reconnect_delay_s * attempt)
            try:
                session = await self.engine.connect(self.config)
            except RealtimeError as exc:
                log.info("%s: reconnect %d failed: %s", self.name, attempt + 1, exc)
                continue
            self.session = session
            self.reconnects += 1
            self._sent_ms = 0.0
            self._sent_at.clear()
            await self._restore(session, cut_off)
            self.reconnect_ms.append((self.now() - dropped_at) * 1000)
            await self.push_up(Metrics(values={"realtime_reconnects": self.reconnects}, processor=self.name))
            return
        await self._fall_back(f"Realtime socket lost ({reason}) and could not be reopened")

    def _keep_cut_off_answers(self) -> str:
        """Answers a drop cut mid-stream are not said again: the audio that arrived keeps playing
        and its words become the whole answer (remembered now, recorded once played). Returns the
        last one's words, for the new session to continue from."""
        text = ""
        for item in self._items.values():
            if item.done or item.recorded or item.cut or not item.audio_ms:
                continue
            item.done = True
            if item.transcript and not item.remembered:
                item.remembered = True
                self.memory.add_assistant(item.transcript)
            text = item.transcript
        return text

    async def _restore(self, session: RealtimeSession, cut_off: str = "") -> None:
        """Re-send the conversation (``restore.restore_conversation``); a cut-off answer is continued."""
        try:
            resumed = await restore_conversation(session, self.memory, self.config.instructions, cut_off)
        except RealtimeError as exc:
            log.info("%s: restoring the conversation failed: %s", self.name, exc)
            return
        self.resumed += resumed

    async def _fall_back(self, reason: str) -> None:
        self._failed = True
        await self.report_error(f"{self.name}: {reason}; switching the call to the cascaded graph")
        session, self.session = self.session, None
        if session is not None:
            await session.aclose()
        if self.mode is None:
            return
        line = BRIDGE_LINE if self.memory.turn_count else GREETING_LINE
        await self.mode.fall_back(reason, self.run.make(TextToSpeak, text=line))
