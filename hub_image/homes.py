"""Users' private home directories on /home, the one file system every user's server mounts a
part of: the hub keeps them, each server sees only its own (an EFS access point, or a bind mount).

/home outlives every hub and server. The home directory is the source of truth: its owner's uid
is the uid the user's server runs as, every time; a root-only record on /home says which hub user
each directory is for, and which identity (the provider's `sub`) first owned it. A name released
and taken by another identity does not get the earlier owner's files: they are moved aside, into
a root-only directory on /home, and the new owner starts with an empty home and a new uid.
"""

import contextlib
import logging
import os
import stat
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from users.names import HOME_ROOT, account_name_for, home_directory_for, username_problem

# Root-only (0700) directory on /home: one file per home directory, holding its hub username and
# the identity (`sub`) that first owned it, one a line.
OWNERS_RECORD = ".hub-owners"
# Root-only (0700) directory on /home: earlier owners' homes, moved aside when their name went to
# another identity; their uids are never handed out again.
RELEASED_HOMES = ".hub-released"
# Users' uids start here, and every uid at or above it is a user's: no user image has an account
# of its own there (user_image/Dockerfile removes the base's).
FIRST_UID = 1000

# One home made at a time, so two spawns at once never pick the same new uid.
_MAKING_HOMES = threading.Lock()

log = logging.getLogger("JupyterHub")


class HomeError(RuntimeError):
    """A home that must not be made; JupyterHub shows the message on the spawn-failed page."""

    @property
    def jupyterhub_message(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Home:
    name: str  # the directory's name: jane_doe_uni_nl
    uid: int
    path: Path  # where the hub has it
    # The Unix-style name the user has in their server: the home's name, shortened if long.
    account: str


def ensure_home(username: str, owner: str, home_root: str = HOME_ROOT) -> Home:
    """Give hub user `username`, the identity `owner` (its `sub`), its private home directory and
    the uid its server runs as; safe to repeat.

    Blocks (a scan of /home): call it off the event loop. Safe from many threads; two hubs on one
    /home are kept apart by the claim records (and one_hub.py keeps to one hub).
    """
    problem = username_problem(username)
    if problem:
        raise HomeError(f"hub username {username!r} {problem}")
    if not isinstance(owner, str) or not owner.strip() or "\n" in owner:
        raise HomeError(
            f"hub user {username!r} has no identity (sub) on record; they must log in again"
        )
    with _MAKING_HOMES:
        return _make_home(username, owner, Path(home_root))


def _make_home(username: str, owner: str, home_root: Path) -> Home:
    """ensure_home's work, for one caller at a time."""
    home = home_root / Path(home_directory_for(username)).name
    # Every refusal that /home can tell comes before the claim, so it writes nothing.
    earlier_owner = _earlier_owner(username, owner, home)
    if earlier_owner is not None:
        # Moved aside, not refused: nobody can reach /home by hand on AWS, and the files are kept.
        _release_home(username, owner, earlier_owner, home)
    uid = _uid_for(home)
    _claim_home(username, owner, home)
    if not home.exists():
        home.mkdir(mode=0o700)
        os.chown(home, uid, uid)
    os.chmod(home, 0o700)
    return Home(home.name, uid, home, account_name_for(username))


def _root_only(directory: Path) -> Path:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    return directory


def _read_record(record: Path) -> tuple[str, str | None]:
    """The hub user and identity a home's record names (None in a record from before identities)."""
    lines = record.read_text().splitlines()
    return lines[0].strip(), (lines[1].strip() if len(lines) > 1 else None)


def _write_record(record: Path, username: str, owner: str, replace: bool = False) -> None:
    """Put a complete record in place: linked (the first claim wins) or renamed over the old."""
    handle, draft = tempfile.mkstemp(dir=record.parent, prefix=f".{record.name}.")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(f"{username}\n{owner}\n")
        if replace:
            os.replace(draft, record)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(draft, record)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(draft)


def _check_name(username: str, recorded_name: str, home: Path) -> None:
    if recorded_name != username:
        raise HomeError(
            f"hub user {username!r} cannot have the home directory {home}: it belongs to hub user "
            f"{recorded_name!r} (their names map to the same directory); an administrator must "
            "rename one"
        )


def _earlier_owner(username: str, owner: str, home: Path) -> str | None:
    """The identity that owns `home` if it is not `owner` (the name was released, then taken by
    another), else None; refuse if another hub user's name maps to the same home."""
    record = home.parent / OWNERS_RECORD / home.name
    if not record.exists():
        return None
    recorded_name, recorded_owner = _read_record(record)
    _check_name(username, recorded_name, home)
    # A record from before identities were recorded goes to the name's identity now.
    return None if recorded_owner in (None, owner) else recorded_owner


def _release_home(username, owner, earlier_owner, home) -> None:
    """Move the earlier owner's home aside, root-only; its uid goes with it, never to be reused."""
    aside = _root_only(home.parent / RELEASED_HOMES) / (
        f"{home.name}.{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    )
    if home.exists():
        home.rename(aside)
    (home.parent / OWNERS_RECORD / home.name).unlink()
    log.warning(
        "Hub user %r is now identity %s, no longer %s: the earlier owner's home %s was moved to "
        "%s (root only), and %r starts with an empty home",
        username, owner, earlier_owner, home, aside, username,
    )  # fmt: skip


def _claim_home(username: str, owner: str, home: Path) -> None:
    """Record that `home` is `username`'s, owned by identity `owner`; refuse if another hub user
    (or, racing this claim, another identity) has it."""
    record = _root_only(home.parent / OWNERS_RECORD) / home.name
    if not record.exists():
        # Each claim links its own complete draft into place: exactly one whole record wins.
        _write_record(record, username, owner)
    recorded_name, recorded_owner = _read_record(record)
    _check_name(username, recorded_name, home)
    if recorded_owner is None:
        _write_record(record, username, owner, replace=True)
    elif recorded_owner != owner:
        raise HomeError(f"{home} was just claimed for {username!r} by another identity")


def _uid_for(home: Path) -> int:
    """The home's uid: its directory's owner's, else a new one no home (or released home) has."""
    owner = _owner_of(home)
    if owner is not None:
        if owner < FIRST_UID:
            raise HomeError(
                f"{home} is owned by uid {owner}, a system uid, not a hub user's; give it back to "
                f"its user's own uid (at least {FIRST_UID})"
            )
        return owner
    taken = {entry.stat(follow_symlinks=False).st_uid for entry in os.scandir(home.parent)}
    released = home.parent / RELEASED_HOMES
    if released.is_dir():
        taken |= {entry.stat(follow_symlinks=False).st_uid for entry in os.scandir(released)}
    uid = FIRST_UID
    while uid in taken:
        uid += 1
    return uid


def _owner_of(home: Path) -> int | None:
    """The uid owning an existing home directory, or None; anything but a directory is refused."""
    try:
        info = home.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        raise HomeError(f"{home} exists but is not a directory")
    return info.st_uid
