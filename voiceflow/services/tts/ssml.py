"""SSML: a builder that produces valid SSML (as XML, never by string concatenation)
and a renderer that turns SSML into plain speech segments for engines without SSML.

Rendering (for Piper): ``<break>`` becomes silence of that duration, ``<prosody>``
and ``<emphasis>`` become a :class:`Prosody` (rate → length scale), ``<say-as>``
expands digits, dates, telephone numbers, times and cardinals into words,
``<phoneme alphabet="ipa">`` becomes Piper's raw-phoneme block, ``<sub>`` its alias.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from voiceflow.services.tts import normalize
from voiceflow.services.tts.prosody import NEUTRAL, Prosody

SSML_NS = "http://www.w3.org/2001/10/synthesis"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MAX_BREAK_S = 10.0


class SSMLError(ValueError):
    """SSML that cannot be parsed or uses values outside the spec."""


# -- attribute values ------------------------------------------------------------------------
_RATES = {"x-slow": 0.5, "slow": 0.75, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.5}
_VOLUMES = {"silent": 0.0, "x-soft": 0.3, "soft": 0.6, "medium": 1.0, "default": 1.0, "loud": 1.4}
_VOLUMES["x-loud"] = 1.8
_PITCHES = {"x-low": -4.0, "low": -2.0, "medium": 0.0, "default": 0.0, "high": 2.0, "x-high": 4.0}
_BREAK_STRENGTHS = {"none": 0.0, "x-weak": 0.1, "weak": 0.2, "medium": 0.4, "strong": 0.7, "x-strong": 1.0}
_EMPHASIS = {
    "strong": Prosody(rate=0.9, volume=1.3),
    "moderate": Prosody(rate=0.95, volume=1.15),
    "none": NEUTRAL,
    "reduced": Prosody(rate=1.05, volume=0.8),
}
_SAY_AS = {"digits", "characters", "spell-out", "cardinal", "number", "ordinal", "date", "telephone", "time"}


def parse_rate(value: str) -> float:
    """ "slow" / "80%" / "+10%" / "1.2" → speaking-rate multiplier."""
    v = value.strip().lower()
    if v in _RATES:
        return _RATES[v]
    m = re.fullmatch(r"([+-])?(\d+(?:\.\d+)?)%", v)
    if m:
        pct = float(m.group(2))
        rate = 1.0 + (pct if m.group(1) == "+" else -pct) / 100 if m.group(1) else pct / 100
        return _check(rate, 0.25, 4.0, "rate", value)
    if re.fullmatch(r"\d+(?:\.\d+)?", v):
        return _check(float(v), 0.25, 4.0, "rate", value)
    raise SSMLError(f"bad prosody rate {value!r} (x-slow..x-fast, a percentage or a multiplier)")


def parse_volume(value: str) -> float:
    """ "soft" / "+6dB" / "-3dB" → amplitude multiplier."""
    v = value.strip().lower()
    if v in _VOLUMES:
        return _VOLUMES[v]
    m = re.fullmatch(r"([+-]\d+(?:\.\d+)?)db", v)
    if m:
        return _check(10 ** (float(m.group(1)) / 20), 0.0, 4.0, "volume", value)
    raise SSMLError(f"bad prosody volume {value!r} (silent..x-loud or ±NdB)")


def parse_pitch(value: str) -> float:
    """ "high" / "+2st" / "-10%" → semitones."""
    v = value.strip().lower()
    if v in _PITCHES:
        return _PITCHES[v]
    m = re.fullmatch(r"([+-]\d+(?:\.\d+)?)st", v)
    if m:
        return _check(float(m.group(1)), -24.0, 24.0, "pitch", value)
    m = re.fullmatch(r"([+-]\d+(?:\.\d+)?)%", v)
    if m and float(m.group(1)) > -100:
        return _check(12 * math.log2(1 + float(m.group(1)) / 100), -24.0, 24.0, "pitch", value)
    raise SSMLError(f"bad prosody pitch {value!r} (x-low..x-high, ±Nst or ±N%)")


def parse_time(value: str) -> float:
    """ "300ms" / "1.5s" → seconds (at most 10 s)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*", value.lower())
    if m is None:
        raise SSMLError(f"bad break time {value!r} (like '300ms' or '1s')")
    seconds = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
    return _check(seconds, 0.0, MAX_BREAK_S, "break time", value)


def _check(x: float, low: float, high: float, what: str, raw: str) -> float:
    if not low <= x <= high:
        raise SSMLError(f"{what} {raw!r} outside {low}..{high}")
    return x


# -- the builder -------------------------------------------------------------------------------
class SSMLBuilder:
    """Build SSML element by element; nested prosody/emphasis with ``with``.

    >>> b = SSMLBuilder()
    >>> b.text("Order ").say_as("1002", "digits").pause(300)
    >>> with b.prosody(rate="slow"): b.text("Thanks & bye")
    >>> b.to_string()
    """

    def __init__(self, lang: str = "en-US") -> None:
        self.root = ET.Element("speak", {"version": "1.0", "xmlns": SSML_NS, _XML_LANG: lang})
        self._stack = [self.root]

    @property
    def _current(self) -> ET.Element:
        return self._stack[-1]

    def text(self, text: str) -> SSMLBuilder:
        el = self._current
        if len(el):
            el[-1].tail = (el[-1].tail or "") + text
        else:
            el.text = (el.text or "") + text
        return self

    def _leaf(self, tag: str, attrs: dict[str, str], text: str | None = None) -> SSMLBuilder:
        child = ET.SubElement(self._current, tag, attrs)
        child.text = text
        return self

    def pause(self, ms: float | None = None, *, strength: str | None = None) -> SSMLBuilder:
        """``<break>``: a silence of ``ms`` milliseconds, or of a named strength."""
        if ms is not None:
            parse_time(f"{ms:g}ms")
            return self._leaf("break", {"time": f"{ms:g}ms"})
        if strength not in _BREAK_STRENGTHS:
            raise SSMLError(f"break needs ms or a strength in {sorted(_BREAK_STRENGTHS)}")
        return self._leaf("break", {"strength": strength})

    def say_as(self, text: str, interpret_as: str, *, format: str | None = None) -> SSMLBuilder:
        attrs = {"interpret-as": interpret_as}
        if format:
            attrs["format"] = format
        _render_say_as(text, interpret_as, format)  # reject what the renderer would reject
        return self._leaf("say-as", attrs, text)

    def phoneme(self, text: str, ph: str, *, alphabet: str = "ipa") -> SSMLBuilder:
        if not ph.strip():
            raise SSMLError("phoneme needs a non-empty ph")
        return self._leaf("phoneme", {"alphabet": alphabet, "ph": ph}, text)

    def sub(self, text: str, alias: str) -> SSMLBuilder:
        return self._leaf("sub", {"alias": alias}, text)

    @contextmanager
    def _open(self, tag: str, attrs: dict[str, str]) -> Iterator[SSMLBuilder]:
        child = ET.SubElement(self._current, tag, attrs)
        self._stack.append(child)
        try:
            yield self
        finally:
            self._stack.pop()

    def prosody(
        self, *, rate: str | None = None, pitch: str | None = None, volume: str | None = None
    ) -> AbstractContextManager[SSMLBuilder]:
        """``with b.prosody(rate="slow"): ...`` wraps what is added inside."""
        attrs = {k: v for k, v in (("rate", rate), ("pitch", pitch), ("volume", volume)) if v is not None}
        if not attrs:
            raise SSMLError("prosody needs rate, pitch or volume")
        _prosody_of("prosody", attrs)  # validate now
        return self._open("prosody", attrs)

    def emphasis(self, text: str, *, level: str = "moderate") -> SSMLBuilder:
        """``<emphasis>`` around ``text`` (use ``emphasized`` to wrap several parts)."""
        _prosody_of("emphasis", {"level": level})
        return self._leaf("emphasis", {"level": level}, text)

    def emphasized(self, level: str = "moderate") -> AbstractContextManager[SSMLBuilder]:
        _prosody_of("emphasis", {"level": level})
        return self._open("emphasis", {"level": level})

    def to_string(self) -> str:
        return ET.tostring(self.root, encoding="unicode")


# -- parsing and rendering -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Speech:
    text: str
    prosody: Prosody = NEUTRAL


@dataclass(frozen=True, slots=True)
class Pause:
    seconds: float


Segment = Speech | Pause


def parse(ssml: str) -> ET.Element:
    """Parse SSML text; clear errors for malformed XML or a root that is not ``<speak>``."""
    if not ssml or not ssml.strip():
        raise SSMLError("empty SSML")
    try:
        root = ET.fromstring(ssml)
    except ET.ParseError as exc:
        raise SSMLError(f"invalid SSML (not well-formed XML): {exc}") from None
    if _local(root.tag) != "speak":
        raise SSMLError(f"SSML root must be <speak>, got <{_local(root.tag)}>")
    return root


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _prosody_of(tag: str, attrs: dict[str, str]) -> Prosody:
    if tag == "emphasis":
        level = attrs.get("level", "moderate")
        if level not in _EMPHASIS:
            raise SSMLError(f"emphasis level {level!r} not in {sorted(_EMPHASIS)}")
        return _EMPHASIS[level]
    return Prosody(
        rate=parse_rate(attrs["rate"]) if "rate" in attrs else 1.0,
        pitch=parse_pitch(attrs["pitch"]) if "pitch" in attrs else 0.0,
        volume=parse_volume(attrs["volume"]) if "volume" in attrs else 1.0,
    )


_SAY_AS_RENDER: dict[str, Callable[[str, str | None], str]] = {
    "digits": lambda t, f: normalize.digits_words(t),
    "characters": lambda t, f: normalize.characters_words(t),
    "spell-out": lambda t, f: normalize.characters_words(t),
    "cardinal": lambda t, f: normalize.number_words(int(t.replace(",", "").strip())),
    "number": lambda t, f: normalize.number_words(int(t.replace(",", "").strip())),
    "ordinal": lambda t, f: normalize.ordinal_words(int(t.strip().rstrip("stndrh"))),
    "date": lambda t, f: normalize.date_words(t, f),
    "telephone": lambda t, f: normalize.telephone_words(t),
    "time": lambda t, f: normalize.time_words(t),
}


def _render_say_as(text: str, interpret_as: str | None, fmt: str | None) -> str:
    if interpret_as not in _SAY_AS_RENDER:
        raise SSMLError(f"say-as interpret-as {interpret_as!r} not in {sorted(_SAY_AS)}")
    try:
        return _SAY_AS_RENDER[interpret_as](text, fmt)
    except ValueError as exc:
        raise SSMLError(f"say-as {interpret_as}: {exc}") from None


class _Renderer:
    def __init__(self) -> None:
        self.segments: list[Segment] = []

    def speak(self, text: str | None, prosody: Prosody) -> None:
        if not text or not text.strip():
            if text and self.segments and isinstance(self.segments[-1], Speech):
                self._extend(" ", prosody)
            return
        self._extend(text, prosody)

    def _extend(self, text: str, prosody: Prosody) -> None:
        last = self.segments[-1] if self.segments else None
        if isinstance(last, Speech) and last.prosody == prosody:
            self.segments[-1] = Speech(last.text + text, prosody)
        elif text.strip():
            self.segments.append(Speech(text, prosody))

    def pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        last = self.segments[-1] if self.segments else None
        if isinstance(last, Pause):
            self.segments[-1] = Pause(last.seconds + seconds)
        else:
            self.segments.append(Pause(seconds))

    def walk(self, el: ET.Element, prosody: Prosody) -> None:
        tag = _local(el.tag)
        attrs = el.attrib
        if tag in {"speak", "p", "s", "voice", "lang", "mark", "audio"}:
            self.speak(el.text, prosody)
            for child in el:
                self.walk(child, prosody)
                self.speak(child.tail, prosody)
            if tag in {"p", "s"}:
                self.pause(0.4 if tag == "p" else 0.2)
            return
        if tag in {"prosody", "emphasis"}:
            inner = prosody.then(_prosody_of(tag, dict(attrs)))
            self.speak(el.text, inner)
            for child in el:
                self.walk(child, inner)
                self.speak(child.tail, inner)
            return
        if tag == "break":
            if "time" in attrs:
                self.pause(parse_time(attrs["time"]))
            else:
                strength = attrs.get("strength", "medium")
                if strength not in _BREAK_STRENGTHS:
                    raise SSMLError(f"break strength {strength!r} not in {sorted(_BREAK_STRENGTHS)}")
                self.pause(_BREAK_STRENGTHS[strength])
            return
        content = "".join(el.itertext())
        if tag == "say-as":
            spoken = _render_say_as(content, attrs.get("interpret-as"), attrs.get("format"))
            self.speak(f" {spoken} ", prosody)
        elif tag == "phoneme":
            ph = attrs.get("ph", "").strip()
            if not ph:
                raise SSMLError("<phoneme> needs a ph attribute")
            ipa = attrs.get("alphabet", "ipa").lower() == "ipa"
            self.speak(f" [[ {ph} ]] " if ipa else content, prosody)
        elif tag == "sub":
            if "alias" not in attrs:
                raise SSMLError("<sub> needs an alias attribute")
            self.speak(f" {attrs['alias']} ", prosody)
        else:
            raise SSMLError(f"unsupported SSML element <{tag}>")


def render(ssml: str, base: Prosody = NEUTRAL) -> list[Segment]:
    """SSML → speech and pause segments with whitespace tidied, for an engine without SSML."""
    renderer = _Renderer()
    renderer.walk(parse(ssml), base)
    out: list[Segment] = []
    for seg in renderer.segments:
        if isinstance(seg, Speech):
            text = re.sub(r"\s+", " ", seg.text).strip()
            text = re.sub(r"\s+([,.!?;:])", r"\1", text)
            if text:
                out.append(Speech(text, seg.prosody))
        else:
            out.append(seg)
    return out


def plain_text(ssml: str) -> str:
    """What the SSML says, as plain words (for transcripts and logs)."""
    return " ".join(s.text for s in render(ssml) if isinstance(s, Speech))
