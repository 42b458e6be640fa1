"""``VOICEFLOW_STT`` picks the offline agent's recognizer: Whisper unless told otherwise."""

from __future__ import annotations

import pytest

from pipelines.offline import stt_engine
from voiceflow.config import Config, ConfigError
from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine
from voiceflow.services.stt.sphinx_process import ProcessPocketsphinxEngine
from voiceflow.services.stt.whisper import WhisperEngine


def test_whisper_by_default_pocketsphinx_on_request() -> None:
    default = stt_engine(Config.from_env({}).stt, "phone")
    assert isinstance(default, WhisperEngine) and default.interim is None  # the VAD says when speech starts
    for name in ("pocketsphinx", "offline"):
        chosen = stt_engine(Config.from_env({"VOICEFLOW_STT": name}).stt, "phone")
        assert isinstance(chosen, ProcessPocketsphinxEngine) and chosen.channel_cmn is not None
        assert chosen.processes == 1
    env = {"VOICEFLOW_STT": "pocketsphinx", "VOICEFLOW_STT_PROCESSES": "0"}
    threads = stt_engine(Config.from_env(env).stt, "phone")
    assert isinstance(threads, PocketsphinxEngine) and threads.channel_cmn == chosen.channel_cmn


def test_whisper_gets_pocketsphinx_interims_on_request() -> None:
    env = {"VOICEFLOW_STT": "whisper", "VOICEFLOW_WHISPER_INTERIMS": "on"}
    chosen = stt_engine(Config.from_env(env).stt, "phone")
    assert isinstance(chosen, WhisperEngine) and isinstance(chosen.interim, PocketsphinxEngine)
    with pytest.raises(ConfigError, match=r"VOICEFLOW_WHISPER_INTERIMS"):
        Config.from_env({"VOICEFLOW_WHISPER_INTERIMS": "maybe"})


def test_an_unknown_recognizer_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"VOICEFLOW_STT"):
        Config.from_env({"VOICEFLOW_STT": "deepspeech"})
    with pytest.raises(ConfigError, match=r"VOICEFLOW_STT_PROCESSES"):
        Config.from_env({"VOICEFLOW_STT_PROCESSES": "-1"})
