"""The fake Realtime server's items, session defaults and audio codecs (see ``openai_realtime``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from voiceflow.processors.audio.codecs import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from voiceflow.testing.fakes.realtime_model import ModelContext

VAD_RATE = 16000
RATES = {"audio/pcm": 24000, "audio/pcmu": 8000, "audio/pcma": 8000}


@dataclass
class Item:
    id: str
    type: str  # message | function_call | function_call_output
    role: str = ""
    text: str = ""
    audio_ms: float = 0.0
    call_id: str = ""
    name: str = ""
    arguments: str = ""
    output: str = ""


def default_session(model: str) -> dict[str, Any]:
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": "sess_fake",
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "",
        "tools": [],
        "tool_choice": "auto",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 500,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0},
        },
    }


def merge(into: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if (
            isinstance(value, dict)
            and isinstance(into.get(key), dict)
            and key not in ("format", "turn_detection")
        ):
            merge(into[key], value)
        else:
            into[key] = value


def context(s: Any, items: list[Item] | None = None) -> ModelContext:
    """What the model reads from the session (``items``: these instead of all the session's)."""
    ctx = ModelContext(tools={t.get("name", "") for t in s.config.get("tools") or [] if isinstance(t, dict)})
    for item in s.items if items is None else items:
        if item.type == "message" and item.role == "user":
            ctx.user_turns += 1
            ctx.last_user, ctx.outputs, ctx.called = item.text, [], []
        elif item.type == "function_call":
            ctx.called.append(item.name)
        elif item.type == "function_call_output":
            name = next(
                (i.name for i in s.items if i.type == "function_call" and i.call_id == item.call_id), ""
            )
            ctx.outputs.append((name, item.output))
        elif item.type == "message" and item.role == "assistant":
            ctx.outputs = []
    return ctx


def item_json(item: Item, status: str = "completed") -> dict[str, Any]:
    out: dict[str, Any] = {"id": item.id, "object": "realtime.item", "type": item.type, "status": status}
    if item.type == "message":
        kind = "input_audio" if item.role == "user" else "output_audio"
        out |= {"role": item.role, "content": [{"type": kind, "transcript": item.text or None}]}
    elif item.type == "function_call":
        out |= {"call_id": item.call_id, "name": item.name, "arguments": item.arguments}
    else:
        out |= {"call_id": item.call_id, "output": item.output}
    return out


def decode(fmt: str, data: bytes) -> bytes:
    if fmt == "audio/pcmu":
        return ulaw_decode(data)
    if fmt == "audio/pcma":
        return alaw_decode(data)
    return data[: len(data) - len(data) % 2]


def encode(fmt: str, pcm: bytes) -> bytes:
    if fmt == "audio/pcmu":
        return ulaw_encode(pcm)
    if fmt == "audio/pcma":
        return alaw_encode(pcm)
    return pcm


async def transcribe(engine: Any, audio: bytes) -> str:
    from voiceflow.sim.recognize import recognize

    if not audio:
        return ""
    stream = await engine.open_stream(sample_rate=VAD_RATE, encoding="linear16")
    try:
        return (await recognize(stream, audio, sample_rate=VAD_RATE)).text
    finally:
        await stream.aclose()
