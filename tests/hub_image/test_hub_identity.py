"""Nobody becomes another hub user, and removal bites: real hubs, real logins over HTTP.

A username belongs to the provider identity (`sub`) that first logged in with it; the lists are
applied to everyone in the database at each start; Cognito group changes bite at refresh.
"""

import html

import pytest
import requests
from tornado import web

from hub_image.authenticator import CognitoAuthenticator
from tests.hub_image.conftest import api, get, start_hub
from tests.support import login, wait_for

GROUPS = "cognito:groups"
# Low, so that a refresh is due within the test; the hub's default is 240 s.
REFRESH_SECONDS = 2
REFUSAL_DEADLINE = 30


def token_for(session, hub, username: str) -> str:
    """An API token made on the hub, as a user does on /hub/token."""
    answer = api(session, hub, "POST", f"/users/{username}/tokens")
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def with_token(hub, token: str, path: str):
    return requests.get(
        f"{hub.url}/hub/api{path}", headers={"Authorization": f"token {token}"}, timeout=10
    )


def logged_out(session, hub) -> bool:
    """The hub no longer knows this browser: its pages send it to the login page."""
    answer = get(session, hub, "/hub/home")
    return answer.status_code == 302 and "/hub/login" in answer.headers["location"]


@pytest.fixture(scope="module")
def hub(provider, tmp_path_factory):
    hub = start_hub(
        provider, tmp_path_factory.mktemp("identity-hub"), ADMIN_USERS="admin1", ALLOWED_USERS="x"
    )
    yield hub
    hub.stop()


def test_a_second_identity_cannot_take_a_bound_name(provider, hub):
    provider.add_user("sub-first-x", username="x")
    provider.add_user("sub-other-x", username="X")
    first, first_in = login(hub, "sub-first-x")
    assert first_in.status_code == 302, first_in.text
    # Another account with the name x (a name deleted and made again, or an editable claim).
    intruder, refused = login(hub, "sub-other-x")
    assert refused.status_code == 403
    page = html.unescape(refused.text)
    assert "The hub username 'x' is already bound to another AWS Cognito account" in page
    assert "An admin can release it by deleting the user 'x' on the hub's admin page" in page
    assert get(intruder, hub, "/hub/api/user").status_code == 403
    # The first identity still gets in as x.
    _, again = login(hub, "sub-first-x")
    assert again.status_code == 302, again.text

    # An admin deletes x on the admin page: the name is free for the other identity.
    provider.add_user("sub-admin1", username="admin1")
    admin, _ = login(hub, "sub-admin1")
    assert api(admin, hub, "DELETE", "/users/x").status_code == 204
    assert logged_out(first, hub)
    newcomer, admitted = login(hub, "sub-other-x")
    assert admitted.status_code == 302, admitted.text
    assert get(newcomer, hub, "/hub/api/user").json()["name"] == "x"
    _, old_one = login(hub, "sub-first-x")
    assert old_one.status_code == 403


def test_a_login_without_sub_is_refused_with_403():
    authenticator = CognitoAuthenticator(login_service="AWS Cognito")
    model = {"name": "x", "admin": None, "auth_state": {"oauth_user": {"username": "x"}}}
    with pytest.raises(web.HTTPError) as refusal:
        authenticator.bind_identity(None, model)
    assert refusal.value.status_code == 403
    assert (
        refusal.value.log_message
        == "AWS Cognito sent no 'sub' for 'x'; the hub cannot tell who it is"
    )


def test_binding_and_removal_at_restart(provider, tmp_path):
    """The binding outlives the hub process; someone taken off the list is removed at start."""
    provider.add_user("sub-ann", username="ann")
    provider.add_user("sub-ben", username="ben")
    provider.add_user("sub-fake-ann", username="ann")
    provider.add_user("sub-boss", username="boss")
    first = start_hub(provider, tmp_path / "hub", ADMIN_USERS="boss", ALLOWED_USERS="ann ben")
    try:
        ann, ann_in = login(first, "sub-ann")
        ben, ben_in = login(first, "sub-ben")
        assert (ann_in.status_code, ben_in.status_code) == (302, 302)
        ben_token = token_for(ben, first, "ben")
        assert with_token(first, ben_token, "/user").json()["name"] == "ben"
    finally:
        first.stop()

    # The same data directory, as a new container on the same volume has; ben is off the list.
    port = int(first.url.rsplit(":", 1)[1])
    second = start_hub(
        provider, tmp_path / "hub", port=port, ADMIN_USERS="boss", ALLOWED_USERS="ann"
    )
    try:
        assert get(ann, second, "/hub/api/user").json()["name"] == "ann"
        assert logged_out(ben, second)
        assert with_token(second, ben_token, "/user").status_code == 403
        boss, _ = login(second, "sub-boss")
        assert api(boss, second, "GET", "/users/ben").status_code == 404
        assert api(boss, second, "GET", "/users/ann").status_code == 200
        _, ben_again = login(second, "sub-ben")
        assert ben_again.status_code == 403
        # ann's name is still bound to her identity after the restart.
        _, fake = login(second, "sub-fake-ann")
        assert fake.status_code == 403
        assert "already bound to another" in html.unescape(fake.text)
    finally:
        second.stop()

    # ben is listed again, with a new identity (his Cognito user was deleted and made anew).
    provider.add_user("sub-ben-again", username="ben")
    third = start_hub(
        provider, tmp_path / "hub", port=port, ADMIN_USERS="boss", ALLOWED_USERS="ann ben"
    )
    try:
        # His removal released the name: the new identity gets it.
        new_ben, admitted = login(third, "sub-ben-again")
        assert admitted.status_code == 302, admitted.text
        assert get(new_ben, third, "/hub/api/user").json()["name"] == "ben"
        _, old_ben = login(third, "sub-ben")
        assert old_ben.status_code == 403
    finally:
        third.stop()


@pytest.fixture(scope="module")
def groups_hub(provider, tmp_path_factory):
    hub = start_hub(
        provider,
        tmp_path_factory.mktemp("refresh-hub"),
        ADMIN_USERS="admin1",
        ADMIN_GROUPS="hub-admins",
        ALLOWED_GROUPS="students",
        JUPYTERHUB_AUTH_REFRESH_AGE=str(REFRESH_SECONDS),
    )
    yield hub
    hub.stop()


def test_leaving_the_allowed_group_ends_access_while_logged_in(provider, groups_hub):
    hub = groups_hub
    provider.add_user("sub-leaver", username="leaver", **{GROUPS: ["students"]})
    provider.add_user("sub-stayer", username="stayer", **{GROUPS: ["students"]})
    leaver, leaver_in = login(hub, "sub-leaver")
    stayer, stayer_in = login(hub, "sub-stayer")
    assert (leaver_in.status_code, stayer_in.status_code) == (302, 302)
    token = token_for(leaver, hub, "leaver")
    # An operator takes leaver out of the group in Cognito; nothing changes on the hub.
    provider.add_user("sub-leaver", username="leaver", **{GROUPS: []})
    wait_for(
        lambda: logged_out(leaver, hub),
        REFUSAL_DEADLINE,
        f"leaver's session to be refused after the {REFRESH_SECONDS} s refresh",
    )
    assert with_token(hub, token, "/user").status_code == 403
    _, again = login(hub, "sub-leaver")
    assert again.status_code == 403
    # A member who stays is refreshed too: joining the admin group makes them admin, still in.
    provider.add_user("sub-stayer", username="stayer", **{GROUPS: ["hub-admins"]})
    wait_for(
        lambda: get(stayer, hub, "/hub/admin").status_code == 200,
        REFUSAL_DEADLINE,
        "stayer's admin page after the refresh",
    )


def test_leaving_the_admin_group_ends_admin_while_logged_in(provider, groups_hub):
    hub = groups_hub
    provider.add_user("sub-ta", username="ta", **{GROUPS: ["hub-admins", "students"]})
    ta, ta_in = login(hub, "sub-ta")
    assert ta_in.status_code == 302, ta_in.text
    assert get(ta, hub, "/hub/admin").status_code == 200
    provider.add_user("sub-ta", username="ta", **{GROUPS: ["students"]})
    wait_for(
        lambda: get(ta, hub, "/hub/admin").status_code == 403,
        REFUSAL_DEADLINE,
        "ta's admin page to be refused after the refresh",
    )
    assert get(ta, hub, "/hub/home").status_code == 200
