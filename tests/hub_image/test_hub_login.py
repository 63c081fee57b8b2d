"""Real logins through the provider into one shared hub: who gets in, who is admin, who not."""

import html

import pytest

from tests.hub_image.conftest import api, get, start_hub
from tests.support import login


@pytest.fixture(scope="module")
def hub(provider, tmp_path_factory):
    hub = start_hub(
        provider,
        tmp_path_factory.mktemp("login-hub"),
        ADMIN_USERS="admin1",
        ALLOWED_USERS='["alice", "Jane.Doe@uni.nl", "kate"]',
    )
    yield hub
    hub.stop()


def test_allowed_user_gets_in(provider, hub):
    provider.add_user("sub-alice", username="alice")
    session, callback = login(hub, "sub-alice")
    assert callback.status_code == 302, callback.text
    assert get(session, hub, "/hub/home").status_code == 200
    user = get(session, hub, "/hub/api/user").json()
    assert (user["name"], user["admin"]) == ("alice", False)


def test_admin_reaches_the_admin_page(provider, hub):
    provider.add_user("sub-admin1", username="admin1")
    session, callback = login(hub, "sub-admin1")
    assert callback.status_code == 302, callback.text
    assert get(session, hub, "/hub/admin").status_code == 200
    assert get(session, hub, "/hub/api/user").json()["admin"] is True


def test_non_admin_is_refused_the_admin_page(provider, hub):
    provider.add_user("sub-alice", username="alice")
    session, _ = login(hub, "sub-alice")
    assert get(session, hub, "/hub/admin").status_code == 403


def test_unlisted_user_gets_403(provider, hub):
    provider.add_user("sub-mallory", username="mallory")
    session, callback = login(hub, "sub-mallory")
    assert callback.status_code == 403
    assert "not currently authorized to use this hub" in callback.text
    assert get(session, hub, "/hub/api/user").status_code == 403


def test_email_style_name_is_kept_as_the_hub_username(provider, hub):
    provider.add_user("sub-jane", username="Jane.Doe@uni.nl")
    session, callback = login(hub, "sub-jane")
    assert callback.status_code == 302, callback.text
    assert get(session, hub, "/hub/api/user").json()["name"] == "jane.doe@uni.nl"


def test_token_without_username_claim_gets_a_clear_403(provider, hub):
    provider.add_user("sub-nameless", email="nameless@uni.nl")
    _, callback = login(hub, "sub-nameless")
    assert callback.status_code == 403
    page = html.unescape(callback.text)
    assert "AWS Cognito sent no 'username' for this account" in page
    assert "Traceback" not in page


def test_a_username_claim_with_other_letters_is_refused_before_lowercasing(provider, hub):
    """The Kelvin sign's "\u212aate" is kate once lowercased (str.lower); kate is listed."""
    provider.add_user("sub-kelvin", username="\u212aate")
    session, callback = login(hub, "sub-kelvin")
    assert callback.status_code == 403
    # The hub's page names no charset, so requests would read it as Latin-1.
    page = html.unescape(callback.content.decode("utf-8"))
    assert "AWS Cognito sent the username '\u212aate', which is not a valid hub username" in page
    assert get(session, hub, "/hub/api/user").status_code == 403
    provider.add_user("sub-admin1", username="admin1")
    admin, _ = login(hub, "sub-admin1")
    # kate's record (made at start, as for every listed user) was never logged in to.
    assert api(admin, hub, "GET", "/users/kate").json()["last_activity"] is None
