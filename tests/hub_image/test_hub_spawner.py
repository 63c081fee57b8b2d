"""AccountSpawner: the hub name stays, the Unix account name is used wherever the OS needs it."""

import asyncio
import pwd
from types import SimpleNamespace

import pytest

from hub_image import spawner as spawner_module
from hub_image.accounts import AccountError
from hub_image.spawner import AccountSpawner

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
    spawner = AccountSpawner(user=SimpleNamespace(name="jane.doe@uni.nl"))
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

    def refuse(username):
        made.append(username)
        raise AccountError("hub user 'a_b' cannot have the home directory /home/a_b")

    monkeypatch.setattr(spawner_module, "ensure_account", refuse)
    with pytest.raises(AccountError, match="cannot have the home directory"):
        asyncio.run(spawner.start())
    assert made == ["jane.doe@uni.nl"]
