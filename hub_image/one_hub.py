"""Exactly one hub writes its database: a hub holds a lock on its data directory while it runs.

The hub's SQLite database lives on EFS, which two hubs must never write at once (ECS's deploy
stops the old task before it starts the new one, but a stopping task can still be writing while
its successor starts). So each hub takes an exclusive lock on a file next to the database before
JupyterHub opens it, and holds it until its process ends; a second hub waits for it, saying so.
EFS (NFS 4.1) keeps such locks for its clients, and frees one whose client has gone.
"""

import fcntl
import time
from pathlib import Path

LOCK_FILE = "hub.lock"
# While it waits, the waiting hub says so this often.
REPORT_SECONDS = 10


def hold_the_database(data_dir: Path, log, wait_seconds: float = 900) -> object:
    """Take the data directory's lock, waiting for another hub to let go of it; the open file
    holds it (keep it for the life of the process). SystemExit if it cannot be had in time."""
    handle = open(data_dir / LOCK_FILE, "a")  # noqa: SIM115 (held for the process's life)
    deadline = time.monotonic() + wait_seconds
    reported = 0.0
    while True:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except OSError:
            now = time.monotonic()
            if now > deadline:
                raise SystemExit(
                    f"{data_dir / LOCK_FILE}: another hub has held the database for "
                    f"{wait_seconds:.0f} s; stop it (only one hub may run) and start this one again"
                ) from None
            if now - reported >= REPORT_SECONDS:
                log.warning("Waiting for the other hub to stop: it holds %s", data_dir / LOCK_FILE)
                reported = now
            # The lock frees when the other process ends: nothing to wait on but time.
            time.sleep(0.5)
