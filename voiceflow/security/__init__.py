"""Security: PII redaction, admin tokens and audit log, rate limits, Twilio signatures."""
