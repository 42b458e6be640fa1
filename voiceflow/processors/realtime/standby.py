"""The cascaded graph's recognizer on a realtime call: no stream until the call falls back to it.

An offline recognizer stream is a decoder per call (pocketsphinx or Whisper state, a reader
task), and on a realtime call the cascade almost never hears anything. ``StandbySTT``
starts the shared engine like any ``STTProcessor`` but opens its stream only in
``activate`` — a ``ModeRouter`` handoff, run before the first frame is routed to the cascade.
The other cascade nodes cost nothing while idle (the VAD's stream, the dialogue's state and
the TTS's synthesis are made on their first frame; their models are shared by every call).
"""

from __future__ import annotations

from voiceflow.processors.stt.processor import STTProcessor

__all__ = ["StandbySTT"]


class StandbySTT(STTProcessor):
    async def setup(self) -> None:
        await self.engine.start(self.run.clock)

    @property
    def standing_by(self) -> bool:
        """No stream opened yet (the call has not fallen back)."""
        return self._stream is None

    async def activate(self) -> None:
        """Open the stream (and its reader) now; a no-op once open."""
        if self._stream is None:
            await super().setup()
