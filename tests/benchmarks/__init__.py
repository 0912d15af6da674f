"""Tests of the benchmark scripts: they run, on tiny shapes, so they cannot rot."""
