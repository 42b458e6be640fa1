"""Every setting voiceflow reads from the environment, typed and validated in one place.

    config = Config.from_env()            # os.environ; tests pass a dict
    config.server.port, config.llm.base_url, config.paths.data_dir, ...

The commands read the config once at start (a bad value stops them with a message
naming the variable) and hand it to the pipeline; library code takes plain
arguments. The few library fallbacks used when no argument is given read only
their own section (``section_from_env(PathSettings).cache_dir``).

A section is a frozen dataclass whose fields are ``setting(...)``s (a plain field is
a knob set in code only); a new setting is one field in its section, a new section
one class and one field of ``Config``.
An empty value counts as unset. This module imports only the standard library,
so any layer may read it.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

__all__ = [
    "Config",
    "ConfigError",
    "LLMSettings",
    "NLUSettings",
    "PathSettings",
    "RuntimeSettings",
    "STTSettings",
    "ServerSettings",
    "Setting",
    "TTSSettings",
    "section_from_env",
    "setting",
    "settings",
    "unknown_names",
]

PREFIX = "VOICEFLOW_"

S = TypeVar("S")
Check = Callable[[Any], str | None]


class ConfigError(ValueError):
    """One or more settings are invalid; ``problems`` holds one message per variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration: " + "; ".join(problems))
        self.problems = problems


# -- checks: each returns what is wrong with a parsed value, or None --------------------------------
def _port(value: int) -> str | None:
    return None if 0 <= value <= 65535 else "is not a TCP port (0-65535)"


def _positive(value: int) -> str | None:
    return None if value > 0 else "must be at least 1"


def _http_url(value: str) -> str | None:
    parts = urlsplit(value)
    return None if parts.scheme in ("http", "https") and parts.netloc else "is not an http(s):// URL"


def _one_of(*choices: str) -> Check:
    def check(value: str) -> str | None:
        return None if value in choices else "is not one of " + ", ".join(repr(c) for c in choices)

    return check


def _timezone(value: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder ("America")
        return "is not an IANA time zone (e.g. America/New_York)"
    return None


def setting(env: str, default: Any, doc: str, *, check: Check | None = None, secret: bool = False) -> Any:
    """A field read from ``env``; ``check`` validates the parsed value, ``secret`` masks it in output."""
    return field(default=default, metadata={"env": env, "doc": doc, "check": check, "secret": secret})


# -- sections --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ServerSettings:
    """``voiceflow serve``: where it listens and what the app accepts."""

    host: str = setting("VOICEFLOW_HOST", "127.0.0.1", "interface `voiceflow serve` listens on")
    port: int = setting("VOICEFLOW_PORT", 8000, "port `voiceflow serve` listens on", check=_port)
    public_host: str | None = setting(
        "VOICEFLOW_PUBLIC_HOST",
        None,
        "host[:port] Twilio reaches for the media WebSocket (default: Host header)",
    )
    max_message_bytes: int = setting(
        "VOICEFLOW_MAX_MESSAGE_BYTES", 64 * 1024, "largest WebSocket message a call accepts", check=_positive
    )
    twilio_auth_token: str | None = setting(
        "TWILIO_AUTH_TOKEN",
        None,
        "when set, `POST /twilio/voice` requires a valid X-Twilio-Signature",
        secret=True,
    )


@dataclass(frozen=True, slots=True)
class PathSettings:
    """Where state and caches live (relative paths are relative to the working directory)."""

    data_dir: Path = setting(
        "VOICEFLOW_DATA_DIR", Path(".voiceflow/data"), "the offline agent's SQLite database"
    )
    cache_dir: Path = setting(
        "VOICEFLOW_CACHE_DIR",
        Path(".voiceflow/cache"),
        "generated artefacts (domain LM, synthesized caller lines)",
    )
    kb_dir: Path | None = setting(
        "VOICEFLOW_KB_DIR", None, "knowledge base folder (default: the repository's `kb/`)"
    )
    index_dir: Path = setting(
        "VOICEFLOW_INDEX_DIR", Path(".voiceflow/index/kb"), "the knowledge base's vector index"
    )


@dataclass(frozen=True, slots=True)
class NLUSettings:
    """The intent router."""

    rasa_url: str | None = setting(
        "VOICEFLOW_RASA_URL", None, "a Rasa server: enables the router's second tier", check=_http_url
    )
    model_dir: Path = setting(
        "VOICEFLOW_NLU_MODEL_DIR",
        Path(".voiceflow/models/setfit-intents"),
        "the trained SetFit intent models",
    )
    timezone: str = setting(
        "VOICEFLOW_BUSINESS_TZ", "America/New_York", "time zone relative dates resolve in", check=_timezone
    )


@dataclass(frozen=True, slots=True)
class STTSettings:
    """Speech-to-text: which recognizer the offline agent uses (cloud providers' URLs and keys too)."""

    engine: str = setting(
        "VOICEFLOW_STT",
        "pocketsphinx",
        "offline recognizer: `pocketsphinx` (domain language model) or `whisper` (Whisper tiny.en)",
        check=_one_of("pocketsphinx", "whisper"),
    )


@dataclass(frozen=True, slots=True)
class TTSSettings:
    """Text-to-speech: the engine choice and its provider's URL and key land here (none yet)."""


@dataclass(frozen=True, slots=True)
class LLMSettings:
    """An OpenAI-compatible chat server; without ``base_url`` the agent stays offline."""

    base_url: str | None = setting(
        "VOICEFLOW_LLM_BASE_URL", None, "OpenAI-compatible API base URL: the LLM agent replaces the policy",
        check=_http_url,
    )  # fmt: skip
    model: str = setting("VOICEFLOW_LLM_MODEL", "gpt-4o-mini", "model name sent to that server")
    api_key: str = setting("VOICEFLOW_LLM_API_KEY", "not-needed", "API key sent to that server", secret=True)


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """Process-wide knobs."""

    torch_threads: int = setting(
        "VOICEFLOW_TORCH_THREADS",
        1,
        "torch intra-op threads (1 keeps many small inferences fast)",
        check=_positive,
    )


@dataclass(frozen=True, slots=True)
class Config:
    """All settings, by section. ``Config()`` is the defaults; ``Config.from_env`` reads variables."""

    server: ServerSettings = field(default_factory=ServerSettings)
    paths: PathSettings = field(default_factory=PathSettings)
    stt: STTSettings = field(default_factory=STTSettings)
    nlu: NLUSettings = field(default_factory=NLUSettings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    tts: TTSSettings = field(default_factory=TTSSettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Every section from ``environ`` (default ``os.environ``); ``ConfigError`` lists every bad value."""
        env = os.environ if environ is None else environ
        problems: list[str] = []
        sections: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            try:
                sections[f.name] = section_from_env(_section_type(f), env)
            except ConfigError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ConfigError(problems)
        return cls(**sections)

    def describe(self) -> Iterator[tuple[Setting, object]]:
        """Each setting with its value here (secrets masked), in table order."""
        for f in dataclasses.fields(self):
            section = getattr(self, f.name)
            for s in _section_settings(f.name, type(section)):
                value = getattr(section, s.field)
                yield s, ("***" if s.secret and value is not None else value)


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the configuration table."""

    env: str
    section: str
    field: str
    type: str
    default: object
    doc: str
    secret: bool

    @property
    def key(self) -> str:
        return f"{self.section}.{self.field}"


def settings() -> list[Setting]:
    """Every setting of ``Config``, section by section (the README table lists the same)."""
    return [s for f in dataclasses.fields(Config) for s in _section_settings(f.name, _section_type(f))]


def unknown_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """``VOICEFLOW_*`` variables that are no setting (typos), each with a suggestion when one is close."""
    env = os.environ if environ is None else environ
    known = {s.env for s in settings()}
    suffixes = [k.removeprefix(PREFIX) for k in known if k.startswith(PREFIX)]
    out = []
    for name in sorted(n for n in env if n.startswith(PREFIX) and n not in known):
        close = difflib.get_close_matches(name.removeprefix(PREFIX), suffixes, n=1, cutoff=0.75)
        hint = f" (did you mean {PREFIX}{close[0]}?)" if close else ""
        out.append(f"{name} is not a voiceflow setting{hint}")
    return out


def section_from_env(cls: type[S], environ: Mapping[str, str] | None = None) -> S:
    """One section from ``environ`` (default ``os.environ``): unset or empty variables keep their default."""
    env = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = f.metadata.get("env")
        if name is None:  # a knob set in code only
            continue
        raw = env.get(name, "").strip()
        if not raw:
            continue
        kind = _value_type(hints[f.name])
        try:
            value = _parse(kind, raw)
        except ValueError:
            problems.append(f"{name}={raw!r} is not {_ARTICLE[kind]}")
            continue
        check: Check | None = f.metadata["check"]
        wrong = check(value) if check is not None else None
        if wrong is not None:
            problems.append(f"{name}={raw!r} {wrong}")
            continue
        values[f.name] = value
    if problems:
        raise ConfigError(problems)
    return cls(**values)


# -- internals -------------------------------------------------------------------------------------
_ARTICLE: dict[type, str] = {int: "an integer", float: "a number", str: "a string", Path: "a path"}


def _parse(kind: type, raw: str) -> object:
    if kind is int:
        return int(raw, 10)
    if kind is float:
        return float(raw)
    if kind is Path:
        return Path(raw).expanduser()
    return raw


def _value_type(hint: Any) -> type:
    """``int`` for ``int``, ``Path`` for ``Path | None``: the type a raw string parses into."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        (hint,) = (a for a in typing.get_args(hint) if a is not type(None))
    if hint not in _ARTICLE:
        raise TypeError(f"setting type {hint!r} has no parser; add one to voiceflow.config._parse")
    return typing.cast(type, hint)


def _section_type(f: dataclasses.Field[Any]) -> type:
    factory = f.default_factory
    if not isinstance(factory, type):
        raise TypeError(f"Config.{f.name} needs default_factory=<its section class>")
    return factory


def _section_settings(section: str, cls: type) -> list[Setting]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if "env" not in f.metadata:
            continue
        out.append(
            Setting(
                env=f.metadata["env"],
                section=section,
                field=f.name,
                type=_value_type(hints[f.name]).__name__,
                default=f.default,
                doc=f.metadata["doc"],
                secret=f.metadata["secret"],
            )
        )
    return out
