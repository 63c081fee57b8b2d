"""One hub at a time on a data directory: a second waits until the first has stopped."""

import subprocess
import sys
import textwrap
import threading

import pytest

from hub_image.one_hub import hold_the_database
from tests.support import wait_for

HUB = textwrap.dedent(
    """
    import logging, sys
    from pathlib import Path
    from hub_image.one_hub import hold_the_database
    logging.basicConfig(stream=sys.stdout, format="%(message)s")
    wait = float(sys.argv[2])
    held = hold_the_database(Path(sys.argv[1]), logging.getLogger(), wait_seconds=wait)
    print("holding the database", flush=True)
    sys.stdin.read()
    """
)


def hub(data_dir, wait_seconds=60) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HUB, str(data_dir), str(wait_seconds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # What it says, collected as it says it, so waiting for a line never blocks on the pipe.
    process.lines = []
    threading.Thread(
        target=lambda: process.lines.extend(line.strip() for line in process.stdout), daemon=True
    ).start()
    return process


def said(process: subprocess.Popen, line: str) -> None:
    wait_for(lambda: line in process.lines, 30, f"a hub saying {line!r} (it said {process.lines})")


def test_a_second_hub_waits_for_the_first_to_stop(tmp_path):
    first = hub(tmp_path)
    said(first, "holding the database")
    second = hub(tmp_path)
    try:
        said(second, f"Waiting for the other hub to stop: it holds {tmp_path / 'hub.lock'}")
        assert second.poll() is None
        first.stdin.close()
        first.wait(timeout=30)
        said(second, "holding the database")
    finally:
        for process in (first, second):
            process.kill()
            process.wait()


def test_a_hub_that_cannot_have_the_database_says_what_to_do(tmp_path):
    first = hub(tmp_path)
    said(first, "holding the database")
    try:
        with open(tmp_path / "hub.lock", "a"):
            with pytest.raises(SystemExit) as stopped:
                hold_the_database(tmp_path, log=__import__("logging").getLogger(), wait_seconds=1)
        assert str(stopped.value) == (
            f"{tmp_path / 'hub.lock'}: another hub has held the database for 1 s; stop it (only "
            "one hub may run) and start this one again"
        )
    finally:
        first.kill()
        first.wait()
