"""Voice-to-voice latency, computed in one place for every output transport.

DESIGN's definition: the caller's last voiced audio frame received by the
transport (``UserStoppedSpeaking.last_voiced_at``, the endpointer's end of turn)
→ the first agent audio frame the transport sends after it. Output transports
call ``turn_ended`` and ``audio_out``; the ``Metrics`` frame they push upstream
(``{"v2v_ms", "turn"}``) is what the latency tracker and the page read.

A turn the caller went on with (``UserStartedSpeaking(continues=True)``: the end, often a
provisional one whose reply was discarded, was premature) has not ended: ``turn_started``
forgets that end, so the figure is counted from the end of the whole turn, not from its
first pause.
"""

from __future__ import annotations

from voiceflow.frames import UserStartedSpeaking, UserStoppedSpeaking


class VoiceToVoice:
    def __init__(self) -> None:
        self.turns = 0
        self.samples_ms: list[float] = []
        self._voiced_at: float | None = None

    @property
    def waiting(self) -> bool:
        """A caller turn ended and no agent audio has gone out since."""
        return self._voiced_at is not None

    def turn_ended(self, frame: UserStoppedSpeaking) -> None:
        self._voiced_at = frame.last_voiced_at if frame.last_voiced_at is not None else frame.ts

    def turn_started(self, frame: UserStartedSpeaking) -> None:
        if frame.continues:  # the end seen was premature: the turn's real end is still to come
            self._voiced_at = None

    def audio_out(self, at: float) -> float | None:
        """Agent audio left at ``at``: the turn's latency in ms (rounded to 0.1), once per turn."""
        if self._voiced_at is None:
            return None
        ms = round((at - self._voiced_at) * 1000.0, 1)
        self._voiced_at = None
        self.turns += 1
        self.samples_ms.append(ms)
        return ms
