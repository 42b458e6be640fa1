"""The compliance controls: 20 checks from HIPAA's Security Rule and PCI DSS v4.0, run against a deployment.

Each control reads the live configuration, the database or the logs and answers
pass / warn / fail with the evidence it saw and what to do about it. A control
that cannot look (no database yet, no log given) says so as a warning instead of
passing silently. ``voiceflow.compliance.report`` scores and renders the results.
"""

from __future__ import annotations

import sqlite3
import stat
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from voiceflow.config import SecuritySettings, ServerSettings
from voiceflow.security.audit_log import AUDIT_FILE
from voiceflow.security.client_ip import TrustedProxies
from voiceflow.security.redaction import SEVERITY, Redactor
from voiceflow.security.tokens import TokenError, TokenStore

__all__ = ["CONTROLS", "Control", "Deployment", "Result", "run_controls"]

DB_FILE = "voiceflow.db"
#: text columns scanned for PII in the agent's database
SCANNED = (
    ("conversation_turns", "text"),
    ("call_history", "topic"),
    ("user_memory", "preferences"),
    ("feedback", "comment"),
    ("transfers", "reason"),
)
SCAN_ROWS = 50_000
MAX_SESSION_S = 4 * 3600


@dataclass
class Deployment:
    """What the auditor looks at."""

    server: ServerSettings = field(default_factory=ServerSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    data_dir: Path = Path(".voiceflow/data")
    llm_base_url: str | None = None
    log_files: list[Path] = field(default_factory=list)
    twiml: Callable[[str], str] | None = None  # host -> the webhook's TwiML
    #: the telephony's single plain ``VOICEFLOW_ADMIN_TOKEN`` is set (an admin token kept in the clear)
    plain_admin_token: bool = False

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILE


@dataclass(frozen=True)
class Result:
    id: str
    title: str
    reference: str
    severity: str  # critical | high | medium | low: what a failure costs
    status: str  # pass | warn | fail
    evidence: str
    remediation: str

    def as_json(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    reference: str
    severity: str
    remediation: str
    check: Callable[[Deployment], tuple[str, str]]  # -> (status, evidence)

    def run(self, d: Deployment) -> Result:
        try:
            status, evidence = self.check(d)
        except Exception as exc:  # a control that cannot run is a finding, not a crash
            status, evidence = "warn", f"could not evaluate: {type(exc).__name__}: {exc}"
        return Result(self.id, self.title, self.reference, self.severity, status, evidence, self.remediation)


# -- helpers -----------------------------------------------------------------------------------------
def _tokens(d: Deployment) -> TokenStore:
    return TokenStore.parse(d.security.admin_tokens)


def _connect_ro(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _scan_texts(texts: Iterable[str]) -> Counter[str]:
    redactor = Redactor()
    found: Counter[str] = Counter()
    for text in texts:
        for f in redactor.find(text):
            found[f.type] += 1
    return found


def _db_findings(d: Deployment) -> Counter[str] | None:
    if not d.db_path.exists():
        return None
    conn = _connect_ro(d.db_path)
    try:
        present = _tables(conn)
        texts: list[str] = []
        for table, column in SCANNED:
            if table in present:
                rows = conn.execute(f"SELECT {column} FROM {table} LIMIT ?", (SCAN_ROWS,))
                texts.extend(str(r[0]) for r in rows if r[0])
    finally:
        conn.close()
    return _scan_texts(texts)


def _by_severity(found: Counter[str]) -> str:
    return ", ".join(f"{n} {kind} ({SEVERITY[kind]})" for kind, n in found.most_common())


# -- the checks --------------------------------------------------------------------------------------
def admin_auth(d: Deployment) -> tuple[str, str]:
    try:
        store = _tokens(d)
    except TokenError as exc:
        return "fail", f"VOICEFLOW_ADMIN_TOKENS is malformed: {exc}"
    if d.plain_admin_token:
        return "warn", "VOICEFLOW_ADMIN_TOKEN is set: an unscoped admin token kept in the clear"
    if not store:
        return (
            "warn",
            "no admin tokens: the admin API is closed to everyone (fail-closed), operators cannot use it",
        )
    return "pass", f"{len(store.tokens)} hashed bearer token(s); every /admin route requires one"


def least_privilege(d: Deployment) -> tuple[str, str]:
    store = _tokens(d)
    scopes = Counter(t.scope for t in store.tokens)
    if not store:
        return "pass", "no tokens issued"
    if scopes["read"] == 0:
        return "warn", f"all {scopes['admin']} token(s) have the admin scope; none is read-only"
    return "pass", f"{scopes['read']} read-only and {scopes['admin']} admin token(s)"


def unique_ids(d: Deployment) -> tuple[str, str]:
    store = _tokens(d)
    names = Counter(t.name for t in store.tokens)
    digests = Counter(t.digest for t in store.tokens)
    shared = [n for n, c in names.items() if c > 1]
    if shared or any(c > 1 for c in digests.values()):
        return (
            "fail",
            f"token names or secrets shared between entries: {', '.join(shared) or 'same digest twice'}",
        )
    return "pass", f"{len(names)} distinct token name(s), each recorded as the actor in the audit log"


def session_timeout(d: Deployment) -> tuple[str, str]:
    limit = d.security.max_call_seconds
    if limit > MAX_SESSION_S:
        return "warn", f"calls may last {limit} s (VOICEFLOW_MAX_CALL_SECONDS) before being ended"
    return "pass", f"calls are ended after {limit} s (VOICEFLOW_MAX_CALL_SECONDS)"


def audit_log(d: Deployment) -> tuple[str, str]:
    path = d.data_dir / AUDIT_FILE
    if not path.exists():
        return "warn", f"{path} does not exist yet (created on the first /admin request)"
    conn = _connect_ro(path)
    try:
        if "admin_audit" not in _tables(conn):
            return "fail", f"{path} has no admin_audit table"
        n = conn.execute("SELECT COUNT(*) FROM admin_audit").fetchone()[0]
    finally:
        conn.close()
    return "pass", f"{path}: {n} admin action(s) recorded"


def metrics_exposure(d: Deployment) -> tuple[str, str]:
    if d.security.metrics_auth == "on":
        return "pass", "GET /metrics requires a read-scope token"
    return (
        "warn",
        "GET /metrics is unauthenticated (VOICEFLOW_METRICS_AUTH=off); keep it on a private network",
    )


def tls_in_twiml(d: Deployment) -> tuple[str, str]:
    host = d.server.public_host
    twiml = d.twiml(host or "HOST") if d.twiml is not None else ""
    if twiml and "wss://" not in twiml:
        return "fail", "the webhook's TwiML streams media over an unencrypted ws:// URL"
    if not host:
        return "warn", "no VOICEFLOW_PUBLIC_HOST: the wss:// host is taken from the request's Host header"
    return "pass", f"TwiML streams to wss://{host}/twilio/media (TLS)"


def twilio_signatures(d: Deployment) -> tuple[str, str]:
    if d.server.twilio_auth_token:
        return (
            "pass",
            "X-Twilio-Signature is required on the webhook, callbacks and the Media Streams handshake",
        )
    return "fail", "TWILIO_AUTH_TOKEN is not set: anyone can post webhooks and open media streams"


def log_redaction(d: Deployment) -> tuple[str, str]:
    if d.security.redaction == "on":
        return "pass", "logs, stored transcripts and memory summaries pass through the PII redactor"
    return "fail", "VOICEFLOW_REDACT=off: card numbers and SSNs said by callers reach logs and the database"


def llm_redaction(d: Deployment) -> tuple[str, str]:
    url = d.llm_base_url
    if not url:
        return "pass", "no LLM configured: nothing leaves the machine"
    host = urlsplit(url).hostname or ""
    local = host in ("localhost", "127.0.0.1", "::1") or host.endswith(".internal")
    if local or d.security.redact_llm_input == "on":
        return (
            "pass",
            f"LLM at {host}: {'local' if local else 'input redacted (VOICEFLOW_REDACT_LLM_INPUT=on)'}",
        )
    return "warn", f"caller words go unredacted to the LLM at {host} (VOICEFLOW_REDACT_LLM_INPUT=off)"


def retention_configured(d: Deployment) -> tuple[str, str]:
    days = d.security.retention_days
    if days is None:
        return "fail", "VOICEFLOW_RETENTION_DAYS is not set: transcripts are kept forever"
    return "pass", f"transcripts and call history are kept {days} day(s)"


def retention_enforced(d: Deployment) -> tuple[str, str]:
    days = d.security.retention_days
    if days is None:
        return "fail", "no retention period, so nothing is purged"
    if not d.db_path.exists():
        return "pass", "no database yet"
    from voiceflow.compliance.retention import cutoff

    conn = _connect_ro(d.db_path)
    try:
        if "conversation_turns" not in _tables(conn):
            return "pass", "no stored transcripts"
        old = conn.execute("SELECT COUNT(*) FROM conversation_turns WHERE created_at < ?", (cutoff(days),))
        n = old.fetchone()[0]
    finally:
        conn.close()
    if n:
        return "fail", f"{n} stored turn(s) older than {days} day(s): the purge job is not running"
    return "pass", f"no stored turn is older than {days} day(s)"


def db_permissions(d: Deployment) -> tuple[str, str]:
    paths = [p for p in (d.db_path, d.data_dir / AUDIT_FILE) if p.exists()]
    if not paths:
        return "warn", f"no database in {d.data_dir} to check"
    loose = [f"{p.name} {stat.filemode(p.stat().st_mode)}" for p in paths if p.stat().st_mode & stat.S_IROTH]
    if loose:
        return "fail", "readable by every local user: " + ", ".join(loose)
    return "pass", ", ".join(f"{p.name} {stat.filemode(p.stat().st_mode)}" for p in paths)


def _stored(kinds: set[str], label: str) -> Callable[[Deployment], tuple[str, str]]:
    def check(d: Deployment) -> tuple[str, str]:
        found = _db_findings(d)
        if found is None:
            return "pass", "no database yet"
        hits = Counter({k: n for k, n in found.items() if k in kinds})
        if hits:
            return "fail", f"{label} in stored text: {_by_severity(hits)}"
        return "pass", f"scanned {', '.join(t for t, _ in SCANNED)}: none found"

    return check


def other_pii_stored(d: Deployment) -> tuple[str, str]:
    found = _db_findings(d)
    if found is None:
        return "pass", "no database yet"
    hits = Counter({k: n for k, n in found.items() if k not in ("payment_card", "ssn")})
    if any(SEVERITY[k] in ("critical", "high") for k in hits):
        return "fail", f"stored: {_by_severity(hits)}"
    if hits:
        return "warn", f"stored: {_by_severity(hits)}"
    return "pass", "no other PII found in stored text"


def db_integrity(d: Deployment) -> tuple[str, str]:
    if not d.db_path.exists():
        return "pass", "no database yet"
    conn = _connect_ro(d.db_path)
    try:
        answer = conn.execute("PRAGMA quick_check").fetchone()[0]
    finally:
        conn.close()
    return ("pass", "PRAGMA quick_check: ok") if answer == "ok" else ("fail", f"PRAGMA quick_check: {answer}")


def logs_clean(d: Deployment) -> tuple[str, str]:
    files = [p for p in d.log_files if p.exists()]
    if not files:
        return "warn", "no log file given to scan (voiceflow audit --log FILE)"
    found: Counter[str] = Counter()
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as lines:
            found += _scan_texts(line for line in lines)
    hits = Counter({k: n for k, n in found.items() if k in ("payment_card", "ssn")})
    if hits:
        return "fail", f"in {', '.join(p.name for p in files)}: {_by_severity(hits)}"
    return "pass", f"scanned {len(files)} file(s): no card numbers or SSNs"


def structured_logs(d: Deployment) -> tuple[str, str]:
    if d.security.log_format == "json":
        return "pass", "JSON log lines with time, level, logger and call id"
    return "warn", "plain-text logs (VOICEFLOW_LOG_FORMAT=text): the call id is there but harder to query"


def rate_limits(d: Deployment) -> tuple[str, str]:
    s = d.security
    off = [
        name
        for name, v in (
            ("VOICEFLOW_RATE_LIMIT_REQUESTS", s.rate_limit_requests),
            ("VOICEFLOW_WS_MAX_PER_IP", s.ws_max_per_ip),
            ("VOICEFLOW_WS_CONNECTS_PER_SEC", s.ws_connects_per_s),
        )
        if not v
    ]
    if off:
        return "fail", "switched off: " + ", ".join(off)
    return "pass", (
        f"{s.rate_limit_requests} requests / {s.rate_limit_window_s:g} s, {s.ws_max_per_ip} "
        f"WebSockets and {s.ws_connects_per_s} connects/s per client IP"
    )


def trusted_proxies(d: Deployment) -> tuple[str, str]:
    proxies = TrustedProxies.parse(d.security.trusted_proxies)
    everyone = [str(n) for n in proxies.networks if n.prefixlen == 0]
    if everyone:
        return "fail", f"X-Forwarded-For is believed from anyone ({', '.join(everyone)}): IP limits are void"
    if not proxies.networks:
        return "pass", "X-Forwarded-For is ignored (no trusted proxy)"
    return "pass", "X-Forwarded-For believed only from " + ", ".join(str(n) for n in proxies.networks)


CONTROLS: tuple[Control, ...] = (
    Control(
        "AC-1",
        "Admin API requires authentication",
        "HIPAA 164.312(d); PCI DSS 8.2.1, 8.3.1",
        "critical",
        "Create tokens with `voiceflow admin-token NAME --scope read|admin` and set VOICEFLOW_ADMIN_TOKENS.",
        admin_auth,
    ),
    Control(
        "AC-2",
        "Least privilege for operators",
        "HIPAA 164.308(a)(4); PCI DSS 7.2.1",
        "medium",
        "Give read-only operators a `read` scope token; keep `admin` tokens few.",
        least_privilege,
    ),
    Control(
        "AC-3",
        "Unique user identification",
        "HIPAA 164.312(a)(2)(i); PCI DSS 8.2.1",
        "high",
        "Issue one token per person or system, each with its own name.",
        unique_ids,
    ),
    Control(
        "AC-4",
        "Automatic session end",
        "HIPAA 164.312(a)(2)(iii); PCI DSS 8.2.8",
        "medium",
        "Set VOICEFLOW_MAX_CALL_SECONDS to at most 14400.",
        session_timeout,
    ),
    Control(
        "AU-1",
        "Admin actions are logged",
        "HIPAA 164.312(b); PCI DSS 10.2.1.2",
        "high",
        "Keep DATA_DIR/audit.db; it is written on every /admin request.",
        audit_log,
    ),
    Control(
        "AU-2",
        "Monitoring endpoint access",
        "PCI DSS 10.7.2; HIPAA 164.308(a)(1)(ii)(D)",
        "low",
        "Set VOICEFLOW_METRICS_AUTH=on or keep /metrics reachable only from the scraper.",
        metrics_exposure,
    ),
    Control(
        "TS-1",
        "Media encrypted in transit (wss://)",
        "HIPAA 164.312(e)(1); PCI DSS 4.2.1",
        "critical",
        "Serve behind TLS and set VOICEFLOW_PUBLIC_HOST to the public TLS host name.",
        tls_in_twiml,
    ),
    Control(
        "TS-2",
        "Twilio requests authenticated",
        "HIPAA 164.312(c)(1), 164.312(d); PCI DSS 6.4.1",
        "critical",
        "Set TWILIO_AUTH_TOKEN to the account's auth token.",
        twilio_signatures,
    ),
    Control(
        "PII-1",
        "PII redacted in logs and storage",
        "PCI DSS 3.3.1, 3.4.1; HIPAA 164.502(b)",
        "critical",
        "Set VOICEFLOW_REDACT=on (the default).",
        log_redaction,
    ),
    Control(
        "PII-2",
        "PII kept from third-party LLMs",
        "HIPAA 164.502(e); PCI DSS 3.4.1",
        "high",
        "Set VOICEFLOW_REDACT_LLM_INPUT=on or use a model under a business associate agreement.",
        llm_redaction,
    ),
    Control(
        "RET-1",
        "Retention period defined",
        "PCI DSS 3.2.1; HIPAA 164.316(b)(2)",
        "high",
        "Set VOICEFLOW_RETENTION_DAYS (e.g. 30).",
        retention_configured,
    ),
    Control(
        "RET-2",
        "Retention enforced (purge job)",
        "PCI DSS 3.2.1; HIPAA 164.310(d)(2)(i)",
        "high",
        "Run the server (it purges daily) or `voiceflow audit --purge` from cron.",
        retention_enforced,
    ),
    Control(
        "DB-1",
        "Database files not world-readable",
        "HIPAA 164.312(a)(1); PCI DSS 7.2.6",
        "high",
        "chmod 600 DATA_DIR/*.db and run the service under its own user.",
        db_permissions,
    ),
    Control(
        "DB-2",
        "No card numbers or SSNs stored",
        "PCI DSS 3.3.1, 3.5.1; HIPAA 164.514(b)",
        "critical",
        "Keep VOICEFLOW_REDACT=on; delete the affected rows and shorten retention.",
        _stored({"payment_card", "ssn"}, "card data / SSNs"),
    ),
    Control(
        "DB-3",
        "Other PII minimised in storage",
        "HIPAA 164.502(b), 164.514(d)",
        "medium",
        "Keep VOICEFLOW_REDACT=on; shorten VOICEFLOW_RETENTION_DAYS.",
        other_pii_stored,
    ),
    Control(
        "DB-4",
        "Stored data integrity",
        "HIPAA 164.312(c)(1), 164.312(c)(2); PCI DSS 11.5",
        "medium",
        "Restore the database from a backup and investigate.",
        db_integrity,
    ),
    Control(
        "LOG-1",
        "No card numbers or SSNs in logs",
        "PCI DSS 3.3.1, 10.3.1; HIPAA 164.312(b)",
        "critical",
        "Keep VOICEFLOW_REDACT=on; rotate and destroy the affected log files.",
        logs_clean,
    ),
    Control(
        "LOG-2",
        "Structured, attributable log lines",
        "PCI DSS 10.2.2; HIPAA 164.312(b)",
        "low",
        "Set VOICEFLOW_LOG_FORMAT=json.",
        structured_logs,
    ),
    Control(
        "NET-1",
        "Rate limits on",
        "PCI DSS 6.4.1; HIPAA 164.308(a)(1)",
        "medium",
        "Set VOICEFLOW_RATE_LIMIT_REQUESTS, VOICEFLOW_WS_MAX_PER_IP and "
        "VOICEFLOW_WS_CONNECTS_PER_SEC above 0.",
        rate_limits,
    ),
    Control(
        "NET-2",
        "Client IPs not forgeable",
        "PCI DSS 1.4.2, 10.2.1",
        "medium",
        "List only your reverse proxies in VOICEFLOW_TRUSTED_PROXIES.",
        trusted_proxies,
    ),
)


def run_controls(d: Deployment) -> list[Result]:
    return [c.run(d) for c in CONTROLS]
