"""Local fake provider servers speaking real wire protocols over real sockets (tests and benchmarks)."""
