"""The lists in an S3 object (USER_LISTS_URL): a change reaches the running hub within the refresh
interval, without a restart; an object that cannot be read or is not good lists changes nothing,
is logged once and shows in /hub/metrics. Real hubs, real logins over HTTP, moto's S3 on loopback.

/hub/metrics wants a token with the read:metrics scope (JupyterHub's authenticate_prometheus is on
by default); admins have that scope, so these tests read it with an admin's API token.
"""

import json
import logging

import pytest
import requests
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from hub_image.user_lists import MAX_OBJECT_BYTES, S3Lists, lists_from_json, parse_s3_url
from tests.conftest import LISTS_BUCKET
from tests.hub_image.conftest import (
    LOCAL_SERVERS,
    START_TIMEOUT,
    api,
    get,
    running,
    start_hub,
    stopped_at_start,
)
from tests.hub_image.test_hub_identity import logged_out, token_for, with_token
from tests.support import REQUEST_TIMEOUT, login, wait_for
from users.lists import UserListError

# Low, so that a change bites within the test; the hub's default is 30 s.
REFRESH_SECONDS = 1
DEADLINE = 20
GOOD = "serverless_hub_user_lists_good"
LAST_GOOD_READ = "serverless_hub_user_lists_last_good_read_timestamp_seconds"
GOOD_LISTS = json.dumps(
    {"adminUsers": ["boss"], "allowedUsers": ["gus"], "adminGroups": [], "allowedGroups": []}
)


def put_text(s3, key: str, text: str) -> None:
    s3.client().put_object(Bucket=LISTS_BUCKET, Key=key, Body=text.encode())


def put_lists(s3, key: str, admin_users=(), allowed_users=(), admin_groups=(), allowed_groups=()):
    """Write the object as the stack writes it."""
    lists = {
        "adminUsers": list(admin_users),
        "allowedUsers": list(allowed_users),
        "adminGroups": list(admin_groups),
        "allowedGroups": list(allowed_groups),
    }
    put_text(s3, key, json.dumps(lists))


def lists_settings(s3, key: str) -> dict:
    """A hub's settings with its lists in this object (and none in the environment)."""
    return {
        "ADMIN_USERS": None,
        "ALLOWED_USERS": None,
        "USER_LISTS_URL": f"s3://{LISTS_BUCKET}/{key}",
        "USER_LISTS_REFRESH_SECONDS": str(REFRESH_SECONDS),
        **s3.environment(),
    }


def metric(hub, token: str, name: str) -> float:
    """One sample of /hub/metrics, read as Prometheus reads it (a token with read:metrics)."""
    answer = requests.get(
        f"{hub.url}/hub/metrics",
        headers={"Authorization": f"token {token}"},
        timeout=REQUEST_TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"{name} is not in /hub/metrics")


def logs_in(provider_sub: str, hub) -> bool:
    return login(hub, provider_sub)[1].status_code == 302


def still_the_same_hub(hub, pid: int) -> None:
    """The hub process never restarted: the same process, still running, started once."""
    assert hub.process.pid == pid
    assert hub.process.poll() is None
    assert hub.log_text().count("JupyterHub is now running") == 1


def test_added_users_get_in_and_removed_ones_are_out_within_the_interval(provider, s3, tmp_path):
    for name in ["boss", "ann", "ben", "cat"]:
        provider.add_user(f"sub-live-{name}", username=name)
    provider.add_user("sub-live-dot", username="dot", **{"cognito:groups": ["students"]})
    lists = {"admin_users": ["boss"], "allowed_groups": ["students"]}
    put_lists(s3, "live.json", allowed_users=["ann", "ben"], **lists)
    hub = start_hub(provider, tmp_path / "hub", **lists_settings(s3, "live.json"))
    try:
        pid = hub.process.pid
        assert not logs_in("sub-live-cat", hub)
        ann, _ = login(hub, "sub-live-ann")
        ben, ben_in = login(hub, "sub-live-ben")
        assert ben_in.status_code == 302, ben_in.text
        ben_token = token_for(ben, hub, "ben")
        dot, dot_in = login(hub, "sub-live-dot")
        assert dot_in.status_code == 302, dot_in.text
        boss, _ = login(hub, "sub-live-boss")

        # cat is added: she gets in, with no restart.
        put_lists(s3, "live.json", allowed_users=["ann", "ben", "cat"], **lists)
        wait_for(lambda: logs_in("sub-live-cat", hub), DEADLINE, "cat's login after she was added")

        # ben is removed, and dot's group, while they are logged in: their sessions, tokens and
        # records go within the interval.
        put_lists(s3, "live.json", admin_users=["boss"], allowed_users=["ann", "cat"])
        wait_for(lambda: logged_out(ben, hub), DEADLINE, "ben's session to end after his removal")
        assert with_token(hub, ben_token, "/user").status_code == 403
        assert api(boss, hub, "GET", "/users/ben").status_code == 404
        assert not logs_in("sub-live-ben", hub)
        assert logged_out(dot, hub)
        assert api(boss, hub, "GET", "/users/dot").status_code == 404
        assert get(ann, hub, "/hub/api/user").json()["name"] == "ann"
        still_the_same_hub(hub, pid)
    finally:
        hub.stop()


def test_a_removed_users_server_is_stopped(provider, s3, tmp_path):
    provider.add_user("sub-server-boss", username="boss")
    provider.add_user("sub-server-zed", username="zed-lists")
    put_lists(s3, "servers.json", admin_users=["boss"], allowed_users=["zed-lists"])
    # Homes for these servers in the test's own directory.
    homes = f"--SimpleLocalProcessSpawner.home_dir_template={tmp_path}/{{username}}"
    hub = start_hub(
        provider,
        tmp_path / "hub",
        options=[*LOCAL_SERVERS, homes],
        **lists_settings(s3, "servers.json"),
    )
    try:
        zed, _ = login(hub, "sub-server-zed")
        boss, _ = login(hub, "sub-server-boss")
        token = token_for(zed, hub, "zed-lists")
        assert api(zed, hub, "POST", "/users/zed-lists/server").status_code in (201, 202)

        def ready_server():
            server = api(boss, hub, "GET", "/users/zed-lists").json()["servers"].get("", {})
            return server if server.get("ready") else None

        server = wait_for(ready_server, START_TIMEOUT, "zed's server to be ready")
        pid = server["state"]["pid"]
        assert running(pid)

        def server_answers() -> bool:
            answer = requests.get(
                f"{hub.url}/user/zed-lists/api/status",
                headers={"Authorization": f"token {token}"},
                allow_redirects=False,
                timeout=REQUEST_TIMEOUT,
            )
            return answer.status_code == 200

        assert server_answers()
        put_lists(s3, "servers.json", admin_users=["boss"])
        wait_for(
            lambda: api(boss, hub, "GET", "/users/zed-lists").status_code == 404,
            DEADLINE,
            "zed's record to go after his removal",
        )
        assert not running(pid)
        assert not server_answers()
    finally:
        hub.stop()


def test_admin_follows_the_lists_while_logged_in(provider, s3, tmp_path):
    for name in ["boss", "dana", "eve", "fay"]:
        provider.add_user(f"sub-admins-{name}", username=name)
    put_lists(s3, "admins.json", admin_users=["boss", "dana"], allowed_users=["eve", "fay"])
    hub = start_hub(provider, tmp_path / "hub", **lists_settings(s3, "admins.json"))
    try:
        pid = hub.process.pid
        dana, _ = login(hub, "sub-admins-dana")
        eve, _ = login(hub, "sub-admins-eve")
        assert get(dana, hub, "/hub/admin").status_code == 200
        dana_token = token_for(dana, hub, "dana")
        assert with_token(hub, dana_token, "/users").status_code == 200
        assert get(eve, hub, "/hub/admin").status_code == 403

        # dana is demoted and eve promoted, both logged in; fay is new in adminUsers.
        put_lists(s3, "admins.json", admin_users=["boss", "eve", "fay"], allowed_users=["dana"])
        wait_for(
            lambda: get(dana, hub, "/hub/admin").status_code == 403,
            DEADLINE,
            "dana's admin page to be refused after her demotion",
        )
        assert get(dana, hub, "/hub/home").status_code == 200
        assert with_token(hub, dana_token, "/users").status_code == 403
        assert get(eve, hub, "/hub/admin").status_code == 200
        # A new admin without a record is made admin at their login.
        fay, _ = login(hub, "sub-admins-fay")
        assert get(fay, hub, "/hub/admin").status_code == 200
        still_the_same_hub(hub, pid)
    finally:
        hub.stop()


def test_bad_objects_change_nothing_are_logged_once_and_show_in_the_metrics(provider, s3, tmp_path):
    for name in ["boss", "gus", "hal", "ivy"]:
        provider.add_user(f"sub-bad-{name}", username=name)
    put_lists(s3, "bad.json", admin_users=["boss"], allowed_users=["gus", "hal"])
    hub = start_hub(provider, tmp_path / "hub", **lists_settings(s3, "bad.json"))
    url = f"s3://{LISTS_BUCKET}/bad.json"
    try:
        pid = hub.process.pid
        boss, _ = login(hub, "sub-bad-boss")
        token = token_for(boss, hub, "boss")
        gus, _ = login(hub, "sub-bad-gus")
        hal, _ = login(hub, "sub-bad-hal")
        assert requests.get(f"{hub.url}/hub/metrics", timeout=REQUEST_TIMEOUT).status_code == 403
        assert metric(hub, token, GOOD) == 1
        assert metric(hub, token, LAST_GOOD_READ) > 0
        put_lists(s3, "bad.json", admin_users=["boss"], allowed_users=["gus"])
        wait_for(lambda: logged_out(hal, hub), DEADLINE, "hal's removal")

        def error_lines() -> list[str]:
            marker = f"Keeping the last good user lists: {url}: "
            return [line for line in hub.log_text().splitlines() if marker in line]

        def nothing_changed() -> None:
            assert get(gus, hub, "/hub/api/user").json()["name"] == "gus"
            assert get(boss, hub, "/hub/admin").status_code == 200
            assert not logs_in("sub-bad-hal", hub)
            assert not logs_in("sub-bad-ivy", hub)

        bad_objects = [
            ('{"adminUsers": ["boss"]', "not valid JSON ("),
            (
                json.dumps(
                    {
                        "adminUsers": ["boss"],
                        "allowedUsers": ["gus", "ivy", "bad/name"],
                        "adminGroups": [],
                        "allowedGroups": [],
                    }
                ),
                "allowedUsers: entry 'bad/name' has a '/'",
            ),
            # Python's int refuses more than 4,300 digits: a ValueError, not a JSON error.
            (
                f'{{"adminUsers": [{"1" * 5000}]}}',
                "cannot be parsed (ValueError: Exceeds the limit",
            ),
            ("[" * 100_000 + "]" * 100_000, "cannot be parsed (RecursionError: maximum recursion"),
            (
                " " * MAX_OBJECT_BYTES + GOOD_LISTS,
                f"is {MAX_OBJECT_BYTES + len(GOOD_LISTS):,} bytes",
            ),
        ]
        for number, (text, problem) in enumerate(bad_objects, start=1):
            put_text(s3, "bad.json", text)
            wait_for(
                lambda: len(error_lines()) == number,  # noqa: B023
                DEADLINE,
                f"the error line for {problem!r}",
            )
            assert metric(hub, token, GOOD) == 0
            assert problem in error_lines()[-1]
            # Several more refreshes find the object unchanged (304) and log nothing more.
            reads = len(s3.reads(LISTS_BUCKET, "bad.json"))
            wait_for(
                lambda: len(s3.reads(LISTS_BUCKET, "bad.json")) >= reads + 3,  # noqa: B023
                DEADLINE,
                "three more reads of the object",
            )
            assert s3.reads(LISTS_BUCKET, "bad.json")[-3:] == [304, 304, 304]
            assert len(error_lines()) == number, error_lines()
            assert metric(hub, token, GOOD) == 0
            nothing_changed()

        last_good = metric(hub, token, LAST_GOOD_READ)
        put_lists(s3, "bad.json", admin_users=["boss"], allowed_users=["gus", "ivy"])
        wait_for(lambda: metric(hub, token, GOOD) == 1, DEADLINE, "the gauge back at 1")
        assert metric(hub, token, LAST_GOOD_READ) > last_good
        assert f"The user lists at {url} are good again" in hub.log_text()
        wait_for(
            lambda: logs_in("sub-bad-ivy", hub), DEADLINE, "ivy's login once the lists are good"
        )
        assert len(error_lines()) == len(bad_objects)
        still_the_same_hub(hub, pid)
    finally:
        hub.stop()


NO_ADMIN = {"adminUsers": [], "allowedUsers": ["a"], "adminGroups": [], "allowedGroups": []}
# Each case: USER_LISTS_URL, the object written there first (None: none), the start of the line.
REFUSED_STARTS = {
    "missing object": (
        f"s3://{LISTS_BUCKET}/missing.json",
        None,
        f"s3://{LISTS_BUCKET}/missing.json: cannot be read (NoSuchKey: ",
    ),
    "garbage": (
        f"s3://{LISTS_BUCKET}/garbage.json",
        "adminUsers: boss",
        f"s3://{LISTS_BUCKET}/garbage.json: not valid JSON (Expecting value at character 0)",
    ),
    "no admin": (
        f"s3://{LISTS_BUCKET}/no-admin.json",
        json.dumps(NO_ADMIN),
        f"s3://{LISTS_BUCKET}/no-admin.json: adminUsers, adminGroups: both empty; list at least "
        "one admin user or admin group",
    ),
    "malformed url": (
        "https://hub-lists/users.json",
        None,
        "USER_LISTS_URL: must be s3://<bucket>/<key> with a valid bucket name "
        "(got 'https://hub-lists/users.json')",
    ),
}


@pytest.fixture(scope="module")
def refused_starts(provider, s3, tmp_path_factory):
    """Start one real hub per case, all at once; each should stop at start."""
    cases = {}
    for case, (lists_url, text, _) in REFUSED_STARTS.items():
        if text is not None:
            put_text(s3, parse_s3_url(lists_url)[1], text)
        cases[case] = {**lists_settings(s3, "unused"), "USER_LISTS_URL": lists_url}
    return stopped_at_start(provider, tmp_path_factory, cases)


@pytest.mark.parametrize("case", REFUSED_STARTS)
def test_a_hub_without_good_lists_refuses_to_start_with_one_line(refused_starts, case):
    returncode, stderr = refused_starts[case]
    assert returncode != 0, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert stderr.strip().startswith(REFUSED_STARTS[case][2]), stderr


# The lists' module on its own, against the same S3 stand-in.


@pytest.fixture
def aws(s3, monkeypatch):
    """boto3 in this process reaches the stand-in, as the hub's does."""
    for name, value in s3.environment().items():
        monkeypatch.setenv(name, value)
    return s3


def test_an_unchanged_object_is_not_read_again(aws):
    put_lists(aws, "unit.json", admin_users=["Boss "], allowed_users=["ann", "ANN"])
    lists_object = S3Lists(f"s3://{LISTS_BUCKET}/unit.json")
    assert lists_object.read() is True
    assert lists_object.lists.admin_users == {"boss"}
    assert lists_object.lists.allowed_users == {"ann"}
    assert lists_object.read() is False
    # The same bytes again: S3 gives the same ETag, so still unchanged.
    put_lists(aws, "unit.json", admin_users=["Boss "], allowed_users=["ann", "ANN"])
    assert lists_object.read() is False
    put_lists(aws, "unit.json", admin_users=["boss"], allowed_users=["ann", "ben"])
    assert lists_object.read() is True
    assert lists_object.lists.allowed_users == {"ann", "ben"}
    # Each read after the first sent the last ETag; the unchanged ones cost a 304, no body.
    assert aws.reads(LISTS_BUCKET, "unit.json") == [200, 304, 304, 200]


def test_a_bad_object_keeps_the_last_good_lists_and_is_reported_once(aws, caplog):
    log = logging.getLogger("test-user-lists")
    url = f"s3://{LISTS_BUCKET}/unit-bad.json"
    put_lists(aws, "unit-bad.json", admin_users=["boss"], allowed_users=["ann"])
    lists_object = S3Lists(url)
    assert lists_object.refresh(log) is True
    good = lists_object.lists
    assert REGISTRY.get_sample_value(GOOD) == 1
    put_text(aws, "unit-bad.json", "[")
    with caplog.at_level(logging.INFO, logger="test-user-lists"):
        assert lists_object.refresh(log) is False
        assert lists_object.refresh(log) is False
        assert lists_object.lists == good
        assert REGISTRY.get_sample_value(GOOD) == 0
        before = REGISTRY.get_sample_value(LAST_GOOD_READ)
        put_lists(aws, "unit-bad.json", admin_users=["boss"], allowed_users=["ben"])
        assert lists_object.refresh(log) is True
    assert lists_object.lists.allowed_users == {"ben"}
    assert REGISTRY.get_sample_value(GOOD) == 1
    assert REGISTRY.get_sample_value(LAST_GOOD_READ) >= before
    assert [record.getMessage() for record in caplog.records] == [
        f"Keeping the last good user lists: {url}: not valid JSON (Expecting value at character 1)",
        f"The user lists at {url} are good again",
    ]
    assert aws.reads(LISTS_BUCKET, "unit-bad.json") == [200, 200, 304, 200]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f'{{"adminUsers": [{"1" * 5000}]}}', "cannot be parsed (ValueError: Exceeds the limit"),
        ("[" * 100_000 + "]" * 100_000, "cannot be parsed (RecursionError: "),
        ("[1e999999]", "must be a JSON object with exactly the keys"),
        (" " * MAX_OBJECT_BYTES + GOOD_LISTS, f"over the {MAX_OBJECT_BYTES:,} the hub reads"),
    ],
    ids=["5000 digits", "deep nesting", "infinity", "too big"],
)
def test_any_unparseable_object_is_bad_for_as_long_as_it_stays(aws, caplog, text, problem):
    log = logging.getLogger("test-user-lists")
    url = f"s3://{LISTS_BUCKET}/unit-unparseable.json"
    put_text(aws, "unit-unparseable.json", GOOD_LISTS)
    lists_object = S3Lists(url)
    assert lists_object.refresh(log) is True
    good = lists_object.lists
    put_text(aws, "unit-unparseable.json", text)
    before = len(aws.reads(LISTS_BUCKET, "unit-unparseable.json"))
    with caplog.at_level(logging.ERROR, logger="test-user-lists"):
        for _ in range(3):
            assert lists_object.refresh(log) is False
            assert REGISTRY.get_sample_value(GOOD) == 0
    assert lists_object.lists == good
    # Read once, then unchanged (304): still bad, logged once.
    assert aws.reads(LISTS_BUCKET, "unit-unparseable.json")[before:] == [200, 304, 304]
    [line] = [record.getMessage() for record in caplog.records]
    assert line.startswith(f"Keeping the last good user lists: {url}: ")
    assert problem in line and len(line) < 500 and "\n" not in line


def test_a_hub_starting_with_an_unparseable_object_stops_with_one_line(aws):
    put_text(aws, "unit-start.json", f'{{"adminUsers": [{"1" * 5000}]}}')
    with pytest.raises(UserListError) as refusal:
        S3Lists(f"s3://{LISTS_BUCKET}/unit-start.json").read()
    assert str(refusal.value).startswith(
        f"s3://{LISTS_BUCKET}/unit-start.json: cannot be parsed (ValueError: Exceeds the limit"
    )


def test_an_object_that_cannot_be_read_names_it(aws):
    lists_object = S3Lists(f"s3://{LISTS_BUCKET}/nothing-here.json")
    with pytest.raises(UserListError) as problem:
        lists_object.read()
    assert str(problem.value) == (
        f"s3://{LISTS_BUCKET}/nothing-here.json: cannot be read "
        "(NoSuchKey: The specified key does not exist.)"
    )


LISTS = {"adminUsers": ["boss"], "allowedUsers": [], "adminGroups": [], "allowedGroups": []}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"\xff", "is not UTF-8 text"),
        (b"{", "not valid JSON (Expecting property name enclosed in double quotes at character 1)"),
        (b"[]", "must be a JSON object with exactly the keys adminUsers, allowedUsers, "),
        (json.dumps({**LISTS, "alowedUsers": []}).encode(), "(found ['adminGroups', 'adminUsers',"),
        (json.dumps({"adminUsers": ["boss"]}).encode(), "(found ['adminUsers'])"),
        (json.dumps({**LISTS, "adminUsers": "boss"}).encode(), "adminUsers: must be a list of"),
        (json.dumps({**LISTS, "allowedUsers": ["a b"]}).encode(), "allowedUsers: entry 'a b' has"),
        (json.dumps({**LISTS, "adminGroups": ["x,y"]}).encode(), "adminGroups: entry 'x,y' has a"),
        (json.dumps({**LISTS, "adminUsers": []}).encode(), "adminUsers, adminGroups: both empty"),
        (
            json.dumps({**LISTS, "allowedUsers": ["b.c", "b_c"]}).encode(),
            "allowedUsers: entry 'b_c' would share the home directory /home/b_c with 'b.c'",
        ),
    ],
)
def test_bad_content_is_refused_naming_the_object_and_the_rule(body, problem):
    with pytest.raises(UserListError) as refusal:
        lists_from_json("s3://hub-lists/users.json", body)
    assert str(refusal.value).startswith("s3://hub-lists/users.json: ")
    assert problem in str(refusal.value)


def test_an_admin_group_is_enough():
    lists = lists_from_json(
        "s3://hub-lists/users.json",
        json.dumps({**LISTS, "adminUsers": [], "adminGroups": ["Hub-Admins"]}).encode(),
    )
    assert (lists.admin_users, lists.admin_groups) == (set(), {"Hub-Admins"})


@pytest.mark.parametrize(
    "url",
    [
        "s3://hub-lists",
        "s3://hub-lists/",
        "s3:///users.json",
        "https://hub-lists/users.json",
        "s3://Hub_Lists/users.json",
        "s3://ab/users.json",
        "hub-lists/users.json",
    ],
)
def test_a_malformed_url_is_refused_naming_the_variable(url):
    with pytest.raises(UserListError) as refusal:
        parse_s3_url(url)
    assert str(refusal.value) == (
        f"USER_LISTS_URL: must be s3://<bucket>/<key> with a valid bucket name (got {url!r})"
    )


def test_a_key_may_hold_slashes_and_question_marks():
    assert parse_s3_url("s3://hub-lists/dev/users?.json") == ("hub-lists", "dev/users?.json")


# The config, read in-process.


def test_the_config_takes_the_lists_from_the_object(load_config, aws, caplog):
    put_lists(aws, "config.json", admin_users=["boss"], allowed_users=["ann"])
    settings = lists_settings(aws, "config.json")
    settings.update(ADMIN_USERS="admin1", ALLOWED_USERS="alice", USER_LISTS_REFRESH_SECONDS=None)
    with caplog.at_level(logging.WARNING):
        config = load_config(**settings)
    assert config.Authenticator.admin_users == {"boss"}
    assert config.Authenticator.allowed_users == {"ann"}
    authenticator = config.CognitoAuthenticator
    assert authenticator.user_lists_url == f"s3://{LISTS_BUCKET}/config.json"
    assert authenticator.user_lists_refresh_seconds == 30
    # Groups may appear in the object at any time, so they are read from the first login.
    assert config.Authenticator.manage_groups is True
    assert config.GenericOAuthenticator.admin_groups == set()
    assert [record.getMessage() for record in caplog.records] == [
        f"USER_LISTS_URL is set: the lists come from s3://{LISTS_BUCKET}/config.json; "
        "ignoring ['ADMIN_USERS', 'ALLOWED_USERS']"
    ]


def test_without_the_url_the_environment_lists_stay_fixed(load_config):
    config = load_config(ADMIN_USERS="boss", ALLOWED_USERS="ann")
    assert config.Authenticator.admin_users == {"boss"}
    assert "user_lists_url" not in config.CognitoAuthenticator
    assert "manage_groups" not in config.Authenticator


def test_lists_from_the_object_need_a_crypt_key(load_config, aws):
    """Groups may appear in the object at any time; re-checking them needs the refresh tokens.

    (Malformed USER_LISTS_URL and USER_LISTS_REFRESH_SECONDS: test_hub_startup.py's BAD_STARTS.)
    """
    put_lists(aws, "config.json", admin_users=["boss"])
    with pytest.raises(SystemExit) as refusal:
        load_config(**lists_settings(aws, "config.json"), JUPYTERHUB_CRYPT_KEY=None)
    assert str(refusal.value) == (
        "JUPYTERHUB_CRYPT_KEY: is not set; with USER_LISTS_URL the hub keeps refresh tokens to "
        "re-check group membership (make a key with: openssl rand -hex 32)"
    )
