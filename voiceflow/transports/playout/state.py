"""What the caller has heard, reported upstream the same way by every output transport.

The paced socket output (Twilio, browser) learns playout from mark echoes and its
pacing clock; the WebRTC output from its track's clock. Both hand what they learn
to one ``PlayoutState``, which owns the bot-speaking flag, the per-utterance
played position and the frames that report them (``BotStartedSpeaking``,
``BotStoppedSpeaking``, ``PlayoutReport``), so barge-in truncation and
bot-speaking state mean the same thing on every transport.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from voiceflow.frames import BotStartedSpeaking, BotStoppedSpeaking, Frame, PlayoutReport


class PlayoutState:
    def __init__(self, push_up: Callable[[Frame], Awaitable[None]]) -> None:
        self._push_up = push_up
        self.speaking = False
        self.utterances_played = 0
        #: utterance id -> ms of it known to have been played
        self.heard: dict[int, float] = {}

    async def started(self) -> None:
        """Agent audio reached the caller while the bot was silent."""
        if not self.speaking:
            self.speaking = True
            await self._push_up(BotStartedSpeaking())

    async def stopped(self) -> None:
        """Everything sent has played (or was cut): the bot is silent."""
        self.heard.clear()
        if self.speaking:
            self.speaking = False
            await self._push_up(BotStoppedSpeaking())

    def heard_up_to(self, utterance_id: int, played_ms: float) -> None:
        self.heard[utterance_id] = max(self.heard.get(utterance_id, 0.0), played_ms)

    async def played(self, utterance_id: int, played_ms: float, *, finished: bool, mark: str = "") -> None:
        """``played_ms`` of ``utterance_id`` reached the caller (``finished``: all of it)."""
        self.heard_up_to(utterance_id, played_ms)
        if finished:
            self.utterances_played += 1
        await self._push_up(
            PlayoutReport(utterance_id=utterance_id, played_ms=played_ms, finished=finished, mark=mark)
        )
