"""Doubles for the console, the tests and the benchmarks: a fake Bot API (in process and
over HTTP) and a simulator that drives the real Application through it. Not part of the
running bot."""
