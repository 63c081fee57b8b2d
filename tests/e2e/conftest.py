"""End-to-end fixtures: a Docker engine (required in CI), a registry with a password, timings."""

import os
import time
from contextlib import contextmanager

import pytest

from local.docker_cli import engine_problem
from tests.support import cannot_run

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


@pytest.fixture(scope="session")
def docker_engine():
    """A Docker engine that answers; in CI (CI=true) its absence fails the run, never skips it."""
    problem = engine_problem()
    if problem:
        cannot_run(f"no Docker engine ({problem}); start one, e.g. local/start_docker.sh")


@pytest.fixture(scope="session")
def base_image(docker_engine):
    """The BASE_IMAGE to build FROM: `make test` sets it (official image, or the stand-in)."""
    name = os.environ.get("BASE_IMAGE")
    if not name:
        pytest.fail("BASE_IMAGE is not set; run the tests with `make test`, which chooses it")
    return name
