"""The config: read from a mapping, typed, validated naming the variable, and documented in the README."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from voiceflow.commands.config import markdown_table
from voiceflow.config import (
    Config,
    ConfigError,
    NLUSettings,
    PathSettings,
    section_from_env,
    setting,
    settings,
    unknown_names,
)
from voiceflow.processors.nlu import NLUConfig

ROOT = Path(__file__).resolve().parents[2]


def test_an_empty_environment_gives_the_defaults() -> None:
    config = Config.from_env({})
    assert config == Config()
    assert (config.server.host, config.server.port, config.server.public_host) == ("127.0.0.1", 8000, None)
    assert config.paths.data_dir == Path(".voiceflow/data")
    assert config.llm.base_url is None  # offline unless an LLM is configured
    assert config.nlu.rasa_url is None


def test_values_are_parsed_into_their_types() -> None:
    config = Config.from_env(
        {
            "VOICEFLOW_PORT": " 9000 ",
            "VOICEFLOW_MAX_MESSAGE_BYTES": "4096",
            "VOICEFLOW_DATA_DIR": "/srv/agent/data",
            "VOICEFLOW_KB_DIR": "~/kb",
            "VOICEFLOW_RASA_URL": "http://127.0.0.1:5005",
            "VOICEFLOW_BUSINESS_TZ": "Europe/Paris",
            "VOICEFLOW_LLM_BASE_URL": "https://llm.example.com/v1",
            "VOICEFLOW_LLM_MODEL": "qwen2.5",
            "VOICEFLOW_TORCH_THREADS": "2",
            "TWILIO_AUTH_TOKEN": "secret",
        }
    )
    assert config.server.port == 9000 and config.server.max_message_bytes == 4096
    assert config.paths.data_dir == Path("/srv/agent/data")
    assert config.paths.kb_dir == Path.home() / "kb"
    assert config.nlu == NLUSettings(
        "http://127.0.0.1:5005", Path(".voiceflow/models/setfit-intents"), "Europe/Paris"
    )
    assert (config.llm.base_url, config.llm.model, config.llm.api_key) == (
        "https://llm.example.com/v1",
        "qwen2.5",
        "not-needed",
    )
    assert config.runtime.torch_threads == 2
    assert config.server.twilio_auth_token == "secret"


def test_an_empty_variable_counts_as_unset() -> None:
    assert Config.from_env({"VOICEFLOW_PORT": "", "VOICEFLOW_LLM_BASE_URL": "  "}) == Config()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VOICEFLOW_PORT": "eighty"}, "VOICEFLOW_PORT='eighty' is not an integer"),
        ({"VOICEFLOW_PORT": "8000.5"}, "VOICEFLOW_PORT='8000.5' is not an integer"),
        ({"VOICEFLOW_PORT": "70000"}, "VOICEFLOW_PORT='70000' is not a TCP port (0-65535)"),
        ({"VOICEFLOW_MAX_MESSAGE_BYTES": "0"}, "VOICEFLOW_MAX_MESSAGE_BYTES='0' must be at least 1"),
        ({"VOICEFLOW_TORCH_THREADS": "-2"}, "VOICEFLOW_TORCH_THREADS='-2' must be at least 1"),
        (
            {"VOICEFLOW_RASA_URL": "localhost:5005"},
            "VOICEFLOW_RASA_URL='localhost:5005' is not an http(s):// URL",
        ),
        ({"VOICEFLOW_LLM_BASE_URL": "ftp://x"}, "VOICEFLOW_LLM_BASE_URL='ftp://x' is not an http(s):// URL"),
        (
            {"VOICEFLOW_BUSINESS_TZ": "Mars/Olympus"},
            "VOICEFLOW_BUSINESS_TZ='Mars/Olympus' is not an IANA time zone (e.g. America/New_York)",
        ),
        (
            {"VOICEFLOW_BUSINESS_TZ": "America"},
            "VOICEFLOW_BUSINESS_TZ='America' is not an IANA time zone (e.g. America/New_York)",
        ),
    ],
)
def test_a_bad_value_is_named_precisely(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_env(env)
    assert caught.value.problems == [message]
    assert message in str(caught.value)


def test_every_bad_value_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_env(
            {"VOICEFLOW_PORT": "x", "VOICEFLOW_TORCH_THREADS": "many", "VOICEFLOW_HOST": "0.0.0.0"}
        )
    assert caught.value.problems == [
        "VOICEFLOW_PORT='x' is not an integer",
        "VOICEFLOW_TORCH_THREADS='many' is not an integer",
    ]


def test_a_section_reads_only_its_own_variables() -> None:
    env = {"VOICEFLOW_PORT": "not read here", "VOICEFLOW_CACHE_DIR": "/tmp/c"}
    assert section_from_env(PathSettings, env).cache_dir == Path("/tmp/c")


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """What a later issue's section looks like: settings, plus a knob set in code only."""

    url: str | None = setting("VOICEFLOW_DEMO_URL", None, "a provider URL")
    retries: int = setting(
        "VOICEFLOW_DEMO_RETRIES", 3, "retries", check=lambda n: None if n < 10 else "is too many"
    )
    label: str = "set in code"


def test_a_new_section_is_just_fields() -> None:
    assert section_from_env(DemoSettings, {}) == DemoSettings(None, 3, "set in code")
    env = {"VOICEFLOW_DEMO_URL": "https://x", "VOICEFLOW_DEMO_RETRIES": "5"}
    assert section_from_env(DemoSettings, env) == DemoSettings("https://x", 5)
    with pytest.raises(
        ConfigError, match=r"^invalid configuration: VOICEFLOW_DEMO_RETRIES='12' is too many$"
    ):
        section_from_env(DemoSettings, {"VOICEFLOW_DEMO_RETRIES": "12"})


def test_unknown_names_are_flagged_with_the_closest_setting() -> None:
    env = {
        "VOICEFLOW_PROT": "1",
        "VOICEFLOW_LLM_MODLE": "x",
        "VOICEFLOW_PORT": "1",
        "VOICEFLOW_ZZZ": "1",
        "HOME": "/",
    }
    assert unknown_names(env) == [
        "VOICEFLOW_LLM_MODLE is not a voiceflow setting (did you mean VOICEFLOW_LLM_MODEL?)",
        "VOICEFLOW_PROT is not a voiceflow setting (did you mean VOICEFLOW_PORT?)",
        "VOICEFLOW_ZZZ is not a voiceflow setting",
    ]


def test_secrets_are_masked_when_described() -> None:
    config = Config.from_env({"VOICEFLOW_LLM_API_KEY": "sk-live", "TWILIO_AUTH_TOKEN": "tok"})
    shown = {s.env: value for s, value in config.describe()}
    assert shown["VOICEFLOW_LLM_API_KEY"] == "***" and shown["TWILIO_AUTH_TOKEN"] == "***"
    assert shown["VOICEFLOW_LLM_MODEL"] is None  # each provider has its own default model
    assert list(shown) == [s.env for s in settings()]


def test_the_nlu_router_config_comes_from_the_nlu_section() -> None:
    nlu = Config.from_env(
        {"VOICEFLOW_RASA_URL": "http://rasa:5005", "VOICEFLOW_BUSINESS_TZ": "Europe/Paris"}
    ).nlu
    assert NLUConfig.from_settings(nlu) == NLUConfig(
        rasa_url="http://rasa:5005",
        model_root=Path(".voiceflow/models/setfit-intents"),
        timezone="Europe/Paris",
    )
    # the config's default time zone is the router's own default
    assert NLUConfig.from_env({}).timezone == NLUConfig().timezone


def _readme_table() -> str:
    section = re.search(r"\n## Configuration\n(.*?)\n## ", (ROOT / "README.md").read_text(), re.S)
    assert section is not None, "README has no Configuration section"
    rows = [line for line in section.group(1).splitlines() if line.startswith("|")]
    return "\n".join(rows)


def test_the_readme_table_lists_every_setting() -> None:
    documented = re.findall(r"^\| `([A-Z_]+)` \|", _readme_table(), re.M)
    assert documented == [s.env for s in settings()]
    assert _readme_table() == markdown_table(), "regenerate the table with `voiceflow config --markdown`"


def test_every_voiceflow_variable_the_code_names_is_a_setting() -> None:
    known = {s.env for s in settings()}
    named: dict[str, set[str]] = {}
    for top in ("voiceflow", "pipelines"):
        for path in (ROOT / top).rglob("*.py"):
            for name in re.findall(r"\bVOICEFLOW_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()):
                named.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    stray = {name: sorted(paths) for name, paths in named.items() if name not in known}
    assert not stray, f"VOICEFLOW_* names that are no setting in voiceflow/config.py: {stray}"


def test_voiceflow_config_command_prints_and_validates() -> None:
    env = {"PATH": "/usr/bin:/bin", "VOICEFLOW_PORT": "9000", "VOICEFLOW_LLM_API_KEY": "sk-live"}
    cmd = [sys.executable, "-m", "voiceflow.cli", "config"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines()}
    assert lines["VOICEFLOW_PORT"] == ["9000", "(env)"]
    assert lines["VOICEFLOW_HOST"] == ["127.0.0.1", "(default)"]
    assert lines["VOICEFLOW_LLM_API_KEY"] == ["***", "(env)"]
    assert "sk-live" not in out.stdout
    bad = subprocess.run(
        cmd, cwd=ROOT, env=env | {"VOICEFLOW_PORT": "x"}, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == "voiceflow config: VOICEFLOW_PORT='x' is not an integer"
