"""The Unix accounts that run users' servers, and their private home directories.

/home is persistent storage that outlives the container; /etc/passwd is rebuilt with every
container. So the home directory is the source of truth: its owner's uid is reused whenever the
account is recreated, and a root-only record on /home says which hub user each directory is for.
"""

import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from users.names import HOME_ROOT, account_name_for, home_directory_for, username_problem

# Root-only (0700) directory on /home: one file per home directory, holding its hub username.
OWNERS_RECORD = ".hub-owners"
# Users' uids start here; below are the system's own accounts.
FIRST_UID = 1000
SHELL = "/bin/bash"


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


def ensure_account(username: str, home_root: str = HOME_ROOT, system_root: str = "/") -> Account:
    """Give hub user `username` its Unix account and private home directory; safe to repeat.

    `system_root` holds the etc/passwd and etc/group to change (tests point both roots at a
    temporary directory; useradd and groupadd then run with --prefix).
    """
    problem = username_problem(username)
    if problem:
        raise AccountError(f"hub username {username!r} {problem}")
    name = account_name_for(username)
    home = Path(home_root) / Path(home_directory_for(username)).name
    _claim_home(username, home)
    uid = _uid_for(name, home, system_root)
    groups = _read_table(system_root, "etc/group")
    if groups.get(name, (uid,))[0] != uid or _holder(groups, uid) not in (None, name):
        raise AccountError(f"cannot make group {name!r} with gid {uid}: a different group exists")
    prefix = [] if system_root == "/" else ["--prefix", system_root]
    if name not in groups:
        _run(["groupadd", "--gid", str(uid), *prefix, name])
    if name not in _read_table(system_root, "etc/passwd"):
        _run(["useradd", "--no-create-home", "--home-dir", str(home), "--uid", str(uid),
              "--gid", str(uid), "--shell", SHELL, *prefix, name])  # fmt: skip
    if not home.exists():
        home.mkdir(mode=0o700)
        os.chown(home, uid, uid)
    os.chmod(home, 0o700)
    return Account(name, uid, home)


def _claim_home(username: str, home: Path) -> None:
    """Record that `home` is `username`'s, or refuse if another hub user already has it."""
    records = home.parent / OWNERS_RECORD
    records.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(records, 0o700)
    record = records / home.name
    if not record.exists():
        # Link a complete file into place: two claims at once leave exactly one whole record.
        draft = records / f".{home.name}.draft"
        draft.write_text(username + "\n")
        try:
            os.link(draft, record)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    owner = record.read_text().strip()
    if owner != username:
        raise AccountError(
            f"hub user {username!r} cannot have the home directory {home}: it belongs to hub user "
            f"{owner!r} (their names map to the same directory); an administrator must rename one"
        )


def _uid_for(name: str, home: Path, system_root: str) -> int:
    """The account's uid: its existing one, else its home directory's owner, else a new one."""
    accounts = _read_table(system_root, "etc/passwd")
    owner = _owner_of(home)
    if name in accounts:
        uid, account_home = accounts[name]
        if account_home != str(home) or uid < FIRST_UID:
            raise AccountError(f"Unix account {name!r} already exists with home {account_home}")
        if owner not in (None, uid):
            raise AccountError(f"{home} is owned by uid {owner}, not by {name!r} (uid {uid})")
        return uid
    if owner is not None:
        holder = _holder(accounts, owner)
        if owner < FIRST_UID or holder is not None:
            raise AccountError(
                f"{home} is owned by uid {owner} ({holder or 'a system uid'}), not by a hub user; "
                f"give it back to its user's own uid (at least {FIRST_UID})"
            )
        return owner
    taken = {uid for uid, _ in accounts.values()}
    taken |= {gid for gid, _ in _read_table(system_root, "etc/group").values()}
    taken |= {entry.stat(follow_symlinks=False).st_uid for entry in os.scandir(home.parent)}
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
        raise AccountError(f"{home} exists but is not a directory")
    return info.st_uid


def _read_table(system_root: str, path: str) -> dict[str, tuple[int, str]]:
    """Name -> (numeric id, home) from an etc/passwd or etc/group file (home is '' for groups)."""
    table = {}
    for line in (Path(system_root) / path).read_text().splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isdigit():
            table[fields[0]] = (int(fields[2]), fields[5] if len(fields) > 5 else "")
    return table


def _holder(table: dict[str, tuple[int, str]], number: int) -> str | None:
    """The name that holds a numeric id in a table, if any."""
    return next((name for name, (held, _) in table.items() if held == number), None)


def _run(command: list[str]) -> None:
    """Run useradd or groupadd (an argument list, no shell); a failure becomes an AccountError."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AccountError(f"{command[0]} {command[-1]} failed: {done.stderr.strip()}")
