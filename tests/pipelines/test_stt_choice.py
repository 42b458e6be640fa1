"""``VOICEFLOW_STT`` picks the offline agent's recognizer."""

from __future__ import annotations

import pytest

from pipelines.offline import stt_engine
from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine
from voiceflow.services.stt.whisper import WhisperEngine


def test_pocketsphinx_by_default_whisper_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOICEFLOW_STT", raising=False)
    default = stt_engine("phone")
    assert isinstance(default, PocketsphinxEngine) and default.channel_cmn is not None
    monkeypatch.setenv("VOICEFLOW_STT", "Whisper")
    chosen = stt_engine("phone")
    assert isinstance(chosen, WhisperEngine) and isinstance(chosen.interim, PocketsphinxEngine)
    monkeypatch.setenv("VOICEFLOW_STT", "deepspeech")
    with pytest.raises(ValueError, match="deepspeech"):
        stt_engine(None)
