"""Observability: per-turn latency tracking (Prometheus metrics and audits arrive with later issues)."""
