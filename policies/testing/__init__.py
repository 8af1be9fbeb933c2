"""Offline builders of tiny random-weight models of the real policy architectures (tests, benchmarks)."""
