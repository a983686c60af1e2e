"""The benchmark of SPEC 12: `make bench` or `python -m bench.run` (see BENCHMARKS.md)."""
