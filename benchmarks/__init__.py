"""Benchmarks of the hub image and the program (`make bench`); not part of the tests."""
