"""Per-turn latency: stage boundaries of each turn, read off the frames as they flow.

The tracker is an observer, so it never slows the graph. A turn opens when the
end-of-turn ``UserStoppedSpeaking`` leaves the endpointer and is timed from that
frame's ``last_voiced_at`` (the caller's last voiced audio as received by the
transport). Each stage is the first frame of its kind after that point:

    stt_final      the recognizer's last final transcript of the turn (may precede the turn end)
    endpoint       end of turn decided (endpointing wait included)
    intent         Intent pushed (with the deciding tier)
    reply          first text of the reply (TextToSpeak or LLMToken)
    tts_audio      first synthesized audio
    sent           first agent audio written to the transport: the output transport's
                   voice-to-voice ``Metrics`` (``voiceflow.observability.v2v``), so the
                   tracker and the transport report the same figure

Voice-to-voice latency is ``sent - speech_end``. Tool time is summed from
ToolCall to its ToolResult.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from voiceflow.core.observers import PushEvent
from voiceflow.frames import (
    EncodedTTSAudio,
    Intent,
    LLMToken,
    Metrics,
    TextToSpeak,
    ToolCall,
    ToolResult,
    Transcript,
    TTSAudio,
    UserStoppedSpeaking,
)

STAGES = ("stt_final", "endpoint", "intent", "reply", "tts_audio", "sent")


@dataclass
class TurnLatency:
    index: int
    speech_end: float
    marks: dict[str, float] = field(default_factory=dict)
    user_text: str = ""
    intent: str = ""
    tier: str = ""
    tool_ms: float = 0.0
    tools: list[str] = field(default_factory=list)

    def ms(self, stage: str) -> float | None:
        """Milliseconds from the caller's last voiced audio to ``stage``."""
        at = self.marks.get(stage)
        return None if at is None else (at - self.speech_end) * 1000.0

    @property
    def v2v_ms(self) -> float | None:
        return self.ms("sent")

    def breakdown(self) -> dict[str, float]:
        """Milliseconds spent in each stage (each from the previous stage that happened)."""
        out: dict[str, float] = {}
        prev = self.speech_end
        for stage in STAGES:
            at = self.marks.get(stage)
            if at is None:
                continue
            out[stage] = max(0.0, (at - prev) * 1000.0)
            prev = max(prev, at)
        if self.tool_ms:
            out["tool"] = self.tool_ms
        return out


class LatencyTracker:
    """Observer collecting a ``TurnLatency`` per turn; ``on_turn`` is called when a turn's audio goes out."""

    def __init__(
        self,
        *,
        endpointer: str | tuple[str, ...] = "endpointer",
        stt: str = "stt",
        on_turn: Callable[[TurnLatency], None] | None = None,
    ) -> None:
        #: the node(s) whose ``UserStoppedSpeaking`` ends a turn (a speech-to-speech node is its own)
        self.endpointers = (endpointer,) if isinstance(endpointer, str) else endpointer
        self.stt = stt
        self.on_turn = on_turn
        self.turns: list[TurnLatency] = []
        self._open: TurnLatency | None = None
        self._last_final: tuple[float, str] | None = None
        self._turn_text = ""
        self._tool_started: dict[str, float] = {}

    async def on_push(self, event: PushEvent) -> None:
        self.observe(event)

    def observe(self, event: PushEvent) -> None:
        f, src, at = event.frame, event.source, event.at
        turn = self._open
        if isinstance(f, Transcript):
            if f.final and turn is None:
                if src == self.stt:
                    self._last_final = (at, f.text)
                elif src in self.endpointers:
                    self._turn_text = f.text
        elif isinstance(f, UserStoppedSpeaking):
            if src in self.endpointers and not event.upstream:
                self._start_turn(f, at)
        elif turn is None:
            return
        elif isinstance(f, Intent):
            if "intent" not in turn.marks:
                turn.marks["intent"] = at
                turn.intent, turn.tier = f.intent, f.tier
        elif isinstance(f, TextToSpeak | LLMToken):
            turn.marks.setdefault("reply", at)
        elif isinstance(f, TTSAudio | EncodedTTSAudio):
            turn.marks.setdefault("tts_audio", at)
        elif isinstance(f, ToolCall):
            if f.call_id not in self._tool_started:
                self._tool_started[f.call_id] = at
                turn.tools.append(f.tool)
        elif isinstance(f, ToolResult):
            started = self._tool_started.pop(f.call_id, None)
            if started is not None:
                turn.tool_ms += (at - started) * 1000.0
        elif isinstance(f, Metrics) and event.upstream and isinstance(f.values.get("v2v_ms"), int | float):
            turn.marks.setdefault("sent", turn.speech_end + float(f.values["v2v_ms"]) / 1000.0)
            self._open = None
            if self.on_turn is not None:
                self.on_turn(turn)

    def _start_turn(self, f: UserStoppedSpeaking, at: float) -> None:
        speech_end = f.last_voiced_at if f.last_voiced_at is not None else at
        turn = TurnLatency(index=len(self.turns) + 1, speech_end=speech_end)
        turn.marks["endpoint"] = at
        if self._last_final is not None:
            turn.marks["stt_final"] = self._last_final[0]
            turn.user_text = self._last_final[1]
        if self._turn_text:
            turn.user_text = self._turn_text
        self._last_final = None
        self._turn_text = ""
        self._tool_started.clear()
        self.turns.append(turn)
        self._open = turn
