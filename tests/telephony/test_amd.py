"""Answering-machine detection: the local detector on phone-line audio, and both AMD paths end to end.

Unit cases feed Piper speech, beeps and fax tones through the 8 kHz mu-law line
into ``LocalAmd``. End to end, with ``VOICEFLOW_AMD=local`` the fake posts no
AMD callback, so the answers come from our detector on the Media Stream audio.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.telephony.conftest import line_env
from tests.telephony.speech import human, machine, transcribe, voice
from voiceflow.pipeline import Pipeline
from voiceflow.sim.speech import from_phone_line, to_phone_line
from voiceflow.telephony.amd import AmdResult, LocalAmd
from voiceflow.telephony.live import OutboundScript
from voiceflow.testing.fakes.twilio_callee import Callee, tone

GREETING = (
    "Hi, you have reached Sam Carter. I can't take your call right now. "
    "Please leave a message after the tone."
)
SILENCE_3S = bytes(2 * 16000 * 3)


def detect(pcm16k: bytes) -> list[AmdResult]:
    line = from_phone_line(to_phone_line(pcm16k), 16000)  # what the call really carries
    detector = LocalAmd(16000)
    out = []
    for i in range(0, len(line), 640):
        result = detector.feed(line[i : i + 640])
        if result is not None:
            out.append(result)
    return out


@pytest.mark.parametrize("words", ["Hello?", "Hello, this is Dana speaking.", "Yes?"])
def test_a_short_answer_then_silence_is_a_person(words: str) -> None:
    [result] = detect(voice(words) + SILENCE_3S)
    assert result.answered_by == "human"
    assert result.after_s < len(voice(words)) / 32000 + 1.0  # decided within a second of the answer's end


def test_a_long_greeting_is_a_machine_and_its_message_ends_with_the_beep() -> None:
    greeting = voice(GREETING)
    decided, ended = detect(greeting + tone(1000, 0.5) + SILENCE_3S)
    assert decided.answered_by == "machine_start"
    assert decided.after_s < len(greeting) / 32000  # before the greeting is over
    assert ended.answered_by == "machine_end_beep"
    beep_end = len(greeting) / 32000 + 0.5
    assert beep_end <= ended.after_s < beep_end + 0.2  # speak once the beep has stopped


def test_a_greeting_without_a_beep_ends_on_silence() -> None:
    results = detect(voice(GREETING) + SILENCE_3S)
    assert [r.answered_by for r in results] == ["machine_start", "machine_end_silence"]


@pytest.mark.parametrize("freq", [2100.0, 1100.0])
def test_fax_tones_are_a_fax_within_a_second(freq: float) -> None:
    [result] = detect(tone(freq, 3.0))
    assert result.answered_by == "fax" and result.after_s <= 1.0


def test_nobody_speaking_is_unknown_after_five_seconds() -> None:
    [result] = detect(SILENCE_3S * 2)
    assert (result.answered_by, round(result.after_s, 1)) == ("unknown", 5.0)


def test_a_beep_alone_is_neither_a_fax_nor_speech() -> None:
    assert [r.answered_by for r in detect(tone(1000, 0.5) + SILENCE_3S * 2)] == ["unknown"]


async def test_local_amd_end_to_end(tmp_path: Path, offline_pipeline: Callable[[], Pipeline]) -> None:
    script = OutboundScript(
        "Hi {name}, this is Acme Home.", "Hello {name}, this is Acme Home. Please call us back.", "Sam"
    )
    async with line_env(tmp_path, offline_pipeline(), amd="local") as env:
        env.twilio.callees |= {
            "+13125550111": human("Hello?", "Thanks, goodbye."),
            "+13125550112": machine(GREETING),
            "+13125550113": Callee("fax"),
        }
        calls = [
            await env.telephony.call(n, script) for n in ("+13125550111", "+13125550112", "+13125550113")
        ]
        ends = await asyncio.wait_for(asyncio.gather(*(c.ended for c in calls)), 90)
        fakes = [env.twilio.calls[c.sid] for c in calls]
    assert [e.answered_by for e in ends] == ["human", "machine_start", "fax"]
    assert [c.one("MachineDetection") for c in fakes] == [None, None, None]  # Twilio's AMD was off
    assert all(not f.callbacks_of("amd") for f in fakes)
    conn = sqlite3.connect(tmp_path / "campaigns.db")
    rows = conn.execute(
        "SELECT answered_by, amd_source, amd_ms, outcome FROM call_records ORDER BY id"
    ).fetchall()
    conn.close()
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("human", "local", "conversation"),
        ("machine_start", "local", "voicemail"),
        ("fax", "local", "fax"),
    ]
    human_ms, machine_ms, fax_ms = (r[2] for r in rows)  # answer -> decision, on the call's audio
    assert human_ms < 3000 and fax_ms <= 1000 and machine_ms < 1000 * len(voice(GREETING)) / 32000
    # the machine got its message after the beep; the fax was hung up at once through the API
    words = set(await transcribe(fakes[1].recording))
    assert {"acme", "call", "back"} <= words or len(
        words & {"hello", "sam", "home", "please", "call", "back"}
    ) >= 4
    assert fakes[2].hung_up_by == "api" and fakes[2].duration <= 3
