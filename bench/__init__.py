"""Benchmarks: measured speed, scale and cost (``python -m bench`` runs them all)."""
