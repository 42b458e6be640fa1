"""Provider-neutral LLM errors.

Adapters translate their SDK's exceptions into these, so the agent (and the
caller) handle one family whatever the provider: a status code when the server
answered, whether a retry could help and, for rate limits, how long to wait.

    LLMError
    ├── LLMConnectionError      unreachable, reset, dropped mid-stream
    │   └── LLMTimeoutError     no answer (or a stalled stream) within the timeout
    └── LLMStatusError          an HTTP error status
        ├── LLMAuthError        401 / 403
        ├── LLMRateLimitError   429 (``retry_after`` from the provider's header)
        └── LLMProviderError    5xx: the provider failed (retryable)
"""

from __future__ import annotations


class LLMError(Exception):
    """A request to an LLM provider failed."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        provider: str = "",
        retryable: bool = False,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.provider = provider
        self.retryable = retryable
        self.code = code
        #: seconds the provider asked us to wait before retrying (``Retry-After``), when it said
        self.retry_after = retry_after
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.provider}: " if self.provider else ""
        status = f"HTTP {self.status}: " if self.status is not None else ""
        return f"{where}{status}{self.message}"


class LLMConnectionError(LLMError):
    """The server could not be reached (refused, reset, DNS) or dropped the stream."""


class LLMTimeoutError(LLMConnectionError):
    """The server did not answer (or stopped streaming) within the timeout."""


class LLMStatusError(LLMError):
    """The server answered with an HTTP error status (``status`` holds it)."""


class LLMAuthError(LLMStatusError):
    """401/403: the API key was refused."""


class LLMRateLimitError(LLMStatusError):
    """429: too many requests or tokens; retryable after ``retry_after`` seconds when given."""


class LLMProviderError(LLMStatusError):
    """5xx: the provider failed or is overloaded; retryable."""


def status_error(
    status: int,
    message: str,
    *,
    provider: str,
    code: str | None = None,
    retry_after: float | None = None,
) -> LLMStatusError:
    """The error for an HTTP status, whatever SDK reported it: auth, rate limit (retryable
    after ``retry_after``), provider failure (retryable) or another refusal."""
    if status in (401, 403):
        return LLMAuthError(message, status=status, provider=provider, code=code)
    if status == 429:
        return LLMRateLimitError(
            message, status=status, provider=provider, retryable=True, code=code, retry_after=retry_after
        )
    if status >= 500:
        return LLMProviderError(
            message, status=status, provider=provider, retryable=True, code=code, retry_after=retry_after
        )
    return LLMStatusError(message, status=status, provider=provider, code=code)
