"""users/lists.py: user and group lists from stack config or the hub's environment, checked."""

import pytest

from users.lists import (
    UserListError,
    check_home_directories,
    clean_group_list,
    clean_user_list,
    parse_user_list,
)


@pytest.mark.parametrize(
    ("text", "entries"),
    [
        ("", []),
        ("   ", []),
        ("jane", ["jane"]),
        ("jane,bob", ["jane", "bob"]),
        ("jane, bob ,carol", ["jane", "bob", "carol"]),
        ("jane bob\ncarol\tdave", ["jane", "bob", "carol", "dave"]),
        (",jane,,bob,", ["jane", "bob"]),
        ('["jane", "Bob Smith"]', ["jane", "Bob Smith"]),
        ('  ["jane"]  ', ["jane"]),
        ("[]", []),
        ("[42]", [42]),
    ],
)
def test_parse_splits_on_commas_and_whitespace_or_reads_json(text, entries):
    assert parse_user_list("ALLOWED_USERS", text) == entries


def test_parse_names_the_source_on_bad_json():
    with pytest.raises(UserListError) as error:
        parse_user_list("ADMIN_USERS", '["jane",')
    assert str(error.value).startswith("ADMIN_USERS: not a valid JSON array (")
    assert "at character" in str(error.value)


def test_clean_normalises_dedupes_and_sorts():
    entries = ["Zed", " bob", "jane.doe@uni.nl", "BOB", "Jane.Doe@Uni.nl "]
    assert clean_user_list("allowedUsers", entries) == ["bob", "jane.doe@uni.nl", "zed"]


def test_clean_gives_equal_lists_for_reordered_input():
    names = ["c", "a", "b"]
    assert clean_user_list("x", names) == clean_user_list("x", list(reversed(names)))


def test_clean_accepts_an_empty_list():
    assert clean_user_list("allowedUsers", []) == []


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("jane", "adminUsers: must be a list of usernames, got 'jane'"),
        (None, "adminUsers: must be a list of usernames, got None"),
        (["ok", 7], "adminUsers: entry 7 is not a string (it is int)"),
        (["ok", ""], "adminUsers: entry '' is empty"),
        (["  "], "adminUsers: entry '  ' is empty"),
        (["Jane Doe"], "adminUsers: entry 'Jane Doe' has whitespace"),
        (["a/b"], "adminUsers: entry 'a/b' has a '/'"),
        (
            ["-x"],
            "adminUsers: entry '-x' is not a valid hub username (use at most 128 of "
            "a-z 0-9 . _ @ -, not starting with . @ or -)",
        ),
    ],
)
def test_clean_names_the_list_and_the_bad_entry(entries, message):
    with pytest.raises(UserListError) as error:
        clean_user_list("adminUsers", entries)
    assert str(error.value) == message


def test_home_directories_may_be_shared_by_one_name_in_two_lists():
    check_home_directories({"adminUsers": ["jane"], "allowedUsers": ["jane", "bob"]})


def test_home_directory_collision_across_lists():
    with pytest.raises(UserListError) as error:
        check_home_directories({"adminUsers": ["a.b"], "allowedUsers": ["a_b"]})
    assert str(error.value) == (
        "allowedUsers: entry 'a_b' would share the home directory /home/a_b "
        "with 'a.b' in adminUsers; keep only one of them"
    )


def test_home_directory_collision_within_one_list():
    with pytest.raises(UserListError) as error:
        check_home_directories({"allowedUsers": ["a@b", "a.b"]})
    assert str(error.value) == (
        "allowedUsers: entry 'a.b' would share the home directory /home/a_b "
        "with 'a@b' in allowedUsers; keep only one of them"
    )


def test_clean_groups_trims_dedupes_and_sorts_but_keeps_case():
    entries = [" students", "Hub-Admins", "students ", "hub-admins", "Students"]
    assert clean_group_list("allowedGroups", entries) == [
        "Hub-Admins",
        "Students",
        "hub-admins",
        "students",
    ]


def test_group_list_read_from_the_environment_syntax():
    text = "hub-admins, Teachers\nstudents"
    assert clean_group_list("ADMIN_GROUPS", parse_user_list("ADMIN_GROUPS", text)) == [
        "Teachers",
        "hub-admins",
        "students",
    ]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("admins", "adminGroups: must be a list of group names, got 'admins'"),
        (["ok", None], "adminGroups: entry None is not a string (it is NoneType)"),
        (["ok", " "], "adminGroups: entry ' ' is empty"),
        (["hub admins"], "adminGroups: entry 'hub admins' has whitespace"),
        (
            ["course:2024"],
            "adminGroups: entry 'course:2024' is not a valid group name "
            "(use at most 128 of letters, digits and + = . @ - _)",
        ),
    ],
)
def test_clean_groups_names_the_list_and_the_bad_entry(entries, message):
    with pytest.raises(UserListError) as error:
        clean_group_list("adminGroups", entries)
    assert str(error.value) == message
