"""The fake Realtime server's two kinds of response: a function call, or speech in the session's format.

Module functions taking the server (``self``) and the session, so ``openai_realtime``
stays one screenful per concern.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from websockets.exceptions import ConnectionClosed

from voiceflow.testing.fakes.realtime_items import RATES, Item, context, encode, item_json
from voiceflow.testing.fakes.realtime_model import FunctionCallStep, SayStep, decide

__all__ = ["function_call", "speak"]

DELTA_MS = 100  # output audio per delta


async def function_call(self: Any, s: Any, rid: str, step: FunctionCallStep) -> dict[str, Any]:
    item = Item(
        self._id("item"),
        "function_call",
        call_id=self._id("call"),
        name=step.name,
        arguments=step.arguments,
    )
    s.items.append(item)
    await self._send(
        s,
        "response.output_item.added",
        response_id=rid,
        output_index=0,
        item=item_json(item, "in_progress"),
    )
    half = len(step.arguments) // 2
    for piece in (step.arguments[:half], step.arguments[half:]):
        await self._send(
            s,
            "response.function_call_arguments.delta",
            response_id=rid,
            item_id=item.id,
            output_index=0,
            call_id=item.call_id,
            delta=piece,
        )
    await self._send(
        s,
        "response.function_call_arguments.done",
        response_id=rid,
        item_id=item.id,
        output_index=0,
        call_id=item.call_id,
        name=item.name,
        arguments=item.arguments,
    )
    await self._send(s, "response.output_item.done", response_id=rid, output_index=0, item=item_json(item))
    return item_json(item)


async def speak(self: Any, s: Any, rid: str, text: str) -> dict[str, Any]:
    from voiceflow.sim.speech import synthesize

    fmt = s.config["audio"]["output"]["format"]["type"]
    item = Item(self._id("item"), "message", role="assistant", text=text)
    s.items.append(item)
    await self._send(
        s,
        "response.output_item.added",
        response_id=rid,
        output_index=0,
        item=item_json(item, "in_progress"),
    )
    await self._send(s, "conversation.item.added", item=item_json(item, "in_progress"))
    ids = {"response_id": rid, "item_id": item.id, "output_index": 0, "content_index": 0}
    await self._send(s, "response.content_part.added", **ids, part={"type": "audio", "transcript": ""})
    pcm = await asyncio.to_thread(synthesize, text, RATES[fmt])
    audio = encode(fmt, pcm)
    width = 2 if fmt == "audio/pcm" else 1
    step = RATES[fmt] * width * DELTA_MS // 1000
    words = text.split()
    chunks = max(1, -(-len(audio) // step))
    loop = asyncio.get_running_loop()
    began = loop.time()
    for n, i in enumerate(range(0, len(audio), step)):
        if self.drop_after_audio_deltas is not None and n >= self.drop_after_audio_deltas:
            self.drop_after_audio_deltas = None  # one drop per arming
            s.ws.transport.abort()
            raise ConnectionClosed(None, None)
        piece = audio[i : i + step]
        item.audio_ms += len(piece) / width / RATES[fmt] * 1000
        self.sent_audio.setdefault(item.id, bytearray()).extend(piece)
        await self._send(s, "response.output_audio.delta", **ids, delta=base64.b64encode(piece).decode())
        lo, hi = len(words) * n // chunks, len(words) * (n + 1) // chunks
        if hi > lo:
            await self._send(
                s, "response.output_audio_transcript.delta", **ids, delta=" ".join(words[lo:hi]) + " "
            )
        if self.audio_pace:
            await asyncio.sleep(max(0.0, began + item.audio_ms / 1000 / self.audio_pace - loop.time()))
    await self._send(s, "response.output_audio.done", **ids)
    await self._send(s, "response.output_audio_transcript.done", **ids, transcript=text)
    await self._send(s, "response.content_part.done", **ids, part={"type": "audio", "transcript": text})
    await self._send(s, "response.output_item.done", response_id=rid, output_index=0, item=item_json(item))
    await self._send(s, "conversation.item.done", item=item_json(item))
    return item_json(item)


def rest_of_answer(s: Any) -> SayStep | FunctionCallStep | None:
    """A response told to continue a cut-off answer: the words of the answer the model gives to the
    conversation before it that come after the part already said (None when nothing is left)."""
    last = s.items[-1] if s.items else None
    if last is None or last.type != "message" or last.role != "assistant":
        return decide(context(s))  # nothing cut off: an ordinary response
    step = decide(context(s, s.items[:-1]))
    if not isinstance(step, SayStep):
        return None
    said, words = last.text.split(), step.text.split()
    if [w.lower() for w in words[: len(said)]] != [w.lower() for w in said]:
        return step  # not a prefix of its answer: say it whole
    rest = words[len(said) :]
    return SayStep(" ".join(rest)) if rest else None
