"""G.711 codecs bit-exact against the C audioop reference; PCM/float and Twilio helpers."""

from __future__ import annotations

import base64
import sys
import warnings

import numpy as np
import pytest

from voiceflow.processors.audio.codecs import (
    alaw_decode,
    alaw_encode,
    float32_to_pcm16,
    pcm16_to_float32,
    pcm16_to_ulaw_b64,
    ulaw_b64_to_pcm16,
    ulaw_decode,
    ulaw_encode,
)
from voiceflow.processors.audio.errors import AudioFormatError

if sys.version_info >= (3, 13):
    import audioop_lts as audioop  # type: ignore[import-not-found]
else:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

EVERY_PCM16 = np.arange(-32768, 32768, dtype="<i2").tobytes()
EVERY_CODE = bytes(range(256))


def test_ulaw_encode_bit_exact_over_all_65536_values() -> None:
    assert ulaw_encode(EVERY_PCM16) == audioop.lin2ulaw(EVERY_PCM16, 2)


def test_alaw_encode_bit_exact_over_all_65536_values() -> None:
    assert alaw_encode(EVERY_PCM16) == audioop.lin2alaw(EVERY_PCM16, 2)


def test_ulaw_decode_bit_exact_over_all_256_codes() -> None:
    assert ulaw_decode(EVERY_CODE) == audioop.ulaw2lin(EVERY_CODE, 2)


def test_alaw_decode_bit_exact_over_all_256_codes() -> None:
    assert alaw_decode(EVERY_CODE) == audioop.alaw2lin(EVERY_CODE, 2)


def test_decode_then_encode_is_identity_on_codes() -> None:
    # every code decodes to a level that encodes back to itself (except mu-law's duplicate zero)
    assert alaw_encode(alaw_decode(EVERY_CODE)) == EVERY_CODE
    back = ulaw_encode(ulaw_decode(EVERY_CODE))
    assert [i for i in range(256) if back[i] != i] == [0x7F]  # -0 encodes as +0 (0xFF)


def test_empty_input_gives_empty_output() -> None:
    assert ulaw_encode(b"") == b"" and ulaw_decode(b"") == b""
    assert alaw_encode(b"") == b"" and alaw_decode(b"") == b""


@pytest.mark.parametrize("encode", [ulaw_encode, alaw_encode])
def test_odd_length_pcm_is_rejected_with_a_precise_message(encode: object) -> None:
    with pytest.raises(AudioFormatError, match=r"3 bytes is not a whole number .* 1 stray byte"):
        encode(b"\x00\x01\x02")  # type: ignore[operator]


def test_twilio_payload_round_trip_matches_audioop() -> None:
    pcm = (np.sin(np.arange(160) / 5) * 12000).astype("<i2").tobytes()
    payload = pcm16_to_ulaw_b64(pcm)
    assert payload == base64.b64encode(audioop.lin2ulaw(pcm, 2)).decode()
    assert ulaw_b64_to_pcm16(payload) == audioop.ulaw2lin(audioop.lin2ulaw(pcm, 2), 2)


@pytest.mark.parametrize("payload", ["not base64!!", "AAA", "////\n===="])
def test_bad_twilio_payload_raises_audio_format_error(payload: str) -> None:
    with pytest.raises(AudioFormatError, match="not valid base64"):
        ulaw_b64_to_pcm16(payload)


def test_pcm16_float32_round_trip_is_exact() -> None:
    x = pcm16_to_float32(EVERY_PCM16)
    assert x.dtype == np.float32 and x.min() == -1.0 and x.max() < 1.0
    assert float32_to_pcm16(x) == EVERY_PCM16


def test_float32_to_pcm16_clips_out_of_range_values() -> None:
    pcm = np.frombuffer(float32_to_pcm16(np.array([-3.0, -1.0, 0.0, 1.0, 2.5])), dtype="<i2")
    assert pcm.tolist() == [-32768, -32768, 0, 32767, 32767]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float32_to_pcm16_rejects_non_finite(bad: float) -> None:
    x = np.zeros(10, dtype=np.float32)
    x[7] = bad
    with pytest.raises(AudioFormatError, match=r"1 non-finite sample\(s\) .* first at index 7"):
        float32_to_pcm16(x)


def test_pcm16_to_float32_multichannel_shape_and_validation() -> None:
    stereo = np.array([[1, 2], [3, 4], [5, 6]], dtype="<i2").tobytes()
    assert pcm16_to_float32(stereo, channels=2).shape == (3, 2)
    with pytest.raises(AudioFormatError, match="2-channel"):
        pcm16_to_float32(stereo[:-2], channels=2)
