"""hub_image/accounts.py with the real useradd and groupadd, on a temporary system and /home.

useradd and groupadd run with --prefix pointed at a temporary etc/; the host's accounts are
never touched. Changing owners needs root, as in the container.
"""

import multiprocessing
import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from hub_image.accounts import HUB_ACCOUNT_MARK, AccountError, ensure_account
from tests.support import cannot_run


@pytest.fixture(autouse=True)
def as_root():
    """Changing owners to users' uids needs root, as in the container."""
    if os.geteuid() != 0:
        cannot_run("chown to users' uids needs root")


# Like the base image: root, daemon, nobody, and a built-in user at uid 1000 (Ubuntu's "ubuntu").
ACCOUNTS = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
GROUPS = "root:x:0:\ndaemon:x:1:\nusers:x:100:\nubuntu:x:1000:\nnogroup:x:65534:\n"
# Rounds of each race: enough for threads or processes started together to overlap.
ROUNDS = 20
# Seconds a racing process may take before the test gives up on it.
PROCESS_TIMEOUT = 30


def new_container(path):
    """A fresh etc/ for the accounts, as a new container has: /home outlives it, this does not."""
    etc = path / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text(ACCOUNTS)
    (etc / "group").write_text(GROUPS)
    for secret in ("shadow", "gshadow"):
        (etc / secret).touch(mode=0o600)
    return str(path)


def ensure(username, home, system, owner=None):
    """ensure_account for one hub user, whose identity is `owner` (by default one of its own)."""
    return ensure_account(username, owner or f"sub-of-{username}", str(home), system)


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return home


def etc_files(system):
    return {name: (system / "etc" / name).read_text() for name in ("passwd", "group")}


def account_lines(system, name):
    lines = (system / "etc" / "passwd").read_text().splitlines()
    return [line for line in lines if line.startswith(f"{name}:")]


def test_new_user_gets_an_account_and_a_private_home(tmp_path, home):
    system = new_container(tmp_path / "c1")
    account = ensure("jane.doe@uni.nl", home, system)
    assert account.name == "jane_doe_uni_nl"
    assert account.home == home / "jane_doe_uni_nl"
    assert account.uid == 1001  # 1000 is the image's own user
    info = account.home.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (1001, 1001, 0o700)
    assert account_lines(tmp_path / "c1", "jane_doe_uni_nl") == [
        f"jane_doe_uni_nl:x:1001:1001:{HUB_ACCOUNT_MARK}:{account.home}:/bin/bash"
    ]
    assert "jane_doe_uni_nl:x:1001:" in (tmp_path / "c1" / "etc" / "group").read_text()
    records = home / ".hub-owners"
    assert (records.stat().st_uid, stat.S_IMODE(records.stat().st_mode)) == (0, 0o700)
    # The hub user, then the identity that owns the home.
    assert (records / "jane_doe_uni_nl").read_text() == "jane.doe@uni.nl\nsub-of-jane.doe@uni.nl\n"


def test_ensuring_twice_changes_nothing(tmp_path, home):
    """The second call is a restarted hub in the same container: the hub's own account is reused."""
    system = new_container(tmp_path / "c1")
    first = ensure("alice", home, system)
    (first.home / "notebook.ipynb").write_text("{}")
    before = etc_files(tmp_path / "c1")
    assert ensure("alice", home, system) == first
    assert etc_files(tmp_path / "c1") == before
    assert (first.home / "notebook.ipynb").read_text() == "{}"


def test_long_names_get_a_short_unique_account_and_the_full_home(tmp_path, home):
    system = new_container(tmp_path / "c1")
    name = "a.very.long.first.name.and.surname@research.department.university.example.org"
    assert len(name) > 64
    account = ensure(name, home, system)
    other = ensure(name.replace("org", "net"), home, system)
    assert len(account.name) <= 32 and account.name != other.name
    assert account.home.name == name.replace(".", "_").replace("@", "_")
    assert account_lines(tmp_path / "c1", account.name)


def test_second_name_for_the_same_home_is_refused(tmp_path, home):
    system = new_container(tmp_path / "c1")
    first = ensure("a.b", home, system)
    with pytest.raises(AccountError) as refusal:
        ensure("a_b", home, system)
    message = str(refusal.value)
    assert "'a_b'" in message and "'a.b'" in message and str(first.home) in message
    assert refusal.value.jupyterhub_message == message  # what the spawn-failed page shows
    # Both names have the Unix account a_b: it stays a.b's, no second one is made.
    assert account_lines(tmp_path / "c1", "a_b") == [
        f"a_b:x:{first.uid}:{first.uid}:{HUB_ACCOUNT_MARK}:{first.home}:/bin/bash"
    ]


def test_refusal_survives_a_new_container(tmp_path, home):
    ensure("a.b", home, new_container(tmp_path / "c1"))
    with pytest.raises(AccountError, match="belongs to hub user 'a.b'"):
        ensure("a_b", home, new_container(tmp_path / "c2"))


def test_uids_follow_the_homes_whatever_the_order(tmp_path, home):
    first = new_container(tmp_path / "c1")
    uids = {name: ensure(name, home, first).uid for name in ("alice", "bob", "carol")}
    assert uids == {"alice": 1001, "bob": 1002, "carol": 1003}
    # A new container recreates accounts in another order, and meets a new user.
    second = new_container(tmp_path / "c2")
    again = {name: ensure(name, home, second).uid for name in ("carol", "dave", "alice")}
    assert again == {"carol": 1003, "dave": 1004, "alice": 1001}
    assert account_lines(tmp_path / "c2", "alice")[0].startswith("alice:x:1001:1001:")


def test_new_uid_avoids_accounts_groups_and_owners_on_home(tmp_path, home):
    system = new_container(tmp_path / "c1")
    stray = home / "stray"
    stray.mkdir()
    os.chown(stray, 1001, 1001)
    with open(tmp_path / "c1" / "etc" / "group", "a") as group:
        group.write("research:x:1002:\n")
    assert ensure("erin", home, system).uid == 1003


def test_home_is_made_private_again(tmp_path, home):
    system = new_container(tmp_path / "c1")
    account = ensure("alice", home, system)
    account.home.chmod(0o755)
    ensure("alice", home, system)
    assert stat.S_IMODE(account.home.stat().st_mode) == 0o700


@pytest.mark.parametrize("name", ["root", "daemon", "ubuntu_x", "nobody"])
def test_system_accounts_and_foreign_homes_are_refused(tmp_path, home, name):
    system = new_container(tmp_path / "c1")
    if name == "ubuntu_x":  # a home owned by the image's own user is not a hub user's
        (home / name).mkdir()
        os.chown(home / name, 1000, 1000)
    with pytest.raises(AccountError):
        ensure(name, home, system)
    assert etc_files(tmp_path / "c1") == {"passwd": ACCOUNTS, "group": GROUPS}
    assert not (home / ".hub-owners" / name).exists()


def test_the_images_own_user_is_refused_even_with_its_home(tmp_path, home):
    """The base image's ubuntu (uid 1000) has /home/ubuntu: hub user 'ubuntu' must not get it."""
    system = new_container(tmp_path / "c1")
    passwd = tmp_path / "c1" / "etc" / "passwd"
    passwd.write_text(ACCOUNTS.replace("/home/ubuntu", str(home / "ubuntu")))
    (home / "ubuntu").mkdir()
    os.chown(home / "ubuntu", 1000, 1000)
    before = etc_files(tmp_path / "c1")
    with pytest.raises(AccountError) as refusal:
        ensure("ubuntu", home, system)
    assert str(refusal.value) == (
        "hub user 'ubuntu' cannot have the Unix account 'ubuntu': it belongs to the image/system "
        "(uid 1000), not to a hub user; an administrator must give this hub user another name"
    )
    assert etc_files(tmp_path / "c1") == before
    assert os.listdir(home) == ["ubuntu"]  # no owners record either


def test_an_account_the_hub_did_not_make_is_refused_whatever_its_uid_and_home(tmp_path, home):
    system = new_container(tmp_path / "c1")
    with open(tmp_path / "c1" / "etc" / "passwd", "a") as passwd:
        passwd.write(f"alice:x:1001:1001::{home / 'alice'}:/bin/bash\n")  # no mark
    with open(tmp_path / "c1" / "etc" / "group", "a") as group:
        group.write("alice:x:1001:\n")
    with pytest.raises(AccountError, match="Unix account 'alice': it belongs to the image"):
        ensure("alice", home, system)


def test_a_group_of_the_image_is_refused_and_nothing_is_made(tmp_path, home):
    system = new_container(tmp_path / "c1")
    with pytest.raises(AccountError) as refusal:
        ensure("users", home, system)
    assert str(refusal.value) == (
        "hub user 'users' cannot have the Unix group 'users': it belongs to the image/system "
        "(gid 100), not to a hub user; an administrator must give this hub user another name"
    )
    assert etc_files(tmp_path / "c1") == {"passwd": ACCOUNTS, "group": GROUPS}
    assert os.listdir(home) == []


def test_a_failed_useradd_leaves_no_group_behind(tmp_path, home):
    system = new_container(tmp_path / "c1")
    backup = tmp_path / "c1" / "etc" / "passwd-"
    backup.mkdir()  # useradd cannot write its backup of passwd; groupadd never writes it
    with pytest.raises(AccountError, match="useradd alice failed"):
        ensure("alice", home, system)
    assert etc_files(tmp_path / "c1") == {"passwd": ACCOUNTS, "group": GROUPS}
    backup.rmdir()
    assert ensure("alice", home, system).uid == 1001


def at_once(usernames, home, system):
    """ensure_account for each user, in threads released together: its account or its exception."""
    start = threading.Barrier(len(usernames))

    def ensure_one(username):
        start.wait()
        try:
            return ensure(username, home, system)
        except Exception as error:
            return error

    with ThreadPoolExecutor(len(usernames)) as pool:
        return list(pool.map(ensure_one, usernames))


def test_many_users_at_once_get_distinct_uids(tmp_path, home):
    for round_ in range(ROUNDS):
        system = new_container(tmp_path / f"c{round_}")
        names = [f"user{round_}-{n}" for n in range(8)]
        made = at_once(names, home, system)
        assert all(not isinstance(account, Exception) for account in made), made
        assert len({account.uid for account in made}) == len(names)


def outcome(result):
    return type(result).__name__ if isinstance(result, Exception) else "Account"


def test_one_home_claimed_by_two_threads_at_once_goes_to_one(tmp_path, home):
    for round_ in range(ROUNDS):
        system = new_container(tmp_path / f"c{round_}")
        names = (f"r{round_}.b", f"r{round_}_b")  # both map to the home r{round_}_b
        made = at_once(names, home, system)
        assert sorted(map(outcome, made)) == ["Account", "AccountError"], made


def claim_in_a_process(name, home, system, start, results):
    start.wait()
    try:
        ensure(name, home, system)
        results.put("Account")
    except Exception as error:
        results.put(f"{type(error).__name__}: {error}")


def test_one_home_claimed_by_two_processes_at_once_goes_to_one(tmp_path, home):
    """Two processes (as in two hubs on one /home) do not share the lock: the record decides."""
    processes = multiprocessing.get_context("fork")
    for round_ in range(ROUNDS):
        names = (f"r{round_}.b", f"r{round_}_b")
        start, results = processes.Barrier(2), processes.Queue()
        systems = [new_container(tmp_path / f"c{round_}-{name}") for name in names]
        racers = [
            processes.Process(
                target=claim_in_a_process, args=(name, str(home), system, start, results)
            )
            for name, system in zip(names, systems, strict=True)
        ]
        for racer in racers:
            racer.start()
        outcomes = sorted(results.get(timeout=PROCESS_TIMEOUT) for _ in racers)
        for racer in racers:
            racer.join(PROCESS_TIMEOUT)
        assert outcomes[0] == "Account" and outcomes[1].startswith("AccountError: "), outcomes


def test_invalid_hub_username_is_refused(tmp_path, home):
    with pytest.raises(AccountError, match="has whitespace"):
        ensure("jane doe", home, new_container(tmp_path))


# A home belongs to the identity that first owned it.


def test_a_released_names_new_owner_gets_an_empty_home_and_a_new_uid(tmp_path, home, caplog):
    system = new_container(tmp_path / "c1")
    first = ensure("x", home, system, owner="sub-first-x")
    (first.home / "thesis.tex").write_text("the first owner's work")
    # An admin deleted x on the hub; another Cognito identity logs in as x and starts a server.
    with caplog.at_level("WARNING", logger="JupyterHub"):
        second = ensure("x", home, system, owner="sub-second-x")
    assert second.home == first.home
    assert os.listdir(second.home) == []
    assert second.uid != first.uid
    info = second.home.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (second.uid, 0o700)
    assert account_lines(tmp_path / "c1", "x") == [
        f"x:x:{second.uid}:{second.uid}:{HUB_ACCOUNT_MARK}:{second.home}:/bin/bash"
    ]
    assert (home / ".hub-owners" / "x").read_text() == "x\nsub-second-x\n"
    # The earlier owner's files, moved aside as they were, where only root reaches them.
    released = home / ".hub-released"
    assert (released.stat().st_uid, stat.S_IMODE(released.stat().st_mode)) == (0, 0o700)
    [aside] = released.iterdir()
    assert aside.name.startswith("x.")
    assert (aside / "thesis.tex").read_text() == "the first owner's work"
    assert aside.stat().st_uid == first.uid
    [line] = [record.getMessage() for record in caplog.records]
    assert line.startswith(
        f"Hub user 'x' is now identity sub-second-x, no longer sub-first-x: the earlier owner's "
        f"home {first.home} was moved to {aside} (root only)"
    )
    # The new owner keeps the name's home from now on, in this container and the next.
    assert ensure("x", home, system, owner="sub-second-x") == second
    assert ensure("x", home, new_container(tmp_path / "c2"), owner="sub-second-x") == second


def test_a_released_uid_is_never_handed_out_again(tmp_path, home):
    first = ensure("x", home, new_container(tmp_path / "c1"), owner="sub-first-x")
    # A new container: the earlier owner has no account here, only their files.
    second = ensure("x", home, new_container(tmp_path / "c2"), owner="sub-second-x")
    newcomer = ensure("y", home, new_container(tmp_path / "c3"))
    assert len({first.uid, second.uid, newcomer.uid}) == 3


def test_a_home_from_before_identities_goes_to_the_names_identity(tmp_path, home):
    system = new_container(tmp_path / "c1")
    first = ensure("alice", home, system, owner="sub-alice")
    (first.home / "notes.txt").write_text("mine")
    (home / ".hub-owners" / "alice").write_text("alice\n")  # as records were written before
    assert ensure("alice", home, system, owner="sub-alice") == first
    assert (home / ".hub-owners" / "alice").read_text() == "alice\nsub-alice\n"
    assert (first.home / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("owner", [None, "", "  ", "a\nb"])
def test_a_user_without_an_identity_gets_no_account(tmp_path, home, owner):
    system = new_container(tmp_path / "c1")
    with pytest.raises(AccountError, match="has no identity"):
        ensure_account("alice", owner, str(home), system)
    assert os.listdir(home) == []


def test_an_earlier_owner_still_running_keeps_their_home_until_they_stop(tmp_path, home):
    """userdel refuses an account with processes: nothing is moved, the message says what to do."""
    system = new_container(tmp_path / "c1")
    first = ensure("x", home, system, owner="sub-first-x")
    backup = tmp_path / "c1" / "etc" / "passwd-"
    backup.unlink(missing_ok=True)
    backup.mkdir()  # userdel cannot write its backup of passwd: it fails, as with processes left
    with pytest.raises(AccountError) as refusal:
        ensure("x", home, system, owner="sub-second-x")
    assert str(refusal.value).startswith(
        "hub user 'x' cannot start yet: the name's earlier owner still has the Unix account 'x' "
        "here (userdel x failed: "
    )
    assert str(refusal.value).endswith(
        "an administrator can end its processes or restart the hub, then the home is moved aside"
    )
    assert (home / ".hub-owners" / "x").read_text() == "x\nsub-first-x\n"
    assert first.home.stat().st_uid == first.uid
    assert not (home / ".hub-released").exists()
