"""Virtual time is deterministic; queues are bounded with declared overflow and a depth gauge."""

from __future__ import annotations

import asyncio

import pytest

from tests.core.helpers import SlowSpeaker, TokenStreamer
from voiceflow.frames import AudioRaw, LLMToken, Start, Transcript, TTSAudio
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors import FrameQueue, Overflow


async def test_virtual_sleepers_wake_in_deadline_order_without_real_time() -> None:
    clock = VirtualClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, secs: float) -> None:
        await clock.sleep(secs)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("c", 3.0), ("a", 1.0), ("b", 2.0))]
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await clock.advance(2.5)
    assert woke == [("a", 1.0), ("b", 2.0)]
    await clock.run_until_idle()
    assert woke[-1] == ("c", 3.0)
    assert loop.time() - t0 < 1.0  # no real waiting happened
    await asyncio.gather(*tasks)


async def test_virtual_timeout_fires_only_when_time_passes() -> None:
    clock = VirtualClock()

    async def slow() -> str:
        await clock.sleep(10)
        return "late"

    job = asyncio.create_task(clock.wait_for(slow(), 5))
    await clock.advance(4.9)
    assert not job.done()
    await clock.advance(0.2)
    with pytest.raises(TimeoutError):
        await job
    assert clock.pending == 0


async def test_same_scenario_twice_gives_identical_timeline() -> None:
    async def scenario() -> list[tuple[str, float, int]]:
        clock = VirtualClock()
        llm, tts, sink = (
            TokenStreamer(name="llm", n=6, gap=0.07),
            SlowSpeaker(name="tts", cost=0.13),
            Collector(name="sink"),
        )
        async with GraphRun(Graph("g", inputs=[Transcript]).chain(llm, tts, sink), clock=clock) as run:
            await run.push(run.make(Transcript, text="a"))
            await clock.advance(0.3)
            await llm.interrupt()
            await run.push(run.make(Transcript, text="b"))
            await clock.run_until_idle()
        return [(f.type_name, round(f.ts, 6), f.generation) for f in sink.frames if f.type_name != "End"]

    first, second = await scenario(), await scenario()
    assert first == second
    assert any(name == "TTSAudio" for name, _, _ in first)


def _tok(text: str) -> LLMToken:
    return LLMToken(text=text)


async def test_block_policy_backpressures_the_pusher() -> None:
    q = FrameQueue(2, Overflow.BLOCK)
    assert q.offer(_tok("1")) and q.offer(_tok("2"))
    assert not q.offer(_tok("3"))
    put = asyncio.create_task(q.put(_tok("3")))
    await asyncio.sleep(0)
    assert not put.done() and q.depth == 2
    q.pop()
    await put
    assert [f.text for f, _ in q.items] == ["2", "3"]  # type: ignore[attr-defined]
    assert q.high_water == 2


def test_drop_policies_drop_data_never_control_and_count_it() -> None:
    newest = FrameQueue(2, Overflow.DROP_NEWEST)
    for t in "abc":
        newest.offer(_tok(t))
    assert [f.text for f, _ in newest.items] == ["a", "b"]  # type: ignore[attr-defined]
    assert newest.dropped_overflow == 1

    oldest = FrameQueue(2, Overflow.DROP_OLDEST)
    oldest.offer(Start())
    for t in "abc":
        oldest.offer(_tok(t))
    names = [getattr(f, "text", f.type_name) for f, _ in oldest.items]
    assert names == ["Start", "c"]  # control frames are never the victim
    assert oldest.dropped_overflow == 2


def test_upstream_frames_bypass_the_bound() -> None:
    q = FrameQueue(1, Overflow.BLOCK)
    assert q.offer(_tok("down"))
    assert q.offer(_tok("feedback"), upstream=True)
    assert q.depth == 2


def test_queue_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FrameQueue(0)


async def test_depth_gauges_in_run_stats() -> None:
    clock = VirtualClock()
    tts, sink = SlowSpeaker(name="tts", cost=1.0), Collector(name="sink")
    async with GraphRun(Graph("g", inputs=[LLMToken, AudioRaw]).chain(tts, sink), clock=clock) as run:
        for i in range(5):
            await run.push(run.make(LLMToken, text=str(i)))
        await clock.advance(0)
        stats = run.stats()["tts"]
        assert stats["depth"] == 4 and stats["high_water"] >= 4
        await clock.run_until_idle()
    assert len(sink.of(TTSAudio)) == 5


def test_type_name_is_not_shadowed_by_a_field() -> None:
    from voiceflow.frames import Mark

    mark = Mark(label="utt-3")
    assert mark.type_name == "Mark"
    assert mark.label == "utt-3"
