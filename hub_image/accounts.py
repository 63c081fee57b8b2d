"""The Unix accounts that run users' servers, and their private home directories.

/home is persistent storage that outlives the container; /etc/passwd is rebuilt with every
container. So the home directory is the source of truth: its owner's uid is reused whenever the
account is recreated, and a root-only record on /home says which hub user each directory is for.
Only accounts the hub made (marked in their GECOS field) are ever reused: the image's own
accounts and groups are never handed to a hub user.
"""

import os
import stat
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from users.names import HOME_ROOT, account_name_for, home_directory_for, username_problem

# Root-only (0700) directory on /home: one file per home directory, holding its hub username.
OWNERS_RECORD = ".hub-owners"
# Users' uids start here; below are the system's own accounts.
FIRST_UID = 1000
SHELL = "/bin/bash"
# The GECOS field of every account the hub makes: it lives and dies with the account itself.
HUB_ACCOUNT_MARK = "serverless-hub user"

# One account made at a time, so two spawns at once never pick the same new uid.
_MAKING_ACCOUNTS = threading.Lock()


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


def ensure_account(username: str, home_root: str = HOME_ROOT, system_root: str = "/") -> Account:
    """Give hub user `username` its Unix account and private home directory; safe to repeat.

    Blocks (useradd, a scan of /home): call it off the event loop. Safe from many threads.
    `system_root` holds the etc/passwd and etc/group to change (tests point both roots at a
    temporary directory; useradd and groupadd then run with --prefix).
    """
    problem = username_problem(username)
    if problem:
        raise AccountError(f"hub username {username!r} {problem}")
    with _MAKING_ACCOUNTS:
        return _make_account(username, Path(home_root), system_root)


def _make_account(username: str, home_root: Path, system_root: str) -> Account:
    """ensure_account's work, for one caller at a time."""
    name = account_name_for(username)
    home = home_root / Path(home_directory_for(username)).name
    # Every refusal that /etc and /home can tell comes before the claim, so it writes nothing.
    made = _hub_account(username, name, system_root)
    uid = _uid_for(name, made, home, system_root)
    _check_group(name, uid, system_root)
    _claim_home(username, home)
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


def _claim_home(username: str, home: Path) -> None:
    """Record that `home` is `username`'s, or refuse if another hub user already has it."""
    records = home.parent / OWNERS_RECORD
    records.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(records, 0o700)
    record = records / home.name
    if not record.exists():
        # Each claim links its own complete draft into place: exactly one whole record wins.
        handle, draft = tempfile.mkstemp(dir=records, prefix=f".{home.name}.")
        try:
            with os.fdopen(handle, "w") as file:
                file.write(username + "\n")
            os.link(draft, record)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    owner = record.read_text().strip()
    if owner != username:
        raise AccountError(
            f"hub user {username!r} cannot have the home directory {home}: it belongs to hub user "
            f"{owner!r} (their names map to the same directory); an administrator must rename one"
        )


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
