"""Reliability tests: the fault matrix, crash loops, leaks of secrets and numbers, TLS."""
