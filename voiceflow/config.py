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
    "GuardSettings",
    "LLMSettings",
    "NLUSettings",
    "PathSettings",
    "RealtimeSettings",
    "RuntimeSettings",
    "STTSettings",
    "SecuritySettings",
    "ServerSettings",
    "SessionSettings",
    "Setting",
    "TTSSettings",
    "TelephonySettings",
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


def _non_negative(value: int) -> str | None:
    return None if value >= 0 else "must not be negative"


def _unit(value: float) -> str | None:
    return None if 0.0 <= value <= 1.0 else "must be between 0 and 1"


def _seconds(value: float) -> str | None:
    return None if 0 < value <= 3600 else "must be between 0 and 3600 seconds"


def _http_url(value: str) -> str | None:
    parts = urlsplit(value)
    return None if parts.scheme in ("http", "https") and parts.netloc else "is not an http(s):// URL"


def _ws_or_http_url(value: str) -> str | None:
    parts = urlsplit(value)
    ok = parts.scheme in ("ws", "wss", "http", "https") and parts.netloc
    return None if ok else "is not a ws(s):// or http(s):// URL"


def _keywords(value: str) -> str | None:
    for item in value.split(","):
        _, _, intensity = item.strip().partition(":")
        try:
            float(intensity or 1)
        except ValueError:
            return f"has an intensity that is not a number ({item.strip()!r}); write word:2"
    return None


def _one_of(*choices: str) -> Check:
    def check(value: str) -> str | None:
        return None if value in choices else "is not one of " + ", ".join(repr(c) for c in choices)

    return check


def _redis_url(value: str) -> str | None:
    parts = urlsplit(value)
    ok = parts.scheme in ("redis", "rediss", "unix") and (parts.netloc or parts.path)
    return None if ok else "is not a redis://, rediss:// or unix:// URL"


def _not_negative(value: float) -> str | None:
    return None if value >= 0 else "must not be negative"


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
        "when set, every `/twilio/` request (webhook, callbacks, media handshake) needs X-Twilio-Signature",
        secret=True,
    )


@dataclass(frozen=True, slots=True)
class GuardSettings:
    """The edge: body and time bounds, who may connect, how many calls are admitted (``voiceflow.guard``)."""

    env: str = setting(
        "VOICEFLOW_ENV", "development",
        "`production` requires VOICEFLOW_PUBLIC_HOST and refuses any other Host header",
        check=_one_of("development", "production"),
    )  # fmt: skip
    secret: str | None = setting(
        "VOICEFLOW_SECRET", None,
        "key signing stream and page tokens (default: random per start; set it when several processes serve)",
        secret=True,
    )  # fmt: skip
    allowed_origins: str = setting(
        "VOICEFLOW_ALLOWED_ORIGINS", "",
        "origins (comma-separated, https://app.example.com) allowed besides the server's own",
    )  # fmt: skip
    docs: str = setting(
        "VOICEFLOW_DOCS", "off", "`on` serves /docs and /openapi.json", check=_one_of("on", "off")
    )
    stream_token_ttl_s: float = setting(
        "VOICEFLOW_STREAM_TOKEN_TTL", 60.0,
        "seconds a webhook's one-time Media Streams token stays valid", check=_seconds,
    )  # fmt: skip
    page_token_ttl_s: float = setting(
        "VOICEFLOW_PAGE_TOKEN_TTL", 600.0,
        "seconds the page's token for /ws and /webrtc/offer stays valid", check=_seconds,
    )  # fmt: skip
    max_body_bytes: int = setting(
        "VOICEFLOW_MAX_BODY_BYTES", 64 * 1024, "largest HTTP request body (413 beyond)", check=_positive
    )
    header_timeout_s: float = setting(
        "VOICEFLOW_HEADER_TIMEOUT", 10.0, "seconds a client has to send its request headers (408 beyond)",
        check=_seconds,
    )  # fmt: skip
    body_timeout_s: float = setting(
        "VOICEFLOW_BODY_TIMEOUT", 10.0, "seconds a client has to send its request body (408 beyond)",
        check=_seconds,
    )  # fmt: skip
    max_calls: int = setting(
        "VOICEFLOW_MAX_CALLS",
        24,
        "live calls plus unconnected offers the server admits (all workers; 503 beyond)",
        check=_positive,
    )  # fmt: skip
    max_calls_per_address: int = setting(
        "VOICEFLOW_MAX_CALLS_PER_ADDRESS",
        8,
        "of those, how many one client address may hold",
        check=_positive,
    )
    max_pending_offers: int = setting(
        "VOICEFLOW_MAX_PENDING_OFFERS",
        16,
        "WebRTC offers answered but not yet connected (all workers; 503 beyond)",
        check=_positive,
    )  # fmt: skip
    retry_after_s: int = setting(
        "VOICEFLOW_RETRY_AFTER", 5, "the Retry-After seconds a 503 asks a client to wait", check=_positive
    )
    workers: int = setting(
        "VOICEFLOW_WORKERS", 1, "server processes sharing the port (one per core holds the most calls)",
        check=_positive,
    )  # fmt: skip
    prewarm_calls: int = setting(
        "VOICEFLOW_PREWARM_CALLS",
        2,
        "recognizers each worker builds at start (~max calls / workers; one built mid-call stalls audio)",
        check=_positive,
    )

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(o.strip().rstrip("/").lower() for o in self.allowed_origins.split(",") if o.strip())


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
    """Speech-to-text: which recognizer the agent uses (cloud providers' URLs and keys too)."""

    engine: str = setting(
        "VOICEFLOW_STT",
        "whisper",
        "recognizer: `whisper` (Whisper tiny.en), `pocketsphinx` (domain language model; `offline` "
        "is an alias) or `deepgram` (cloud, streaming)",
        check=_one_of("pocketsphinx", "offline", "whisper", "deepgram"),
    )
    whisper_interims: str = setting(
        "VOICEFLOW_WHISPER_INTERIMS",
        "off",
        "`on`: pocketsphinx runs beside Whisper for live interim text (twice the recognition CPU); "
        "`off`: the VAD alone says when the caller speaks",
        check=_one_of("on", "off"),
    )
    deepgram_api_key: str | None = setting(
        "DEEPGRAM_API_KEY", None, "Deepgram API key (required with `VOICEFLOW_STT=deepgram`)", secret=True
    )
    deepgram_url: str | None = setting(
        "VOICEFLOW_DEEPGRAM_URL",
        None,
        "Deepgram's WebSocket base URL (default `wss://api.deepgram.com`)",
        check=_ws_or_http_url,
    )
    deepgram_model: str = setting(
        "VOICEFLOW_DEEPGRAM_MODEL", "nova-2", "Deepgram model (`nova-2`, `nova-3`, …)"
    )
    deepgram_endpointing_ms: int = setting(
        "VOICEFLOW_DEEPGRAM_ENDPOINTING_MS",
        800,
        "ms of silence after which Deepgram closes an utterance (`speech_final`)",
        check=_positive,
    )
    deepgram_utterance_end_ms: int = setting(
        "VOICEFLOW_DEEPGRAM_UTTERANCE_END_MS",
        1000,
        "ms without words after which Deepgram sends `UtteranceEnd`",
        check=_positive,
    )
    deepgram_keywords: str | None = setting(
        "VOICEFLOW_DEEPGRAM_KEYWORDS",
        None,
        "words Deepgram boosts, comma-separated, each with an optional intensity (`refund:2,order`)",
        check=_keywords,
    )
    endpointing: str = setting(
        "VOICEFLOW_ENDPOINTING",
        "voiceflow",
        "who ends the caller's turn in the cloud pipeline: `voiceflow` (our VAD and endpointer) or "
        "`deepgram` (its `speech_final` / `UtteranceEnd`)",
        check=_one_of("voiceflow", "deepgram"),
    )
    turn_model: str = setting(
        "VOICEFLOW_TURN_MODEL",
        "smart-turn",
        "audio end-of-turn model the endpointer combines with the words: `smart-turn` (v3.2) or `none`",
        check=_one_of("smart-turn", "none"),
    )
    processes: int = setting(
        "VOICEFLOW_STT_PROCESSES",
        1,
        "child processes per worker that run the pocketsphinx decoders (their decode holds the GIL); "
        "`0` decodes in the worker's threads",
        check=_non_negative,
    )

    @property
    def recognizer(self) -> str:
        """The engine's canonical name (``offline`` is pocketsphinx)."""
        return "pocketsphinx" if self.engine == "offline" else self.engine


def _nonnegative(value: float) -> str | None:
    return None if value >= 0 else "must not be negative"


@dataclass(frozen=True, slots=True)
class TTSSettings:
    """Text-to-speech for the cloud pipeline: which voice(s), the router's policy, each provider's
    URL, key, voice and price (the offline pipeline always speaks with Piper)."""

    engine: str = setting(
        "VOICEFLOW_TTS",
        "router",
        "cloud voice: `router` (each voice with a key, then Piper), `elevenlabs`, `cartesia`, `piper`",
        check=_one_of("router", "elevenlabs", "cartesia", "piper"),
    )
    policy: str = setting(
        "VOICEFLOW_TTS_POLICY",
        "auto",
        "router policy per utterance: `auto` (live first audio, health), `quality`, `speed`, `cost`",
        check=_one_of("auto", "quality", "speed", "cost"),
    )
    first_audio_timeout: float = setting(
        "VOICEFLOW_TTS_FIRST_AUDIO_TIMEOUT", 2.0, "seconds a voice may take to first audio before failover",
        check=_nonnegative,
    )  # fmt: skip
    cache_mb: float = setting(
        "VOICEFLOW_TTS_CACHE_MB",
        16.0,
        "Piper audio kept for texts said again (the greeting, set answers), per worker; 0: none",
        check=_nonnegative,
    )
    elevenlabs_api_key: str | None = setting("ELEVENLABS_API_KEY", None, "ElevenLabs API key", secret=True)
    elevenlabs_url: str = setting(
        "VOICEFLOW_ELEVENLABS_URL", "https://api.elevenlabs.io", "ElevenLabs API base URL", check=_http_url
    )
    elevenlabs_voice: str = setting(
        "VOICEFLOW_ELEVENLABS_VOICE", "21m00Tcm4TlvDq8ikWAM", "ElevenLabs voice id"
    )
    elevenlabs_model: str = setting(
        "VOICEFLOW_ELEVENLABS_MODEL",
        "eleven_multilingual_v2",
        "ElevenLabs model (multilingual takes a language)",
    )
    elevenlabs_price: float = setting(
        "VOICEFLOW_ELEVENLABS_PRICE", 0.30, "ElevenLabs price per 1 000 characters (your plan's), for `cost`",
        check=_nonnegative,
    )  # fmt: skip
    cartesia_api_key: str | None = setting("CARTESIA_API_KEY", None, "Cartesia API key", secret=True)
    cartesia_url: str = setting(
        "VOICEFLOW_CARTESIA_URL", "https://api.cartesia.ai", "Cartesia API base URL", check=_http_url
    )
    cartesia_voice: str = setting(
        "VOICEFLOW_CARTESIA_VOICE", "a0e99841-438c-4a64-b679-ae501e7d6091", "Cartesia voice id"
    )
    cartesia_model: str = setting("VOICEFLOW_CARTESIA_MODEL", "sonic-3", "Cartesia model")
    cartesia_price: float = setting(
        "VOICEFLOW_CARTESIA_PRICE", 0.05, "Cartesia price per 1 000 characters (your plan's), for `cost`",
        check=_nonnegative,
    )  # fmt: skip
    language: str = setting("VOICEFLOW_TTS_LANGUAGE", "en", "language code the cloud voices speak")


#: the model each provider gets when ``VOICEFLOW_LLM_MODEL`` is unset
DEFAULT_LLM_MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-3-5-haiku-latest",
    "gemini": "gemini-2.0-flash",
}


@dataclass(frozen=True, slots=True)
class LLMSettings:
    """The LLM agent's provider (OpenAI or any compatible server, Anthropic, Gemini), or none."""

    base_url: str | None = setting(
        "VOICEFLOW_LLM_BASE_URL", None, "OpenAI-compatible API base URL: the LLM agent replaces the policy",
        check=_http_url,
    )  # fmt: skip
    model: str | None = setting(
        "VOICEFLOW_LLM_MODEL",
        None,
        "model name (default: `gpt-4o-mini`, `claude-3-5-haiku-latest` or `gemini-2.0-flash` by provider)",
    )
    api_key: str = setting("VOICEFLOW_LLM_API_KEY", "not-needed", "API key sent to that server", secret=True)
    provider: str | None = setting(
        "VOICEFLOW_LLM",
        None,
        "LLM provider: `openai`, `anthropic`, `gemini` or `none` (default: `openai` when "
        "`VOICEFLOW_LLM_BASE_URL` is set, else none)",
        check=_one_of("openai", "anthropic", "gemini", "none"),
    )
    openai_api_key: str | None = setting(
        "OPENAI_API_KEY", None, "OpenAI API key (LLM agent and OpenAI Realtime)", secret=True
    )
    openai_url: str | None = setting(
        "VOICEFLOW_OPENAI_URL",
        None,
        "OpenAI API base URL (default `https://api.openai.com/v1`)",
        check=_http_url,
    )
    anthropic_api_key: str | None = setting(
        "ANTHROPIC_API_KEY", None, "Anthropic API key (required with `VOICEFLOW_LLM=anthropic`)", secret=True
    )
    anthropic_url: str | None = setting(
        "VOICEFLOW_ANTHROPIC_URL", None, "Anthropic API base URL (default `https://api.anthropic.com`)",
        check=_http_url,
    )  # fmt: skip
    gemini_api_key: str | None = setting(
        "GEMINI_API_KEY", None, "Gemini API key (required with `VOICEFLOW_LLM=gemini`)", secret=True
    )
    gemini_url: str | None = setting(
        "VOICEFLOW_GEMINI_URL", None, "Gemini API base URL (default `https://generativelanguage.googleapis.com`)",
        check=_http_url,
    )  # fmt: skip

    @property
    def chosen(self) -> str:
        """The provider in use: ``VOICEFLOW_LLM``, else ``openai`` with a base URL, else ``none``."""
        if self.provider is not None:
            return self.provider
        return "openai" if self.base_url is not None else "none"

    @property
    def model_name(self) -> str:
        return self.model or DEFAULT_LLM_MODELS.get(self.chosen, "gpt-4o-mini")

    @property
    def openai_base_url(self) -> str | None:
        """``VOICEFLOW_OPENAI_URL``, else ``VOICEFLOW_LLM_BASE_URL`` (None: api.openai.com)."""
        return self.openai_url or self.base_url

    @property
    def openai_key(self) -> str | None:
        """``OPENAI_API_KEY``, else a ``VOICEFLOW_LLM_API_KEY`` that was set, else None."""
        if self.openai_api_key:
            return self.openai_api_key
        return self.api_key if self.api_key != "not-needed" else None


@dataclass(frozen=True, slots=True)
class RealtimeSettings:
    """The speech-to-speech pipeline (OpenAI Realtime); key and URL are the ``llm`` section's OpenAI ones."""

    model: str = setting("VOICEFLOW_REALTIME_MODEL", "gpt-realtime", "Realtime model the session asks for")
    voice: str = setting("VOICEFLOW_REALTIME_VOICE", "marin", "voice the Realtime model speaks with")
    turn_detection: str = setting(
        "VOICEFLOW_REALTIME_TURN_DETECTION", "server_vad", "`server_vad` or `semantic_vad`",
        check=_one_of("server_vad", "semantic_vad"),
    )  # fmt: skip
    vad_threshold: float = setting(
        "VOICEFLOW_REALTIME_VAD_THRESHOLD", 0.5, "server_vad: speech probability that starts speech",
        check=_unit,
    )  # fmt: skip
    silence_ms: int = setting(
        "VOICEFLOW_REALTIME_SILENCE_MS", 500, "server_vad: silence that ends the caller's turn (ms)",
        check=_positive,
    )  # fmt: skip
    prefix_padding_ms: int = setting(
        "VOICEFLOW_REALTIME_PREFIX_PADDING_MS", 300, "server_vad: audio kept before speech start (ms)",
        check=_non_negative,
    )  # fmt: skip
    eagerness: str = setting(
        "VOICEFLOW_REALTIME_EAGERNESS", "auto", "semantic_vad: `low`, `medium`, `high` or `auto`",
        check=_one_of("low", "medium", "high", "auto"),
    )  # fmt: skip


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
class TelephonySettings:
    """Outbound calls, transfers and campaigns through Twilio's REST API (auth token: ``server``)."""

    account_sid: str | None = setting(
        "TWILIO_ACCOUNT_SID", None, "Twilio account SID: enables outbound calls, transfers and campaigns"
    )
    api_url: str = setting(
        "VOICEFLOW_TWILIO_API_URL",
        "https://api.twilio.com",
        "base URL of Twilio's REST API (a local fake in tests)",
        check=_http_url,
    )
    caller_id: str | None = setting(
        "VOICEFLOW_CALLER_ID", None, "our number (E.164) that outbound calls and transfers come from"
    )
    callback_url: str | None = setting(
        "VOICEFLOW_CALLBACK_URL",
        None,
        "http(s) base URL Twilio posts status/AMD callbacks to (default: https://VOICEFLOW_PUBLIC_HOST)",
        check=_http_url,
    )
    amd: str = setting(
        "VOICEFLOW_AMD",
        "twilio",
        "answering-machine detection: `twilio` (async AMD callback) or `local` (our detector on the audio)",
        check=_one_of("twilio", "local"),
    )
    transfer_numbers: str | None = setting(
        "VOICEFLOW_TRANSFER_NUMBERS",
        None,
        "where transfers go: `department=+E164,...` (e.g. `billing=+15550100,sales=+15550101`)",
    )
    transfer_timeout: int = setting(
        "VOICEFLOW_TRANSFER_TIMEOUT", 20, "seconds a transfer rings before it counts as not answered",
        check=_positive,
    )  # fmt: skip
    campaign_db: Path = setting(
        "VOICEFLOW_CAMPAIGN_DB",
        Path(".voiceflow/data/campaigns.db"),
        "campaigns, contacts, DNC list, call records",
    )
    admin_token: str | None = setting(
        "VOICEFLOW_ADMIN_TOKEN", None, "bearer token for the `/admin` HTTP API (unset: the API is closed)",
        secret=True,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """Call sessions shared across instances (Redis), and this instance's name among them."""

    redis_url: str | None = setting(
        "VOICEFLOW_REDIS_URL",
        None,
        "Redis for call sessions and cross-instance commands (unset: this process's memory only)",
        check=_redis_url,
    )
    instance_id: str | None = setting(
        "VOICEFLOW_INSTANCE_ID", None, "this instance's name among several (default: host name and pid)"
    )
    ttl_s: int = setting(
        "VOICEFLOW_SESSION_TTL", 86400, "seconds a call's session record is kept after its last change",
        check=_positive,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    """Admin access, rate limits, PII redaction, logs and retention (``voiceflow.security``)."""

    admin_tokens: str | None = setting(
        "VOICEFLOW_ADMIN_TOKENS",
        None,
        "admin bearer tokens, hashed: comma-separated `name:scope:sha256hex` (`voiceflow admin-token`)",
        secret=True,
    )
    metrics_auth: str = setting(
        "VOICEFLOW_METRICS_AUTH", "off", "`on`: `GET /metrics` needs a read-scope admin token",
        check=_one_of("on", "off"),
    )  # fmt: skip
    redaction: str = setting(
        "VOICEFLOW_REDACT", "on", "`on`: PII is redacted in logs, stored transcripts and memory summaries",
        check=_one_of("on", "off"),
    )  # fmt: skip
    redact_llm_input: str = setting(
        "VOICEFLOW_REDACT_LLM_INPUT", "off", "`on`: PII is redacted from what is sent to a cloud LLM",
        check=_one_of("on", "off"),
    )  # fmt: skip
    log_format: str = setting(
        "VOICEFLOW_LOG_FORMAT", "text", "`json`: one JSON object per log line (call id on every call's line)",
        check=_one_of("text", "json"),
    )  # fmt: skip
    rate_limit_requests: int = setting(
        "VOICEFLOW_RATE_LIMIT_REQUESTS", 200, "HTTP requests per client IP per window (0: no limit)",
        check=_not_negative,
    )  # fmt: skip
    rate_limit_window_s: float = setting(
        "VOICEFLOW_RATE_LIMIT_WINDOW", 60.0, "the rate limit's window in seconds", check=_not_negative
    )
    ws_max_per_ip: int = setting(
        "VOICEFLOW_WS_MAX_PER_IP",
        100,
        "concurrent WebSockets per client IP (0: no limit)",
        check=_not_negative,
    )
    ws_connects_per_s: int = setting(
        "VOICEFLOW_WS_CONNECTS_PER_SEC", 20, "WebSocket connects per client IP per second (0: no limit)",
        check=_not_negative,
    )  # fmt: skip
    trusted_proxies: str | None = setting(
        "VOICEFLOW_TRUSTED_PROXIES",
        None,
        "comma-separated proxy IPs/CIDRs whose X-Forwarded-For is believed",
    )
    retention_days: int | None = setting(
        "VOICEFLOW_RETENTION_DAYS", None, "stored transcripts and call history older than this are purged",
        check=_positive,
    )  # fmt: skip
    max_call_seconds: int = setting(
        "VOICEFLOW_MAX_CALL_SECONDS",
        3600,
        "a call is ended after this long (session timeout)",
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
    telephony: TelephonySettings = field(default_factory=TelephonySettings)
    sessions: SessionSettings = field(default_factory=SessionSettings)
    realtime: RealtimeSettings = field(default_factory=RealtimeSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    guard: GuardSettings = field(default_factory=GuardSettings)

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
        config = cls(**sections)
        missing = _missing_keys(config)
        if missing:
            raise ConfigError(missing)
        return config

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
def _missing_keys(config: Config) -> list[str]:
    """The key each chosen cloud provider needs: missing, the process must not start."""
    problems = []
    if config.stt.recognizer == "deepgram" and not config.stt.deepgram_api_key:
        problems.append("VOICEFLOW_STT=deepgram needs DEEPGRAM_API_KEY")
    llm = config.llm
    if llm.chosen == "anthropic" and not llm.anthropic_api_key:
        problems.append("VOICEFLOW_LLM=anthropic needs ANTHROPIC_API_KEY")
    if llm.chosen == "gemini" and not llm.gemini_api_key:
        problems.append("VOICEFLOW_LLM=gemini needs GEMINI_API_KEY")
    if llm.chosen == "openai" and llm.openai_base_url is None and llm.openai_key is None:
        # a compatible server at VOICEFLOW_LLM_BASE_URL / VOICEFLOW_OPENAI_URL may need no key
        problems.append("VOICEFLOW_LLM=openai needs OPENAI_API_KEY (or a VOICEFLOW_OPENAI_URL server)")
    tts = config.tts
    if tts.engine == "elevenlabs" and not tts.elevenlabs_api_key:
        problems.append("VOICEFLOW_TTS=elevenlabs needs ELEVENLABS_API_KEY")
    if tts.engine == "cartesia" and not tts.cartesia_api_key:
        problems.append("VOICEFLOW_TTS=cartesia needs CARTESIA_API_KEY")
    return problems


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
