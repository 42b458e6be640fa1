"""Test support shared by tests and benchmarks: local fake provider servers, audio fixtures."""
