"""SSML builder (valid XML, escaping, validation) and the renderer for engines without SSML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from voiceflow.services.tts import Pause, Prosody, Speech, SSMLBuilder, SSMLError, plain_text, render
from voiceflow.services.tts.normalize import (
    date_words,
    digits_words,
    number_words,
    ordinal_words,
    telephone_words,
    time_words,
    year_words,
)

NS = "{http://www.w3.org/2001/10/synthesis}"


def test_builder_produces_valid_ssml_with_every_element() -> None:
    b = SSMLBuilder()
    b.text("Order ").say_as("1002", "digits").text(" ships ").say_as("2026-12-05", "date")
    b.pause(250).emphasis("today", level="strong")
    with b.prosody(rate="slow", pitch="low", volume="soft"):
        b.text("Call ").say_as("800-555-0199", "telephone")
    b.phoneme("tomato", ph="təˈmeɪtoʊ")  # noqa: RUF001
    root = ET.fromstring(b.to_string())
    assert root.tag == f"{NS}speak" and root.get("version") == "1.0"
    tags = [el.tag.removeprefix(NS) for el in root.iter()]
    assert tags == ["speak", "say-as", "say-as", "break", "emphasis", "prosody", "say-as", "phoneme"]
    prosody = root.find(f"{NS}prosody")
    assert prosody is not None and prosody.attrib == {"rate": "slow", "pitch": "low", "volume": "soft"}
    assert root.find(f"{NS}break").get("time") == "250ms"  # type: ignore[union-attr]


def test_builder_escapes_text_and_attributes() -> None:
    b = SSMLBuilder().text("Tom & Jerry <say> \"hi\" 'there'").sub("AT&T", alias="A T & T")
    xml = b.to_string()
    assert "&amp;" in xml and "&lt;say&gt;" in xml
    root = ET.fromstring(xml)
    assert root.text == "Tom & Jerry <say> \"hi\" 'there'"
    assert root.find(f"{NS}sub").get("alias") == "A T & T"  # type: ignore[union-attr]
    assert plain_text(xml) == "Tom & Jerry <say> \"hi\" 'there' A T & T"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda b: b.pause(20_000), "break time"),
        (lambda b: b.pause(strength="huge"), "strength"),
        (lambda b: b.prosody(rate="warp"), "rate"),
        (lambda b: b.prosody(volume="+90dB"), "volume"),
        (lambda b: b.prosody(), "needs rate"),
        (lambda b: b.say_as("12/45/2026", "date"), "bad day|bad month"),
        (lambda b: b.say_as("abc", "digits"), "no digits"),
        (lambda b: b.say_as("1", "weather"), "interpret-as"),
        (lambda b: b.emphasis("x", level="mega"), "emphasis level"),
        (lambda b: b.phoneme("x", ph=" "), "ph"),
    ],
)
def test_builder_rejects_values_outside_the_spec(call, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SSMLError, match=match):
        call(SSMLBuilder())


def test_renderer_turns_ssml_into_speech_and_pauses() -> None:
    b = SSMLBuilder().text("Your order ").say_as("1002", "digits").text(" ships on ")
    b.say_as("2026-12-05", "date").text(".").pause(300)
    with b.prosody(rate="slow", volume="soft"):
        b.text("Call us at ").say_as("+1 (800) 555-1234", "telephone").text(".")
    b.emphasis("Thanks!", level="strong").phoneme("tomato", ph="təˈmeɪtoʊ")  # noqa: RUF001
    segments = render(b.to_string())
    assert segments == [
        Speech("Your order one zero zero two ships on December fifth, twenty twenty-six."),
        Pause(0.3),
        Speech(
            "Call us at plus one, eight zero zero, five five five, one two three four.",
            Prosody(rate=0.75, volume=0.6),
        ),
        Speech("Thanks!", Prosody(rate=0.9, volume=1.3)),
        Speech("[[ təˈmeɪtoʊ ]]"),  # noqa: RUF001
    ]


def test_renderer_accepts_hand_written_ssml_without_namespace() -> None:
    ssml = (
        '<speak>Hello <break strength="strong"/><s>one</s><p>two</p>'
        '<prosody rate="80%" volume="+6dB" pitch="+2st">three</prosody>'
        '<say-as interpret-as="cardinal">1002</say-as> <say-as interpret-as="time">15:30</say-as></speak>'
    )
    segments = render(ssml)
    assert segments[0] == Speech("Hello")
    assert segments[1] == Pause(0.7)
    assert segments[2] == Speech("one")
    assert segments[3] == Pause(0.2)
    three = segments[6]
    assert isinstance(three, Speech) and three.text == "three"
    assert three.prosody.rate == pytest.approx(0.8) and three.prosody.pitch == 2.0
    assert three.prosody.volume == pytest.approx(1.995, abs=0.01)
    assert segments[7] == Speech("one thousand two three thirty PM")


@pytest.mark.parametrize(
    ("ssml", "match"),
    [
        ("", "empty"),
        ("<speak>unclosed", "not well-formed"),
        ("<speak><b>x</b></speak>", "unsupported SSML element <b>"),
        ("<voice>hi</voice>", "root must be <speak>"),
        ('<speak><break time="-1s"/></speak>', "break time"),
        ('<speak><prosody rate="zoom">x</prosody></speak>', "rate"),
        ('<speak><say-as interpret-as="date">2026-13-01</say-as></speak>', "bad month"),
        ("<speak><sub>x</sub></speak>", "alias"),
        ("<speak>a &bogus; b</speak>", "not well-formed"),
    ],
)
def test_invalid_ssml_gives_a_clear_error(ssml: str, match: str) -> None:
    with pytest.raises(SSMLError, match=match):
        render(ssml)


def test_number_words() -> None:
    assert digits_words("1002") == "one zero zero two"
    assert number_words(1002) == "one thousand two"
    assert number_words(90_215) == "ninety thousand two hundred fifteen"
    assert [ordinal_words(n) for n in (1, 2, 3, 5, 12, 20, 21, 30)] == [
        "first",
        "second",
        "third",
        "fifth",
        "twelfth",
        "twentieth",
        "twenty-first",
        "thirtieth",
    ]
    assert [year_words(y) for y in (2026, 2005, 2000, 1999, 1905, 1900)] == [
        "twenty twenty-six",
        "two thousand five",
        "two thousand",
        "nineteen ninety-nine",
        "nineteen oh five",
        "nineteen hundred",
    ]
    assert date_words("2026-12-05") == "December fifth, twenty twenty-six"
    assert date_words("05/12/2026", "dmy") == "December fifth, twenty twenty-six"
    assert date_words("12/05") == "December fifth"
    assert telephone_words("555-0199") == "five five five, zero one nine nine"
    assert time_words("9:05") == "nine oh five AM" and time_words("12:00") == "twelve PM"
