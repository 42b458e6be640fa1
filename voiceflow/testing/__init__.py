"""The public test kit: local fake provider servers (``voiceflow.testing.fakes``) that speak the
providers' real wire protocols over real sockets, for tests and benchmarks. The product never imports it."""
