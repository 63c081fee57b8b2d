"""Real logins with Cognito groups: members of allowed groups get in, of admin groups are admins.

The provider puts `cognito:groups` in the ID token and leaves it out of userinfo, as Cognito does.
"""

import pytest

from tests.hub_image.conftest import get, start_hub
from tests.support import login

GROUPS = "cognito:groups"


@pytest.fixture(scope="module")
def hub(provider, tmp_path_factory):
    hub = start_hub(
        provider,
        tmp_path_factory.mktemp("groups-hub"),
        ADMIN_USERS="admin1",
        ALLOWED_USERS="alice",
        ADMIN_GROUPS="hub-admins",
        ALLOWED_GROUPS="Students, Teachers",
    )
    yield hub
    hub.stop()


def me(session, hub) -> dict:
    answer = get(session, hub, "/hub/api/user")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_allowed_group_member_gets_in_under_the_username_claim(provider, hub):
    provider.add_user("sub-stu1", username="Stu1@Uni.nl", **{GROUPS: ["Students"]})
    session, callback = login(hub, "sub-stu1")
    assert callback.status_code == 302, callback.text
    user = me(session, hub)
    assert (user["name"], user["admin"], user["groups"]) == ("stu1@uni.nl", False, ["Students"])
    assert get(session, hub, "/hub/admin").status_code == 403


def test_admin_group_member_is_admin(provider, hub):
    provider.add_user("sub-boss", username="boss", **{GROUPS: ["hub-admins"]})
    session, callback = login(hub, "sub-boss")
    assert callback.status_code == 302, callback.text
    assert me(session, hub)["admin"] is True
    assert get(session, hub, "/hub/admin").status_code == 200


@pytest.mark.parametrize(
    "groups",
    [
        ["others"],
        # Group names are matched with their case: students is not Students.
        ["students"],
        [],
    ],
)
def test_member_of_no_listed_group_gets_403(provider, hub, groups):
    provider.add_user("sub-outsider", username="outsider", **{GROUPS: groups})
    session, callback = login(hub, "sub-outsider")
    assert callback.status_code == 403
    assert "not currently authorized to use this hub" in callback.text
    assert get(session, hub, "/hub/api/user").status_code == 403


def test_removed_from_the_admin_group_loses_admin_at_next_login(provider, hub):
    provider.add_user("sub-ta", username="ta", **{GROUPS: ["hub-admins", "Teachers"]})
    first, _ = login(hub, "sub-ta")
    assert get(first, hub, "/hub/admin").status_code == 200
    # An operator removes ta from hub-admins in Cognito; no change to the hub.
    provider.add_user("sub-ta", username="ta", **{GROUPS: ["Teachers"]})
    second, callback = login(hub, "sub-ta")
    assert callback.status_code == 302, callback.text
    assert me(second, hub)["admin"] is False
    assert me(second, hub)["groups"] == ["Teachers"]
    assert get(second, hub, "/hub/admin").status_code == 403
    # The admin flag is the user's, so the earlier session has lost it too.
    assert get(first, hub, "/hub/admin").status_code == 403


def test_listed_users_keep_working_alongside_groups(provider, hub):
    provider.add_user("sub-admin1", username="admin1")
    provider.add_user("sub-alice", username="alice")
    admin, admin_in = login(hub, "sub-admin1")
    alice, alice_in = login(hub, "sub-alice")
    assert (admin_in.status_code, alice_in.status_code) == (302, 302)
    # admin1 is in no admin group, yet stays admin: ADMIN_USERS counts on its own.
    assert (me(admin, hub)["admin"], me(admin, hub)["groups"]) == (True, [])
    assert get(admin, hub, "/hub/admin").status_code == 200
    assert me(alice, hub)["admin"] is False


@pytest.mark.parametrize(
    "claim",
    [
        "Students",
        ["Students", 42],
        {"Students": True},
        None,
    ],
)
def test_malformed_groups_claim_means_no_groups(provider, hub, claim):
    # Refused as a non-member would be (403, not 500); listed users still get in.
    provider.add_user("sub-odd", username="odd", **{GROUPS: claim})
    _, callback = login(hub, "sub-odd")
    assert callback.status_code == 403
    assert "not currently authorized to use this hub" in callback.text
    provider.add_user("sub-alice", username="alice", **{GROUPS: claim})
    alice, alice_in = login(hub, "sub-alice")
    assert alice_in.status_code == 302, alice_in.text
    assert me(alice, hub)["groups"] == []


def test_missing_groups_claim_means_no_groups(provider, hub):
    provider.add_user("sub-nogroups", username="nogroups")
    _, callback = login(hub, "sub-nogroups")
    assert callback.status_code == 403
    assert "not currently authorized to use this hub" in callback.text
