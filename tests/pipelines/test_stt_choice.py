"""``VOICEFLOW_STT`` picks the offline agent's recognizer."""

from __future__ import annotations

import pytest

from pipelines.offline import stt_engine
from voiceflow.config import Config, ConfigError
from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine
from voiceflow.services.stt.sphinx_process import ProcessPocketsphinxEngine
from voiceflow.services.stt.whisper import WhisperEngine


def test_pocketsphinx_by_default_whisper_on_request() -> None:
    default = stt_engine(Config.from_env({}).stt, "phone")
    assert isinstance(default, ProcessPocketsphinxEngine) and default.channel_cmn is not None
    assert default.processes == 1
    threads = stt_engine(Config.from_env({"VOICEFLOW_STT_PROCESSES": "0"}).stt, "phone")
    assert isinstance(threads, PocketsphinxEngine) and threads.channel_cmn == default.channel_cmn
    chosen = stt_engine(Config.from_env({"VOICEFLOW_STT": "whisper"}).stt, "phone")
    assert isinstance(chosen, WhisperEngine) and isinstance(chosen.interim, PocketsphinxEngine)


def test_an_unknown_recognizer_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"VOICEFLOW_STT"):
        Config.from_env({"VOICEFLOW_STT": "deepspeech"})
    with pytest.raises(ConfigError, match=r"VOICEFLOW_STT_PROCESSES"):
        Config.from_env({"VOICEFLOW_STT_PROCESSES": "-1"})
