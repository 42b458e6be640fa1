"""Choosing cloud providers from the environment: the names operators look for, a missing key
refused at start-up (not at the first call), the old ``VOICEFLOW_LLM_BASE_URL`` still working,
and the engine each choice builds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.offline import stt_engine
from voiceflow.config import Config, ConfigError
from voiceflow.services.llm.anthropic import AnthropicEngine
from voiceflow.services.llm.gemini import GeminiEngine
from voiceflow.services.llm.openai import OpenAICompatEngine
from voiceflow.services.providers import deepgram_engine, llm_engine
from voiceflow.services.stt.deepgram import DeepgramEngine
from voiceflow.services.stt.sphinx_process import ProcessPocketsphinxEngine

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VOICEFLOW_STT": "deepgram"}, "VOICEFLOW_STT=deepgram needs DEEPGRAM_API_KEY"),
        ({"VOICEFLOW_LLM": "anthropic"}, "VOICEFLOW_LLM=anthropic needs ANTHROPIC_API_KEY"),
        ({"VOICEFLOW_LLM": "gemini"}, "VOICEFLOW_LLM=gemini needs GEMINI_API_KEY"),
        (
            {"VOICEFLOW_LLM": "openai"},
            "VOICEFLOW_LLM=openai needs OPENAI_API_KEY (or a VOICEFLOW_OPENAI_URL server)",
        ),
        (
            {"VOICEFLOW_LLM": "claude"},
            "VOICEFLOW_LLM='claude' is not one of 'openai', 'anthropic', 'gemini', 'none'",
        ),
        (
            {"VOICEFLOW_STT": "nova"},
            "VOICEFLOW_STT='nova' is not one of 'pocketsphinx', 'offline', 'whisper', 'deepgram'",
        ),
        (
            {"VOICEFLOW_DEEPGRAM_URL": "ftp://x"},
            "VOICEFLOW_DEEPGRAM_URL='ftp://x' is not a ws(s):// or http(s):// URL",
        ),
        (
            {"VOICEFLOW_DEEPGRAM_KEYWORDS": "refund:lots"},
            "VOICEFLOW_DEEPGRAM_KEYWORDS='refund:lots' has an intensity that is not a number "
            "('refund:lots'); write word:2",
        ),
    ],
)
def test_a_chosen_provider_without_its_key_or_a_bad_name_is_refused(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Config.from_env(env)
    assert info.value.problems == [message]


def test_both_missing_keys_are_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        Config.from_env({"VOICEFLOW_STT": "deepgram", "VOICEFLOW_LLM": "gemini"})
    assert info.value.problems == [
        "VOICEFLOW_STT=deepgram needs DEEPGRAM_API_KEY",
        "VOICEFLOW_LLM=gemini needs GEMINI_API_KEY",
    ]


def test_each_choice_builds_its_engine_with_its_url_key_and_model() -> None:
    config = Config.from_env(
        {
            "VOICEFLOW_LLM": "anthropic",
            "ANTHROPIC_API_KEY": "sk-ant",
            "VOICEFLOW_ANTHROPIC_URL": "http://127.0.0.1:9001",
            "VOICEFLOW_STT": "deepgram",
            "DEEPGRAM_API_KEY": "dg",
            "VOICEFLOW_DEEPGRAM_URL": "ws://127.0.0.1:9002",
            "VOICEFLOW_DEEPGRAM_MODEL": "nova-3",
            "VOICEFLOW_DEEPGRAM_KEYWORDS": "refund:2, order",
        }
    )
    engine = llm_engine(config.llm)
    assert isinstance(engine, AnthropicEngine) and engine.model == "claude-3-5-haiku-latest"
    stt = deepgram_engine(config.stt)
    assert isinstance(stt, DeepgramEngine) and stt.url == "ws://127.0.0.1:9002"
    assert stt.options.model == "nova-3" and stt.options.keywords == (("refund", 2.0), ("order", 1.0))
    assert isinstance(stt_engine(config.stt, "phone"), DeepgramEngine)
    gemini = Config.from_env(
        {"VOICEFLOW_LLM": "gemini", "GEMINI_API_KEY": "g", "VOICEFLOW_LLM_MODEL": "gemini-x"}
    )
    engine = llm_engine(gemini.llm)
    assert isinstance(engine, GeminiEngine) and engine.model == "gemini-x"
    openai = Config.from_env({"VOICEFLOW_LLM": "openai", "OPENAI_API_KEY": "sk"})
    engine = llm_engine(openai.llm)
    assert (
        isinstance(engine, OpenAICompatEngine) and engine.base_url is None and engine.model == "gpt-4o-mini"
    )
    assert llm_engine(Config.from_env({}).llm) is None
    assert (
        llm_engine(Config.from_env({"VOICEFLOW_LLM": "none", "VOICEFLOW_LLM_BASE_URL": "http://x"}).llm)
        is None
    )


def test_the_old_base_url_setting_still_chooses_an_openai_compatible_server_without_a_key() -> None:
    config = Config.from_env(
        {"VOICEFLOW_LLM_BASE_URL": "http://127.0.0.1:8080/v1", "VOICEFLOW_LLM_MODEL": "qwen"}
    )
    engine = llm_engine(config.llm)
    assert config.llm.chosen == "openai"
    assert isinstance(engine, OpenAICompatEngine)
    assert (engine.base_url, engine.model) == ("http://127.0.0.1:8080/v1", "qwen")
    local = Config.from_env({"VOICEFLOW_LLM": "openai", "VOICEFLOW_OPENAI_URL": "http://127.0.0.1:8080/v1"})
    assert local.llm.openai_base_url == "http://127.0.0.1:8080/v1"


def test_offline_is_the_default_recognizer() -> None:
    config = Config.from_env({"VOICEFLOW_STT": "offline"})
    assert config.stt.recognizer == "pocketsphinx"
    assert isinstance(stt_engine(config.stt, "phone"), ProcessPocketsphinxEngine)


def test_serve_refuses_to_start_without_the_chosen_providers_key() -> None:
    env = {"PATH": "/usr/bin:/bin", "VOICEFLOW_STT": "deepgram", "VOICEFLOW_LLM": "anthropic"}
    cmd = [sys.executable, "-m", "voiceflow.cli", "serve", "--pipeline", "cloud", "--port", "0"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == [
        "voiceflow serve: VOICEFLOW_STT=deepgram needs DEEPGRAM_API_KEY",
        "voiceflow serve: VOICEFLOW_LLM=anthropic needs ANTHROPIC_API_KEY",
    ]
