"""hub_image/homes.py on a temporary /home: each user's private home and the uid it runs as.

Changing owners needs root, as the hub has on /home.
"""

import multiprocessing
import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from hub_image.homes import FIRST_UID, HomeError, ensure_home
from tests.support import cannot_run

# Rounds of each race: enough for threads or processes started together to overlap.
ROUNDS = 20
# Seconds a racing process may take before the test gives up on it.
PROCESS_TIMEOUT = 30


@pytest.fixture(autouse=True)
def as_root():
    """Changing owners to users' uids needs root, as the hub has on /home."""
    if os.geteuid() != 0:
        cannot_run("chown to users' uids needs root")


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return home


def ensure(username, home, owner=None):
    """ensure_home for one hub user, whose identity is `owner` (by default one of its own)."""
    return ensure_home(username, owner or f"sub-of-{username}", str(home))


def test_a_new_user_gets_a_private_home_owned_by_a_uid_of_their_own(home):
    made = ensure("jane.doe@uni.nl", home)
    assert (made.name, made.account) == ("jane_doe_uni_nl", "jane_doe_uni_nl")
    assert made.path == home / "jane_doe_uni_nl"
    assert made.uid == FIRST_UID == 1000
    info = made.path.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (1000, 1000, 0o700)
    records = home / ".hub-owners"
    assert (records.stat().st_uid, stat.S_IMODE(records.stat().st_mode)) == (0, 0o700)
    # The hub user, then the identity that owns the home.
    assert (records / "jane_doe_uni_nl").read_text() == "jane.doe@uni.nl\nsub-of-jane.doe@uni.nl\n"


def test_ensuring_twice_changes_nothing(home):
    first = ensure("alice", home)
    (first.path / "notebook.ipynb").write_text("{}")
    assert ensure("alice", home) == first
    assert (first.path / "notebook.ipynb").read_text() == "{}"


def test_long_names_get_a_short_unique_account_and_the_full_home(home):
    name = "a.very.long.first.name.and.surname@research.department.university.example.org"
    assert len(name) > 64
    made = ensure(name, home)
    other = ensure(name.replace("org", "net"), home)
    assert len(made.account) <= 32 and made.account != other.account
    assert made.name == name.replace(".", "_").replace("@", "_")


def test_a_second_name_for_the_same_home_is_refused(home):
    first = ensure("a.b", home)
    with pytest.raises(HomeError) as refusal:
        ensure("a_b", home)
    message = str(refusal.value)
    assert "'a_b'" in message and "'a.b'" in message and str(first.path) in message
    assert refusal.value.jupyterhub_message == message  # what the spawn-failed page shows


def test_uids_follow_the_homes_whatever_the_order(home):
    uids = {name: ensure(name, home).uid for name in ("alice", "bob", "carol")}
    assert uids == {"alice": 1000, "bob": 1001, "carol": 1002}
    # A new hub meets them in another order, and a new user.
    again = {name: ensure(name, home).uid for name in ("carol", "dave", "alice")}
    assert again == {"carol": 1002, "dave": 1003, "alice": 1000}


def test_a_new_uid_avoids_every_owner_on_home(home):
    stray = home / "stray"
    stray.mkdir()
    os.chown(stray, 1000, 1000)
    assert ensure("erin", home).uid == 1001


def test_a_home_is_made_private_again(home):
    made = ensure("alice", home)
    made.path.chmod(0o755)
    ensure("alice", home)
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o700


def test_a_home_of_a_system_uid_or_not_a_directory_is_refused(home):
    (home / "daemon").mkdir()
    os.chown(home / "daemon", 1, 1)
    with pytest.raises(HomeError, match="owned by uid 1, a system uid"):
        ensure("daemon", home)
    (home / "file").write_text("")
    with pytest.raises(HomeError, match="exists but is not a directory"):
        ensure("file", home)
    assert not (home / ".hub-owners" / "daemon").exists()


def at_once(usernames, home):
    """ensure_home for each user, in threads released together: its home or its exception."""
    start = threading.Barrier(len(usernames))

    def ensure_one(username):
        start.wait()
        try:
            return ensure(username, home)
        except Exception as error:
            return error

    with ThreadPoolExecutor(len(usernames)) as pool:
        return list(pool.map(ensure_one, usernames))


def test_many_users_at_once_get_distinct_uids(home):
    for round_ in range(ROUNDS):
        names = [f"user{round_}-{n}" for n in range(8)]
        made = at_once(names, home)
        assert all(not isinstance(result, Exception) for result in made), made
        assert len({result.uid for result in made}) == len(names)


def outcome(result):
    return type(result).__name__ if isinstance(result, Exception) else "Home"


def test_one_home_claimed_by_two_threads_at_once_goes_to_one(home):
    for round_ in range(ROUNDS):
        names = (f"r{round_}.b", f"r{round_}_b")  # both map to the home r{round_}_b
        assert sorted(map(outcome, at_once(names, home))) == ["Home", "HomeError"]


def claim_in_a_process(name, home, start, results):
    start.wait()
    try:
        ensure(name, home)
        results.put("Home")
    except Exception as error:
        results.put(f"{type(error).__name__}: {error}")


def test_one_home_claimed_by_two_processes_at_once_goes_to_one(home):
    """Two processes (as two hubs on one /home) do not share the lock: the record decides."""
    processes = multiprocessing.get_context("fork")
    for round_ in range(ROUNDS):
        names = (f"r{round_}.b", f"r{round_}_b")
        start, results = processes.Barrier(2), processes.Queue()
        racers = [
            processes.Process(target=claim_in_a_process, args=(name, str(home), start, results))
            for name in names
        ]
        for racer in racers:
            racer.start()
        outcomes = sorted(results.get(timeout=PROCESS_TIMEOUT) for _ in racers)
        for racer in racers:
            racer.join(PROCESS_TIMEOUT)
        assert outcomes[0] == "Home" and outcomes[1].startswith("HomeError: "), outcomes


def test_an_invalid_hub_username_is_refused(home):
    with pytest.raises(HomeError, match="has whitespace"):
        ensure("jane doe", home)


# A home belongs to the identity that first owned it.


def test_a_released_names_new_owner_gets_an_empty_home_and_a_new_uid(home, caplog):
    first = ensure("x", home, owner="sub-first-x")
    (first.path / "thesis.tex").write_text("the first owner's work")
    # An admin deleted x on the hub; another Cognito identity logs in as x and starts a server.
    with caplog.at_level("WARNING", logger="JupyterHub"):
        second = ensure("x", home, owner="sub-second-x")
    assert second.path == first.path
    assert os.listdir(second.path) == []
    assert second.uid != first.uid
    info = second.path.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (second.uid, 0o700)
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
        f"home {first.path} was moved to {aside} (root only)"
    )
    # The new owner keeps the name's home from now on.
    assert ensure("x", home, owner="sub-second-x") == second


def test_a_released_uid_is_never_handed_out_again(home):
    first = ensure("x", home, owner="sub-first-x")
    second = ensure("x", home, owner="sub-second-x")
    newcomer = ensure("y", home)
    assert len({first.uid, second.uid, newcomer.uid}) == 3


def test_a_home_from_before_identities_goes_to_the_names_identity(home):
    first = ensure("alice", home, owner="sub-alice")
    (first.path / "notes.txt").write_text("mine")
    (home / ".hub-owners" / "alice").write_text("alice\n")  # as records were written before
    assert ensure("alice", home, owner="sub-alice") == first
    assert (home / ".hub-owners" / "alice").read_text() == "alice\nsub-alice\n"
    assert (first.path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("owner", [None, "", "  ", "a\nb"])
def test_a_user_without_an_identity_gets_no_home(home, owner):
    with pytest.raises(HomeError, match="has no identity"):
        ensure_home("alice", owner, str(home))
    assert os.listdir(home) == []
