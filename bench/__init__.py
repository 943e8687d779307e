"""Benchmarks of issue 6: `make bench` (or `python -m bench`). Not tests: nothing here is timed in CI."""
