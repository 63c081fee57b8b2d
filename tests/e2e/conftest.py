"""End-to-end fixtures: timings of each stage (the engine and images: tests/conftest.py)."""

import time
from contextlib import contextmanager

# Seconds each stage took, printed at the end of the run.
STAGE_SECONDS: dict[str, float] = {}


@contextmanager
def stage(name: str):
    """Time one stage of the end-to-end run, for the summary."""
    started = time.monotonic()
    try:
        yield
    finally:
        STAGE_SECONDS[name] = time.monotonic() - started


def pytest_terminal_summary(terminalreporter):
    if STAGE_SECONDS:
        terminalreporter.section("end-to-end stages")
        for name, seconds in STAGE_SECONDS.items():
            terminalreporter.write_line(f"{seconds:8.1f} s  {name}")
