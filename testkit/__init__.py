"""Helpers the tests and the benchmarks share; never imported by the digitlab package itself."""
