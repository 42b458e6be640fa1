"""Contract tests: one per engine kind, run against every adapter of that kind."""
