"""Piper's cache of finished syntheses: a text said again is not synthesized again; an interrupted
synthesis is not kept; the cache stays within its bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from voiceflow.services.tts.audio_cache import AudioCache
from voiceflow.services.tts.piper import PiperEngine
from voiceflow.services.tts.prosody import NEUTRAL, Prosody

GREETING = "Thanks for calling Acme Home. How can I help you today?"


class CountingPiper(PiperEngine):
    """The real Piper engine, counting the texts its worker thread synthesized."""

    def __init__(self, cache_bytes: int) -> None:
        super().__init__(noise_scale=0.0, noise_w_scale=0.0, cache_bytes=cache_bytes)
        self.synthesized: list[str] = []

    def synthesize_blocking(
        self, text: str, prosody: Prosody = NEUTRAL, should_stop: Callable[[], bool] = lambda: False
    ) -> Iterator[bytes]:
        self.synthesized.append(text)
        yield from super().synthesize_blocking(text, prosody, should_stop)


async def test_a_text_said_again_comes_from_the_cache() -> None:
    engine = CountingPiper(cache_bytes=4 * 2**20)
    first = [pcm async for pcm in engine.synthesize(GREETING)]
    again = [pcm async for pcm in engine.synthesize(GREETING)]
    assert again == first and sum(map(len, first)) > 22050  # over half a second of the voice
    assert engine.synthesized == [GREETING]
    assert (engine.cache.hits, engine.cache.misses) == (1, 1)
    slower = [pcm async for pcm in engine.synthesize(GREETING, prosody=Prosody(rate=0.8))]
    assert sum(map(len, slower)) > sum(map(len, first)), "another prosody is another sound"
    assert engine.synthesized == [GREETING, GREETING]


async def test_an_interrupted_synthesis_is_not_kept_and_no_cache_means_none() -> None:
    engine = CountingPiper(cache_bytes=4 * 2**20)
    stream = engine.synthesize("Your order shipped on Tuesday. It should arrive by Friday, before noon.")
    await anext(stream)
    await stream.aclose()  # barge-in: the reply was cut after its first chunk
    assert len(engine.cache) == 0
    plain = CountingPiper(cache_bytes=0)
    for _ in range(2):
        [pcm async for pcm in plain.synthesize(GREETING)]
    assert plain.synthesized == [GREETING, GREETING]


def test_the_cache_keeps_within_its_bytes_least_recently_used_out() -> None:
    cache = AudioCache(max_bytes=10, max_text_chars=5)
    cache.put("a", [b"1234"])
    cache.put("b", [b"12", b"34"])
    assert cache.get("a") == (b"1234",)  # "a" is now the most recently used
    cache.put("c", [b"1234"])
    assert cache.get("b") is None and cache.get("a") is not None and cache.bytes == 8
    cache.put("huge", [b"x" * 11])
    assert cache.get("huge") is None
    assert cache.wants("short") and not cache.wants("longer") and not AudioCache(0).wants("a")
