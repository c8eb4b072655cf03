"""Benchmarks of Cordial: print tables, assert nothing. Run them with `scripts/bench`."""
