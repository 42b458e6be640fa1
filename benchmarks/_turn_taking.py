"""Turn-taking scenarios for benchmarks/voice_latency.py, over the real Twilio Media Streams path.

* **Backchannels and noises over the agent**: the caller asks a question with a long answer;
  1.5 s into the answer a non-request sound plays (spoken backchannels: "mm-hmm", "uh-huh",
  "okay", "yeah", "right"; synthetic noises: a cough-like burst, two knocks, a second of line
  hiss). Per sound: did the agent stop (``clear``)? did it resume the cut utterance? did it
  answer the sound as if it were a request? The *false-interruption rate* is the share of
  sounds after which the agent's utterance was lost (stopped and not resumed) or answered.
* **Requests spoken in two parts**: requests where the caller pauses between two sentences
  (0.6-1.0 s), and single-sentence ones, said by Piper and by espeak-ng. A turn is *answered
  early* when agent audio reached the caller after the request began and before its last
  voiced frame: the agent talked over a caller who had not finished.

Server-side counts come from the call's own processors (``endpointer``, ``bargein``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

from voiceflow.calls import CallRegistry, CallSession
from voiceflow.sim.phone_line import PhoneLine
from voiceflow.sim.scripted_call import CallWatchers
from voiceflow.sim.speech import synthesize, synthesize_espeak
from voiceflow.sim.twilio_client import TwilioMediaClient

RATE = 16000
BACKCHANNELS = ("Mm-hmm.", "Uh-huh.", "Okay.", "Yeah.", "Right.")
LONG_ANSWER_QUESTION = "What is your return policy?"

#: (first sentence, pause seconds, second sentence or "") per request
REQUESTS: tuple[tuple[str, float, str], ...] = (
    ("I have a question about my order.", 0.8, "It's order one zero zero two."),
    ("I'd like to book an appointment.", 0.7, "Next Tuesday at ten in the morning."),
    ("What time do you close on Saturday?", 0.0, ""),
    ("I need some help with my account.", 1.0, "The email is jane at example dot com."),
    ("Can you check on order one zero zero three?", 0.0, ""),
    ("So I got a delivery yesterday.", 0.6, "And I want to know the return policy."),
)


def noises() -> dict[str, bytes]:
    """Deterministic non-speech sounds at 16 kHz (PCM16)."""
    rng = np.random.default_rng(15)

    def burst(secs: float, level: float, attack: float, decay: float) -> np.ndarray:
        n = int(secs * RATE)
        t = np.arange(n) / RATE
        env = np.minimum(1.0, t / attack) * np.exp(-t / decay)
        noise = rng.standard_normal(n)
        low = np.convolve(noise, np.ones(6) / 6, mode="same")  # a little darker than white
        return level * env * low / np.abs(low).max()

    cough = burst(0.3, 0.5, 0.01, 0.08)
    knock = np.concatenate(
        [burst(0.04, 0.6, 0.001, 0.01), np.zeros(RATE // 5), burst(0.04, 0.6, 0.001, 0.01)]
    )
    hiss = 0.02 * rng.standard_normal(RATE)
    pad = np.zeros(RATE // 10)

    def pcm(x: np.ndarray) -> bytes:
        y = np.concatenate([pad, x, pad])
        return (np.clip(y, -1, 1) * 32767).astype("<i2").tobytes()

    return {"cough": pcm(cough), "knocks": pcm(knock), "line hiss": pcm(hiss)}


class Sessions:
    """The server-side session of every call, to read its processors' counters afterwards."""

    def __init__(self, registry: CallRegistry) -> None:
        self.by_call: dict[str, CallSession] = {}
        registry.on_open.append(lambda s: self.by_call.__setitem__(s.ctx.call_id, s))

    def counter(self, call_id: str, node: str, name: str) -> int:
        session = self.by_call.get(call_id)
        if session is None:
            return 0
        with contextlib.suppress(KeyError, ValueError):
            return int(getattr(session.run.node(node), name, 0))
        return 0


async def backchannel_trials(url: str, watchers: CallWatchers, sessions: Sessions) -> dict[str, Any]:
    sounds = {text: synthesize(text, RATE) for text in BACKCHANNELS} | noises()
    question = synthesize(LONG_ANSWER_QUESTION, RATE)
    rows = []
    for i, (label, pcm) in enumerate(sounds.items()):
        async with TwilioMediaClient(url, caller=f"+1555020{i:04d}") as call, PhoneLine(call) as line:
            watcher = await watchers.get(call.call_sid)
            await call.wait_for_reply(timeout=30)
            watcher.take()
            asked = await line.say(question, RATE)
            await call.wait_for_agent_audio(after=asked.voiced_end_at, timeout=30)
            await asyncio.sleep(1.5)
            sound = await line.say(pcm, RATE)
            clear_at = None
            with contextlib.suppress(TimeoutError):
                clear_at = await call.wait_for_clear(after=sound.started_at - 0.05, timeout=1.5)
            resumed = False
            if clear_at is not None:
                with contextlib.suppress(TimeoutError):
                    await call.wait_for_agent_audio(after=clear_at + 0.05, timeout=3.0)
                    resumed = True
            await asyncio.sleep(2.0)
            said = watcher.take().said
            answered = len(said) > 1  # anything said after the answer to the question
        stopped = clear_at is not None
        rows.append(
            {
                "sound": label,
                "stopped": stopped,
                "resumed": stopped and resumed and not answered,
                "answered": answered,
                "clear_ms": None if clear_at is None else round((clear_at - sound.voiced_start_at) * 1000),
                "server_false_interruptions": sessions.counter(
                    call.call_sid, "bargein", "false_interruptions"
                ),
                "server_resumes": sessions.counter(call.call_sid, "bargein", "resumes"),
                "server_backchannels": sessions.counter(call.call_sid, "endpointer", "backchannels"),
            }
        )
    n = len(rows)
    lost = sum((r["stopped"] and not r["resumed"]) or r["answered"] for r in rows)
    return {
        "backchannel_sounds": n,
        "backchannel_stop_rate": round(sum(r["stopped"] for r in rows) / n, 3),
        "backchannel_resume_rate": round(
            sum(r["resumed"] for r in rows) / max(1, sum(r["stopped"] for r in rows)), 3
        ),
        "backchannel_answered": sum(r["answered"] for r in rows),
        "false_interruption_rate": round(lost / n, 3),
        "false_interruptions_counted": sum(r["server_false_interruptions"] for r in rows),
        "resumes_counted": sum(r["server_resumes"] for r in rows),
        "backchannel_rows": rows,
    }


async def early_answer_trials(
    url: str, watchers: CallWatchers, sessions: Sessions, voice: str, caller: str
) -> dict[str, Any]:
    say: Callable[[str, int], bytes] = synthesize if voice == "piper" else synthesize_espeak
    early = answered_once = continuations = done = 0
    early_requests: list[str] = []  # the first sentence of each request answered early
    ended: str | None = None  # the agent ended the call before the last request (what it said)
    async with TwilioMediaClient(url, caller=caller) as call, PhoneLine(call) as line:
        watcher = await watchers.get(call.call_sid)
        await call.wait_for_reply(timeout=30)
        watcher.take()
        for first, pause, second in REQUESTS:
            if call.close_code is not None:
                break
            pcm = say(first, RATE)
            if second:
                pcm += bytes(2 * int(pause * RATE)) + say(second, RATE)
            spoken = await line.say(pcm, RATE)
            heard_early = [
                m
                for m in call.media
                if spoken.voiced_start_at < m.at < spoken.voiced_end_at and not m.cleared
            ]
            early += bool(heard_early)
            if heard_early:
                early_requests.append(first)
            done += 1
            try:
                await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
            except TimeoutError:
                pass
            except ConnectionError:  # the agent hung up or transferred: say what it said last
                turn = watcher.take()
                ended = (
                    f"after {first!r} (heard {' | '.join(turn.heard)!r}, withdrawn "
                    f"{len(turn.withdrawn)}): {' | '.join(turn.said)[-160:]}"
                )
                break
            turn = watcher.take()
            answered_once += len([t for t in turn.heard if t]) >= 1
            await asyncio.sleep(0.5)
        continuations = sessions.counter(call.call_sid, "endpointer", "continuations")
        speculations = sessions.counter(call.call_sid, "gate", "speculations")
        discarded = sessions.counter(call.call_sid, "gate", "discarded")
        held = sessions.counter(call.call_sid, "gate", "held")
    return {
        f"turns_answered_early_{voice}": early,
        f"answered_early_requests_{voice}": early_requests,
        f"requests_{voice}": done,
        f"call_ended_by_agent_{voice}": ended,
        f"two_part_requests_{voice}": sum(1 for r in REQUESTS if r[2]),
        f"continuations_{voice}": continuations,
        f"speculations_{voice}": speculations,
        f"speculations_discarded_{voice}": discarded,
        f"replies_held_for_an_onset_{voice}": held,
    }
