"""users/names.py: what a hub username is, and where its files and account live."""

import pytest

from users.names import account_name_for, home_directory_for, normalise_username, username_problem


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("Jane.Doe@Uni.NL", "jane.doe@uni.nl"), ("  bob\t", "bob"), ("ALICE ", "alice"), ("", "")],
)
def test_normalise_lowercases_and_trims(raw, normalised):
    assert normalise_username(raw) == normalised


@pytest.mark.parametrize(
    "name",
    ["jane", "jane.doe@uni.nl", "j", "_svc", "0day", "a-b_c.d@e", "a" * 128],
)
def test_good_usernames_have_no_problem(name):
    assert username_problem(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        (42, "is not a string (it is int)"),
        (None, "is not a string (it is NoneType)"),
        (["jane"], "is not a string (it is list)"),
        ("", "is empty"),
        ("jane doe", "has whitespace"),
        ("jane\tdoe", "has whitespace"),
        ("staff/jane", "has a '/'"),
        ("Jane", "is not a valid hub username"),
        (".jane", "is not a valid hub username"),
        ("@jane", "is not a valid hub username"),
        ("-jane", "is not a valid hub username"),
        ("jane!", "is not a valid hub username"),
        ("jané", "is not a valid hub username"),
        ("a" * 129, "is not a valid hub username"),
    ],
)
def test_each_problem_is_named(name, problem):
    assert username_problem(name).startswith(problem)


def test_invalid_username_message_states_the_rule():
    assert username_problem("Jane") == (
        "is not a valid hub username (use at most 128 of a-z 0-9 . _ @ -, "
        "not starting with . @ or -)"
    )


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("jane.doe@uni.nl", "/home/jane_doe_uni_nl"),
        ("bob", "/home/bob"),
        ("a-b_c", "/home/a-b_c"),
    ],
)
def test_home_directory_replaces_at_and_dot(name, home):
    assert home_directory_for(name) == home


def test_account_name_is_the_home_directorys_name_when_short():
    assert account_name_for("jane.doe@uni.nl") == "jane_doe_uni_nl"
    assert account_name_for("a" * 32) == "a" * 32


@pytest.mark.parametrize("length", [33, 64, 128])
def test_long_account_names_are_shortened_to_32_characters(length):
    account = account_name_for("a" * length)
    assert len(account) == 32
    assert account.startswith("a" * 23 + "-")


def test_long_names_with_a_common_start_get_different_accounts():
    names = [f"{'x' * 40}{i}@example.org" for i in range(100)] + ["x" * 128, "x" * 127]
    accounts = {account_name_for(name) for name in names}
    assert len(accounts) == len(names)
    assert all(len(account) <= 32 for account in accounts)


def test_account_names_are_deterministic():
    name = "a.very.long.name.from.the.identity.provider@faculty.example.org"
    assert account_name_for(name) == account_name_for(name)


@pytest.mark.parametrize("name", ["jane", "jane.doe@uni.nl", "z" * 40, "y" * 128, "12345"])
def test_account_name_is_idempotent(name):
    account = account_name_for(name)
    assert account_name_for(account) == account


def test_all_digit_names_get_an_account_useradd_accepts():
    account = account_name_for("12345")
    assert not account.isdigit()
    assert account.startswith("12345-")
