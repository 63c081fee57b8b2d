"""The Unix accounts that run users' servers, and their private home directories.

/home is persistent storage that outlives the container; /etc/passwd is rebuilt with every
container. So the home directory is the source of truth: its owner's uid is reused whenever the
account is recreated, and a root-only record on /home says which hub user each directory is for,
and which identity (the provider's `sub`) first owned it. A name released and taken by another
identity does not get the earlier owner's files: they are moved aside, into a root-only directory
on /home, and the new owner starts with an empty home and a new uid.
Only accounts the hub made (marked in their GECOS field) are ever reused: the image's own
accounts and groups are never handed to a hub user.
"""

import contextlib
import logging
import os
import stat
import subprocess
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
# Users' uids start here; below are the system's own accounts.
FIRST_UID = 1000
SHELL = "/bin/bash"
# The GECOS field of every account the hub makes: it lives and dies with the account itself.
HUB_ACCOUNT_MARK = "serverless-hub user"

# One account made at a time, so two spawns at once never pick the same new uid.
_MAKING_ACCOUNTS = threading.Lock()

log = logging.getLogger("JupyterHub")


class AccountError(RuntimeError):
    """An account that must not be made; JupyterHub shows the message on the spawn-failed page."""

    @property
    def jupyterhub_message(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    home: Path


@dataclass(frozen=True)
class _Entry:
    """One line of etc/passwd or etc/group (comment and home are '' for groups)."""

    id: int
    comment: str = ""
    home: str = ""


def ensure_account(
    username: str, owner: str, home_root: str = HOME_ROOT, system_root: str = "/"
) -> Account:
    """Give hub user `username`, the identity `owner` (its `sub`), its Unix account and private
    home directory; safe to repeat.

    Blocks (useradd, a scan of /home): call it off the event loop. Safe from many threads.
    `system_root` holds the etc/passwd and etc/group to change (tests point both roots at a
    temporary directory; useradd and groupadd then run with --prefix).
    """
    problem = username_problem(username)
    if problem:
        raise AccountError(f"hub username {username!r} {problem}")
    if not isinstance(owner, str) or not owner.strip() or "\n" in owner:
        raise AccountError(
            f"hub user {username!r} has no identity (sub) on record; they must log in again"
        )
    with _MAKING_ACCOUNTS:
        return _make_account(username, owner, Path(home_root), system_root)


def _make_account(username: str, owner: str, home_root: Path, system_root: str) -> Account:
    """ensure_account's work, for one caller at a time."""
    name = account_name_for(username)
    home = home_root / Path(home_directory_for(username)).name
    # Every refusal that /etc and /home can tell comes before the claim, so it writes nothing.
    made = _hub_account(username, name, system_root)
    earlier_owner = _earlier_owner(username, owner, home)
    if earlier_owner is not None:
        # Moved aside, not refused: nobody can reach /home by hand on AWS, and the files are kept.
        _release_home(username, owner, earlier_owner, home, made, name, system_root)
        made = None
    uid = _uid_for(name, made, home, system_root)
    _check_group(name, uid, system_root)
    _claim_home(username, owner, home)
    if made is None:
        _add_account(name, uid, home, system_root)
    if not home.exists():
        home.mkdir(mode=0o700)
        os.chown(home, uid, uid)
    os.chmod(home, 0o700)
    return Account(name, uid, home)


def _hub_account(username: str, name: str, system_root: str) -> _Entry | None:
    """The account the hub made for `name` before, or None; the image's accounts are refused."""
    account = _read_table(system_root, "etc/passwd").get(name)
    if account is not None and account.comment != HUB_ACCOUNT_MARK:
        raise _belongs_to_image(username, "account", name, f"uid {account.id}")
    group = _read_table(system_root, "etc/group").get(name)
    if account is None and group is not None:
        raise _belongs_to_image(username, "group", name, f"gid {group.id}")
    return account


def _belongs_to_image(username: str, kind: str, name: str, number: str) -> AccountError:
    """The refusal for a name the image's own account or group already has."""
    return AccountError(
        f"hub user {username!r} cannot have the Unix {kind} {name!r}: it belongs to the "
        f"image/system ({number}), not to a hub user; an administrator must give this hub user "
        f"another name"
    )


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
        raise AccountError(
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


def _release_home(username, owner, earlier_owner, home, made, name, system_root) -> None:
    """Move the earlier owner's home aside, root-only, and retire their account here."""
    if made is not None:
        # Their account in this container: its uid must not pass to the new owner.
        prefix = [] if system_root == "/" else ["--prefix", system_root]
        try:
            _run(["userdel", *prefix, name])
        except AccountError as error:
            raise AccountError(
                f"hub user {username!r} cannot start yet: the name's earlier owner still has the "
                f"Unix account {name!r} here ({error}); an administrator can end its processes "
                "or restart the hub, then the home is moved aside"
            ) from None
        # userdel leaves the group when login.defs says nothing of USERGROUPS_ENAB.
        if name in _read_table(system_root, "etc/group"):
            _run(["groupdel", *prefix, name])
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
        raise AccountError(f"{home} was just claimed for {username!r} by another identity")


def _uid_for(name: str, made: _Entry | None, home: Path, system_root: str) -> int:
    """The account's uid: the hub's earlier one, else its home directory's owner, else a new one."""
    owner = _owner_of(home)
    if made is not None:
        if made.home != str(home):
            raise AccountError(f"Unix account {name!r} already exists with home {made.home}")
        if owner not in (None, made.id):
            raise AccountError(f"{home} is owned by uid {owner}, not by {name!r} (uid {made.id})")
        return made.id
    accounts = _read_table(system_root, "etc/passwd")
    if owner is not None:
        holder = _holder(accounts, owner)
        if owner < FIRST_UID or holder is not None:
            raise AccountError(
                f"{home} is owned by uid {owner} ({holder or 'a system uid'}), not by a hub user; "
                f"give it back to its user's own uid (at least {FIRST_UID})"
            )
        return owner
    taken = {entry.id for entry in accounts.values()}
    taken |= {entry.id for entry in _read_table(system_root, "etc/group").values()}
    taken |= {entry.stat(follow_symlinks=False).st_uid for entry in os.scandir(home.parent)}
    released = home.parent / RELEASED_HOMES
    if released.is_dir():
        taken |= {entry.stat(follow_symlinks=False).st_uid for entry in os.scandir(released)}
    uid = FIRST_UID
    while uid in taken:
        uid += 1
    return uid


def _check_group(name: str, uid: int, system_root: str) -> None:
    """Refuse when the account's group (gid = uid) cannot be made or is not the hub's own."""
    groups = _read_table(system_root, "etc/group")
    if groups.get(name, _Entry(uid)).id != uid or _holder(groups, uid) not in (None, name):
        raise AccountError(f"cannot make group {name!r} with gid {uid}: a different group exists")


def _add_account(name: str, uid: int, home: Path, system_root: str) -> None:
    """Make the group and the marked account, or neither."""
    prefix = [] if system_root == "/" else ["--prefix", system_root]
    _run(["groupadd", "--gid", str(uid), *prefix, name])
    try:
        _run(["useradd", "--no-create-home", "--home-dir", str(home), "--uid", str(uid),
              "--gid", str(uid), "--shell", SHELL, "--comment", HUB_ACCOUNT_MARK,
              *prefix, name])  # fmt: skip
    except AccountError:
        # A lone group would look like the image's own and refuse this user from now on.
        subprocess.run(["groupdel", *prefix, name], capture_output=True, check=False)
        raise


def _owner_of(home: Path) -> int | None:
    """The uid owning an existing home directory, or None; anything but a directory is refused."""
    try:
        info = home.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        raise AccountError(f"{home} exists but is not a directory")
    return info.st_uid


def _read_table(system_root: str, path: str) -> dict[str, _Entry]:
    """Name -> entry from an etc/passwd or etc/group file."""
    table = {}
    for line in (Path(system_root) / path).read_text().splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isdigit():
            table[fields[0]] = _Entry(int(fields[2]), *fields[4:6])
    return table


def _holder(table: dict[str, _Entry], number: int) -> str | None:
    """The name that holds a numeric id in a table, if any."""
    return next((name for name, entry in table.items() if entry.id == number), None)


def _run(command: list[str]) -> None:
    """Run useradd or groupadd (an argument list, no shell); a failure becomes an AccountError."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AccountError(f"{command[0]} {command[-1]} failed: {done.stderr.strip()}")
