"""Twilio Media Streams through a real server and a real WebSocket client (the echo pipeline).

Timing bounds here are generous (a shared 2-core machine); the benchmark measures.
Stated: outbound media runs at most LEAD_FRAMES ahead of real time; a ``clear`` is
written within 250 ms of the Interrupt and reaches the caller within 1.5 s of the
onset of their barge-in speech (60 ms detection + 200 ms confirmation + slack).
"""

from __future__ import annotations

import time

from pipelines.echo import DTMF_TONES
from tests.transports.transport_helpers import echo_server, tone, tone_power, wait_until
from voiceflow.frames import BotStartedSpeaking, BotStoppedSpeaking, Metrics, PlayoutReport
from voiceflow.sim.twilio_client import TwilioMediaClient

LEAD_FRAMES = 5  # PacedAudioOutput's default 100 ms lead


async def test_full_call_paced_media_marks_and_playout_tracking() -> None:
    async with echo_server() as (server, factory, state):
        async with TwilioMediaClient(server.ws_url("/twilio/media"), caller="+15551230001") as call:
            await call.send_silence(0.1)
            spoke_until = await call.send_audio(tone(0.5), sample_rate=16000)
            await call.send_silence(0.4)
            reply = await call.wait_for_reply(after=spoke_until, timeout=10)

            record = factory.calls[call.call_sid]
            assert record.ctx.transport == "twilio" and record.ctx.caller == "+15551230001"
            assert record.ctx.metadata["stream_sid"] == call.stream_sid

            frames = call.media_after(spoke_until)
            assert frames and all(len(m.ulaw) == 160 for m in frames), "20 ms frames of mu-law"
            at = [m.at - frames[0].at for m in frames]
            for k, t in enumerate(at):  # never more than the lead ahead of real time
                assert t >= (k - LEAD_FRAMES) * 0.02 - 0.03, (k, t)
            mean_gap = at[-1] / (len(frames) - LEAD_FRAMES)
            assert 0.017 < mean_gap < 0.03, mean_gap

            # the echo: the caller's 440 Hz tone comes back (22050 Hz TTS audio -> 8 kHz mu-law)
            assert tone_power(reply.audio, 8000, 440) > 20 * tone_power(reply.audio, 8000, 1000)

            # marks follow the audio and are echoed by the phone after playout
            assert call.marks and all(m.echoed_at is not None and not m.cleared for m in call.marks)
            last_mark = call.marks[-1]
            assert last_mark.at >= frames[-1].at
            assert last_mark.echoed_at is not None and last_mark.echoed_at >= frames[-1].play_start

            await wait_until(lambda: bool(record.tap.of(BotStoppedSpeaking)))
            started, stopped = record.tap.of(BotStartedSpeaking), record.tap.of(BotStoppedSpeaking)
            assert len(started) == 1 and len(stopped) == 1
            assert started[0][0] <= frames[0].at + 0.2
            assert stopped[0][0] >= last_mark.echoed_at, "bot stops when the last mark has played"
            reports = [f for _, f in record.tap.of(PlayoutReport)]
            assert [r.mark for r in reports] == [m.name for m in call.marks]
            assert reports[-1].finished and not any(r.finished for r in reports[:-1])
            assert abs(reports[-1].played_ms - 20 * len(frames)) <= 20
            assert [r.played_ms for r in reports] == sorted(r.played_ms for r in reports)

            metrics = [f.values for _, f in record.tap.of(Metrics) if "v2v_ms" in f.values]
            assert metrics and metrics[0]["turn"] == 1 and 250 < metrics[0]["v2v_ms"] < 3000
            assert record.output.stats.max_lead_ms <= 100.0 + 1e-6
        await wait_until(lambda: len(state.calls) == 0 and state.calls.finished == 1)
        assert record.input.run.errors == []


async def test_barge_in_sends_clear_and_drops_pending_audio() -> None:
    async with echo_server() as (server, factory, _state):
        async with TwilioMediaClient(server.ws_url("/twilio/media")) as call:
            await call.send_silence(0.1)
            spoke_until = await call.send_audio(tone(1.5), sample_rate=16000)
            await call.send_silence(0.55)  # the turn ends (300 ms), the echo starts playing
            first_reply = await call.wait_for_agent_audio(after=spoke_until, timeout=5)
            onset = time.monotonic()
            barge_end = await call.send_audio(tone(0.8, freq=600), sample_rate=16000)
            clear_at = await call.wait_for_clear(after=first_reply, timeout=5)
            assert onset < clear_at < onset + 1.5

            record = factory.calls[call.call_sid]
            stats = record.output.stats
            assert stats.clears == 1 and stats.clear_latency_ms[0] < 250
            cleared = [m for m in call.media if m.cleared]
            assert len(cleared) <= LEAD_FRAMES + 1, "the pacing lead keeps the phone's buffer short"
            assert not [m for m in call.media if clear_at + 0.05 < m.at < barge_end], "old audio dropped"
            assert all(
                m.cleared for m in call.marks if m.at < clear_at and m.echoed_at and m.echoed_at >= clear_at
            )

            cut = [f for _, f in record.tap.of(PlayoutReport) if f.mark == "clear"]
            assert len(cut) == 1 and not cut[0].finished
            heard_ms = 20 * len([m for m in call.media if first_reply <= m.at <= clear_at and not m.cleared])
            assert abs(cut[0].played_ms - heard_ms) <= 100
            assert record.tap.of(BotStoppedSpeaking)[0][0] <= clear_at + 0.05

            await call.send_silence(0.4)
            second = await call.wait_for_reply(after=barge_end, timeout=10)  # the call goes on
            assert tone_power(second.audio, 8000, 600) > 20 * tone_power(second.audio, 8000, 440)


async def test_dtmf_reaches_the_graph_and_the_pipeline_can_hang_up() -> None:
    async with echo_server() as (server, factory, state):
        async with TwilioMediaClient(server.ws_url("/twilio/media")) as call:
            await call.send_silence(0.06)
            pressed = time.monotonic()
            await call.send_dtmf("5")
            reply = await call.wait_for_reply(after=pressed, timeout=5, quiet_s=0.3)
            record = factory.calls[call.call_sid]
            assert record.echo.digits == ["5"]
            low, high = DTMF_TONES["5"]
            others = [f for pair in DTMF_TONES.values() for f in pair if f not in (low, high)]
            floor = max(tone_power(reply.audio, 8000, f) for f in others)
            assert min(tone_power(reply.audio, 8000, low), tone_power(reply.audio, 8000, high)) > 10 * floor

            pressed = time.monotonic()
            await call.send_dtmf("#")  # the echo pipeline ends the call after the tone
            assert await call.wait_closed(timeout=5) == 1000
            assert len(call.media_after(pressed)) >= 14, "the goodbye tone played out before the close"
        await wait_until(lambda: len(state.calls) == 0)
