"""Logging out of the hub ends the Cognito session too: on a shared computer, the next person's
"Sign in" asks who they are instead of completing as the previous one. A real hub and the
Cognito-like provider, which (as Cognito) holds the app client to its sign-out URLs.
"""

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.hub_image.conftest import get, start_hub
from tests.support import REQUEST_TIMEOUT, browser, free_port

SECRET = "logout-tests-secret"  # noqa: S105 (a test's)


@pytest.fixture(scope="module")
def hub(provider, tmp_path_factory):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Its own app client, registered as the program registers the hub's.
    client_id = f"logout-tests-{port}"
    provider.add_client(
        client_id,
        SECRET,
        [f"{url}/hub/oauth_callback"],
        ["openid", "profile", "email"],
        logout_urls=[f"{url}/hub/login"],
    )
    hub = start_hub(
        provider,
        tmp_path_factory.mktemp("logout-hub"),
        port=port,
        OAUTH_CLIENT_ID=client_id,
        OAUTH_CLIENT_SECRET=SECRET,
        ADMIN_USERS="admin1",
        ALLOWED_USERS="lou",
    )
    hub.client_id = client_id
    yield hub
    hub.stop()


def sign_in(session, hub):
    """Click "Sign in": the provider's answer (its form, or at once a code for the hub)."""
    to_provider = get(session, hub, "/hub/oauth_login")
    assert to_provider.status_code == 302, to_provider.text
    return session.get(
        to_provider.headers["location"], allow_redirects=False, timeout=REQUEST_TIMEOUT
    )


def test_logout_ends_the_provider_session_and_lands_on_the_login_page(provider, hub):
    provider.add_user("sub-lou", username="lou")
    shared_computer = browser()
    form = sign_in(shared_computer, hub)
    assert form.status_code == 200 and 'name="sub"' in form.text
    chosen = shared_computer.post(
        form.url, data={"sub": "sub-lou"}, allow_redirects=False, timeout=REQUEST_TIMEOUT
    )
    assert chosen.status_code == 302, chosen.text
    callback = shared_computer.get(
        chosen.headers["location"], allow_redirects=False, timeout=REQUEST_TIMEOUT
    )
    assert callback.status_code == 302, callback.text
    assert get(shared_computer, hub, "/hub/home").status_code == 200
    # The provider remembers lou: a second "Sign in" would complete at once, as lou.
    assert sign_in(shared_computer, hub).status_code == 302

    out = get(shared_computer, hub, "/hub/logout")
    assert out.status_code == 302, out.text
    to_provider = urlsplit(out.headers["location"])
    assert f"{to_provider.scheme}://{to_provider.netloc}{to_provider.path}" == (
        f"{provider.url}/logout"
    )
    assert parse_qs(to_provider.query) == {
        "client_id": [hub.client_id],
        "logout_uri": [f"{hub.url}/hub/login"],
    }
    landed = shared_computer.get(out.headers["location"], timeout=REQUEST_TIMEOUT)
    assert landed.status_code == 200
    assert landed.url == f"{hub.url}/hub/login"
    assert "Sign in with AWS Cognito" in landed.text
    # Out of the hub, and the next "Sign in" asks who it is.
    home = get(shared_computer, hub, "/hub/home")
    assert home.status_code == 302 and "/hub/login" in home.headers["location"]
    again = sign_in(shared_computer, hub)
    assert again.status_code == 200 and 'name="sub"' in again.text
