"""The text of one utterance as it arrives (LLM tokens), for voices that speak while it comes.

``TextFeed`` keeps everything received and can be read again from any point: after a failover
the next voice is given the utterance from the first word not yet begun, then the text still to
come. ``clause_by_clause`` speaks such text on a voice without a stream of its own (Piper).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator

from voiceflow.services.tts.clauses import stream_clauses
from voiceflow.services.tts.engine import TTSEngine
from voiceflow.services.tts.prosody import Prosody


class TextFeed:
    """An utterance's text as it arrives (LLM tokens), readable again from any point, so the
    next voice after a failover is given the rest of it from the first word not yet begun."""

    def __init__(self, pieces: AsyncIterable[str]) -> None:
        self._source = aiter(pieces)
        self.text = ""
        self.ended = False
        # the pending read of the source: a voice's sender cancelled mid-read (its voice died)
        # must not cancel the source itself, whose text the next voice still needs
        self._next: asyncio.Task[str | None] | None = None

    async def _pull(self) -> bool:
        if self.ended:
            return False
        if self._next is None:
            self._next = asyncio.create_task(_next_piece(self._source), name="tts-feed")
        piece = await asyncio.shield(self._next)
        self._next = None
        if piece is None:
            self.ended = True
            return False
        self.text += piece
        return True

    async def aclose(self) -> None:
        task, self._next = self._next, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def ready(self, start: int) -> bool:
        """Until the text from ``start`` holds a clause or the utterance ended (so a voice's
        first-audio deadline is not spent waiting for the LLM); False: nothing to say there."""
        while not self.ended and not _CLAUSE_END.search(self.text, start):
            await self._pull()
        return bool(self.text[start:].strip())

    async def read(self, start: int) -> AsyncGenerator[str, None]:
        at = start
        while True:
            if at < len(self.text):
                piece, at = self.text[at:], len(self.text)
                yield piece
            elif not await self._pull():
                return


async def _next_piece(source: AsyncIterator[str]) -> str | None:
    try:
        return await anext(source)
    except StopAsyncIteration:
        return None


_CLAUSE_END = re.compile(r"[.!?;:,]\s|\S{60}|\n")


async def clause_by_clause(
    engine: TTSEngine, pieces: AsyncIterable[str], prosody: Prosody
) -> AsyncGenerator[bytes, None]:
    """Text as it arrives, for a voice without a stream of its own (Piper): a clause at a time."""
    async with contextlib.aclosing(stream_clauses(pieces)) as texts:
        async for clause in texts:
            async with contextlib.aclosing(engine.synthesize(clause, prosody=prosody)) as chunks:
                async for chunk in chunks:
                    yield chunk
