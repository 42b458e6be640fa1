"""Our SSML rendered into what each cloud voice reads, degrading to plain words where it reads nothing.

The builder (``ssml.SSMLBuilder``) writes standard SSML; no provider takes all of it:

| element | ElevenLabs | Cartesia Sonic | Piper (``ssml.render``) |
| --- | --- | --- | --- |
| ``<break>`` | ``<break time="1.2s" />`` (≤ 3 s each) | ``<break time="1200ms"/>`` | silence |
| ``<prosody>`` rate / volume | words only | ``<speed>`` / ``<volume>`` markers | length scale / gain |
| ``<prosody>`` pitch | words only | words only | ignored |
| ``<emphasis>`` | words only | speed and volume markers | rate and gain |
| ``<say-as>`` | words | ``<spell>`` (digits, characters, telephone), else words | words |
| ``<phoneme>`` | ``<phoneme alphabet="ipa"|"cmu-arpabet">`` | the written word | raw phonemes |
| ``<sub>`` | the alias | the alias | the alias |

Neither provider parses the text as XML (an "&" is read as "and"), so words go as they are;
only angle brackets are taken out of them, so text can never turn into a tag.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import quoteattr

from voiceflow.services.tts.prosody import NEUTRAL, Prosody
from voiceflow.services.tts.ssml import (
    _BREAK_STRENGTHS,
    SSMLError,
    _local,
    _prosody_of,
    _render_say_as,
    parse,
    parse_time,
)

_CONTAINERS = {"speak", "p", "s", "voice", "lang", "mark", "audio"}
_SPELLED = {"digits", "characters", "spell-out", "telephone"}
ELEVENLABS_MAX_BREAK_S = 3.0


def _break_seconds(attrs: dict[str, str]) -> float:
    if "time" in attrs:
        return parse_time(attrs["time"])
    strength = attrs.get("strength", "medium")
    if strength not in _BREAK_STRENGTHS:
        raise SSMLError(f"break strength {strength!r} not in {sorted(_BREAK_STRENGTHS)}")
    return _BREAK_STRENGTHS[strength]


def escape(text: str) -> str:
    """Words as they are, minus angle brackets (they would start a tag)."""
    return text.replace("<", " ").replace(">", " ")


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s+([,.!?;:])", r"\1", text)


# -- ElevenLabs ---------------------------------------------------------------------------------
def to_elevenlabs(ssml: str) -> str:
    """SSML → ElevenLabs text: breaks and phonemes as its tags, everything else as words."""
    out: list[str] = []
    _eleven(parse(ssml), out)
    return _tidy("".join(out))


def _eleven(el: ET.Element, out: list[str]) -> None:
    tag = _local(el.tag)
    attrs = dict(el.attrib)
    if tag in _CONTAINERS or tag in {"prosody", "emphasis"}:
        if tag in {"prosody", "emphasis"}:
            _prosody_of(tag, attrs)  # reject bad values even though the words are all that is kept
        out.append(" " + escape(el.text or ""))
        for child in el:
            _eleven(child, out)
            out.append(escape(child.tail or ""))
        out.append(" ")
        return
    if tag == "break":
        seconds = _break_seconds(attrs)
        while seconds > 0:
            step = min(seconds, ELEVENLABS_MAX_BREAK_S)
            out.append(f' <break time="{step:.1f}s" /> ')
            seconds -= step
        return
    content = "".join(el.itertext())
    if tag == "say-as":
        out.append(f" {escape(_render_say_as(content, attrs.get('interpret-as'), attrs.get('format')))} ")
    elif tag == "phoneme":
        ph = attrs.get("ph", "").strip()
        if not ph:
            raise SSMLError("<phoneme> needs a ph attribute")
        alphabet = attrs.get("alphabet", "ipa").lower()
        alphabet = {"x-arpabet": "cmu-arpabet", "arpabet": "cmu-arpabet"}.get(alphabet, alphabet)
        if alphabet in {"ipa", "cmu-arpabet"}:
            out.append(f' <phoneme alphabet="{alphabet}" ph={quoteattr(ph)}>{escape(content)}</phoneme> ')
        else:
            out.append(f" {escape(content)} ")
    elif tag == "sub":
        if "alias" not in attrs:
            raise SSMLError("<sub> needs an alias attribute")
        out.append(f" {escape(attrs['alias'])} ")
    else:
        raise SSMLError(f"unsupported SSML element <{tag}>")


# -- Cartesia -----------------------------------------------------------------------------------
def _clamp(x: float, low: float, high: float) -> float:
    return min(high, max(low, x))


def _markers(p: Prosody) -> str:
    speed = _clamp(p.rate, 0.6, 1.5)
    volume = _clamp(p.volume, 0.5, 2.0)
    return f'<speed ratio="{speed:g}"/><volume ratio="{volume:g}"/>'


def to_cartesia(ssml: str, base: Prosody = NEUTRAL) -> str:
    """SSML → Cartesia transcript: breaks, speed/volume markers and ``<spell>``; the rest as words."""
    out: list[str] = []
    _cartesia(parse(ssml), base, out)
    return _tidy("".join(out))


def _cartesia(el: ET.Element, prosody: Prosody, out: list[str]) -> None:
    tag = _local(el.tag)
    attrs = dict(el.attrib)
    if tag in _CONTAINERS or tag in {"prosody", "emphasis"}:
        inner = prosody.then(_prosody_of(tag, attrs)) if tag in {"prosody", "emphasis"} else prosody
        changed = inner.rate != prosody.rate or inner.volume != prosody.volume
        if changed:
            out.append(" " + _markers(inner))
        out.append(escape(el.text or ""))
        for child in el:
            _cartesia(child, inner, out)
            out.append(escape(child.tail or ""))
        if changed:
            out.append(_markers(prosody) + " ")
        return
    if tag == "break":
        out.append(f'<break time="{round(_break_seconds(attrs) * 1000)}ms"/>')
        return
    content = "".join(el.itertext())
    if tag == "say-as":
        kind = attrs.get("interpret-as")
        spoken = _render_say_as(content, kind, attrs.get("format"))  # validates the value
        if kind in _SPELLED:
            out.append(f" <spell>{escape(content.strip())}</spell> ")
        else:
            out.append(f" {escape(spoken)} ")
    elif tag == "phoneme":
        if not attrs.get("ph", "").strip():
            raise SSMLError("<phoneme> needs a ph attribute")
        out.append(f" {escape(content)} ")
    elif tag == "sub":
        if "alias" not in attrs:
            raise SSMLError("<sub> needs an alias attribute")
        out.append(f" {escape(attrs['alias'])} ")
    else:
        raise SSMLError(f"unsupported SSML element <{tag}>")
