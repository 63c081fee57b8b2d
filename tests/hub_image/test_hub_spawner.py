"""AccountSpawner: the hub name stays, the Unix account name is used wherever the OS needs it."""

import asyncio
import os
import pwd
import threading
from functools import partial
from types import SimpleNamespace

import pytest
from jupyterhub.spawner import LocalProcessSpawner

from hub_image import spawner as spawner_module
from hub_image.accounts import AccountError, ensure_account
from hub_image.spawner import AccountSpawner
from tests.hub_image.test_hub_accounts import new_container
from tests.support import cannot_run

JANE = pwd.struct_passwd(
    ("jane_doe_uni_nl", "x", 1001, 1001, "", "/home/jane_doe_uni_nl", "/bin/bash")
)


@pytest.fixture
def spawner(monkeypatch):
    looked_up = []

    def getpwnam(name):
        looked_up.append(name)
        return JANE

    monkeypatch.setattr(pwd, "getpwnam", getpwnam)
    monkeypatch.setattr("os.getgrouplist", lambda name, gid: [gid])
    user = SimpleNamespace(name="jane.doe@uni.nl", user_info={"sub": "sub-jane"})
    spawner = AccountSpawner(user=user)
    spawner.looked_up = looked_up
    return spawner


def test_environment_names_the_unix_account(spawner):
    env = spawner.user_env({})
    assert env == {"USER": "jane_doe_uni_nl", "HOME": "/home/jane_doe_uni_nl", "SHELL": "/bin/bash"}
    assert spawner.looked_up == ["jane_doe_uni_nl"]


def test_server_runs_as_the_unix_account(spawner):
    spawner.make_preexec_fn(spawner.user.name)
    assert spawner.looked_up == ["jane_doe_uni_nl"]


def test_start_makes_the_account_first_and_fails_with_its_message(spawner, monkeypatch):
    made = []

    def refuse(username, owner):
        made.append((username, owner, threading.get_ident()))
        raise AccountError("hub user 'a_b' cannot have the home directory /home/a_b")

    monkeypatch.setattr(spawner_module, "ensure_account", refuse)
    with pytest.raises(AccountError, match="cannot have the home directory"):
        asyncio.run(spawner.start())  # the event loop runs in this thread
    [(username, owner, thread)] = made
    # The identity bound to the name at login owns the home (see test_hub_accounts.py).
    assert (username, owner) == ("jane.doe@uni.nl", "sub-jane")
    assert thread != threading.get_ident(), "useradd would stall the hub's event loop"


def test_spawns_at_once_get_distinct_accounts(monkeypatch, tmp_path):
    """Starts gathered on one loop make their accounts one at a time: no uid is handed out twice."""
    if os.geteuid() != 0:
        cannot_run("chown to users' uids needs root")
    home = tmp_path / "home"
    home.mkdir()
    made = partial(ensure_account, home_root=str(home), system_root=new_container(tmp_path))
    monkeypatch.setattr(spawner_module, "ensure_account", made)

    async def started(spawner):
        return ("127.0.0.1", 8888)

    monkeypatch.setattr(LocalProcessSpawner, "start", started)
    spawners = [
        AccountSpawner(user=SimpleNamespace(name=f"user{n}", user_info={"sub": f"sub-{n}"}))
        for n in range(8)
    ]

    async def start_all():
        return await asyncio.gather(*(spawner.start() for spawner in spawners))

    assert asyncio.run(start_all()) == [("127.0.0.1", 8888)] * len(spawners)
    uids = {(home / f"user{n}").stat().st_uid for n in range(len(spawners))}
    assert len(uids) == len(spawners)
