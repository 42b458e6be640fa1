"""Seeded malformed inputs for the fuzz test: mutations of each endpoint's valid messages.

Every generator takes a ``random.Random`` so a run is reproducible from its seed.
Mutations: truncation, byte garbage, a field replaced by a hostile value (wrong
type, huge, control characters, deep nesting), fields dropped or added, the
whole message nested deep or repeated.
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any

HOSTILE: list[Any] = [
    None, True, False, 0, -1, 2**70, 1e308, -0.0, "", " ", "x" * 70_000, "\x00\x01\x1b[31m",
    "\u202e\ufeff", "../../etc/passwd", "<Response/>", "%s%n", [], {}, [None] * 50,
    {"a": {"b": {"c": None}}}, "CA" + "f" * 32,
]  # fmt: skip


def deep(rng: random.Random) -> str:
    n = rng.choice([33, 200, 5_000, 30_000])
    return rng.choice(["[", '{"a":']) * n


def _replace(rng: random.Random, obj: Any) -> Any:
    """``obj`` with one value somewhere inside replaced, removed or added."""
    if isinstance(obj, dict) and obj:
        key = rng.choice(list(obj))
        out = dict(obj)
        action = rng.random()
        if action < 0.2:
            del out[key]
        elif action < 0.3:
            out[rng.choice(["", "\x00", "event", "x" * 300])] = rng.choice(HOSTILE)
        elif isinstance(out[key], dict | list) and rng.random() < 0.6:
            out[key] = _replace(rng, out[key])
        else:
            out[key] = rng.choice(HOSTILE)
        return out
    if isinstance(obj, list) and obj:
        i = rng.randrange(len(obj))
        return [*obj[:i], rng.choice(HOSTILE), *obj[i + 1 :]]
    return rng.choice(HOSTILE)


def mutate_json(rng: random.Random, valid: dict[str, Any]) -> str:
    text = json.dumps(valid)
    r = rng.random()
    if r < 0.45:
        return json.dumps(_replace(rng, valid))
    if r < 0.6:
        return text[: rng.randrange(len(text))]
    if r < 0.7:
        return deep(rng)
    if r < 0.8:
        chars = list(text)
        for _ in range(rng.randint(1, 8)):
            chars[rng.randrange(len(chars))] = chr(rng.choice([0, 7, 27, 34, 92, 123, 125, 0x7F, 0xFFFD]))
        return "".join(chars)
    if r < 0.9:
        return json.dumps([valid] * rng.randint(2, 50))
    return rng.choice(["", "null", "[]", "{}", "0", '"x"', "{" * 3, "\x00" * 10, "💥" * 100])


def twilio_messages(stream_sid: str) -> list[dict[str, Any]]:
    media = base64.b64encode(b"\xff" * 160).decode()
    return [
        {"event": "media", "streamSid": stream_sid, "media": {"track": "inbound", "payload": media}},
        {"event": "dtmf", "streamSid": stream_sid, "dtmf": {"digit": "5", "track": "inbound_track"}},
        {"event": "mark", "streamSid": stream_sid, "mark": {"name": "m1"}},
        {"event": "start", "streamSid": stream_sid, "start": {"streamSid": stream_sid, "callSid": "CA1"}},
        {"event": "connected", "protocol": "Call", "version": "1.0.0"},
    ]  # fmt: skip


def browser_messages() -> list[dict[str, Any]]:
    return [{"type": "dtmf", "digit": "1"}, {"type": "start", "caller": "+15551230001"}, {"type": "bogus"}]


def webhook_form(rng: random.Random) -> dict[str, str] | bytes:
    sid = f"CA{rng.getrandbits(128):032x}"
    form = {"CallSid": sid, "From": "+15551230001", "To": "+15559870000"}
    r = rng.random()
    if r < 0.5:
        key = rng.choice([*form, "AccountSid", "\x00", "x" * 200])
        value = rng.choice(HOSTILE)
        form[key] = value if isinstance(value, str) else json.dumps(value)
        if rng.random() < 0.2:
            form.pop("CallSid", None)
        return form
    if r < 0.7:
        raw = "&".join(f"{k}={v}" for k, v in form.items()).encode()
        return raw[: rng.randrange(len(raw) + 1)] + bytes(
            rng.getrandbits(8) for _ in range(rng.randint(0, 40))
        )
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 3000)))


def offer_body(rng: random.Random, sdp: str) -> bytes:
    r = rng.random()
    if r < 0.5:
        lines = sdp.split("\r\n")
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(len(lines))
            choice = rng.random()
            if choice < 0.3:
                del lines[i]
            elif choice < 0.6:
                lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)] + rng.choice(
                    ["", "banana", "\x00", "9" * 40]
                )
            elif choice < 0.8:
                lines.insert(
                    i, rng.choice(["m=audio 9 UDP/TLS/RTP/SAVPF 0", "a=rtpmap:x", "a=candidate:", "c=IN"])
                )
            else:
                lines = lines + lines[i : i + 20] * rng.randint(1, 30)
        return json.dumps({"sdp": "\r\n".join(lines), "type": "offer"}).encode()
    if r < 0.85:
        return mutate_json(rng, {"sdp": sdp, "type": "offer"}).encode("utf-8", "replace")
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 2000)))
