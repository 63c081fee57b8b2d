"""Waiting for something to be ready: poll a check until it holds, with a deadline and a name."""

import time


def wait_for(check, seconds: float, what: str, interval: float = 0.1):
    """Call `check` until it returns something truthy and return that; at the deadline, raise
    TimeoutError naming `what`. A check that finds a lost cause (a process exited) raises itself."""
    deadline = time.monotonic() + seconds
    while not (result := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {seconds}s waiting for {what}")
        time.sleep(interval)
    return result
