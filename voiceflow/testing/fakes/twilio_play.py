"""The fake Twilio playing one call: callbacks, the callee, TwiML (Stream, Dial, Say, Hangup), AMD.

See ``twilio_rest`` for the REST side. Timing is real time (the callee's audio
is paced at real time on the Media Stream); timestamps recorded for tests come
from the fake's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import xml.etree.ElementTree as ET
from email.utils import formatdate

from voiceflow.sim.twilio_client import TwilioMediaClient
from voiceflow.testing.fakes.twilio_call import Carrier as FakeTwilio
from voiceflow.testing.fakes.twilio_call import DialRecord, FakeCall
from voiceflow.testing.fakes.twilio_callee import play_callee

__all__ = ["play_call", "play_inbound"]

TERMINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
NEVER_ANSWERED = {"busy": "busy", "no_answer": "no-answer", "failed": "failed"}


class _Hangup(Exception):
    """The call ends here (TwiML ``<Hangup>``, the API, or the callee)."""


async def play_call(fake: FakeTwilio, call: FakeCall) -> None:
    amd: asyncio.Task[None] | None = None
    try:
        await _status(fake, call, "initiated", "initiated")
        await asyncio.sleep(call.callee.ring_s)
        if _cancelled(call):
            call.status = "canceled"
            return
        await _status(fake, call, "ringing", "ringing")
        if not call.callee.answers:
            await asyncio.sleep(call.callee.ring_s)
            call.status = NEVER_ANSWERED[call.callee.kind]
            return
        call.status = "in-progress"
        call.started = time.monotonic()
        await _status(fake, call, "answered", "in-progress")
        if call.one("MachineDetection") and call.one("AsyncAmdStatusCallback"):
            amd = asyncio.create_task(_amd(fake, call), name=f"fake-twilio:amd:{call.sid}")
        twiml = call.one("Twiml")
        if twiml is None:
            url = call.one("Url") or ""
            twiml = (await fake.post(call, "url", url, fake.call_params(call))).body
        with contextlib.suppress(_Hangup):
            await _run_twiml(fake, call, twiml)
        call.hung_up_by = call.hung_up_by or "twiml"
        call.status = "completed"
    finally:
        if amd is not None:
            amd.cancel()
            await asyncio.gather(amd, return_exceptions=True)
        call.ended = time.monotonic()
        if call.status not in TERMINAL:
            call.status = "completed"
        fake.finished(call)
        try:
            await _status(fake, call, "completed", call.status)
            if call.posting is not None:
                await call.posting
        finally:
            if call.posting is not None and not call.posting.done():
                call.posting.cancel()
            call.done.set()


async def play_inbound(fake: FakeTwilio, call: FakeCall, voice_url: str) -> None:
    """A call to our number: the voice webhook is asked for TwiML (signed), which is then played
    with ``call.callee`` as the caller."""
    try:
        call.status = "in-progress"
        call.started = time.monotonic()
        reply = await fake.post(call, "url", voice_url, fake.call_params(call) | {"Direction": "inbound"})
        if reply.status == 200:
            with contextlib.suppress(_Hangup):
                await _run_twiml(fake, call, reply.body)
            call.hung_up_by = call.hung_up_by or "twiml"
        call.status = "completed" if reply.status == 200 else "failed"
    finally:
        call.ended = time.monotonic()
        if call.status not in TERMINAL:
            call.status = "completed"
        fake.finished(call)
        call.done.set()


def _cancelled(call: FakeCall) -> bool:
    return not call.redirect.empty() and call.redirect._queue[0] is None  # type: ignore[attr-defined]


async def _status(fake: FakeTwilio, call: FakeCall, event: str, status: str) -> None:
    url = call.one("StatusCallback")
    wanted: set[str] = set()
    for value in call.params.get("StatusCallbackEvent", []) or ["completed"]:
        wanted.update(value.split())
    if not url or event not in wanted:
        return
    call.status = status
    params = fake.call_params(call) | {
        "CallbackSource": "call-progress-events",
        "SequenceNumber": str(call.sequence),
        "Timestamp": formatdate(usegmt=True),
    }
    call.sequence += 1
    if event == "completed":
        params["CallDuration"] = str(call.duration)
        params["Duration"] = str((call.duration + 59) // 60)
    if call.answered_by:
        params["AnsweredBy"] = call.answered_by
    previous = call.posting

    async def send() -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        await fake.post(call, "status", url, params)

    call.posting = asyncio.create_task(send(), name=f"fake-twilio:status:{call.sid}")


async def _amd(fake: FakeTwilio, call: FakeCall) -> None:
    callee = call.callee
    end_of_message = call.one("MachineDetection") == "DetectMessageEnd"
    if callee.kind == "human":
        delay, answered_by = callee.first_line_s + 1.2, "human"
    elif callee.kind == "fax":
        delay, answered_by = 1.5, "fax"
    elif end_of_message:
        delay, answered_by = callee.greeting_s + 0.2, "machine_end_beep"
    else:
        delay, answered_by = min(2.5, callee.greeting_s), "machine_start"
    await asyncio.sleep(delay)
    if call.status != "in-progress":
        return
    call.answered_by = answered_by
    params = fake.call_params(call) | {
        "AnsweredBy": answered_by,
        "MachineDetectionDuration": str(int(delay * 1000)),
    }
    await fake.post(call, "amd", call.one("AsyncAmdStatusCallback") or "", params)


async def _run_twiml(fake: FakeTwilio, call: FakeCall, twiml: str) -> None:
    """Execute a TwiML document; a redirect (call update) replaces it; its end hangs up."""
    while True:
        try:
            root = ET.fromstring(twiml)
        except ET.ParseError:
            call.said.append("<application error: TwiML parse failure>")
            return
        nxt: str | None = None
        for verb in list(root):
            nxt = await _verb(fake, call, verb)
            if nxt is not None:
                break
            if not call.redirect.empty():
                nxt = call.redirect.get_nowait()
                if nxt is None:
                    raise _Hangup
                break
        if nxt is None:
            return
        twiml = nxt


async def _verb(fake: FakeTwilio, call: FakeCall, verb: ET.Element) -> str | None:
    """Run one verb; returns new TwiML when the call was redirected (or a Dial action answered)."""
    if verb.tag == "Say":
        call.said.append(verb.text or "")
    elif verb.tag == "Hangup":
        raise _Hangup
    elif verb.tag == "Connect":
        stream = verb.find("Stream")
        if stream is not None:
            return await _stream(fake, call, stream)
    elif verb.tag == "Dial":
        return await _dial(fake, call, verb)
    return None


async def _stream(fake: FakeTwilio, call: FakeCall, stream: ET.Element) -> str | None:
    twiml_url = stream.get("url") or ""
    url = twiml_url.replace("wss://", "ws://", 1)
    params = {p.get("name") or "": p.get("value") or "" for p in stream.findall("Parameter")}
    call.stream_parameters.append(params)
    client = TwilioMediaClient(  # like Twilio, the handshake is signed over the TwiML's wss:// URL
        url,
        call_sid=call.sid,
        caller=None,
        account_sid=fake.account_sid,
        custom_parameters=params,
        auth_token=fake.auth_token,
        signed_url=twiml_url,
    )
    await client.connect()
    first = len(call.stream_parameters) == 1
    callee = asyncio.create_task(
        play_callee(call.callee, client, call.played) if first else client.wait_closed(3600),
        name=f"fake-twilio:callee:{call.sid}",
    )
    redirect = asyncio.create_task(call.redirect.get(), name=f"fake-twilio:redirect:{call.sid}")
    try:
        await asyncio.wait({callee, redirect}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        callee.cancel()
        redirect.cancel()
        await asyncio.gather(callee, redirect, return_exceptions=True)
        if not call.played.heard:
            call.played.heard = client.received_audio(heard_only=True)
        await client.close()
    if redirect.done() and not redirect.cancelled():
        nxt = redirect.result()
        if nxt is None:
            raise _Hangup
        return nxt
    if call.played.hung_up:
        call.hung_up_by = "callee"
        raise _Hangup
    return None  # our server closed the stream: on to the next verb


async def _dial(fake: FakeTwilio, call: FakeCall, dial: ET.Element) -> str | None:
    number_el = dial.find("Number")
    number = (number_el.text or "").strip() if number_el is not None else (dial.text or "").strip()
    answered = number not in fake.unanswered_numbers
    whisper = ""
    if answered and number_el is not None and number_el.get("url"):
        whisper = (await fake.post(call, "whisper", number_el.get("url") or "", fake.call_params(call))).body
    await asyncio.sleep(0.05)
    dial_status = "completed" if answered else "no-answer"
    call.dials.append(
        DialRecord(number, dial.get("callerId"), whisper, answered, dial_status, fake.clock.now())
    )
    action = dial.get("action")
    if not action:
        return None
    params = fake.call_params(call) | {
        "DialCallStatus": dial_status,
        "DialCallDuration": "1" if answered else "0",
    }
    reply = await fake.post(call, "dial_action", action, params)
    return reply.body if reply.status == 200 and reply.body.strip() else "<Response><Hangup/></Response>"
