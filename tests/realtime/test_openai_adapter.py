"""The OpenAI Realtime adapter's wire mapping, checked against the SDK's own GA event models."""

from __future__ import annotations

import base64
import json

from openai.types.realtime import SessionUpdateEvent

from voiceflow.services.llm.tools import ToolSpec
from voiceflow.services.realtime.engine import (
    AudioDelta,
    FunctionCall,
    ResponseDone,
    ServerError,
    SessionConfig,
)
from voiceflow.services.realtime.openai import parse_event, session_payload


def test_session_update_is_a_valid_ga_event() -> None:
    config = SessionConfig(
        instructions="Be brief.",
        voice="marin",
        input_format="audio/pcmu",
        output_format="audio/pcm",
        turn_detection={"type": "semantic_vad", "eagerness": "high"},
        tools=[ToolSpec("end_call", "End the call.", {"type": "object", "properties": {}})],
    )
    event = SessionUpdateEvent.model_validate({"type": "session.update", "session": session_payload(config)})
    session = event.session
    assert session.type == "realtime"
    audio = session.audio
    assert audio is not None and audio.input is not None and audio.output is not None
    assert audio.input.format is not None and audio.input.format.type == "audio/pcmu"
    assert audio.output.format is not None and audio.output.format.type == "audio/pcm"
    assert audio.input.turn_detection is not None and audio.input.turn_detection.type == "semantic_vad"
    assert audio.input.turn_detection.interrupt_response is False  # barge-in is ours, by playout
    assert session.tools and session.tools[0].name == "end_call"  # type: ignore[union-attr]


def test_server_events_map_to_neutral_events_and_bad_ones_to_precise_errors() -> None:
    audio = base64.b64encode(b"\xff" * 160).decode()
    delta = {
        "type": "response.output_audio.delta",
        "event_id": "e",
        "response_id": "r",
        "item_id": "i",
        "output_index": 0,
        "content_index": 0,
        "delta": audio,
    }
    assert parse_event(json.dumps(delta)) == AudioDelta("r", "i", b"\xff" * 160)
    call = {
        "type": "response.function_call_arguments.done",
        "event_id": "e",
        "response_id": "r",
        "item_id": "i",
        "output_index": 0,
        "call_id": "c",
        "name": "end_call",
        "arguments": "{}",
    }
    assert parse_event(json.dumps(call)) == FunctionCall("r", "i", "c", "end_call", "{}")
    done = {"type": "response.done", "event_id": "e", "response": {"id": "r", "status": "cancelled"}}
    assert parse_event(json.dumps(done)) == ResponseDone("r", "cancelled", {})
    assert parse_event(json.dumps({"type": "session.updated", "session": {}})) is None
    bad = parse_event(json.dumps(delta | {"delta": "not base64!"}))
    assert isinstance(bad, ServerError) and bad.kind == "malformed" and bad.code == "bad_field"
    missing = parse_event(json.dumps({"type": "response.function_call_arguments.done", "call_id": "c"}))
    assert isinstance(missing, ServerError) and "response.function_call_arguments.done" in missing.message
    expired = parse_event(
        json.dumps(
            {
                "type": "error",
                "error": {"type": "invalid_request_error", "code": "session_expired", "message": "m"},
            }
        )
    )
    assert isinstance(expired, ServerError) and expired.kind == "session_expired"
