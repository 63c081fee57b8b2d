"""Starting the real hub: bad settings stop it with one line; a restart keeps sessions and state."""

import sqlite3
import stat

import pytest

from tests.hub_image.conftest import get, start_hub, stopped_at_start
from tests.support import login

# Each case: the settings that break a valid environment, and the start of the one line it gives.
BAD_STARTS = {
    "no client id": (
        {"OAUTH_CLIENT_ID": None},
        "OAUTH_CLIENT_ID: is not set; the hub cannot start without it",
    ),
    "empty client secret": (
        {"OAUTH_CLIENT_SECRET": " "},
        "OAUTH_CLIENT_SECRET: is not set; the hub cannot start without it",
    ),
    "no callback url": (
        {"OAUTH_CALLBACK_URL": None},
        "OAUTH_CALLBACK_URL: is not set; the hub cannot start without it",
    ),
    "no token url nor cognito domain": (
        {"OAUTH_TOKEN_URL": None},
        "OAUTH_TOKEN_URL: is not set, nor COGNITO_DOMAIN to derive it from",
    ),
    "cognito domain without scheme": (
        {"COGNITO_DOMAIN": "myhub.auth.eu-west-1.amazoncognito.com"},
        "COGNITO_DOMAIN: must be an https:// URL (got 'myhub.auth.eu-west-1.amazoncognito.com'); "
        "http:// is only for loopback hosts",
    ),
    "cognito domain over plain http": (
        {"COGNITO_DOMAIN": "http://myhub.auth.eu-west-1.amazoncognito.com"},
        "COGNITO_DOMAIN: must be an https:// URL (got 'http://myhub.auth",
    ),
    "authorize url over plain http": (
        {"OAUTH_AUTHORIZE_URL": "http://idp.example/oauth2/authorize"},
        "OAUTH_AUTHORIZE_URL: must be an https:// URL (got 'http://idp.example/oauth2/authorize')",
    ),
    "token url over plain http to a private address": (
        {"OAUTH_TOKEN_URL": "http://10.0.0.5/oauth2/token"},
        "OAUTH_TOKEN_URL: must be an https:// URL (got 'http://10.0.0.5/oauth2/token')",
    ),
    "userdata url over plain http to a name that starts like loopback": (
        {"OAUTH_USERDATA_URL": "http://127.0.0.1.example.org/userinfo"},
        "OAUTH_USERDATA_URL: must be an https:// URL (got 'http://127.0.0.1.example.org/userinfo')",
    ),
    "no logout url nor cognito domain": (
        {"OAUTH_LOGOUT_URL": None},
        "OAUTH_LOGOUT_URL: is not set, nor COGNITO_DOMAIN to derive it from",
    ),
    "logout url over plain http": (
        {"OAUTH_LOGOUT_URL": "http://idp.example/logout"},
        "OAUTH_LOGOUT_URL: must be an https:// URL (got 'http://idp.example/logout')",
    ),
    "public url over plain http": (
        {"PUBLIC_URL": "http://hub.example"},
        "PUBLIC_URL: must be an https:// URL (got 'http://hub.example'); http:// is only for "
        "loopback hosts",
    ),
    "callback url over plain http": (
        {"OAUTH_CALLBACK_URL": "http://hub.example/hub/oauth_callback"},
        "OAUTH_CALLBACK_URL: must be an https:// URL (got 'http://hub.example')",
    ),
    "public url with a path": (
        {"PUBLIC_URL": "https://hub.example/jupyter"},
        "PUBLIC_URL: must be an origin such as https://hub.example.org, without a path "
        "(got 'https://hub.example/jupyter')",
    ),
    "callback url elsewhere": (
        {"PUBLIC_URL": "https://hub.example.org"},
        "OAUTH_CALLBACK_URL: must be on PUBLIC_URL's origin https://hub.example.org (got "
        "'https://hub.example/hub/oauth_callback')",
    ),
    "user subdomains neither true nor false": (
        {"USER_SUBDOMAINS": "yes"},
        "USER_SUBDOMAINS: must be true or false (got 'yes')",
    ),
    "user subdomains of an ip address": (
        {
            "USER_SUBDOMAINS": "true",
            "OAUTH_CALLBACK_URL": "http://127.0.0.1:8000/hub/oauth_callback",
        },
        "USER_SUBDOMAINS: needs a PUBLIC_URL with a host name, not an IP address (got "
        "'http://127.0.0.1:8000'); on this machine use http://localhost:<port>",
    ),
    "groups without a crypt key": (
        {"ALLOWED_GROUPS": "students", "JUPYTERHUB_CRYPT_KEY": None},
        "JUPYTERHUB_CRYPT_KEY: is not set; with ADMIN_GROUPS or ALLOWED_GROUPS the hub keeps "
        "refresh tokens",
    ),
    "refresh age not seconds": (
        {"JUPYTERHUB_AUTH_REFRESH_AGE": "5m"},
        "JUPYTERHUB_AUTH_REFRESH_AGE: must be seconds > 0 (got '5m')",
    ),
    "admin list not json": (
        {"ADMIN_USERS": '["admin1"'},
        "ADMIN_USERS: not a valid JSON array (",
    ),
    "allowed list with a bad name": (
        {"ALLOWED_USERS": "alice, bad/name"},
        "ALLOWED_USERS: entry 'bad/name' has a '/'",
    ),
    "no admin": (
        {"ADMIN_USERS": None},
        "ADMIN_USERS, ADMIN_GROUPS: both empty; list at least one admin user or admin group",
    ),
    "no admin user and an empty admin group list": (
        {"ADMIN_USERS": " ", "ADMIN_GROUPS": "[]", "ALLOWED_GROUPS": "students"},
        "ADMIN_USERS, ADMIN_GROUPS: both empty; list at least one admin user or admin group",
    ),
    "admin group with whitespace": (
        {"ADMIN_GROUPS": '["hub admins"]'},
        "ADMIN_GROUPS: entry 'hub admins' has whitespace",
    ),
    "allowed group not a group name": (
        {"ALLOWED_GROUPS": "students, course:2024"},
        "ALLOWED_GROUPS: entry 'course:2024' is not a valid group name (use at most 128 of "
        "letters, digits and + = . @ - _)",
    ),
    "group list not json": (
        {"ALLOWED_GROUPS": '["students",'},
        "ALLOWED_GROUPS: not a valid JSON array (",
    ),
    "two names one home": (
        {"ADMIN_USERS": "a.b", "ALLOWED_USERS": "a_b"},
        "ALLOWED_USERS: entry 'a_b' would share the home directory /home/a_b with 'a.b' in "
        "ADMIN_USERS; keep only one of them",
    ),
    "cull timeout not seconds": (
        {"JUPYTERHUB_CULL_IDLE_TIMEOUT": "1h"},
        "JUPYTERHUB_CULL_IDLE_TIMEOUT: must be seconds > 0 (got '1h')",
    ),
    "lists url not s3": (
        {"USER_LISTS_URL": "https://hub-lists.s3.amazonaws.com/users.json"},
        "USER_LISTS_URL: must be s3://<bucket>/<key> with a valid bucket name (got "
        "'https://hub-lists.s3.amazonaws.com/users.json')",
    ),
    "lists url without a key": (
        {"USER_LISTS_URL": "s3://hub-lists"},
        "USER_LISTS_URL: must be s3://<bucket>/<key> with a valid bucket name (got 's3://hub-lists')",
    ),
    "lists refresh not seconds": (
        {"USER_LISTS_URL": "s3://hub-lists/users.json", "USER_LISTS_REFRESH_SECONDS": "0"},
        "USER_LISTS_REFRESH_SECONDS: must be seconds > 0 (got '0')",
    ),
}


# Each start spends ~5 s of CPU importing JupyterHub: these run the real hub, the rest in-process.
LIVE_BAD_STARTS = [
    "no client id",
    "user subdomains neither true nor false",
    "admin list not json",
    "no admin",
    "token url over plain http to a private address",
    "groups without a crypt key",
]


@pytest.mark.parametrize("case", BAD_STARTS)
def test_bad_setting_is_refused_with_its_message(load_config, case):
    settings, expected = BAD_STARTS[case]
    with pytest.raises(SystemExit) as refusal:
        load_config(**settings)
    assert str(refusal.value).startswith(expected)


@pytest.fixture(scope="module")
def bad_starts(provider, tmp_path_factory):
    """Start one real hub per live bad case, all at once."""
    cases = {case: BAD_STARTS[case][0] for case in LIVE_BAD_STARTS}
    return stopped_at_start(provider, tmp_path_factory, cases)


@pytest.mark.parametrize("case", LIVE_BAD_STARTS)
def test_bad_setting_stops_the_hub_with_one_line(bad_starts, case):
    returncode, stderr = bad_starts[case]
    expected = BAD_STARTS[case][1]
    assert returncode != 0, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert stderr.strip().startswith(expected), stderr


def test_restart_keeps_sessions_and_reads_the_lists_again(provider, tmp_path):
    """Cookie secret and database survive a restart; the new lists apply at the next login."""
    provider.add_user("sub-bob", username="bob")
    provider.add_user("sub-carol", username="carol")
    provider.add_user("sub-dave", username="dave")
    first = start_hub(
        provider, tmp_path / "hub", ADMIN_USERS="boss dave", ALLOWED_USERS="bob carol"
    )
    try:
        data_dir = first.data_dir
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        secret = data_dir / "jupyterhub_cookie_secret"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        # Admins are in the database, as admins, before anyone has logged in.
        with sqlite3.connect(data_dir / "jupyterhub.sqlite") as db:
            assert db.execute("select admin from users where name = 'boss'").fetchall() == [(1,)]
        _, bob_in = login(first, "sub-bob")
        carol, carol_in = login(first, "sub-carol")
        assert (bob_in.status_code, carol_in.status_code) == (302, 302)
        dave, _ = login(first, "sub-dave")
        assert get(dave, first, "/hub/admin").status_code == 200
    finally:
        stop_seconds = first.stop()
    print(f"hub stopped in {stop_seconds:.1f}s")

    port = int(first.url.rsplit(":", 1)[1])
    second = start_hub(provider, tmp_path / "hub", port=port, ALLOWED_USERS="carol dave")
    try:
        assert get(carol, second, "/hub/api/user").json()["name"] == "carol"
        _, bob_again = login(second, "sub-bob")
        assert bob_again.status_code == 403
        # Taken off ADMIN_USERS but still allowed: in, no longer an admin.
        dave_again, dave_in = login(second, "sub-dave")
        assert dave_in.status_code == 302
        assert get(dave_again, second, "/hub/admin").status_code == 403
    finally:
        second.stop()
