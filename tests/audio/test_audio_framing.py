"""Rechunker: exact frames, nothing lost or duplicated across arbitrary chunk splits."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voiceflow.processors.audio.errors import AudioFormatError
from voiceflow.processors.audio.framing import Rechunker, frame_bytes


@pytest.mark.parametrize(
    ("rate", "ms", "channels", "size"),
    [
        (8000, 20, 1, 320),  # telephony
        (16000, 10, 1, 320),  # WebRTC
        (48000, 20, 2, 3840),  # WebRTC stereo
        (16000, 100, 1, 3200),  # browser buffer
        (22050, 20, 1, 882),  # piper voice rate
    ],
)
def test_frame_sizes(rate: int, ms: int, channels: int, size: int) -> None:
    assert frame_bytes(rate, ms, channels) == size


def test_frame_duration_must_be_whole_samples() -> None:
    with pytest.raises(AudioFormatError, match=r"10 ms at 22050 Hz is 220.5 samples"):
        Rechunker(22050, 10)


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(min_size=0, max_size=4000),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=30),
    rate_ms=st.sampled_from([(8000, 20), (16000, 10), (16000, 20), (48000, 10), (16000, 100)]),
    channels=st.sampled_from([1, 2]),
)
def test_random_splits_give_identical_concatenation_and_exact_frames(
    data: bytes, cuts: list[int], rate_ms: tuple[int, int], channels: int
) -> None:
    rate, ms = rate_ms
    chunker = Rechunker(rate, ms, channels)
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    frames: list[bytes] = []
    for a, b in itertools.pairwise(bounds):
        frames += chunker.push(data[a:b])
    assert all(len(f) == chunker.frame_size for f in frames)
    assert len(frames) == len(data) // chunker.frame_size
    assert chunker.pending == len(data) - len(frames) * chunker.frame_size
    tail = chunker.flush()
    sample = 2 * channels
    assert b"".join(frames) + tail == data[: len(data) - len(data) % sample]
    assert chunker.discarded_bytes == len(data) % sample
    assert chunker.pending == 0


def test_odd_byte_is_kept_across_calls() -> None:
    chunker = Rechunker(8000, 20)
    first = chunker.push(bytes(range(101)))  # ends mid-sample
    rest = chunker.push(bytes(range(101, 256)) + bytes(range(65)))
    assert first == [] and len(rest) == 1
    assert rest[0] == bytes(range(256)) + bytes(range(64))
    assert chunker.pending == 1


def test_flush_pads_to_a_full_frame_on_request() -> None:
    chunker = Rechunker(8000, 20)
    chunker.push(b"\x01\x02" * 10)
    assert chunker.flush(pad=True) == b"\x01\x02" * 10 + bytes(300)
    assert chunker.flush(pad=True) == b""  # nothing left: no silent frame invented
