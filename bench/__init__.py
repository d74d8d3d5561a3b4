"""Benchmarks (ratios in one run), never imported by the package."""
