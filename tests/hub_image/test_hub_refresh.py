"""A refresh Cognito refuses is a refusal; one that fails is not. Real hubs, real JupyterLab servers
(run as the hub's own user), the Cognito-like provider refusing or failing as Cognito would.

- Refused (a 4xx from the token endpoint: invalid_grant for a disabled user or a revoked token):
  the user's servers stop and they must log in again.
- Failed (a 5xx, or no answer): servers keep running, and the next refresh tries again.
Either way the browser lands on the login page, on a page request and on a spawn alike.
"""

import time

import pytest

from local.identity_provider import running_provider
from tests.hub_image.conftest import LOCAL_SERVERS, START_TIMEOUT, api, get, running, start_hub
from tests.support import free_port, login, wait_for

# Low, so that a refresh is due within the test; the hub's default is 240 s.
REFRESH_SECONDS = 2
DEADLINE = 30


def start_hub_with_servers(provider, workdir, allowed: str):
    homes = f"--SimpleLocalProcessSpawner.home_dir_template={workdir}/{{username}}"
    return start_hub(
        provider,
        workdir,
        options=[*LOCAL_SERVERS, homes],
        ADMIN_USERS="admin1",
        ALLOWED_USERS=allowed,
        JUPYTERHUB_AUTH_REFRESH_AGE=str(REFRESH_SECONDS),
    )


@pytest.fixture(scope="module")
def hub(provider, tmp_path_factory):
    hub = start_hub_with_servers(
        provider, tmp_path_factory.mktemp("refresh-hub"), "dis rev spa out"
    )
    yield hub
    hub.stop()


def started_server(provider, session, hub, name: str) -> int:
    """Start the user's server through the API, as the home page's button does; its pid (which
    only an admin may read)."""
    assert api(session, hub, "POST", f"/users/{name}/server").status_code in (201, 202)
    provider.add_user("sub-admin1", username="admin1")
    admin, _ = login(hub, "sub-admin1")

    def ready():
        server = api(admin, hub, "GET", f"/users/{name}").json()["servers"].get("", {})
        return server.get("ready") and server["state"]["pid"]

    return wait_for(ready, START_TIMEOUT, f"{name}'s server to be ready")


def sent_to_login(session, hub, path: str) -> bool:
    answer = get(session, hub, path)
    return answer.status_code == 302 and "/hub/login" in answer.headers["location"]


def log_lines(hub, text: str) -> list[str]:
    return [line for line in hub.log_text().splitlines() if text in line]


def no_traceback(hub) -> None:
    """JupyterHub 6.1.1 logs an AttributeError in refresh_auth after a False; ours sets the flag."""
    log = hub.log_text()
    assert "Traceback" not in log and "AttributeError" not in log, log


@pytest.mark.parametrize(
    ("name", "refuse", "said"),
    [
        ("dis", "disable_user", "400: invalid_grant (User is disabled.)"),
        ("rev", "revoke_tokens", "400: invalid_grant (invalid refresh token)"),
    ],
    ids=["user disabled", "tokens revoked"],
)
def test_a_refused_refresh_stops_the_servers_and_asks_for_a_login(
    provider, hub, name, refuse, said
):
    provider.add_user(f"sub-{name}", username=name)
    session, callback = login(hub, f"sub-{name}")
    assert callback.status_code == 302, callback.text
    pid = started_server(provider, session, hub, name)
    assert running(pid)
    getattr(provider, refuse)(f"sub-{name}")
    wait_for(lambda: sent_to_login(session, hub, "/hub/home"), DEADLINE, f"{name}'s login page")
    wait_for(lambda: not running(pid), DEADLINE, f"{name}'s server to stop")
    # One line per refused refresh: the browser's and the server's own requests may both refresh.
    lines = log_lines(hub, f"Refusing {name} at refresh")
    assert lines, hub.log_text()
    assert (
        f"(the token endpoint answered {said}): stopping their servers; they must log in"
        in (lines[0])
    )
    assert sent_to_login(session, hub, "/hub/spawn")
    assert get(session, hub, "/hub/login").status_code == 200
    provider.add_user("sub-admin1", username="admin1")
    admin, _ = login(hub, "sub-admin1")
    # The request that stopped it may still be finishing the stop (its process is gone already).
    wait_for(
        lambda: api(admin, hub, "GET", f"/users/{name}").json()["servers"] == {},
        DEADLINE,
        f"{name}'s server to be off the hub's books",
    )
    no_traceback(hub)


def test_a_spawn_after_a_refusal_lands_on_the_login_page(provider, hub):
    provider.add_user("sub-spa", username="spa")
    session, callback = login(hub, "sub-spa")
    assert callback.status_code == 302, callback.text
    logged_in = time.monotonic()
    provider.disable_user("sub-spa")
    # Nothing in the hub happens at the refresh age: it is a request after it that refreshes.
    wait_for(lambda: time.monotonic() - logged_in > REFRESH_SECONDS, 10, "the refresh age")
    spawn = get(session, hub, "/hub/spawn")
    assert spawn.status_code == 302, spawn.text
    assert spawn.headers["location"].startswith("/hub/login?next="), spawn.headers
    assert log_lines(hub, "Refusing spa at refresh")
    provider.add_user("sub-admin1", username="admin1")
    admin, _ = login(hub, "sub-admin1")
    assert api(admin, hub, "GET", "/users/spa").json()["servers"] == {}
    no_traceback(hub)


def test_an_outage_keeps_the_servers_and_the_next_refresh_lets_the_user_back(provider, hub):
    provider.add_user("sub-out", username="out")
    session, callback = login(hub, "sub-out")
    assert callback.status_code == 302, callback.text
    pid = started_server(provider, session, hub, "out")
    provider.token_endpoint_fails(503)
    try:
        wait_for(lambda: sent_to_login(session, hub, "/hub/home"), DEADLINE, "out's login page")
        line = log_lines(hub, "Could not renew out's tokens")[-1]
        assert (
            "(the token endpoint answered 503): their servers keep running; the next refresh "
            "tries again" in line
        )
        assert running(pid)
        assert not log_lines(hub, "Refusing out")
    finally:
        provider.token_endpoint_fails(None)
    # The same browser, with no new login, once Cognito answers again.
    wait_for(lambda: get(session, hub, "/hub/home").status_code == 200, DEADLINE, "out back in")
    assert running(pid)
    no_traceback(hub)


def test_an_unreachable_provider_keeps_the_servers(tmp_path):
    with running_provider(free_port(), tmp_path / "provider.log") as gone:
        hub = start_hub_with_servers(gone, tmp_path / "hub", "far")
        try:
            gone.add_user("sub-far", username="far")
            session, callback = login(hub, "sub-far")
            assert callback.status_code == 302, callback.text
            pid = started_server(gone, session, hub, "far")
        except BaseException:
            hub.stop()
            raise
    try:
        # The provider has stopped: nothing answers on its port.
        wait_for(lambda: sent_to_login(session, hub, "/hub/home"), DEADLINE, "far's login page")
        line = log_lines(hub, "Could not renew far's tokens")[-1]
        assert "(no usable answer from the token endpoint: ConnectionRefusedError" in line
        assert "their servers keep running; the next refresh tries again" in line
        assert running(pid)
        assert get(session, hub, "/hub/login").status_code == 200
        no_traceback(hub)
    finally:
        hub.stop()


def test_why_a_spawn_does_not_refresh_again(provider, tmp_path):
    """JupyterHub's own check at spawn (refresh_pre_spawn, which the config turns off) forces a
    refresh even when one is not due, and answers its refusal with a 403 page, not the login page
    (in 6.1.1, without the flag refresh_user sets, a 500)."""
    hub = start_hub(
        provider,
        tmp_path / "hub",
        options=["--Authenticator.refresh_pre_spawn=True"],
        ALLOWED_USERS="pre",
        JUPYTERHUB_AUTH_REFRESH_AGE="3600",
    )
    try:
        provider.add_user("sub-pre", username="pre")
        session, callback = login(hub, "sub-pre")
        assert callback.status_code == 302, callback.text
        provider.disable_user("sub-pre")
        spawn = get(session, hub, "/hub/spawn")
        assert spawn.status_code == 403, spawn.text
        assert "auth has expired for pre, login again" in spawn.text
        no_traceback(hub)
    finally:
        hub.stop()
