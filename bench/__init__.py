"""Benchmarks: each module runs on its own (`python -m bench.prepare`) and prints a table."""
