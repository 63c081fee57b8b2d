"""hub_image/accounts.py with the real useradd and groupadd, on a temporary system and /home.

useradd and groupadd run with --prefix pointed at a temporary etc/; the host's accounts are
never touched. Changing owners needs root, as in the container.
"""

import os
import stat

import pytest

from hub_image.accounts import AccountError, ensure_account
from tests.support import cannot_run


@pytest.fixture(autouse=True)
def as_root():
    """Changing owners to users' uids needs root, as in the container."""
    if os.geteuid() != 0:
        cannot_run("chown to users' uids needs root")


# Like the base image: root, nobody, and a built-in user at uid 1000 (Ubuntu's "ubuntu").
ACCOUNTS = """root:x:0:0:root:/root:/bin/bash
ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
GROUPS = "root:x:0:\nubuntu:x:1000:\nnogroup:x:65534:\n"


def new_container(path):
    """A fresh etc/ for the accounts, as a new container has: /home outlives it, this does not."""
    etc = path / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text(ACCOUNTS)
    (etc / "group").write_text(GROUPS)
    for secret in ("shadow", "gshadow"):
        (etc / secret).touch(mode=0o600)
    return str(path)


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return home


def account_lines(system, name):
    lines = (system / "etc" / "passwd").read_text().splitlines()
    return [line for line in lines if line.startswith(f"{name}:")]


def test_new_user_gets_an_account_and_a_private_home(tmp_path, home):
    system = new_container(tmp_path / "c1")
    account = ensure_account("jane.doe@uni.nl", home_root=str(home), system_root=system)
    assert account.name == "jane_doe_uni_nl"
    assert account.home == home / "jane_doe_uni_nl"
    assert account.uid == 1001  # 1000 is the image's own user
    info = account.home.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (1001, 1001, 0o700)
    assert account_lines(tmp_path / "c1", "jane_doe_uni_nl") == [
        f"jane_doe_uni_nl:x:1001:1001::{account.home}:/bin/bash"
    ]
    assert "jane_doe_uni_nl:x:1001:" in (tmp_path / "c1" / "etc" / "group").read_text()
    records = home / ".hub-owners"
    assert (records.stat().st_uid, stat.S_IMODE(records.stat().st_mode)) == (0, 0o700)
    assert (records / "jane_doe_uni_nl").read_text() == "jane.doe@uni.nl\n"


def test_ensuring_twice_changes_nothing(tmp_path, home):
    system = new_container(tmp_path / "c1")
    first = ensure_account("alice", home_root=str(home), system_root=system)
    (first.home / "notebook.ipynb").write_text("{}")
    assert ensure_account("alice", home_root=str(home), system_root=system) == first
    assert len(account_lines(tmp_path / "c1", "alice")) == 1
    assert (first.home / "notebook.ipynb").read_text() == "{}"


def test_long_names_get_a_short_unique_account_and_the_full_home(tmp_path, home):
    system = new_container(tmp_path / "c1")
    name = "a.very.long.first.name.and.surname@research.department.university.example.org"
    assert len(name) > 64
    account = ensure_account(name, home_root=str(home), system_root=system)
    other = ensure_account(name.replace("org", "net"), home_root=str(home), system_root=system)
    assert len(account.name) <= 32 and account.name != other.name
    assert account.home.name == name.replace(".", "_").replace("@", "_")
    assert account_lines(tmp_path / "c1", account.name)


def test_second_name_for_the_same_home_is_refused(tmp_path, home):
    system = new_container(tmp_path / "c1")
    first = ensure_account("a.b", home_root=str(home), system_root=system)
    with pytest.raises(AccountError) as refusal:
        ensure_account("a_b", home_root=str(home), system_root=system)
    message = str(refusal.value)
    assert "'a_b'" in message and "'a.b'" in message and str(first.home) in message
    assert refusal.value.jupyterhub_message == message  # what the spawn-failed page shows
    # Both names have the Unix account a_b: it stays a.b's, no second one is made.
    assert account_lines(tmp_path / "c1", "a_b") == [
        f"a_b:x:{first.uid}:{first.uid}::{first.home}:/bin/bash"
    ]


def test_refusal_survives_a_new_container(tmp_path, home):
    ensure_account("a.b", home_root=str(home), system_root=new_container(tmp_path / "c1"))
    with pytest.raises(AccountError, match="belongs to hub user 'a.b'"):
        ensure_account("a_b", home_root=str(home), system_root=new_container(tmp_path / "c2"))


def test_uids_follow_the_homes_whatever_the_order(tmp_path, home):
    first = new_container(tmp_path / "c1")
    uids = {name: ensure_account(name, str(home), first).uid for name in ("alice", "bob", "carol")}
    assert uids == {"alice": 1001, "bob": 1002, "carol": 1003}
    # A new container recreates accounts in another order, and meets a new user.
    second = new_container(tmp_path / "c2")
    again = {
        name: ensure_account(name, str(home), second).uid for name in ("carol", "dave", "alice")
    }
    assert again == {"carol": 1003, "dave": 1004, "alice": 1001}
    assert account_lines(tmp_path / "c2", "alice")[0].startswith("alice:x:1001:1001:")


def test_new_uid_avoids_accounts_groups_and_owners_on_home(tmp_path, home):
    system = new_container(tmp_path / "c1")
    stray = home / "stray"
    stray.mkdir()
    os.chown(stray, 1001, 1001)
    with open(tmp_path / "c1" / "etc" / "group", "a") as group:
        group.write("research:x:1002:\n")
    assert ensure_account("erin", home_root=str(home), system_root=system).uid == 1003


def test_home_is_made_private_again(tmp_path, home):
    system = new_container(tmp_path / "c1")
    account = ensure_account("alice", home_root=str(home), system_root=system)
    account.home.chmod(0o755)
    ensure_account("alice", home_root=str(home), system_root=system)
    assert stat.S_IMODE(account.home.stat().st_mode) == 0o700


@pytest.mark.parametrize("name", ["root", "ubuntu_x", "nobody"])
def test_system_accounts_and_foreign_homes_are_refused(tmp_path, home, name):
    system = new_container(tmp_path / "c1")
    if name == "ubuntu_x":  # a home owned by the image's own user is not a hub user's
        (home / name).mkdir()
        os.chown(home / name, 1000, 1000)
    with pytest.raises(AccountError):
        ensure_account(name, home_root=str(home), system_root=system)
    assert (tmp_path / "c1" / "etc" / "passwd").read_text() == ACCOUNTS


def test_invalid_hub_username_is_refused(tmp_path, home):
    with pytest.raises(AccountError, match="has whitespace"):
        ensure_account("jane doe", home_root=str(home), system_root=new_container(tmp_path))
