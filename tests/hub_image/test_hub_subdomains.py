"""User subdomains (USER_SUBDOMAINS=true): each user's server on its own origin, and the hub's
cookies kept to the hub's own host. A real hub reached as `localhost`, as the try-out runs it, and a
real JupyterLab server (run as the hub's own user, so no system account is made).
"""

import pytest

from tests.hub_image.conftest import LOCAL_SERVERS, START_TIMEOUT, get, start_hub
from tests.support import REQUEST_TIMEOUT, free_port, login, wait_for

JANE = "jane.doe@uni.nl"
# JupyterHub 6's DNS label for a name that is none ('@' and '.'): "u-", its first 8 letters and
# digits, "--", 7 hex digits of its SHA-256 (jupyterhub.utils._trim_and_hash).
JANE_LABEL = "u-janedoeu--63e4897"
HUB_LOGIN_COOKIE = "jupyterhub-hub-login"


@pytest.fixture(scope="module")
def hub(provider, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("subdomains-hub")
    homes = f"--SimpleLocalProcessSpawner.home_dir_template={workdir}/{{username}}"
    hub = start_hub(
        provider,
        workdir,
        port=free_port(),
        host="localhost",
        options=[*LOCAL_SERVERS, homes],
        ADMIN_USERS="admin1",
        ALLOWED_USERS=JANE,
        USER_SUBDOMAINS="true",
    )
    yield hub
    hub.stop()


def set_cookies(response) -> dict[str, str]:
    """Each Set-Cookie header of one answer, by cookie name."""
    headers = response.raw.headers.getlist("Set-Cookie")
    return {header.split("=", 1)[0]: header for header in headers}


def test_a_users_server_answers_on_its_own_subdomain(provider, hub):
    provider.add_user("sub-jane-subdomains", username=JANE)
    jane, callback = login(hub, "sub-jane-subdomains")
    assert callback.status_code == 302, callback.text
    # The hub's cookies name no Domain: browsers keep them to the hub's own host.
    hub_cookies = set_cookies(callback)
    assert HUB_LOGIN_COOKIE in hub_cookies, hub_cookies
    assert "domain=" not in hub_cookies[HUB_LOGIN_COOKIE].lower()
    # Loopback http, as the try-out runs: no Secure (the cookies would never come back), no HSTS.
    assert "secure" not in hub_cookies[HUB_LOGIN_COOKIE].lower()
    assert "Strict-Transport-Security" not in callback.headers

    port = hub.url.rsplit(":", 1)[1]
    server = f"http://{JANE_LABEL}.localhost:{port}/user/{JANE}/"
    get(jane, hub, "/hub/spawn")

    def lab_loads():
        answer = jane.get(f"{server}lab", timeout=REQUEST_TIMEOUT)
        return answer if answer.ok and answer.url == f"{server}lab" else None

    lab = wait_for(lab_loads, START_TIMEOUT, f"{JANE}'s JupyterLab at {server}lab")
    assert "JupyterLab" in lab.text
    assert get(jane, hub, "/hub/api/user").json()["servers"][""]["url"] == server
    # The server is not on the hub's origin: the hub's own host sends the browser to it.
    on_hub = jane.get(f"{hub.url}/user/{JANE}/lab", timeout=REQUEST_TIMEOUT)
    assert on_hub.ok and on_hub.url.startswith(f"{server}lab?"), on_hub.url

    # The hub's login and XSRF cookies are the hub host's alone: a request to the server's host,
    # even for a hub path, goes without them (and the hub, seeing no login, asks for one).
    hub_only = {
        f"{c.name}={c.value}" for c in jane.cookies if c.domain == "localhost.local"
    }  # http.cookiejar's name for the host-only cookies of `localhost`
    assert {value.split("=", 1)[0] for value in hub_only} == {HUB_LOGIN_COOKIE, "_xsrf"}
    for path in ("/hub/home", f"/user/{JANE}/lab"):
        sent = jane.get(
            f"http://{JANE_LABEL}.localhost:{port}{path}",
            allow_redirects=False,
            timeout=REQUEST_TIMEOUT,
        )
        cookies = set(sent.request.headers.get("Cookie", "").split("; "))
        assert not hub_only & cookies, cookies
    assert "/hub/login" in sent_to_hub_path(jane, port).headers["location"]
    # JupyterHub shares one cookie with the subdomains by design: the session id, no credential
    # (it ties the servers' tokens to the login, so that logging out ends them).
    shared = [c.name for c in jane.cookies if c.domain_specified]
    assert shared == ["jupyterhub-session-id"]
    assert "domain=localhost" in set_cookies(callback)["jupyterhub-session-id"].lower()


def sent_to_hub_path(session, port: str):
    return session.get(
        f"http://{JANE_LABEL}.localhost:{port}/hub/home",
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )
